"""One layer of a network of layer kinds, as its document shows it (``KindLayer``).

The layer in vector notation (its kind's forms, or the forms any kind has) and entry by entry,
printed from the kind's own maps with this layer's sizes and names; its backward pass as the δ
step of its kind; its parameters and shapes. ``kinds`` builds the whole document from these.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import sympy as sp
from sympy.printing.latex import LatexPrinter
from sympy.printing.precedence import PRECEDENCE

from ..core.derivation import Derivation
from ..core.layers import Map, Resolved, Tensor
from ..printing import vector as vector_printing
from ..printing.latex import LINE
from ..printing.width import width


@dataclass(frozen=True)
class KindLayer:
    """One layer, as its kind states it: every string LaTeX unless said otherwise."""

    l: int
    kind: str  # plain text: the registry name
    described: str  # plain text: "residual block with a projection, tanh"
    shape_in: str  # 2, or 1 \times 8 (channels × positions)
    shape_out: str
    parameters: str  # inline: W_{2} (3 \times 2), b_{2} (3), P_{2} (3 \times 2)
    forward: str  # display, vector notation (the kind's latex)
    forward_entries: str  # display, aligned: entry by entry, printed from the maps
    backward: str  # display, aligned: δ_l, each parameter's gradient, g_(l-1)
    backward_entries: str  # display, aligned: the same entry by entry, from the maps
    explains: list[tuple[bool, str]]  # rich text: why the kind's backward pass looks so


def _count(shape: tuple[int, ...]) -> int:
    total = 1
    for n in shape:
        total *= n
    return total


def _shape(shape: tuple[int, ...]) -> str:
    return r" \times ".join(map(str, shape))


def _param_name(r: Resolved, name: str) -> str:
    """What the documents call a parameter: the kind's word for it (a kernel K for W)."""
    return r.kind.words.get(name, name)


def _names(r: Resolved) -> dict[str, str]:
    """The LaTeX name of every tensor of layer r's maps, as an indexed base (entries get
    subscripts)."""
    l, below = r.index, r.index - 1
    names = {"x": "x" if l == 1 else f"a^{{({below})}}", "z": f"z^{{({l})}}",
             "a": f"a^{{({l})}}", "s": f"s^{{({l})}}", "delta": rf"\delta^{{({l})}}",
             "g": f"g^{{({l})}}", "dx": f"g^{{({below})}}" if l > 1 else r"g^{(0)}"}
    for p in r.maps.params:
        names[p.name] = f"{_param_name(r, p.name)}^{{({l})}}"
    return names


def _entries(r: Resolved, expr: sp.Expr, tensors: tuple[Tensor, ...]) -> str:
    """``expr`` (one of r's map formulas, or built from them) printed with this layer's sizes
    and names: sums over one value written out, sums over several ranges nested."""
    names = _names(r)
    bases, shown = {}, {}
    if r.kind.shorthand is not None:  # the kind's names for recurring parts (μ, x̂)
        expr, named = r.kind.shorthand(r.layer, expr, str(r.index))
        shown.update(named)
    for t in tensors:
        stand_in = sp.Symbol(f"T_{t.name}")
        bases[t.base] = sp.IndexedBase(stand_in)
        shown[stand_in] = f"{{{names[t.name]}}}"
    printer = _SumPrinter({"symbol_names": shown})
    return printer.doprint(_tidy(expr.xreplace(r.sizes)).xreplace(bases))


class _SumPrinter(LatexPrinter):
    """SymPy's LaTeX, with a sum over several ranges as nested sums, the outermost first (not
    one sum under a stack of ranges, which the web page's MathML cannot set)."""

    def _print_Sum(self, expr: sp.Sum) -> str:
        signs = "".join(rf"\sum_{{{self._print(i)}={self._print(a)}}}^{{{self._print(b)}}} "
                        for i, a, b in reversed(expr.limits))
        return signs + self.parenthesize(expr.function, PRECEDENCE["Mul"], strict=True)


def _tidy(expr: sp.Basic) -> sp.Expr:
    """Sums nested one range each; a range of one value written out."""
    if isinstance(expr, sp.Sum):
        body = _tidy(expr.function)
        for index, first, last in reversed(expr.limits):
            if first == last:
                body = body.xreplace({index: first})
            else:
                body = sp.Sum(body, (index, first, last))
        return body  # type: ignore[return-value]
    if not expr.args or isinstance(expr, sp.Indexed):
        return expr  # type: ignore[return-value]
    return expr.func(*[_tidy(a) for a in expr.args])


def _entry(r: Resolved, name: str, index: tuple[sp.Expr, ...]) -> str:
    """One entry of a tensor of layer r: z^{(2)}_{j}."""
    return f"{{{_names(r)[name]}}}_{{{','.join(sp.latex(i) for i in index)}}}"


def _map_tensors(m: Map) -> tuple[Tensor, ...]:
    return (*m.inputs, *m.params, *m.read_own)


def _rows(rows: list[tuple[str, str]], entries: bool = False) -> str:
    """An aligned display of ``lhs = rhs`` rows (a display cannot break a line). A row wider
    than the page: several forms joined by commas go on lines of their own; an entry written
    out (``entries``; an attention layer's holds the whole softmax) says how long it is."""
    lines = []
    for lhs, rhs in rows:
        long = width(f"{lhs} = {rhs}")
        if long > LINE and entries:
            rhs = (rf"\text{{written out, about {math.ceil(long / LINE)} lines long; see the "
                   rf"form in vectors above}}")
        elif long > LINE and r",\ " in rhs:
            *firsts, last = rhs.split(r",\ ")
            rhs = " \\\\\n&\\hphantom{{}={}} ".join([*(f"{part}," for part in firsts), last])
        lines.append(f"{lhs} &= {rhs}")
    return "\\begin{aligned}\n" + " \\\\\n".join(lines) + "\n\\end{aligned}"


def _layer(d: Derivation, r: Resolved, proved: bool) -> KindLayer:
    maps, l = r.maps, r.index
    act = d.net.activation(l)
    sigma = act.latex
    vector = _vector(r, sigma, proved)
    z_index = maps.pre.index

    def activated(index: tuple[sp.Expr, ...]) -> str:
        z = _entry(r, "z", index)
        if act.elementwise:
            return rf"{sigma}\bigl({z}\bigr)"
        return rf"{sigma}\bigl(z^{{({l})}}\bigr)_{{{','.join(sp.latex(i) for i in index)}}}"

    forward = [(_entry(r, "z", z_index), _entries(r, maps.pre.formula, _map_tensors(maps.pre)))]
    if maps.post is not None:
        forward.append((_entry(r, "s", z_index), activated(z_index)))
        forward.append((_entry(r, "a", maps.post.index),
                        _entries(r, maps.post.formula, _map_tensors(maps.post))))
    elif maps.skip is not None:
        forward.append((_entry(r, "a", maps.skip.index), activated(maps.skip.index) + " + " +
                        _entries(r, maps.skip.formula, _map_tensors(maps.skip))))
    else:
        forward.append((_entry(r, "a", z_index), activated(z_index)))

    lhs_delta = _entry(r, "delta", z_index)
    backward_entries = []
    through_time = "" if maps.own_vjp is None else " + " + _entries(
        r, maps.own_vjp.formula, _map_tensors(maps.own_vjp))  # δ one step on, a scan's
    if maps.delta_from_g is not None or through_time:  # δ at the positions u of s = σ(z)
        u = z_index if maps.delta_from_g is None else maps.delta_from_g.index
        taken = _entry(r, "g", u) if maps.delta_from_g is None else _entries(
            r, maps.delta_from_g.formula, _map_tensors(maps.delta_from_g))
        ds = rf"\frac{{\partial C}}{{\partial {_entry(r, 's', u)}}}"
        backward_entries.append((ds, taken + through_time))
        backward_entries.append((_entry(r, "delta", u),
                                 rf"{ds}\, {sigma}'\bigl({_entry(r, 'z', u)}\bigr)"))
    elif act.elementwise:
        backward_entries.append((lhs_delta, rf"{_entry(r, 'g', z_index)}\, {sigma}'\bigl("
                                            rf"{_entry(r, 'z', z_index)}\bigr)"))
    else:
        backward_entries.append((lhs_delta, rf"\sum_{{i}} g^{{({l})}}_{{i}}\, \frac{{\partial "
                                            rf"a^{{({l})}}_{{i}}}}{{\partial "
                                            rf"{_entry(r, 'z', z_index)}}}"))
    for name, m in maps.param_vjps.items():
        entry = _entry(r, name, m.index)
        backward_entries.append((rf"\frac{{\partial C}}{{\partial {entry}}}",
                                 _entries(r, m.formula, _map_tensors(m))))
    passed = _entries(r, maps.input_vjp.formula, _map_tensors(maps.input_vjp))
    if maps.skip_vjp is not None:
        passed += " + " + _entries(r, maps.skip_vjp.formula, _map_tensors(maps.skip_vjp))
    backward_entries.append((_entry(r, "dx", maps.input_vjp.index), passed))

    delta = vector["delta"] if act.elementwise else \
        rf"\delta_{{{l}}} = \bigl(\partial a_{{{l}}} / \partial z_{{{l}}}\bigr)^{{T}} g_{{{l}}}"
    backward = [tuple(delta.split(" = ", 1))]
    for p in maps.params:
        name = _param_name(r, p.name)
        backward.append((rf"\frac{{\partial C}}{{\partial {name}_{{{l}}}}}", vector[p.name]))
    backward.append(tuple(vector["input"].split(" = ", 1)))
    return KindLayer(
        l=l, kind=r.kind.name, described=_described(r, act.name),
        shape_in=_shape(r.shape_in), shape_out=_shape(r.shape_out),
        parameters=", ".join(f"${_param_name(r, name)}_{{{l}}}$ (${_shape(shape)}$)"
                             for name, shape in r.parameters.items()),
        forward=vector["forward"], forward_entries=_rows(forward, entries=True),
        backward=_rows(backward),  # type: ignore[arg-type]
        backward_entries=_rows(backward_entries, entries=True),
        explains=_mixed(r.kind.explained(r.layer)),
    )


def _vector(r: Resolved, sigma: str, proved: bool) -> dict[str, str]:
    """Layer r in vector notation: printed from its kind's forms, each marked "not proved"
    unless ``proved`` (the proof's claim that they equal the maps); for a kind without forms,
    the forms any kind has (its maps' Jacobians named, not written: the entries write them)."""
    l, below = str(r.index), str(r.index - 1)
    if r.kind.forms is not None:
        mark = "" if proved else r" \quad \text{(not proved)}"
        return {slot: tex + mark for slot, tex in vector_printing.printed(r, sigma).items()}
    maps = r.maps
    skip, t = maps.skip is not None, ",t" if maps.pre.own is not None else ""
    z, s = rf"z_{{{l}{t}}}", rf"{sigma}(z_{{{l}{t}}})"
    reads = rf", {sigma}(z_{{{l},t-1}})" if t else ""  # a scan's own state one step back
    output = rf"p_{{{l}}}\bigl({sigma}(z_{{{l}}})\bigr)" if maps.post is not None else s
    taken = rf"g_{{{l}{t}}}" if maps.post is None else \
        rf"\bigl(\partial a_{{{l}}} / \partial {s}\bigr)^{{T}} g_{{{l}}}"
    if t:  # what step t + 1 takes of the state at t
        taken += rf" + \bigl(\partial z_{{{l},t+1}} / \partial {s}\bigr)^{{T}} \delta_{{{l},t+1}}"
    forms = {"forward": rf"{z} = f_{{{l}}}(a_{{{below}}}{reads}), \qquad a_{{{l}}} = {output}"
                        + (rf" + s_{{{l}}}(a_{{{below}}})" if skip else ""),
             "delta": rf"\delta_{{{l}{t}}} = " + (rf"\bigl({taken}\bigr)" if " " in taken
                                                   else taken) + rf" \odot {sigma}'({z})",
             "input": rf"g_{{{below}}} = \bigl(\partial z_{{{l}}} / \partial a_{{{below}}}"
                      rf"\bigr)^{{T}} \delta_{{{l}}}" + (
                          rf" + \bigl(\partial s_{{{l}}} / \partial a_{{{below}}}\bigr)^{{T}} "
                          rf"g_{{{l}}}" if skip else "")}
    in_skip = {t.name for t in maps.skip.params} if maps.skip is not None else set()
    for p in maps.params:
        name = _param_name(r, p.name)
        through, by = ("s", "g") if p.name in in_skip else ("z", "\\delta")
        forms[p.name] = (rf"\bigl(\partial {through}_{{{l}}} / \partial {name}_{{{l}}}\bigr)"
                         rf"^{{T}} {by}_{{{l}}}")
    return forms


def _described(r: Resolved, activation: str) -> str:
    return f"{r.kind.described(r.layer)}, {activation}"


def _mixed(text: str) -> list[tuple[bool, str]]:
    """Mixed text with $...$ math as rich-text parts."""
    parts = text.split("$")
    return [(i % 2 == 1, part) for i, part in enumerate(parts) if part]
