"""The general theorem: proved for the four pairs of the issue, refuted by every planted mistake."""

import dataclasses
import json

import numpy as np
import pytest
import sympy as sp

import symbp
from symbp.cli.main import main
from symbp.core import registry
from symbp.proof.index_entries import A, B, W, Y, Z
from symbp.proof.indexed import DEPTH, WIDTH, IndexOps
from symbp.proof.theorem import LEMMAS, prove_theorem
from symbp.proof.traced import at_depth
from tests.oracles import central_differences, random_point

PAIRS = [("generic", "mse"), ("sigmoid", "mse"), ("tanh", "bce"),
         pytest.param("softmax", "softmax_ce", marks=pytest.mark.slow)]


@pytest.mark.parametrize(("activation", "cost"), PAIRS)
def test_the_general_theorem_is_proved(activation, cost):
    proof = symbp.theorem(activation, cost)
    assert proof.holds and proof.status == "proved", proof.summary()
    assert proof.method == "general"
    assert {c.kind for c in proof.claims} == {"general"}
    names = [c.name for c in proof.claims]
    dense = [name for key, name in LEMMAS.items() if key != "pass back"]  # g: skips only
    for lemma in (*dense, "trace", "entrywise", "cross-check", "theorem"):
        assert lemma in names
    assert f"{cost} gradient" in names
    lemmas = [c for c in proof.claims if c.name in LEMMAS.values()]
    assert all(c.how.startswith("symbolic identity") for c in lemmas)
    assert all("checked exactly at every width 1..4" in c.how for c in lemmas)


def test_softmax_gets_its_jacobian_lemma_and_no_delta_for_the_kronecker():
    proof = symbp.theorem("generic", "softmax_ce")
    claim = next(c for c in proof.claims if c.name == "softmax Jacobian")
    assert claim.proved and "symbolic identity" in claim.how
    assert r"[j = k]" in claim.latex and r"\delta_{" not in claim.latex


def test_claims_say_what_was_traced_and_what_only_instantiated():
    proof = symbp.theorem("sigmoid", "mse")
    trace = next(c for c in proof.claims if c.name == "trace")
    assert trace.how.startswith("recorded once for a symbolic depth L and widths n_l: 3 cases")
    assert "1 distinct hidden steps" in trace.how
    entrywise = next(c for c in proof.claims if c.name == "entrywise")
    assert entrywise.how.startswith("by construction")
    theorem = next(c for c in proof.claims if c.name == "theorem")
    assert "induction" in theorem.how and "recorded once for every depth" in theorem.statement


def test_results_are_copies_and_bad_input_is_refused():
    first = symbp.theorem("generic", "mse")
    first.claims.clear()
    assert symbp.theorem("generic", "mse").holds
    with pytest.raises(ValueError, match="swish"):
        symbp.theorem("swish")
    with pytest.raises(ValueError, match="hinge"):
        symbp.theorem(cost="hinge")
    with pytest.raises(ValueError, match="needs output activation 'softmax'"):
        symbp.theorem("tanh", "softmax_ce", output="tanh")
    with pytest.raises(ValueError, match="recursion"):
        symbp.theorem(recursion=42)


# ---------------------------------------------------------------- wrong recursions


def recursion(*, drop_prime=False, shift=False, swap=False, cost_sign=1, outer_swapped=False,
              no_transpose=False, deep=None, bias_scale=1, crash=False, skip_first=False):
    """backprop_deltas through the public RecursionOps only, with one mistake switched on."""

    def run(ops):
        L = ops.L
        if crash and L == 3:
            raise RuntimeError("planted")

        def vjp(l, v):
            return v if drop_prime else ops.activation_vjp(l, v)

        delta = ops.bind_delta(L, vjp(L, cost_sign * ops.cost_gradient()))
        for l in ops.layers():
            if skip_first and l == 1:
                break
            a_prev = ops.activation(l - 1)
            weight = ops.outer(a_prev, delta) if outer_swapped else ops.outer(delta, a_prev)
            target = {2: 3, 3: 2}.get(l, l) if swap and L >= 3 else l
            ops.gradient(target, weight=weight, bias=bias_scale * delta)
            if l > 1:
                back = delta if no_transpose else ops.transpose_times(
                    l + 1 if shift and l < L else l, delta)
                if deep and deep <= L and l == 2:
                    back = 2 * back
                delta = ops.bind_delta(l - 1, vjp(l - 1, back))

    return run


MUTANTS = {  # name: (mutant, the claim that must fail)
    "sigma' dropped": (recursion(drop_prime=True), "base case"),
    "cost gradient negated": (recursion(cost_sign=-1), "base case"),
    "layers 2 and 3 swapped": (recursion(swap=True), "trace"),  # shapes differ: refused
    "outer product transposed": (recursion(outer_swapped=True), "trace"),  # shapes differ
    "bias gradient doubled": (recursion(bias_scale=2), "dC/db_l"),
    "wrong only from depth 4": (recursion(deep=4), "step"),
    "W_(l+1) used for W_l": (recursion(shift=True), "trace"),
    "no transpose": (recursion(no_transpose=True), "trace"),
    "crashes at depth 3": (recursion(crash=True), "trace"),
    "layer 1 left out": (recursion(skip_first=True), "trace"),
}
FAST = ["sigma' dropped", "wrong only from depth 4"]


@pytest.mark.parametrize("mutant", [m if m in FAST else pytest.param(m, marks=pytest.mark.slow)
                                    for m in MUTANTS])
def test_every_wrong_recursion_fails(mutant):
    fn, claim = MUTANTS[mutant]
    proof = symbp.theorem("generic", "mse", recursion=fn)
    assert not proof.holds and proof.status == "failed", proof.summary()
    failed = [c.name for c in proof.claims if c.status == "failed"]
    assert claim in failed and "theorem" in failed
    assert next(c for c in proof.claims if c.name == "theorem").culprit


def test_a_wrong_softmax_recursion_fails():
    proof = symbp.theorem("softmax", "softmax_ce", recursion=recursion(drop_prime=True))
    assert {"base case", "step"} <= {c.name for c in proof.claims if c.status == "failed"}


# ---------------------------------------------------------------- wrong registry entries


def _patched(monkeypatch, table, name, **changes):
    monkeypatch.setitem(table, name, dataclasses.replace(table[name], **changes))


def _failed(proof):
    return {c.name for c in proof.claims if c.status == "failed"}


def test_a_wrong_registered_derivative_fails(monkeypatch):
    sig = registry.ACTIVATIONS["sigmoid"].formula
    _patched(monkeypatch, registry.ACTIVATIONS, "sigmoid",
             derivative=lambda z: sig(z) * (1 + sig(z)))
    proof = symbp.theorem("sigmoid", "mse")
    assert not proof.holds
    assert {"sigmoid'", "theorem"} <= _failed(proof)


def test_a_wrong_cost_gradient_fails(monkeypatch):
    _patched(monkeypatch, registry.COSTS, "mse",
             gradient=lambda a, y: [(aj - yj) / 2 for aj, yj in zip(a, y)])
    proof = symbp.theorem("generic", "mse")
    assert {"base case", "mse gradient", "theorem"} <= _failed(proof)


def test_a_cost_gradient_that_is_not_entrywise_fails(monkeypatch):
    # right at one output unit, wrong at two or more: only the width check can see it
    _patched(monkeypatch, registry.COSTS, "mse",
             gradient=lambda a, y: [(aj - yj) * len(a) for aj, yj in zip(a, y)])
    proof = symbp.theorem("generic", "mse")
    assert {"entrywise", "theorem"} <= _failed(proof)


def test_a_wrong_softmax_jacobian_fails(monkeypatch):
    monkeypatch.setattr(registry, "softmax_jacobian_entry", lambda aj, ak, same: aj * (1 - ak))
    proof = symbp.theorem("generic", "softmax_ce")
    assert {"softmax Jacobian", "theorem"} <= _failed(proof)


# ---------------------------------------------------------------- an independent oracle


def test_the_traced_formulas_match_central_differences(rng):
    """The index-notation trace, written out for one network, against finite differences."""
    net = symbp.Network([2, 3, 2, 2], activation="sigmoid")
    x, y, weights, biases = random_point(net, rng)
    trace = at_depth(symbp.backprop_deltas, net.L,
                     IndexOps(net.activation(1), net.activation(net.L), net.cost_entry))
    values = {Y[j + 1]: y[j] for j in range(len(y))}
    a = x
    values |= {A[0, k + 1]: x[k] for k in range(len(x))}
    for l, (Wl, bl) in enumerate(zip(weights, biases), start=1):
        z = Wl @ a + bl
        a = 1 / (1 + np.exp(-z))
        values |= {W[l, j + 1, k + 1]: Wl[j, k] for j in range(Wl.shape[0])
                   for k in range(Wl.shape[1])}
        values |= {B[l, j + 1]: bl[j] for j in range(len(bl))}
        values |= {Z[l, j + 1]: z[j] for j in range(len(z))}
        values |= {A[l, j + 1]: a[j] for j in range(len(a))}
    widths = {WIDTH[l]: n for l, n in enumerate(net.widths)}

    def number(expr):
        concrete = expr.xreplace({DEPTH: net.L}).xreplace(widths).doit()
        return float(concrete.xreplace(values).evalf())

    delta = sp.IndexedBase("delta")
    def label(l):
        return DEPTH - (net.L - l)

    for l in range(net.L, 0, -1):  # δ_l from δ_(l+1), as the recursion bound them
        v = trace.deltas[label(l)]
        values |= {delta[l, j]: number(v.at(j)) for j in range(1, net.widths[l] + 1)}
    expected = central_differences(net, x, y, weights, biases)
    for l in range(1, net.L + 1):
        g = trace.weight[label(l)]
        got = np.array([[number(g.at(j, k)) for k in range(1, net.widths[l - 1] + 1)]
                        for j in range(1, net.widths[l] + 1)])
        np.testing.assert_allclose(got, expected["W"][l - 1], rtol=1e-5, atol=1e-7)


# ---------------------------------------------------------------- the command line


def test_prove_general_prints_the_claims_and_exits_zero(capsys):
    assert main(["prove", "--general", "--activation", "tanh", "--cost", "bce"]) == 0
    out = capsys.readouterr().out
    assert any(line.startswith("proved (general): for every depth L")
               for line in out.splitlines())
    assert "base case" in out and "cross-check" in out


def test_prove_general_json(capsys):
    assert main(["prove", "--general", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["method"] == "general" and data["holds"] is True
    assert "activation='generic'" in data["network"]


@pytest.mark.parametrize(("args", "named"), [
    (["--widths", "2,3"], "--widths"),
    (["--activation", "swish"], "'swish'"),
    (["--activation", "tanh,relu"], "one --activation"),
    (["--cost", "hinge"], "'hinge'"),
    (["--activation", "tanh", "--cost", "softmax_ce", "--method", "local"], "--method"),
])
def test_prove_general_bad_input_exits_two(args, named, capsys):
    assert main(["prove", "--general", *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("symbp: error:") and named in err


def test_prove_general_takes_a_network_files_activations_and_cost(tmp_path, capsys):
    path = tmp_path / "net.toml"
    path.write_text('widths = [2, 3, 3, 1]\nactivation = ["tanh", "tanh", "sigmoid"]\n'
                    'cost = "bce"\n')
    assert main(["prove", str(path), "--general", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["holds"] is True
    assert data["network"] == ("every depth and width: activation='tanh', output='sigmoid', "
                               "cost='bce'")


@pytest.mark.parametrize(("text", "args", "message"), [
    ('widths = [2, 3, 3, 1]\nactivation = ["tanh", "relu", "sigmoid"]\n', [],
     "one activation for every hidden layer; NET has tanh, relu"),
    ("widths = [2, 3, 1]\n", ["--activation", "tanh"],
     "either as a file (NET) or with --activation, not both"),
    ('inputs = 2\n[[layers]]\nkind = "dense"\nunits = 3\nactivation = "softmax"\n'
     '[[layers]]\nkind = "dense"\nunits = 1\n', ["--order", "2"],
     "second order: activation 'softmax' in a hidden layer (layer 1)"),
])
def test_prove_general_refuses_a_network_file_it_cannot_take(tmp_path, capsys, text, args,
                                                             message):
    path = tmp_path / "net.toml"
    path.write_text(text)
    assert main(["prove", str(path), "--general", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("symbp: error: ") and err.count("\n") == 1
    assert message.replace("NET", str(path)) in err


def test_prove_general_not_proved_exits_one(monkeypatch, capsys):
    monkeypatch.setitem(registry.COSTS, "mse", dataclasses.replace(
        registry.COSTS["mse"], gradient=lambda a, y: [-(aj - yj) for aj, yj in zip(a, y)]))
    assert main(["prove", "--general"]) == 1
    assert "NOT proved (general)" in capsys.readouterr().out


def test_prove_theorem_checks_its_arguments():
    with pytest.raises(ValueError, match="depths"):
        prove_theorem(depths=0)
    with pytest.raises(ValueError, match="timeout"):
        prove_theorem(timeout=-1)


def test_a_timeout_is_not_a_proof():
    proof = prove_theorem("tanh", "bce", timeout=0.01)
    assert proof.status == "timed out" and not proof.holds
    assert next(c for c in proof.claims if c.name == "theorem").status == "timed out"
