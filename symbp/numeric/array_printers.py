"""Printers for whole-array matrix expressions: NumPy code and plain-text math.

The code generator's quantities are SymPy matrix expressions in the math's
column convention (one column per sample): W_lᵀ δ_l, δ_l a_{l-1}ᵀ, ⊙. Arrays
are stored one sample per row, so ``RowsPrinter.rows`` prints a column quantity
v as the code for vᵀ, and SymPy's own transpose rules do the rest: W_lᵀ δ_l
prints as ``delta_l @ W_l``, δ_l a_{l-1}ᵀ (summed over the batch) as
``np.dot(delta_l.T, a_{l-1})``. ``MathPrinter`` prints the same expressions as the
equations they are, for the generated module's docstring and comments.
"""

from __future__ import annotations

import ast

import sympy as sp
from sympy.core.symbol import Str
from sympy.printing.numpy import NumPyPrinter
from sympy.printing.str import StrPrinter

# ---------------------------------------------------------------- quantities


class NumericForm(sp.MatrixExpr):
    """A registry template applied to column quantities, e.g. σ'(z_l); prints itself.

    ``code`` is NumPy over the operands' row-stored arrays (``{z}``, ``{a}``, ``{v}``,
    ``{y}``); ``numba`` the same over one element of each (or a call filling ``{out}``);
    ``math`` is its plain-text name for the docstring.
    """

    def __new__(cls, code, numba, math, keys, *operands):
        texts = (Str(str(text)) for text in (code, numba, math, keys))
        return super().__new__(cls, *texts, *operands)

    @property
    def shape(self):
        return self.operands[0].shape

    @property
    def keys(self) -> list[str]:
        return str(self.args[3]).split(",")

    @property
    def operands(self) -> tuple:
        return self.args[4:]

    @property
    def numba(self) -> str:
        return self.args[1].name

    def fill(self, template: str, print_operand) -> str:
        """``template`` with each operand printed by ``print_operand``."""
        return template.format(**{k: print_operand(op) for k, op in zip(self.keys, self.operands)})

    def code(self, printer: RowsPrinter) -> str:
        return self.fill(self.args[0].name, lambda op: printer.operand(sp.transpose(op)))

    def math(self, printer: MathPrinter) -> str:
        return self.fill(self.args[2].name, printer.operand)


BATCH = sp.Symbol("batch")  # the number of samples: rows of every stored array


class MapForm(sp.MatrixExpr):
    """One of a layer kind's maps (``which`` of layer ``layer``) applied to column quantities,
    its inputs in the map's order: δ, g, a_(l-1). Its code is the map's own, printed by
    ``symbp.numeric.maps`` through the printer's ``map_code``; a batched map is a column
    quantity (entries × batch), a parameter's gradient has the parameter's matrix shape."""

    def __new__(cls, which, layer, rows, cols, batched, *operands):
        name = which.name if isinstance(which, Str) else str(which)  # (doit rebuilds from args)
        numbers = (sp.Integer(int(n)) for n in (layer, rows, cols, batched))
        return super().__new__(cls, Str(name), *numbers, *operands)

    @property
    def which(self) -> str:
        return self.args[0].name

    @property
    def layer(self) -> int:
        return int(self.args[1])

    @property
    def batched(self) -> bool:
        return bool(self.args[4])

    @property
    def shape(self):
        return (self.args[2], BATCH if self.batched else self.args[3])

    @property
    def operands(self) -> tuple:
        return self.args[5:]


def numeric_form(code: str, math: str, numba: str | None = None, **operands) -> NumericForm:
    """``code`` applied to the operands it, ``numba`` or ``math`` names (the others are left out).

    A form without a numba template gets ``None`` there: the numba printer refuses it.
    """
    texts = code + math + (numba or "")
    used = {k: v for k, v in operands.items() if "{" + k + "}" in texts}
    return NumericForm(code, numba or "None", math, ",".join(used), *used.values())


# ---------------------------------------------------------------- printers


class RowsPrinter(NumPyPrinter):
    """NumPy code for matrix expressions whose batch quantities are stored one sample per row."""

    def rows(self, expr) -> str:
        """The code for a column quantity (n × batch): its transpose, as stored."""
        return self.doprint(sp.transpose(expr))

    def operand(self, expr) -> str:
        """``expr``'s code, in parentheses unless it is a name, a call or an attribute."""
        text = self._print(expr)
        primary = (ast.Name, ast.Call, ast.Attribute, ast.Subscript, ast.Constant)
        return text if isinstance(ast.parse(text, mode="eval").body, primary) else f"({text})"

    def _print_MatrixSymbol(self, expr):
        return expr.name

    map_code = None  # (MapForm, printer) -> the map's code, row-stored: set by CodeOps

    def _print_Transpose(self, expr):
        if isinstance(expr.arg, NumericForm):
            return expr.arg.code(self)
        if isinstance(expr.arg, MapForm):
            return self.map_code(expr.arg, self)
        return self.operand(expr.arg) + ".T"

    def _print_MapForm(self, expr):
        code = self.map_code(expr, self)
        return f"{self.operand_code(code)}.T" if expr.batched else code

    @staticmethod
    def operand_code(code: str) -> str:
        primary = (ast.Name, ast.Call, ast.Attribute, ast.Subscript, ast.Constant)
        return code if isinstance(ast.parse(code, mode="eval").body, primary) else f"({code})"

    def _print_NumericForm(self, expr):
        return f"({expr.code(self)}).T"

    def _print_MatMul(self, expr):
        coeff, matrices = expr.as_coeff_matrices()
        if isinstance(matrices[0], sp.Transpose):  # δᵀ a, summed over the batch: np.dot is
            product = self._print(matrices[0])  # up to 3x faster than @ at batch 1
            for m in matrices[1:]:
                product = f"np.dot({product}, {self._print(m)})"
            return _scaled(self, coeff, product)
        # δ W: @ is as fast at batch 1 and up to 25% faster from batch 100 on
        return _scaled(self, coeff, " @ ".join(self.operand(m) for m in matrices))

    def _print_HadamardProduct(self, expr):
        return " * ".join(self.factor(m) for m in expr.args)

    def factor(self, expr) -> str:
        """``expr``'s code as a factor of a product: a product itself needs no parentheses
        (v * a * (1 - a) lets NumPy reuse the temporary of v * a for the next product)."""
        text = self._print(expr)
        node = ast.parse(text, mode="eval").body
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
            return text
        return self.operand(expr)

    def _print_MatAdd(self, expr):
        return " + ".join(self._print(m) for m in expr.args)


class MathPrinter(StrPrinter):
    """Plain-text math, column convention, for the docstring: W_3ᵀ δ_3 ⊙ sigmoid'(z_2)."""

    def __init__(self, names: dict[str, str], stored: set[str]):
        super().__init__()
        self.names, self.stored = names, stored

    def operand(self, expr) -> str:
        text = self._print(expr)
        return text if " " not in text else f"({text})"

    def _print_MatrixSymbol(self, expr):
        name = self.names[expr.name]
        return name + "ᵀ" if expr.name in self.stored else name

    def _print_Transpose(self, expr):
        if getattr(expr.arg, "name", None) in self.stored:
            return self.names[expr.arg.name]
        return self.operand(expr.arg) + "ᵀ"

    def _print_NumericForm(self, expr):
        return expr.math(self)

    def _print_MapForm(self, expr):
        return f"{expr.which}_{expr.layer}({', '.join(self._print(op) for op in expr.operands)})"

    def _print_MatMul(self, expr):
        coeff, matrices = expr.as_coeff_matrices()
        return _scaled(self, coeff, " ".join(self.operand(m) for m in matrices))

    def _print_HadamardProduct(self, expr):
        return " ⊙ ".join(self.operand(m) for m in expr.args)

    def _print_MatAdd(self, expr):
        return " + ".join(self._print(m) for m in expr.args)


def _scaled(printer, coeff, body: str) -> str:
    if coeff == 1:
        return body
    if coeff == -1:
        return "-" + body
    return f"{printer._print(coeff)} * {body}"
