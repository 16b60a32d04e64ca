"""Expression swell: the path sum grows exponentially with depth, the δ recursion linearly.

For each network of a depth × width grid (generic σ and MSE unless told
otherwise) this measures what it takes to write down ∂C/∂w^{(1)}_{11}, the
weight with the most paths to the cost, along each route:

- **expansion**: the chain rule multiplied out into its path sum, one product of
  local derivatives per path of influence, in layered symbols (z, a taken as known);
- **recursion**: the whole δ program of backpropagation (every δ_m written in terms
  of δ_{m+1}, then δ^{(1)}_1 x_1), also in layered symbols;
- **direct**: ``sympy.diff`` of the composed cost, an expression in x, y, W and b
  that carries the forward pass inside it.

Each is counted with ``sympy.count_ops`` as written and after ``sympy.cse``
(common subexpressions computed once, as a program would). CSE is what turns
the direct derivative back into a linear-size program: dynamic programming
rediscovered. Build times are measured but kept apart from the counts, so that
the tables and JSON come out byte-identical on every run.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterable, Sequence

import sympy as sp

from ..core.derivation import derive
from ..core.network import Network
from ..core.routes import cost_row, local_jacobian

DEFAULT_DEPTHS = tuple(range(1, 7))
DEFAULT_WIDTHS = tuple(range(2, 5))
MAX_PATHS = 1024  # the default grid's largest; beyond it one network takes ten seconds and more
ROUTES = ("expansion", "recursion", "direct")

# (key, header, name, what it measures): one source for the JSON, the tables and the documents
COLUMNS = (
    ("depth", "$L$", "L", "layers with weights; the widths are n_0 = ... = n_L = n"),
    ("width", "$n$", "n", "units in every layer"),
    ("paths", "paths", "paths", "paths of influence from w^(1)_11 to C, one unit per layer: "
                                "the product of n_m over m = 2, ..., L (and n_1 if layer 1 is "
                                "softmax)"),
    ("path_terms", "terms", "terms", "products in the expanded path sum, counted by SymPy"),
    ("expansion", "expansion", "expansion", "operations (sympy.count_ops) in the path sum of "
                                            "dC/dw^(1)_11, in layered symbols"),
    ("expansion_cse", "+ CSE", "expansion + CSE", "the same after common-subexpression "
                                                  "elimination (sympy.cse)"),
    ("recursion", "recursion", "recursion", "operations in the delta program: every delta_m "
                                            "from delta_(m+1), then delta^(1)_1 x_1"),
    ("recursion_cse", "+ CSE", "recursion + CSE", "the delta program after sympy.cse"),
    ("direct", "direct", "direct", "operations in sympy.diff of the composed cost by w^(1)_11, "
                                   "which carries the forward pass inside it"),
    ("direct_cse", "+ CSE", "direct + CSE", "the direct derivative after sympy.cse"),
)


# the same descriptions with inline math, for the derivation documents (LaTeX and Markdown)
MATH_ABOUT = {
    "depth": r"layers with weights; every layer has the same width, $n_0 = \dots = n_L = n$",
    "width": r"units in every layer",
    "paths": r"paths of influence from $w^{(1)}_{11}$ to $C$, one unit per layer: "
             r"$\prod_{m=2}^{L} n_m = n^{L-1}$ (and $n$ times that if layer 1 is softmax)",
    "path_terms": r"products in the expanded path sum, counted by SymPy",
    "expansion": r"operations (SymPy's operation count) in the path sum of "
                 r"$\partial C/\partial w^{(1)}_{11}$, in layered symbols",
    "expansion_cse": r"the same after common-subexpression elimination (SymPy's cse)",
    "recursion": r"operations in the $\delta$ program: every $\delta_m$ from $\delta_{m+1}$, "
                 r"then $\delta^{(1)}_1 x_1$",
    "recursion_cse": r"the $\delta$ program after CSE",
    "direct": r"operations in SymPy's diff of the composed cost by $w^{(1)}_{11}$, which "
              r"carries the forward pass inside it",
    "direct_cse": r"the direct derivative after CSE",
}


def path_count(net: Network) -> int:
    """Closed form of the number of paths from w^{(1)}_{11} to C: ∏_{m=2}^{L} n_m.

    A path picks one unit per layer, as the terms of the path sum do; a softmax in
    layer 1 lets w^{(1)}_{11} reach every a^{(1)}_i, one more factor n_1. (A softmax
    layer's cross-edges z^{(m)}_k → a^{(m)}_i are summed inside its Jacobian entry,
    one factor of a path.)
    """
    n = net.widths
    own = n[1] if not net.activation(1).elementwise else 1
    return own * math.prod(n[2:])


def route_count(net: Network) -> int:
    """Routes from w^{(1)}_{11} to C through every z and a: the paths, times n_m for each later
    softmax layer m, whose Jacobian entry sums over its n_m cross-edges. What the expanded path
    sum and the direct derivative grow with."""
    n = net.widths
    return path_count(net) * math.prod(n[m] for m in range(2, net.L + 1)
                                       if not net.activation(m).elementwise)


def measure(depths: Iterable[int] = DEFAULT_DEPTHS, widths: Iterable[int] = DEFAULT_WIDTHS, *,
            activation: str = "generic", cost: str = "mse",
            max_paths: int = MAX_PATHS, progress=None) -> list[dict]:
    """One row per network [n] * (L + 1), widths outer, depths inner: see ``measure_network``.

    ``progress(what, done, total)`` is called after each network.
    """
    grid = [(n, L) for n in widths for L in depths]
    rows = []
    for n, L in grid:
        net = Network([n] * (L + 1), activation=activation, cost=cost)
        rows.append(measure_network(net, max_paths))
        if progress:
            progress(f"n={n}, L={L}", len(rows), len(grid))
    return rows


def measure_network(net: Network, max_paths: int = MAX_PATHS) -> dict:
    """The swell figures of one network: path counts, operation counts, build seconds.

    Routes (expansion, direct) through more than ``max_paths`` routes of the graph are not
    built: their figures are None and their names are listed under "skipped".
    """
    d = derive(net)
    paths = path_count(net)
    routes = route_count(net)
    row: dict = {"depth": net.L, "width": net.widths[1], "widths": list(net.widths),
                 "activation": net.activations[0], "cost": net.cost,
                 "paths": paths, "path_terms": None, "skipped": [], "seconds": {}}
    for route in ROUTES:
        row[route] = row[f"{route}_cse"] = None
        if route != "recursion" and routes > max_paths:
            row["skipped"].append(route)
            continue
        start = time.perf_counter()
        expressions, terms = _BUILD[route](d)
        row["seconds"][route] = time.perf_counter() - start
        if route == "expansion":
            row["path_terms"] = terms
        row[route] = sum(sp.count_ops(e) for e in expressions)
        start = time.perf_counter()
        replacements, reduced = sp.cse(expressions)
        row["seconds"][f"{route}_cse"] = time.perf_counter() - start
        row[f"{route}_cse"] = (sum(sp.count_ops(rhs) for _, rhs in replacements)
                               + sum(sp.count_ops(e) for e in reduced))
    return row


def _expansion(d) -> tuple[list[sp.Expr], int]:
    """The path sum: ∂C/∂w^{(1)}_{11} from the chain rule, multiplied out.

    Each ∂C/∂a^{(L)}_i is held as one factor while expanding, so that a path
    contributes exactly one product (a_i − y_i would otherwise split it in two).
    The chain is the expansion's own for this one weight: ∂C/∂a_L times the local
    Jacobians, times ∂a_1/∂w^{(1)}_{11} (entry (1, 1) of ``d.chain_rule(1)``, without
    the rest of that matrix).
    """
    first = cost_row(d)
    row = first
    for m in range(d.L, 1, -1):
        row = row * d.expansion_factor(m)
    entry = (row * local_jacobian(d, 1, sp.Matrix([d.weights(1)[0, 0]])))[0, 0]
    held = {g: sp.Dummy(f"g{i}") for i, g in enumerate(first)}
    path_sum = sp.expand(entry.xreplace(held))
    terms = len(sp.Add.make_args(path_sum))
    return [path_sum.xreplace({v: k for k, v in held.items()})], terms


def _recursion(d) -> tuple[list[sp.Expr], None]:
    trace = d.recursion
    steps = [e for m in sorted(trace.deltas, reverse=True) for e in trace.deltas[m]]
    return [*steps, trace.weight[1][0, 0]], None


def _direct(d) -> tuple[list[sp.Expr], None]:
    return [sp.diff(d.composed_cost(), d.weights(1)[0, 0])], None


_BUILD = {"expansion": _expansion, "recursion": _recursion, "direct": _direct}


# ---------------------------------------------------------------- outputs


def to_json(rows: Sequence[dict], timings: bool = False) -> str:
    """The rows as JSON, with what each column measures; seconds only with ``timings``."""
    kept = [{k: v for k, v in row.items() if timings or k != "seconds"} for row in rows]
    about = {key: description for key, _, _, description in COLUMNS}
    return json.dumps({"columns": about, "max_paths": MAX_PATHS, "rows": kept},
                      indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def table_data(rows: Sequence[dict], fmt: str = "md", max_paths: int = MAX_PATHS) -> dict:
    """Plain data for templates/figures/swell_table.j2 and md/swell.md.j2: header, alignment, cells.

    A figure that was not measured (too large) shows as a dash; a rule separates widths.
    """
    dash = "---" if fmt == "tex" else "—"
    body = []
    for n, row in enumerate(rows):
        cells = [dash if row[key] is None else str(row[key]) for key, *_ in COLUMNS]
        body.append({"cells": cells, "ruled": n > 0 and row["width"] != rows[n - 1]["width"]})
    return {"head": [header for _, header, _, _ in COLUMNS], "columns": "r" * len(COLUMNS),
            "rows": body, "about": [(name, text) for _, _, name, text in COLUMNS],
            "about_math": [(header, MATH_ABOUT[key]) for key, header, _, _ in COLUMNS],
            "skipped": any(row["skipped"] for row in rows), "dash": dash,
            "max_paths": max_paths}
