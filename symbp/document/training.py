"""The training report as plain data: what was trained, how, the result and the curves.

Every value is a string (numbers printed here, at the precision shown), so the templates
only lay it out, and the same run gives the same report byte for byte. Timings are left
out for that reason; ``symbp train`` prints them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..core.registry import COSTS
from ..train.checkpoint import Record
from ..train.loop import Training
from ..train.optimizers import OPTIMIZERS
from ..train.parameters import INITS

MAX_ROWS = 40  # epochs in the table; a longer run shows evenly spaced ones and the last
PLOT_POINTS = 200  # points per curve in the PDF's plots
TARGETS = (0.9, 0.95, 0.99)  # accuracies whose first epoch the report names

# the update rule as LaTeX, by optimiser (g: the gradient of the mean cost over the batch)
GRADIENT = (r"g = \frac{1}{B} \sum_{i \in \text{batch}} "
            r"\frac{\partial C_i}{\partial \theta}")
UPDATES = {
    "sgd": r"\theta \leftarrow \theta - \eta\, g",
    "momentum": r"v \leftarrow \mu\, v + g, \qquad \theta \leftarrow \theta - \eta\, v",
    "adam": r"\begin{aligned} m &\leftarrow \beta_1 m + (1 - \beta_1)\, g, \qquad "
            r"v \leftarrow \beta_2 v + (1 - \beta_2)\, g \odot g, \\ "
            r"\theta &\leftarrow \theta - \frac{\eta}{1 - \beta_1^{\,t}}\; m \oslash "
            r"\Bigl(\frac{\sqrt{v}}{\sqrt{1 - \beta_2^{\,t}}} + \varepsilon\Bigr) \end{aligned}",
}


@dataclass(frozen=True)
class Plot:
    """One plot of the PDF: its axis, and each curve as pgfplots coordinates."""

    title: str
    ylabel: str
    log: bool
    last: int  # the last epoch
    curves: list[dict] = field(default_factory=list)  # label, colour_name, rgb, dashed, points


@dataclass(frozen=True)
class TrainingReport:
    """The report's content, every value a plain string."""

    title: str
    subject: str
    facts: list[tuple[str, str]]  # (what, text): network, data, parts, gradients
    settings: list[tuple[str, str]]  # (setting, value)
    gradient_tex: str
    update_tex: str
    update_text: str
    results: list[str]  # sentences
    columns: list[str]
    rows: list[list[str]]
    rows_note: str
    images: list[tuple[str, str]]  # (file, description) for Markdown
    plots: list[Plot]


def build_report(run: Training, title: str | None = None,
                 images: tuple[str, ...] = ("loss.svg", "accuracy.svg")) -> TrainingReport:
    plan, s = run.plan, run.plan.settings
    net = plan.network
    widths = " → ".join(map(str, net.widths))
    title = title or f"Training {list(net.widths)} on {plan.data.name}"
    held = 0 if plan.heldout is None else len(plan.heldout)
    parts = (f"{len(plan.train):,} samples to train on, {held:,} held out "
             f"({100 * (s.holdout or 0):g}% of {len(plan.data):,}, drawn by seed {s.seed})"
             if held else
             f"all {len(plan.train):,} samples to train on, none held out")
    facts = [
        ("Network", (f"widths {widths}; activations {', '.join(net.activations)}; " if net.dense
                     else _layers(net)) + f"cost {net.cost} ({COSTS[net.cost].summary})"),
        ("Data", plan.data.description),
        ("Split", parts),
        ("Gradients", f"symbp.lambdify(d, backend=\"{plan.backend}\"): the δ recursion that "
                      "symbp prove checks, printed as code (this run does not prove it)"
                      + ("" if net.dense else "; each step calls its grad, then the "
                         "optimiser's update (no fused step for layer kinds yet)")),
    ]
    steps = plan.steps_per_epoch
    settings = [("optimizer", f"{s.optimizer}: {OPTIMIZERS[s.optimizer]}"),
                ("learning rate η", f"{s.learning_rate:g}")]
    if s.optimizer == "sgd":
        settings.append(("momentum μ", f"{s.momentum:g}"))
    else:
        settings.append(("β1, β2, ε", f"{s.beta1:g}, {s.beta2:g}, {s.eps:g}"))
    settings += [("batch B", f"{s.batch:,} ({steps:,} step{'s' * (steps > 1)} per epoch, in a "
                             "new random order each epoch)"),
                 ("epochs", f"{s.epochs:,} ({run.steps:,} steps)"),
                 ("initial weights", f"{s.init}: {INITS[s.init][1 if net.dense else 2]}; "
                                     "biases 0"),
                 ("seed", f"{s.seed}")]
    rule = "momentum" if s.optimizer == "sgd" and s.momentum else s.optimizer
    shown_images = [(f, d) for f, d in zip(images, ("the loss per epoch",
                                                     "the accuracy per epoch"))
                    if f != "accuracy.svg" or _has_accuracy(run.history)]
    return TrainingReport(
        title=title, subject=f"{net!r} trained on {plan.data.name} by symbp",
        facts=facts, settings=settings, gradient_tex=GRADIENT, update_tex=UPDATES[rule],
        update_text=_update_text(rule),
        results=_results(run), columns=_columns(run.history), rows=_rows(run.history),
        rows_note=_rows_note(run.history), images=shown_images, plots=_plots(run.history))


def _layers(net) -> str:
    """A network of layer kinds in a line: its input, then each layer, its options and the
    shape it gives."""
    shown = [f"input {' × '.join(map(str, net.input_shape))}"]
    for r, activation in zip(net.resolved, net.activations):
        options = ", ".join(k if v is True else f"{k} {v}" for k, v in r.layer.options
                            if k != "activation" and v is not False)
        shown.append(f"{r.kind.name} ({options + '; ' if options else ''}{activation}) → "
                     f"{' × '.join(map(str, r.shape_out))}")
    return "; ".join(shown) + "; "


def _update_text(rule: str) -> str:
    words = {"sgd": "gradient descent, the seed's rule W ← W − η ∂C/∂W",
             "momentum": "gradient descent with momentum (PyTorch's form)",
             "adam": "Adam (Kingma and Ba), its two averages corrected for their start at 0; "
                     "t counts the steps"}[rule]
    return (f"Each step takes g, the gradient of the cost averaged over the B samples of one "
            f"minibatch, and updates every parameter θ by {words}:")


def _has_accuracy(history: list[Record]) -> bool:
    return history[0].train_accuracy is not None


def percent(share: float | None) -> str:
    return "–" if share is None else f"{100 * share:.2f}%"


def number(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.4g}" if math.isfinite(value) else str(value)


def _results(run: Training) -> list[str]:
    final, first = run.history[-1], run.history[0]
    lines = []
    if final.heldout_accuracy is not None:
        right = round(final.heldout_accuracy * len(run.plan.heldout or ()))
        lines.append(f"Held-out accuracy after {final.epoch:,} epochs: "
                     f"{percent(final.heldout_accuracy)} ({right:,} of "
                     f"{len(run.plan.heldout or ()):,} samples the network never trained on).")
        best = max(run.history, key=lambda r: r.heldout_accuracy or 0.0)
        lines.append(f"Best held-out accuracy: {percent(best.heldout_accuracy)}, after epoch "
                     f"{best.epoch:,}.")
    if final.train_accuracy is not None:
        lines.append(f"Training accuracy: {percent(first.train_accuracy)} before training, "
                     f"{percent(final.train_accuracy)} after.")
    lines.append(f"Mean training cost: {number(first.train_loss)} before training, "
                 f"{number(final.train_loss)} after"
                 + (f"; held out: {number(final.heldout_loss)}."
                    if final.heldout_loss is not None else "."))
    reached = [(t, run.epochs_to(accuracy=t)) for t in TARGETS]
    named = [f"{100 * t:g}% after epoch {e:,}" for t, e in reached if e is not None]
    if _has_accuracy(run.history) and named:
        which = "held-out" if final.heldout_accuracy is not None else "training"
        lines.append(f"First epoch at each {which} accuracy: {', '.join(named)}.")
    if not math.isfinite(final.train_loss):
        lines.append("The cost is no longer a finite number: the run diverged; try a smaller "
                     "learning rate.")
    return lines


def _columns(history: list[Record]) -> list[str]:
    columns = ["epoch", "training cost"]
    if history[0].train_accuracy is not None:
        columns.append("training accuracy")
    if history[0].heldout_loss is not None:
        columns.append("held-out cost")
        if history[0].heldout_accuracy is not None:
            columns.append("held-out accuracy")
    return columns


def shown_epochs(history: list[Record]) -> list[Record]:
    if len(history) <= MAX_ROWS:
        return history
    chosen = sorted({round(i * (len(history) - 1) / (MAX_ROWS - 1)) for i in range(MAX_ROWS)})
    return [history[i] for i in chosen]


def _rows(history: list[Record]) -> list[list[str]]:
    rows = []
    for r in shown_epochs(history):
        row = [f"{r.epoch:,}", number(r.train_loss)]
        if r.train_accuracy is not None:
            row.append(percent(r.train_accuracy))
        if r.heldout_loss is not None:
            row.append(number(r.heldout_loss))
            if r.heldout_accuracy is not None:
                row.append(percent(r.heldout_accuracy))
        rows.append(row)
    return rows


def _rows_note(history: list[Record]) -> str:
    if len(history) <= MAX_ROWS:
        return "Epoch 0 is the network before training."
    return (f"{MAX_ROWS} of the {len(history):,} epochs, evenly spaced (epoch 0 is the network "
            "before training); history.csv has every one.")


def _plots(history: list[Record]) -> list[Plot]:
    step = max(1, math.ceil(len(history) / PLOT_POINTS))
    sample = history[::step] + ([history[-1]] if (len(history) - 1) % step else [])

    def curve(label: str, key: str, colour: str, rgb: str, dashed: bool, scale: float) -> dict:
        points = [(r.epoch, getattr(r, key)) for r in sample]
        coordinates = " ".join(f"({e},{scale * v:.6g})" for e, v in points
                               if v is not None and math.isfinite(v) and (scale > 1 or v > 0))
        return {"label": label, "colour_name": f"train{key.replace('_', '')}", "rgb": rgb,
                "dashed": dashed, "points": coordinates}

    kinds = (("loss", "mean cost (log scale)", True, 1.0),
             ("accuracy", "accuracy (%)", False, 100.0))
    plots = []
    for kind, ylabel, log, scale in kinds:
        curves = [curve(label, f"{part}_{kind}", colour, rgb, dashed, scale)
                  for label, part, colour, rgb, dashed in (
                      ("training", "train", "#1f5fa8", "31,95,168", False),
                      ("held out", "heldout", "#c0392b", "192,57,43", True))
                  if getattr(history[0], f"{part}_{kind}") is not None]
        if curves and any(c["points"] for c in curves):
            plots.append(Plot(f"The {'cost' if kind == 'loss' else kind} per epoch", ylabel,
                              log, max(history[-1].epoch, 1),
                              [c for c in curves if c["points"]]))
    return plots
