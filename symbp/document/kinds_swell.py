"""The count of repeated products and the expression swell of a network of layer kinds, as
plain data for its document.

Both are counted on the network's own graph of dependencies (``figures.swell_kinds``): the
first table, for the first entry of each parameter of this network, what the path sum
multiplies and what the δ recursion multiplies; the second, for networks like this one at
depths 1..4, how the two routes grow. Measured once per derivation, so that the .tex, the .md,
the web page and swell.svg all show the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..core.derivation import Derivation
from ..core.layers import Resolved
from ..figures import swell_kinds
from ..figures.swell_plot import panels_data
from .figures import SWELL_IMAGE, once_per_derivation
from .kinds_paths import dependency_graph


@dataclass(frozen=True)
class WorkRow:
    """The first entry of one parameter: its paths, and the multiplications each route takes
    to write its gradient (``swell_kinds.Work``)."""

    l: int
    entry: str  # LaTeX: K^{(1)}_{1,1,1}
    paths: int
    expansion: int  # multiplications of the path sum
    recursion: int  # multiplications of the δ recursion on the same tree
    saved: int


@dataclass(frozen=True)
class KindsSwellPart:
    """The swell of networks like this one, depths 1..4, every number measured."""

    like: list[tuple[bool, str]]  # rich text: what "networks like this one" are
    symbol: str  # LaTeX: the depth's symbol, D (copies) or T (steps)
    depths: str  # plain text: "1 to 4"
    parameter: str  # LaTeX: the parameter whose first entry is measured, K_{1}
    tables: dict  # fmt (tex, md, html) -> plain data for templates/figures/swell_table.j2
    plot: dict  # swell_plot.panels_data, for templates/figures/swell_plot.tex.j2
    image: str  # the SVG file next to derivation.md
    skipped: str  # plain text: why some rows show a dash ("" when none does)
    figure: int = 2  # its number in the PDF, after the tree of dependencies


def work_rows(d: Derivation, entries: dict[tuple[int, str], str]) -> list[WorkRow]:
    """A row per parameter, in the order of ``entries`` ((l, name) -> its first entry's LaTeX,
    as the table of paths writes it), each counted on that entry's tree."""
    graph = dependency_graph(d)
    rows = []
    for (l, name), entry in entries.items():
        found = swell_kinds.work(graph.tree(l, name))
        rows.append(WorkRow(l, entry, found.paths, found.path_multiplications,
                            found.delta_multiplications, found.saved))
    return rows


@once_per_derivation
def kinds_swell_rows(d: Derivation) -> list[dict]:
    """``swell_kinds.measure`` for ``d``, its own graph read once (``dependency_graph``)."""
    return swell_kinds.measure(d, graph_of=dependency_graph)


def kinds_swell_plot(d: Derivation) -> dict:
    """The plot of the rows: paths on the left, operations on the right."""
    steps = swell_kinds.through_time(d.net)
    return panels_data(
        kinds_swell_rows(d), title=f"networks like this one: what it takes to write dC/dθ, "
                                   f"against {'steps' if steps else 'depth'}",
        # short, beside each panel's title (the kinds' names overlapped the next panel)
        note="networks like this one", note_tex="networks like this one",
        x_label="steps T of the sequence" if steps else "depth D (copies of the hidden layers)",
        x_label_tex="steps $T$" if steps else "depth $D$")


def _layers(rs: list[Resolved]) -> str:
    return ", ".join(r.kind.name for r in rs)


def _like(d: Derivation, rows: list[dict]) -> list[tuple[bool, str]]:
    """What networks like this one are, in words with math parts."""
    net = d.net
    if swell_kinds.through_time(net):
        return [(False, "this network itself over "), (True, "T = 1, \\dots, 4"),
                (False, f" steps of its sequence (its own has {net.input_shape[-1]}), its "
                        "layers as they are: a layer through time is as deep as its sequence "
                        "is long, and its δ recursion runs back along the steps")]
    if net.L == 1:
        copies = [(False, f"its one layer ({net.resolved[0].kind.name}) repeated "),
                  (True, "D = 1, \\dots, 4"), (False, " times")]
    else:
        hidden = net.resolved[:-1]
        which = "layer 1" if len(hidden) == 1 else f"layers 1 to {len(hidden)}"
        copies = [(False, f"its hidden layers ({which}: {_layers(hidden)}) repeated "),
                  (True, "D = 1, \\dots, 4"),
                  (False, f" times under its output layer ({net.resolved[-1].kind.name})")]
    copies.append((False, ", each copy sized by what it reads"))
    if any(row["input"] not in (None, list(net.input_shape)) for row in rows):
        copies.append((False, ", and the input lengthened to as many positions as the copies "
                              "need (the column input)"))
    copies.append((False, "; at "))
    copies.append((True, "D = 1"))
    copies.append((False, " it is this network"))
    return copies


def _table(rows: list[dict], symbol: str, fmt: str) -> dict:
    dash = "---" if fmt == "tex" else "—"
    body = []
    for row in rows:
        shape = "" if row["input"] is None else r" \times ".join(map(str, row["input"]))
        cells = [str(row["depth"]), dash if row["layers"] is None else str(row["layers"]),
                 f"${shape}$" if shape else dash,
                 *(dash if row[key] is None else str(row[key])
                   for key in ("paths", "expansion", "recursion"))]
        body.append({"cells": cells, "ruled": False})
    return {"head": [f"${symbol}$", "layers", "input", "paths", "path sum",
                     r"$\delta$ program"], "columns": "rrrrrr", "rows": body,
            "skipped": False, "dash": dash, "max_paths": 0}


def kinds_swell_part(d: Derivation, parameter: str) -> KindsSwellPart:
    """The swell of networks like ``d``'s; ``parameter`` is the LaTeX of the parameter of layer
    1 with the most paths (``swell_kinds.widest_tree``), as the document names it."""
    rows = kinds_swell_rows(d)
    symbol = "T" if swell_kinds.through_time(d.net) else "D"
    reasons = dict.fromkeys(row["skipped"] for row in rows if row["skipped"])
    skipped = {"too large": f"more than {swell_kinds.MAX_CONNECTIONS} connections, too large "
                            "to read here",
               "no such network": "no network of this shape at that depth"}
    return KindsSwellPart(
        like=_like(d, rows), symbol=symbol,
        depths=f"{swell_kinds.DEPTHS[0]} to {swell_kinds.DEPTHS[-1]}", parameter=parameter,
        tables={fmt: _table(rows, symbol, fmt) for fmt in ("tex", "md", "html")},
        plot=kinds_swell_plot(d), image=SWELL_IMAGE,
        skipped="; ".join(skipped[reason] for reason in reasons))
