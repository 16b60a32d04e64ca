"""The figures through the templates: TikZ and pgfplots for LaTeX, the swell report for Markdown.

The figures themselves are plain data (``symbp.figures``); this module lays them
out with the one Jinja environment, and gathers the files ``--format figures`` writes.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..core.derivation import Derivation
from ..document.figures import GRAPH_IMAGE, SWELL_IMAGE, influence, swell_rows, swell_width
from ..document.kinds_figure import kinds_influence
from ..document.kinds_swell import kinds_swell_plot
from ..figures.graph import InfluenceGraph
from ..figures.graph_svg import graph_svg
from ..figures.kinds_graph import KindsGraph
from ..figures.kinds_graph_svg import kinds_graph_svg
from ..figures.swell import table_data
from ..figures.swell_plot import plot_data, plot_svg, swell_svg
from .environment import environment


def graph_tex(graph: InfluenceGraph, scale: float | None = None) -> str:
    """The ``tikzpicture`` of ``graph`` (templates/graph.tex.j2), for a document.

    ``scale`` defaults to the graph's own: shrunk to fit the page width.
    """
    data = graph.plain()
    if scale is not None:
        data["scale"] = scale
    return environment().get_template("figures/graph.tex.j2").render(graph=data)


def graph_standalone_tex(graph: InfluenceGraph) -> str:
    """A LaTeX document whose one page is the graph at full size (graph.tex)."""
    data = {**graph.plain(), "scale": 1.0}
    return environment().get_template("figures/graph_standalone.tex.j2").render(graph=data)


def kinds_graph_standalone_tex(graph: KindsGraph) -> str:
    """A LaTeX document whose one page is a layer kind's tree of dependencies (graph.tex)."""
    data = {**graph.plain(), "scale": 1.0}
    return environment().get_template("figures/kinds_graph_standalone.tex.j2").render(
        graph=data)


def swell_plot_tex(rows: Sequence[dict], width: int | None = None) -> str:
    """The pgfplots ``tikzpicture`` (semilogy) for a document; needs pgfplots in the preamble."""
    return environment().get_template("figures/swell_plot.tex.j2").render(
        plot=plot_data(rows, width))


def swell_standalone_tex(rows: Sequence[dict], width: int | None = None) -> str:
    """A LaTeX document whose one page is the swell plot."""
    return environment().get_template("figures/swell_standalone.tex.j2").render(
        plot=plot_data(rows, width))


def swell_table(rows: Sequence[dict], fmt: str = "md") -> str:
    """The swell table alone, as Markdown (``fmt="md"``) or LaTeX booktabs (``"tex"``)."""
    data = table_data(rows, fmt)
    return environment().get_template("figures/swell_table.j2").render(swell=data, fmt=fmt)


def swell_markdown(rows: Sequence[dict], image: str = SWELL_IMAGE) -> str:
    """swell.md: the plot, the table and what each column measures."""
    return environment().get_template("md/swell.md.j2").render(
        swell=table_data(rows), image=image, fmt="md")


def markdown_images(d: Derivation) -> dict[str, str]:
    """The SVG files derivation.md links: graph.svg and swell.svg; for layer kinds graph.svg is
    the tree of dependencies of one shared parameter entry, swell.svg the swell of networks
    like this one."""
    if not d.net.dense:
        return {GRAPH_IMAGE: kinds_graph_svg(kinds_influence(d)),
                SWELL_IMAGE: plot_svg(kinds_swell_plot(d))}
    return {GRAPH_IMAGE: graph_svg(influence(d)),
            SWELL_IMAGE: swell_svg(swell_rows(swell_width(d.net), d.net.cost))}


def figure_files(d: Derivation) -> dict[str, str]:
    """The figures on their own: graph.tex (standalone), graph.svg and swell.svg."""
    standalone = graph_standalone_tex(influence(d)) if d.net.dense else \
        kinds_graph_standalone_tex(kinds_influence(d))
    return {"graph.tex": standalone, **markdown_images(d)}
