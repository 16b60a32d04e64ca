"""One program, proved and printed: recorded once, single assignment, tied to its proof."""

import dataclasses
import json

import pytest
import sympy as sp

import symbp
from symbp.cli.main import main
from symbp.core import registry
from symbp.core.generic import record_generic
from symbp.core.program import ProgramError
from symbp.numeric.codegen import module_source
from symbp.proof.theorem import covers

NET = symbp.Network([2, 3, 3, 2])


def backprop_with_range(ops):
    """backprop_deltas written with a loop over range(L, 0, -1): a concrete depth."""
    delta = ops.bind_delta(ops.L, ops.activation_vjp(ops.L, ops.cost_gradient()))
    for l in range(ops.L, 0, -1):
        ops.gradient(l, weight=ops.outer(delta, ops.activation(l - 1)), bias=delta)
        if l > 1:
            delta = ops.bind_delta(l - 1, ops.activation_vjp(l - 1, ops.transpose_times(l, delta)))


def test_the_recursion_runs_once_and_everything_reads_its_program():
    calls = []

    def counted(ops):
        calls.append(1)
        symbp.backprop_deltas(ops)

    d = symbp.derive(NET, recursion=counted)
    assert symbp.prove(d).holds
    module_source(d)
    symbp.lambdify(d)
    assert len(calls) == 1
    assert d.program.text().splitlines()[:3] == [
        "t1 = cost_gradient()", "t2 = activation_vjp[3](t1)", "delta3 = bind_delta[3](t2)"]


def test_a_delta_bound_twice_is_refused_by_the_prover_and_the_printer():
    def twice(ops):  # a wrong δ_L first, the right one after: the code would use the first
        wrong = ops.bind_delta(ops.L, ops.cost_gradient())
        assert wrong is not None
        symbp.backprop_deltas(ops)

    d = symbp.derive(NET, recursion=twice)
    proof = symbp.prove(d)
    assert proof.status == "failed" and "binds delta_3 twice" in proof.failures[0].residual
    with pytest.raises(ProgramError, match="binds delta_3 twice"):
        module_source(d)
    assert symbp.theorem(recursion=twice).status == "failed"


def test_values_handed_to_the_recursion_cannot_be_changed_in_place():
    seen = []

    def mutate(ops):
        v = ops.activation(1)
        seen.append(v)
        with pytest.raises(TypeError):
            v[0] = 0
        with pytest.raises(dataclasses.FrozenInstanceError):
            v.name = "delta3"
        symbp.backprop_deltas(ops)

    assert symbp.prove(symbp.derive(NET, recursion=mutate)).holds
    assert seen


def test_a_derivation_whose_trace_is_not_its_program_is_not_proved():
    wrong = symbp.derive(NET, recursion=lambda ops: None)

    class Stale(symbp.Derivation):  # shows backprop's trace, runs an empty program
        @property
        def recursion(self):
            return symbp.derive(NET).recursion

    d = Stale(NET, recursion=wrong.recursion_function)
    assert not symbp.prove(d, "local").holds


def test_arithmetic_on_values_is_recorded_and_printed(tmp_path):
    def halved_twice(ops):  # 2 * (δ / 2): the same gradient, through recorded arithmetic
        symbp.backprop_deltas(_Scaled(ops))

    d = symbp.derive(NET, recursion=halved_twice)
    assert "scale" in d.program.text()
    assert symbp.prove(d, "expand").holds
    assert "0.5 *" in module_source(d) or "1/2" in module_source(d)


class _Scaled:
    """RecursionOps whose δ_l goes through 2 * (v * 1/2) before it is bound."""

    def __init__(self, ops):
        self.ops, self.L = ops, ops.L

    def __getattr__(self, name):
        return getattr(self.ops, name)

    def bind_delta(self, l, value):
        return self.ops.bind_delta(l, 2 * (value * sp.Rational(1, 2)))


def test_proof_documents_and_modules_carry_one_fingerprint(tmp_path):
    assert main(["derive", "--out", str(tmp_path), "--format", "json,py,tex", "--quiet"]) == 0
    proof = json.loads((tmp_path / "proof.json").read_text())
    module = (tmp_path / "gradients.py").read_text()
    fingerprint = symbp.derive(NET).program.fingerprint
    assert proof["fingerprint"] == fingerprint
    assert f"PROGRAM = {fingerprint!r}" in module
    assert f"Proved by symbp (expand) for this network, program {fingerprint}" in module


@pytest.mark.parametrize("example", ["residual", "conv1d", "layernorm-mlp"])
def test_a_kinds_networks_proof_and_module_carry_its_programs_fingerprint(example, tmp_path):
    from pathlib import Path

    from symbp.cli import config

    path = Path(__file__).resolve().parent.parent / "examples" / f"{example}.toml"
    assert main(["derive", str(path), "--out", str(tmp_path), "--format", "json,py",
                 "--quiet"]) == 0
    proof = json.loads((tmp_path / "proof.json").read_text())
    module = (tmp_path / "gradients.py").read_text()
    fingerprint = symbp.derive(config.load(path).net).program.fingerprint
    assert proof["fingerprint"] == fingerprint and proof["holds"]
    assert f"PROGRAM = {fingerprint!r}" in module
    assert f"program {fingerprint}" in module


def test_render_refuses_a_proof_of_another_network_or_program():
    d = symbp.derive(NET)
    other_net = symbp.prove(symbp.derive(symbp.Network([2, 2, 2])))
    with pytest.raises(ValueError, match="the proof is of Network"):
        symbp.render(d, "md", proof=other_net)
    same_program = symbp.prove(symbp.derive(NET, recursion=backprop_with_range))
    assert "proved" in symbp.render(d, "md", proof=same_program)  # written alike: one program
    other_program = symbp.prove(symbp.derive(
        NET, recursion=lambda ops: symbp.backprop_deltas(_Scaled(ops))))
    assert other_program.holds  # proved, but of another program
    with pytest.raises(ValueError, match="not of this derivation's program"):
        symbp.render(d, "md", proof=other_program)


def test_the_fingerprint_changes_with_every_form_of_the_registry(monkeypatch):
    before = symbp.derive(NET).program.fingerprint
    entry = registry.ACTIVATIONS["sigmoid"]
    monkeypatch.setitem(registry.ACTIVATIONS, "sigmoid",
                        dataclasses.replace(entry, of_output=lambda a: a * (1 + a)))
    assert symbp.derive(NET).program.fingerprint != before


# ---------------------------------------------------------------- for every width and depth


def test_backprop_is_recorded_once_for_every_depth_and_its_instances_are_the_programs():
    generic = record_generic(symbp.backprop_deltas)
    assert len(generic.cases) == 3 and not generic.problems
    for widths in ([2, 2], [3, 1, 2], [2, 3, 3, 2], [1, 2, 3, 4, 5, 6, 7, 8, 2]):
        d = symbp.derive(symbp.Network(widths))
        assert covers(d) == ""
        instance = generic.instance(d.L, lambda m, w=widths: w[m], context=d.net.meaning())
        assert instance.text() == d.program.text()


def test_a_loop_over_a_concrete_depth_is_checked_not_proved():
    proof = symbp.theorem(recursion=backprop_with_range)
    assert proof.status == "checked" and not proof.holds
    trace = next(c for c in proof.claims if c.name == "trace")
    assert trace.status == "checked" and "as a Python integer" in trace.how
    assert "checked, not proved" in proof.summary()
    assert covers(symbp.derive(NET, recursion=backprop_with_range)).startswith(
        "the recursion is not recorded for every depth")


def wrong_from_depth(ops):
    """Right below depth 6, wrong from 6 on: a comparison with a concrete depth."""
    cost = ops.cost_gradient()
    if ops.L >= 6:
        cost = 2 * cost
    delta = ops.bind_delta(ops.L, ops.activation_vjp(ops.L, cost))
    for l in ops.layers():
        ops.gradient(l, weight=ops.outer(delta, ops.activation(l - 1)), bias=delta)
        if l > 1:
            delta = ops.bind_delta(l - 1, ops.activation_vjp(l - 1, ops.transpose_times(l, delta)))


def wrong_from_width(ops):
    """Right below width 5, wrong from 5 on: it reads a width as a number."""
    cost = ops.cost_gradient()
    if cost.shape[0] >= 5:
        cost = 2 * cost
    delta = ops.bind_delta(ops.L, ops.activation_vjp(ops.L, cost))
    for l in ops.layers():
        ops.gradient(l, weight=ops.outer(delta, ops.activation(l - 1)), bias=delta)
        if l > 1:
            delta = ops.bind_delta(l - 1, ops.activation_vjp(l - 1, ops.transpose_times(l, delta)))


def test_code_that_branches_on_a_concrete_depth_or_width_is_never_proved_for_every_size():
    deep = symbp.theorem(recursion=wrong_from_depth)
    assert not deep.holds and "a concrete depth" in str(deep.claims[0].how)
    wide = symbp.theorem(recursion=wrong_from_width)
    assert not wide.holds and wide.status == "failed"
    assert "reads the width" in wide.claims[0].residual
    assert not symbp.prove(symbp.derive(symbp.Network([2, 5]), recursion=wrong_from_width)).holds


def test_a_cost_on_lists_wrong_from_width_5_is_checked_not_proved(monkeypatch):
    mse = registry.COSTS["mse"]

    def gradient(a, y):  # right below width 5, wrong from 5 on
        return [(aj - yj) * (2 if len(a) >= 5 else 1) for aj, yj in zip(a, y)]

    monkeypatch.setitem(registry.COSTS, "mse", dataclasses.replace(mse, gradient=gradient))
    proof = symbp.theorem("generic", "mse")
    assert not proof.holds and proof.status == "checked"
    entrywise = next(c for c in proof.claims if c.name == "entrywise")
    assert entrywise.status == "checked" and "widths 1..4 only" in entrywise.how
    assert not symbp.prove(symbp.derive(symbp.Network([2, 5], "generic"))).holds


def test_the_theorem_is_cached_by_what_the_recursion_does_not_by_its_identity():
    wrong = {"now": False}

    def changing(ops):
        cost = ops.cost_gradient()
        delta = ops.bind_delta(ops.L, ops.activation_vjp(ops.L, -cost if wrong["now"] else cost))
        for l in ops.layers():
            ops.gradient(l, weight=ops.outer(delta, ops.activation(l - 1)), bias=delta)
            if l > 1:
                delta = ops.bind_delta(l - 1,
                                       ops.activation_vjp(l - 1, ops.transpose_times(l, delta)))

    assert symbp.theorem(recursion=changing).holds
    wrong["now"] = True
    assert symbp.theorem(recursion=changing).status == "failed"


def test_an_activation_whose_formula_ignores_its_argument_fails_its_lemma(monkeypatch):
    z = sp.Symbol("z")
    stray = dataclasses.replace(registry.ACTIVATIONS["sigmoid"],
                                formula=lambda arg: 1 / (1 + sp.exp(-z)),
                                derivative=lambda arg: sp.exp(-z) / (1 + sp.exp(-z)) ** 2)
    monkeypatch.setitem(registry.ACTIVATIONS, "sigmoid", stray)
    proof = symbp.prove(symbp.derive(symbp.Network([2, 2, 2])))
    assert proof.status == "failed"
    assert "does not depend on its argument" in proof.failures[0].residual


def test_summary_lines_fit_100_columns_and_a_proof_shows_itself_in_a_notebook():
    for proof in (symbp.prove(symbp.derive(symbp.Network([16] * 4, "generic"))),
                  symbp.prove(symbp.derive(NET, recursion=lambda ops: None)),
                  symbp.prove(symbp.derive(NET), "random")):
        assert all(len(line) <= 100 for line in proof.summary().splitlines()), proof.summary()
        shown = proof._repr_markdown_()
        assert shown.startswith(f"**{proof.headline()}**") and "| status | claim |" in shown
