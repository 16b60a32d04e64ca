"""The files of a training run: the report (Markdown, PDF), its JSON, the curves and the history.

The report is ``symbp.document.training``'s plain data laid out by ``training.md.j2`` and
``training.tex.j2``; the curves are hand-written SVG for the Markdown and pgfplots in the PDF.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..document.training import TrainingReport, build_report
from ..figures.loss import COLOURS, Curve, curves_svg, history_csv
from ..train.checkpoint import HISTORY_COLUMNS
from ..train.loop import Training
from .documents import pdf_text
from .environment import environment
from .latex import DEFAULT_TIMEOUT, compile_pdf

FILES = ("report.md", "report.pdf", "report.json", "loss.svg", "accuracy.svg", "history.csv")


def render_training(report: TrainingReport, fmt: str = "md") -> str:
    """The report as Markdown (``fmt="md"``) or LaTeX (``"tex"``)."""
    if fmt not in ("md", "tex"):
        raise ValueError(f"unknown format {fmt!r}; choose one of: md, tex")
    pdf = {"title": pdf_text(report.title), "subject": pdf_text(report.subject)}
    return environment().get_template(f"{fmt}/training.{fmt}.j2").render(doc=report, pdf=pdf)


def training_files(run: Training, title: str | None = None, *, pdf: bool = True,
                   workdir: Path | None = None,
                   timeout: float = DEFAULT_TIMEOUT) -> dict[str, bytes]:
    """Every file of the run, by name (``report.pdf`` only with ``pdf``)."""
    report = build_report(run, title)
    history = run.history
    label = f"{list(run.network.widths)} on {run.plan.data.name}"

    def curves(kind: str) -> list[Curve]:
        found = []
        for (name, part), colour in zip((("training", "train"), ("held out", "heldout")),
                                        COLOURS):
            values = [getattr(r, f"{part}_{kind}") for r in history]
            if values[0] is not None:
                found.append(Curve(name, values, colour, dashed=part == "heldout"))
        return found

    report_json = json.dumps(run.to_dict(), indent=2, ensure_ascii=False) + "\n"
    files = {"report.md": render_training(report, "md").encode(),
             "report.json": report_json.encode(),
             "loss.svg": curves_svg(curves("loss"), f"Mean cost per epoch, {label}",
                                    "mean cost (log scale)").encode(),
             "history.csv": history_csv(HISTORY_COLUMNS, [
                 [r.epoch, r.train_loss, r.train_accuracy, r.heldout_loss, r.heldout_accuracy]
                 for r in history]).encode()}
    if history[0].train_accuracy is not None:
        files["accuracy.svg"] = curves_svg(curves("accuracy"), f"Accuracy per epoch, {label}",
                                           "accuracy", percent=True).encode()
    if pdf:
        files["report.pdf"] = compile_pdf(render_training(report, "tex"), timeout=timeout,
                                          workdir=workdir)
    return files
