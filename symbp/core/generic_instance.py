"""One generic program written out at a concrete depth: the program a network of that
depth runs (``GenericProgram.instance``), named as a per-network recording names, so that
the two are equal exactly when they are the same program."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sympy as sp

from .generic_layers import DEPTH, GENERIC, LAYER, PRELUDE, SECOND, TOP, at
from .layers.symbolic import FAMILIES
from .program import Program, ProgramError, Size, Statement


class Instance:
    """Writes one case-by-case instance of a generic program at a concrete depth."""

    def __init__(self, cases: list[Any], problems: list[str], name: str, K: int,
                 width: Callable[[int], int]):
        if problems:
            raise ProgramError(f"the recursion breaks {problems[0]}")
        self.K, self.width, self.name = K, width, name
        self.heads = [c for c in cases if c.prefix_holds(K)]  # generic.Case
        if not self.heads:
            raise ProgramError(f"no case of the recursion holds at depth {K}")
        head = self.heads[0]
        self.statements: list[Statement] = []
        self.deltas: dict[int, str] = {}
        self.grads: dict[int, str] = {}
        self.weight: dict[int, str] = {}
        self.bias: dict[int, str] = {}
        self.param_grads: dict[tuple[int, str], str] = {}
        self.bound_by: dict[str, int] = {}  # δ_m or g_m -> the iteration (layer) that bound it
        self.count = 0
        self._sizes: dict[tuple, int] = {}  # _concrete's, by size and point
        before: dict[str, str] = {}  # names bound before the loop: read anywhere
        self._write(head.part(PRELUDE), {DEPTH: K}, before, K, {})
        top = dict(before)
        self._write(head.part(TOP), {DEPTH: K}, top, K, {})
        if K >= 2:
            self._write(head.part(SECOND), {DEPTH: K}, dict(top), K - 1, {})
        second = {s.target for s in head.part(SECOND)}
        top_bound = {name: layer for layer, name in [*head.deltas.items(), *head.grads.items()]
                     if name in second}
        for m in range(K - 2, 0, -1):
            case = next((c for c in self.heads if c.holds(K, m)), None)
            if case is None:
                raise ProgramError(f"no case of the recursion holds at layer {m} of depth {K}")
            carried = {name: (name.split("[")[0], at(layer, (m + 2, 0)))
                       for name, layer in top_bound.items()}
            self._write(case.part(GENERIC), {DEPTH: K, LAYER: m}, dict(before), m, carried)

    def _write(self, statements: list[Statement], point: dict, names: dict[str, str],
               iteration: int, carried: dict[str, tuple[str, int]]) -> None:
        for s in statements:
            args = []
            for a in s.args:
                if a in carried:  # δ (or g) bound by the layer above, at its own layer
                    what, below = carried[a]
                    name = f"{'delta' if what == 'delta' else 'g'}{below}"
                    if self.bound_by.get(name) != iteration + 1:
                        raise ProgramError(f"at depth {self.K}, layer {iteration} reads "
                                           f"{what}_{below}, which the layer above does not "
                                           "bind; the loop may carry only what it just bound")
                    args.append(name)
                elif a in names:
                    args.append(names[a])
                else:
                    raise ProgramError(f"at depth {self.K}, layer {iteration} reads {a}, a "
                                       "value of the layer above that is not its δ; the loop "
                                       "may carry only what it binds from one layer to the next")
            layer: Any = None if s.layer is None else int(sp.sympify(s.layer).xreplace(point))
            shape = (self._concrete(s.shape[0], point), self._concrete(s.shape[1], point))
            if s.op == "bind_delta":
                if layer in self.deltas:
                    raise ProgramError(f"at depth {self.K} the recursion binds delta_{layer} "
                                       "twice")
                target = self.deltas[layer] = f"delta{layer}"
                self.bound_by[target] = iteration
            elif s.op == "bind_grad":
                if layer in self.grads:
                    raise ProgramError(f"at depth {self.K} the recursion binds g_{layer} twice")
                target = self.grads[layer] = f"g{layer}"
                self.bound_by[target] = iteration
            elif s.op == "gradient":
                if layer in self.weight:
                    raise ProgramError(f"at depth {self.K} the recursion gives the gradient "
                                       f"of layer {layer} twice")
                target = ""
                self.weight[layer], self.bias[layer] = args[0], args[1]
                given = s.constant or ("W", "b")
                self.param_grads.update({(layer, n): arg for n, arg in zip(given, args)})
            else:
                self.count += 1
                target = f"t{self.count}"
            if s.target:
                names[s.target] = target
            self.statements.append(Statement(target, s.op, layer, tuple(args), shape,
                                             s.constant))

    def _concrete(self, n: Any, point: dict) -> int:
        """A size at this depth: every family's entry (n_m, c_m, ...) as ``width(m)``."""
        value = n.expr if isinstance(n, Size) else n
        key = (value, *point.items())  # every statement of a layer asks its few sizes again
        found = self._sizes.get(key)
        if found is None:
            value = sp.sympify(value).xreplace(point)
            value = value.replace(lambda e: isinstance(e, sp.Indexed) and e.base in FAMILIES,
                                  lambda e: sp.Integer(self.width(int(e.indices[0]))))
            found = self._sizes[key] = int(value)
        return found

    def program(self, context: str) -> Program:
        missing = [m for m in range(1, self.K + 1)
                   if m not in self.deltas or m not in self.weight]
        if missing:
            raise ProgramError(f"at depth {self.K} the recursion gives no δ or gradient for "
                               f"layer {missing[0]}")
        return Program(tuple(self.statements), dict(self.deltas), dict(self.weight),
                       dict(self.bias), context=context, name=self.name,
                       grads=dict(self.grads), param_grads=dict(self.param_grads))
