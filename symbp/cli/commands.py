"""The commands of ``symbp``: each turns parsed arguments into work, output and an exit code.

Exit codes (``exits.EXIT_CODES``, one table ``exits.ENDINGS``): 0 proved, 1 not proved (a
failure or a timeout), 2 bad input, 3 the environment stopped the run (disk full, a
folder that cannot be written or is busy, a file-size limit, memory, pdflatex failing),
4 an internal error, 130 interrupted. Anything the user can fix on the command line or in a
network file is a ``BadInput``, raised before the output folder is touched.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from ..core import limits, registry
from ..core.deadline import TimedOut
from ..core.derivation import Derivation
from ..core.layers import KINDS
from ..core.network import Network
from ..core.second_order import derive
from ..printing import forms
from ..proof.claims import CHECKS
from ..proof.prove import METHODS as FIRST_METHODS
from ..proof.prove import Proof, choose_method, prove
from ..proof.theorem_text import general_table
from . import config, outputs, progress
from .exits import EXIT_NOT_PROVED, BadInput
from .jobs import budget, checked_folder, exit_code, note, read_job

# a command imports what only it needs (second order, the theorem for every size, the
# documents) when it runs: a proof need not wait for Jinja and the code generators


def _derive(job: config.Job, args) -> tuple[Derivation, str]:
    """The derivation and the proof method it gets; BadInput for a method refused as too large,
    and, for second order, a network it does not cover or whose Hessian is too large."""
    try:
        if job.order == 2:
            dense = all(r.kind.name == "dense" for r in job.net.resolved)
            _within_symbolic_limit(job.net, dense, args)
            from ..proof.curvature import METHODS as SECOND_METHODS
            from ..proof.kinds_curvature import METHODS as KINDS_SECOND_METHODS

            methods = SECOND_METHODS if dense else KINDS_SECOND_METHODS
            if job.method not in methods:
                raise ValueError(f"--order 2: unknown method {job.method!r}; choose one of: "
                                 f"{', '.join(methods)}")
        with budget(args).phase():
            d = derive(job.net, order=job.order)
        return d, choose_method(d, job.method if job.method in FIRST_METHODS else "auto")
    except ValueError as error:
        raise BadInput(str(error)) from None


def _within_symbolic_limit(net: Network, dense: bool, args) -> None:
    """BadInput where second order's symbolic Hessian is past its limit, pointing a network
    file to the theorem for every size where it takes it (it never writes the Hessian out)."""
    from ..core.kinds_second_scope import check_size, supported

    if not dense:
        supported(net)  # what order 2 does not take is refused as such, not for its size
    try:
        if dense:
            limits.check_symbolic_hessian(net.widths)
        else:
            check_size(net)
    except ValueError as error:
        command = _general_command(net, dense, getattr(args, "network", None))
        hint = (f"; {command} proves its second order for every size without writing the "
                "Hessian out" if command else "")
        raise BadInput(f"{error}{hint}") from None


def _general_command(net: Network, dense: bool, file: str | None) -> str | None:
    """The command that proves second order for every size of ``net``'s shape, where the
    theorem takes it: for a network file that file, for flags a dense network of one
    activation (the flags --general takes); else None."""
    if not _general_theorem_takes(net, dense):
        return None
    if file:
        return f"symbp prove {file} --order 2 --general"
    if not dense or len(set(net.activations)) != 1:
        return None  # --general --order 2 takes no --layers, nor an output activation apart
    return f"symbp prove --order 2 --general --activation {net.activations[0]} --cost {net.cost}"


def _general_theorem_takes(net: Network, dense: bool) -> bool:
    if dense:  # the dense theorem: one activation for every hidden layer
        return len(set(net.activations[:-1])) <= 1
    from ..proof.kinds_second_theorem import refusal

    return not refusal(net)


def _prove_second(d: Derivation, job: config.Job, args) -> Proof | None:
    """The second-order proof, for a derivation of order 2 (else None)."""
    if getattr(d, "order", 1) != 2:
        return None
    from ..numeric.kinds_curvature_codegen import kinds_second_order_source
    from ..proof.curvature import prove_second_order

    with progress.bar(progress.wanted(args.quiet), "proving second order") as update:
        return prove_second_order(d, job.method, timeout=budget(args).left(),  # type: ignore[arg-type]
                                  progress=update, printed=kinds_second_order_source)


def _prove(job: config.Job, args, derived: tuple[Derivation, str] | None = None) -> tuple:
    with progress.bar(progress.wanted(args.quiet), "proving") as update:
        d, method = derived or _derive(job, args)
        proof = prove(d, method, timeout=budget(args).left(), progress=_stalled(update))
    return d, proof


def _table(proof: Proof) -> str:
    """The claims: one line per layer and parameter for the routes, then every other claim."""
    heads = list(CHECKS.values())
    lines = []
    if proof.rows:
        lines.append(f"{'layer':>5}  {'param':5}  " + "  ".join(f"{h:21}" for h in heads)
                     + "  seconds")
    for row in proof.rows:
        cells = "  ".join(f"{row.checks[h]:21}" for h in heads)
        lines.append(f"{row.layer:>5}  {row.parameter:5}  {cells}  {row.seconds:7.3f}")
    lines += [f"{'lemma' if c.kind == 'function' else 'claim'} {c.label}: {c.status}"
              for c in proof.claims if c.layer is None or c.parameter is None]
    lines += [f"failure: {f}" for f in proof.failures]
    return "\n".join(lines)


# ---------------------------------------------------------------- commands


def run_prove(args) -> int:
    if args.general:
        from .general import prove_general  # the theorem's provers: only with --general

        return prove_general(args)
    job = read_job(args)
    if job.order == 2:
        d, _ = _derive(job, args)
        proof = _prove_second(d, job, args)
        assert proof is not None
        print(json.dumps(proof.to_dict(), indent=2) if args.json
              else f"{general_table(proof)}\n{proof.summary()}")
        return exit_code(proof)
    _, proof = _prove(job, args)
    if args.json:
        print(json.dumps(proof.to_dict(), indent=2))
    else:
        print(_table(proof))
        print(proof.summary())
    return exit_code(proof)


def run_derive(args) -> int:
    from ..render.environment import unsettable
    from ..render.latex import DEFAULT_TIMEOUT
    from .publish import FORMATS, Build, build_files, plan

    job = read_job(args)
    out = checked_folder(args.out if args.out is not None else
                         Path("output") / (job.name or job.net.slug))
    assert job.formats is not None  # _job_now fills the default list in for derive
    try:
        formats, notes = plan(job.net, job.formats, job.explicit_formats)
    except ValueError as error:
        raise BadInput(str(error)) from None
    missing = unsettable(job.title) if job.title and {"tex", "pdf"} & set(formats) else []
    if missing:
        notes.insert(0, f"pdflatex cannot set {' '.join(missing[:8])} of the title: the LaTeX "
                        f"and PDF show their codes, like [U+{ord(missing[0]):04X}]; the "
                        "Markdown keeps them")
    derived = _derive(job, args)  # a method refused as too large: before the folder is touched
    for text in notes:
        note(args, text)
    expected = [name for fmt in formats for name in FORMATS[fmt].files]
    with outputs.OutputFolder(out, expected) as folder:
        d, proof = _prove(job, args, derived)
        second = _prove_second(d, job, args)
        if proof.status == "timed out" or (second is not None and second.status == "timed out"):
            raise TimedOut
        _stall("proved")
        with progress.bar(progress.wanted(args.quiet), "writing documents") as update, \
                budget(args).phase():
            left = budget(args).remaining
            b = Build(d, proof, job.title, job.timings, workdir=folder.staging,
                      timeout=DEFAULT_TIMEOUT if left is None else min(DEFAULT_TIMEOUT, left + 1),
                      example=job.example, wanted=tuple(formats), second=second)
            files = build_files(b, formats, update)
            folder.stage(files)
        _stall("built")
        written = folder.publish()
    print(proof.summary())
    if second is not None:
        print(f"second order: {second.summary()}")
    for text in b.notes:
        note(args, text)
    if folder.fallback:
        note(args, folder.fallback)
    for path in written:
        print(f"wrote {path}")
    if second is not None and not second.holds:
        return EXIT_NOT_PROVED
    return exit_code(proof)


def run_list(args) -> int:
    from .plain import plain

    print("activations (--activation NAME, or one name per layer):")
    for act in registry.ACTIVATIONS.values():
        f = plain(act.latex)
        print(f"  {act.name:11} {act.summary}")
        print(f"  {'':11} {f}(z) = {plain(forms.activation_definition(act))}")
        slope = plain(forms.activation_derivative(act))
        print(f"  {'':11} " + (slope if "=" in slope else f"{f}'(z) = {slope}"))
    print("costs (--cost NAME):")
    for cost in registry.COSTS.values():
        print(f"  {cost.name:11} {cost.summary}")
        print(f"  {'':11} ∂C/∂a_j = {plain(forms.cost_gradient(cost))}")
        if cost.output:
            print(f"  {'':11} puts {cost.output} in the output layer")
    print('layer kinds (kind = "NAME" in a [[layers]] table, or --layers NAME:KEY=VALUE;...,'
          "NAME...):")
    for k in KINDS.values():
        print(f"  {k.name:17} {k.summary}")
        for key, option in k.options.items():
            print(f"  {'':17} {key}: {option.expected}{_default(option)}")
    return 0


def _default(option: Any) -> str:
    """"; default tanh", or "; required" where neither the option nor its text gives one."""
    if option.default is None:
        return "" if "default" in option.expected else "; required"
    shown = str(option.default).lower() if isinstance(option.default, bool) else option.default
    return f"; default {shown}"


def _stalled(update: progress.Update) -> progress.Update:
    """Test hook: with SYMBP_STALL_AT=proving, each step the prover reports lasts 0.25 s more,
    so that a small proof shows its bar without costing CPU seconds."""
    if os.environ.get("SYMBP_STALL_AT") != "proving":
        return update

    def slow(what: str, done: int, total: int) -> None:
        update(what, done, total)
        time.sleep(0.25)

    return slow


def _stall(stage: str) -> None:
    # test hook: lets the interruption tests kill a run at a known point
    if os.environ.get("SYMBP_STALL_AT") == stage:
        print(f"stalled at {stage}", file=sys.stderr, flush=True)
        time.sleep(600)
