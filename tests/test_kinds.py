"""Layers of other kinds than dense (the residual block): described, derived three ways against
an independent oracle, proved by every method, and never proved with a mistake planted."""

import dataclasses
import random
import re
from functools import cached_property

import pytest
import sympy as sp

import symbp
from symbp import Layer
from symbp.cli.main import main
from symbp.core import layers, routes
from symbp.core.recursion import backprop_deltas
from tests.oracles import skip_dropped

METHODS = ["auto", "expand", "construction", "local", "random"]
PLAIN = symbp.Network(layers=[Layer("residual"), Layer("residual"), Layer("dense", units=2)],
                      inputs=2)
PROJECTED = symbp.Network(layers=[Layer("residual", units=3, projection=True),
                                  Layer("residual", activation="sigmoid"),
                                  Layer("dense", units=2)], inputs=2, cost="bce")
NETS = [pytest.param(PLAIN, id="identity-skip"), pytest.param(PROJECTED, id="projection")]


# ---------------------------------------------------------------- describing the network


def test_a_network_of_layers_reads_its_kinds_and_sizes():
    assert PLAIN.widths == (2, 2, 2, 2) and PLAIN.kinds == ("residual", "dense")
    assert not PLAIN.dense and symbp.Network([2, 3, 2]).dense
    assert PROJECTED.widths == (2, 3, 3, 2)
    assert PROJECTED.resolved[0].parameters == {"W": (3, 2), "b": (3,), "P": (3, 2)}
    assert symbp.Network(layers=[{"kind": "residual"}, {"kind": "dense", "units": 1}],
                         inputs=3).widths == (3, 3, 1)


@pytest.mark.parametrize(("given", "message"), [
    (dict(layers=[Layer("residual", units=3), Layer("dense", units=1)], inputs=2),
     "layer 1 (residual): key 'units': a residual block of 3 units on an input of 2 cannot "
     "add its input; set projection = true"),
    (dict(layers=[Layer("conv9")], inputs=2), "unknown layer kind 'conv9'; choose one of: dense"),
    (dict(layers=[Layer("dense", units=2, kernel=3)], inputs=2),
     "layer 1 (dense): unknown key 'kernel'; valid keys: units, activation"),
    (dict(layers=[Layer("dense")], inputs=2), "layer 1 (dense): key 'units' is required"),
    (dict(layers=[Layer("residual", projection="yes"), Layer("dense", units=1)], inputs=2),
     "layer 1 (residual): key 'projection' must be true or false, got 'yes'"),
    (dict(layers=[Layer("dense", units=1)]), "layers need inputs: the input's width n_0 or"),
    (dict(layers=[Layer("dense", units=1)], inputs=0), "inputs must be a positive integer"),
    (dict(widths=[2, 2], layers=[Layer("dense", units=1)], inputs=2),
     "give widths or layers, not both"),
    (dict(layers=[Layer("residual"), Layer("dense", units=1)], inputs=2, activation="relu"),
     "activation 'relu' is given with layers, where each layer names its own: "
     "Layer('dense', units=3, activation='relu'), or dense:units=3;activation=relu"),
])
def test_a_bad_layer_is_one_valueerror_naming_the_layer_and_the_key(given, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        symbp.Network(**given)


def test_the_command_line_takes_layers_and_refuses_bad_ones_in_one_line(capsys):
    assert main(["prove", "--layers", "residual,residual,dense:2", "--inputs", "2", "-q",
                 "--method", "local"]) == 0
    assert main(["prove", "--layers", "residual:units=3,dense:2", "--inputs", "2"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "layer 1 (residual): key 'units'" in err, err
    # --activation is --widths' option: with --layers it is refused, never dropped in silence
    assert main(["prove", "--layers", "dense:3,dense:2", "--inputs", "2",
                 "--activation", "softplus"]) == 2
    assert "activation 'softplus' is given with layers" in capsys.readouterr().err
    # the usual slips, each told how to mend it there: --inputs left out, a required key
    assert main(["prove", "--layers", "residual,dense:2"]) == 2
    assert capsys.readouterr().err == (
        "symbp: error: layers need inputs: the input's width n_0 or its shape [channels, "
        "positions] (inputs=4 or inputs=[3, 4]; --inputs 4 or --inputs 3x4 on the command "
        "line)\n")
    assert main(["prove", "--layers", "conv1d:channels=2,dense:2", "--inputs", "6"]) == 2
    assert capsys.readouterr().err == ("symbp: error: layer 1 (conv1d): key 'kernel' is "
                                       "required: a positive integer (the kernel's size)\n")


# ---------------------------------------------------------------- three routes, one oracle


def POINTS(d, count=2):
    rng = random.Random(0)
    symbols = sorted(d.composed_cost().free_symbols, key=str)
    return [{s: sp.Float(rng.randint(1, 99) / 100, 50) for s in symbols} for _ in range(count)]


@pytest.mark.parametrize("net", NETS)
def test_every_route_equals_sympy_diff_of_the_composed_cost(net):
    """The independent oracle: sympy.diff of C written out in x, y and the parameters."""
    d = symbp.derive(net)
    cost = d.composed_cost()
    for r in net.resolved:
        for name, M in d.layer_parameters(r.index).items():
            truth = sp.Matrix(*M.shape, [sp.diff(cost, p) for p in M])
            for route in symbp.ROUTES:
                got = d.grad(r.index, route, name)
                for point in POINTS(d):  # equal at 40 digits at random points
                    gap = (got - truth).xreplace(point).evalf(40)
                    assert all(v.is_number for v in gap), (r.index, name, route)
                    assert max(abs(v) for v in gap) < 1e-30, (r.index, name, route)


def test_the_highway_is_in_the_expansion_as_an_identity():
    """∂a_2/∂a_1 of a residual block is J_σ(z_2) W_2 + I: the product over the chain is the
    sum over paths, the skip's path too."""
    d = symbp.derive(PLAIN)
    jacobian = d.layer_factors(2).inputs
    z = d.z_symbols(2)
    W = d.weights(2)
    (prime,) = {f.func for f in jacobian.atoms(sp.Function)}  # σ' as the activation names it
    assert str(prime) == "tanh_prime"
    want = sp.Matrix(2, 2, lambda i, k: prime(z[i]) * W[i, k] + (1 if i == k else 0))
    assert sp.simplify(jacobian - want) == sp.zeros(2, 2)


def test_a_parameter_the_layer_does_not_have_is_named():
    with pytest.raises(ValueError, match=r"unknown parameter 'P' of layer 1; choose one of: W, b"):
        symbp.derive(PLAIN).grad(1, "recursion", "P")


# ---------------------------------------------------------------- proved by every method


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("net", NETS)
def test_every_method_proves_a_residual_network(net, method):
    proof = symbp.prove(symbp.derive(net), method)
    if method == "random":  # a screen, never a proof
        assert proof.status == "screened" and not proof.failures, proof.summary()
        return
    assert proof.holds, proof.summary()
    rows = {(c.layer, c.parameter) for c in proof.claims if c.kind == "recursion"}
    wanted = {(r.index, name) for r in net.resolved for name in r.parameters}
    assert rows == wanted
    if method in ("expand", "construction"):
        assert {c.kind for c in proof.claims} >= {"recursion", "expansion", "direct"}


def test_auto_proves_the_issues_residual_network_by_construction():
    net = symbp.Network(layers=[Layer("residual")] * 6 + [Layer("dense", units=2)], inputs=16)
    proof = symbp.prove(symbp.derive(net))
    assert proof.holds and proof.method == "construction", proof.summary()
    assert "each kind's" in " ".join(c.how for c in proof.claims if c.kind == "direct")


# ---------------------------------------------------------------- planted mistakes


@pytest.mark.parametrize("method", METHODS)
def test_a_recursion_without_the_highway_is_never_proved(method):
    proof = symbp.prove(symbp.derive(PLAIN, recursion=skip_dropped), method)
    assert not proof.holds and proof.status == "failed"
    failed = {(c.layer, c.parameter) for c in proof.claims  # a screen compares other routes
              if c.kind in ("recursion", "expansion") and c.status == "failed"}
    assert (1, "W") in failed and (3, "W") not in failed
    assert all(c.entry is not None for c in proof.claims if c.status == "failed"
               and c.kind in ("recursion", "expansion")), proof.summary()


def test_the_theorem_proves_residual_layers_for_every_depth_and_catches_the_dropped_highway():
    proof = symbp.theorem("tanh", "mse", layers=(Layer("residual"), Layer("dense", units=2)))
    assert proof.holds, proof.summary()
    theorem = proof.claims[-1]
    assert "dC/dθ_l for every parameter" in theorem.statement
    assert "through layer l + 1 (its map and its skip)" in theorem.how
    check = next(c for c in proof.claims if c.name == "cross-check")
    assert "networks of residual layers under a dense output layer" in check.statement
    wrong = symbp.theorem("tanh", "mse", layers=(Layer("residual"), Layer("dense", units=2)),
                          recursion=skip_dropped)
    assert not wrong.holds
    assert any(c.status == "failed" and c.name == "pass back" for c in wrong.claims)


EXPAND = routes.expand_chain_rule


def without_identity(s, l, factors=None, first=None):
    """The chain with the identity taken out of every residual block's factor ∂a_m/∂a_(m-1)."""
    right = EXPAND(s, l, factors, first)
    jacobians = []
    for m, J in right.jacobians:
        if s.net.resolved[m - 1].kind.name == "residual":
            J = sp.ImmutableMatrix(J - sp.eye(J.rows))
        jacobians.append((m, J))
    return dataclasses.replace(right, jacobians=tuple(jacobians))


@pytest.mark.parametrize("method", ["expand", "construction", "random"])
def test_an_expansion_without_the_skip_paths_is_never_proved(monkeypatch, method):
    monkeypatch.setattr(routes, "expand_chain_rule", without_identity)
    proof = symbp.prove(symbp.derive(PLAIN), method)
    failed = [c for c in proof.claims if c.kind == "expansion" and c.status == "failed"]
    assert failed and not proof.holds, proof.summary()
    assert all(c.entry is not None for c in failed)
    if method == "construction":
        assert "from the residual layer's VJPs" in failed[0].culprit


def by_the_wrong_parameter(s, l):
    """The direct route of the projection differentiated by W instead of P."""
    right = DIRECT(s, l)
    others = tuple((name, sp.ImmutableMatrix(s.weights(l)) if name == "P" else M)
                   for name, M in right.others)
    return dataclasses.replace(right, others=others)


DIRECT = routes.direct_route


@pytest.mark.parametrize("method", ["expand", "construction"])
def test_a_direct_route_by_the_wrong_parameter_is_never_proved(monkeypatch, method):
    monkeypatch.setattr(routes, "direct_route", by_the_wrong_parameter)
    proof = symbp.prove(symbp.derive(PROJECTED), method)
    claim = next(c for c in proof.claims if (c.kind, c.layer, c.parameter) ==
                 ("direct", 1, "P"))
    assert claim.status == "failed" and claim.entry is not None, proof.summary()


class NoSkipForward(symbp.Derivation):
    """A derivation whose composed forward pass leaves out layer 2's skip."""

    @cached_property
    def _forward(self):
        z, a = {}, {0: self.x}
        for r in self.net.resolved:
            l = r.index
            zs, outs = layers.forward(r, list(a[l - 1]), self.layer_parameters(l),
                                      self.net.activation(l).apply)
            if l == 2:
                outs = self.net.activation(l).apply(zs)
            z[l], a[l] = sp.Matrix(zs), sp.Matrix(outs)
        return z, a


@pytest.mark.parametrize("method", ["expand", "construction"])
def test_a_forward_pass_without_the_skip_is_never_proved(method):
    proof = symbp.prove(NoSkipForward(PLAIN), method)
    assert not proof.holds and proof.status == "failed", proof.summary()
    if method == "construction":
        failure = next(f for f in proof.failures if f.check.startswith("expansion"))
        assert failure.culprit == "the composed forward pass a_2 = the residual layer's maps"
        assert failure.entry == (1, 1)


def test_the_default_recursion_is_one_program_for_dense_and_residual_layers():
    """Kinds do not fork the recursion: backprop_deltas asks each layer's kind for its step."""
    d = symbp.derive(PROJECTED)
    ops = [s.op for s in d.program.statements]
    assert {"bind_grad", "add"} <= set(ops)  # the highway is one add in the program
    assert d.recursion_function is backprop_deltas


def test_construction_proves_a_pooled_convolution_through_its_map_after_sigma():
    """The chain's factor of a pooled layer is ∂pool/∂s · J_σ · ∂z/∂θ: the map after σ counts."""
    net = symbp.Network(layers=[Layer("conv1d", channels=2, kernel=3, pool="avg", pool_size=2),
                                Layer("dense", units=2, activation="sigmoid")], inputs=[1, 8])
    proof = symbp.prove(symbp.derive(net), "construction")
    assert proof.holds and proof.method == "construction", proof.summary()


def test_prove_general_proves_the_kinds_it_is_given(capsys):
    assert main(["prove", "--general", "--layers", "residual,dense:2"]) == 0
    out = capsys.readouterr().out
    assert "through layer l + 1 (its map and its skip)" in out  # the kinds' induction
    assert "proved (general)" in out and "widths c_l" not in out  # residual: the n_l family


@pytest.mark.parametrize(("args", "message"), [
    (["residual,residual,dense"], "takes two layers"),
    (["residual,dense", "--inputs", "3"], "drop --inputs"),
    (["residual:activation=relu,dense", "--activation", "tanh"], "differ; give one"),
    (["residual,dense", "--order", "2"], "not --layers"),
])
def test_prove_general_refuses_layers_it_cannot_take_in_one_line(capsys, args, message):
    assert main(["prove", "--general", "--layers", *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err


def test_the_theorem_does_not_override_a_layers_own_activation():
    with pytest.raises(ValueError, match="activation 'relu' is not the theorem's activation"):
        symbp.theorem("tanh", layers=(Layer("residual", activation="relu"), Layer("dense")))


def test_the_theorem_cache_knows_a_kind_registered_again_with_other_maps(monkeypatch):
    """theorem() keeps its results per process: a kind whose maps change is proved again."""
    layers_given = (Layer("residual", projection=True), Layer("dense", units=2))
    assert symbp.theorem("tanh", layers=layers_given).holds  # now cached
    right = layers.KINDS["residual"]

    def no_highway_maps(layer):
        m = right.maps(layer)
        return dataclasses.replace(m, skip_vjp=dataclasses.replace(m.skip_vjp, formula=sp.S.Zero))

    monkeypatch.setitem(layers.KINDS, "residual", dataclasses.replace(right, maps=no_highway_maps))
    assert not symbp.theorem("tanh", layers=layers_given).holds


SOFTMAX_OVER_KINDS = symbp.Network(layers=[Layer("residual"),
                                           Layer("dense", units=3, activation="softmax")],
                                   inputs=3, cost="softmax_ce")


@pytest.mark.parametrize("method", ["local", "expand", "construction"])
def test_a_softmax_output_over_layer_kinds_is_proved(method):
    """δ_L through softmax's registered Jacobian in a (proved by its function lemma), as the
    dense prover takes it; before, a_L never met softmax(z_L) and nothing was proved."""
    proof = symbp.prove(symbp.derive(SOFTMAX_OVER_KINDS), method)
    assert proof.holds, proof.summary()
    assert any(c.name.startswith("softmax Jacobian") for c in proof.lemmas)


def forgot_the_softmax_jacobian(ops):
    """δ_L = ∂C/∂a_L: the softmax's Jacobian left out of the output step."""
    from symbp.core.layers.base import Bound

    above = None
    for l in ops.layers():
        if above is None:
            delta = ops.bind_delta(l, ops.cost_gradient())
            ops.gradient(l, weight=ops.outer(delta, ops.activation(l - 1)), bias=delta)
            above = Bound(delta)
        else:
            above = ops.kind(l).backward(ops, l, ops.kind(l + 1).pass_back(ops, l + 1, above))


@pytest.mark.parametrize("method", ["local", "expand", "construction"])
def test_a_softmax_output_without_its_jacobian_is_never_proved(method):
    proof = symbp.prove(symbp.derive(SOFTMAX_OVER_KINDS, recursion=forgot_the_softmax_jacobian),
                        method)
    assert not proof.holds and proof.status == "failed"
    failed = [c for c in proof.claims if c.status == "failed" and c.kind == "recursion"]
    assert failed and all(c.entry is not None for c in failed), proof.summary()
