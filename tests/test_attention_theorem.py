"""Attention's general theorem: its backward pass proved for every number of tokens T and
every width d, d_k, d_v, with and without the causal mask, through the row-softmax lemma; and
planted mistakes (through a re-registered kind) not proved, naming the claim that fails."""

from __future__ import annotations

import dataclasses

import pytest
import sympy as sp

import symbp
from symbp import Layer
from symbp.core import layers, registry
from symbp.core.layers import attention
from symbp.core.layers.base import Inside
from symbp.core.layers.written import written_out
from symbp.proof import row_softmax
from symbp.proof.exact import first_difference

# ---------------------------------------------------------------- the row-softmax lemma


@pytest.mark.parametrize("causal", [False, True])
def test_the_row_softmax_jacobian_is_proved_for_every_row_length(causal):
    claim = row_softmax.jacobian_claim(causal)
    assert claim.status == "proved", claim.residual
    assert claim.how.startswith("symbolic identity for widths T")
    assert ("causal " if causal else "") + "row softmax Jacobian" == claim.name


class _WrongSoftmax(registry.Activation):
    def jacobian(self, z, a):  # the diagonal only: a_j (1 - a_j), the coupling dropped
        return sp.diag(*[aj * (1 - aj) for aj in a])


@pytest.mark.parametrize("causal", [False, True])
def test_a_wrong_registered_softmax_jacobian_is_refuted(monkeypatch, causal):
    real = registry.ACTIVATIONS["softmax"]
    wrong = _WrongSoftmax(**{f.name: getattr(real, f.name) for f in dataclasses.fields(real)})
    monkeypatch.setitem(registry.ACTIVATIONS, "softmax", wrong)
    claim = row_softmax.jacobian_claim(causal)
    assert claim.status == "failed" and claim.entry is not None
    assert claim.how.startswith("refuted at widths T = 2")


def _explicit(w, t, s, n):
    """The quotient at concrete T = n, entry s of row t, scores f[t, r] = x[t, r]² + y[r]."""
    x, y = sp.IndexedBase("x"), sp.IndexedBase("y")
    r = sp.Symbol("r", integer=True, positive=True)
    score = x[t, r] ** 2 + y[r]
    total = sp.Sum(w(r) * sp.exp(score), (r, 1, n))
    return w(s) * sp.exp(score.xreplace({r: s})) / total, x, y


@pytest.mark.parametrize("causal", [False, True])
def test_opaque_reads_the_quotient_and_its_derivative_is_sympys(causal):
    n, t = 3, 2
    w = (lambda r: Inside(r, 1, t)) if causal else (lambda r: sp.Integer(1))
    for s in range(1, n + 1):
        quotient, x, y = _explicit(w, t, s, n)
        opaque = row_softmax.opaque(quotient)
        if causal and s > t:  # a masked weight is exactly 0
            assert opaque == 0
            continue
        assert isinstance(opaque, row_softmax.RowSoftmax)
        for wrt in (x[t, 1], y[3], x[1, 1]):  # sympy.diff of the explicit quotient: the oracle
            ours = written_out(opaque.diff(wrt)).replace(
                lambda e: isinstance(e, row_softmax.RowSoftmax), lambda e: e.explicit())
            assert first_difference(written_out(ours), written_out(quotient).diff(wrt)) is None


def test_opaque_leaves_a_quotient_that_is_not_a_softmax_alone():
    x = sp.IndexedBase("x")
    r, s = sp.symbols("r s", integer=True, positive=True)
    other = sp.exp(x[s]) / sp.Sum(sp.exp(2 * x[r]), (r, 1, 3))  # another row's scores
    weighted = sp.exp(x[s]) / sp.Sum(x[r] * sp.exp(x[r]), (r, 1, 3))  # weights read entries
    assert row_softmax.opaque(other) == other
    assert row_softmax.opaque(weighted) == weighted


# ---------------------------------------------------------------- the theorem


def network(causal: bool) -> symbp.Network:
    return symbp.Network(layers=[Layer("attention", causal=causal), Layer("dense", units=1)],
                         inputs=(1, 2))


@pytest.mark.slow  # the whole theorem, ~25 s
def test_without_the_mask_it_is_proved_through_the_unmasked_lemma():
    proof = symbp.theorem(network=network(False))
    assert proof.holds, proof.summary()
    names = {c.name for c in proof.claims}
    assert "row softmax Jacobian" in names and "causal row softmax Jacobian" not in names


# ---------------------------------------------------------------- planted mistakes
#
# One theorem run (~40 s) for four mistakes, each planted in its own map of a re-registered
# attention kind, so that each is the claim of that map: the softmax VJP without its row sum
# (dQ, so W_Q's gradient), dK without 1/√d_k (W_K's), the causal mask forgotten going back
# (dV, so W_V's) and the softmax's Jacobian taken as its diagonal P ⊙ (1 − P) (in the input's
# VJP, so the step back through an attention layer).


def _weight_grad(st, m, name, of):
    row = sp.Symbol("t_w", integer=True, positive=True)
    old = m.param_vjps[name]
    c, k = old.index
    return dataclasses.replace(old, formula=sp.Sum(st.x[c, row] * of(row, k),
                                                   (row, 1, attention.T_)))


def _input_vjp(st, m):
    c, u = m.input_vjp.index
    k, j = (sp.Symbol(name, integer=True, positive=True) for name in ("k_x", "j_x"))
    formula = (sp.Sum(st.dQ(u, k) * st.WQ[c, k] + st.dK(u, k) * st.WK[c, k],
                      (k, 1, attention.DK))
               + sp.Sum(st.dV(u, j) * st.WV[c, j], (j, 1, attention.DV)))
    return dataclasses.replace(m.input_vjp, formula=formula)


def _planted_maps(layer):
    m = attention.maps(layer)
    no_rowsum, unscaled, unmasked, diagonal = (attention.Stages(True) for _ in range(4))
    no_rowsum.dS = lambda t, s: no_rowsum.P(t, s) * no_rowsum.dP(t, s)
    unmasked.P = attention.Stages(False).P  # P of every token, the mask left out
    diagonal.dS = lambda t, s: diagonal.dP(t, s) * diagonal.P(t, s) * (1 - diagonal.P(t, s))
    params = {**m.param_vjps,
              "WQ": _weight_grad(no_rowsum, m, "WQ", no_rowsum.dQ),
              "WK": _weight_grad(unscaled, m, "WK",
                                 lambda s, k: unscaled.dK(s, k) * sp.sqrt(attention.DK)),
              "W": _weight_grad(unmasked, m, "W", unmasked.dV)}
    return dataclasses.replace(m, param_vjps=params, input_vjp=_input_vjp(diagonal, m))


@pytest.fixture(scope="module")
def planted():
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(layers.KINDS, "attention",
                      dataclasses.replace(attention.KIND, maps=_planted_maps))
        net = symbp.Network(layers=[Layer("attention", causal=True), Layer("attention",
                                                                          causal=True),
                                    Layer("dense", units=1)], inputs=(1, 2))
        return symbp.theorem(network=net)


@pytest.mark.slow  # the theorem once, ~40 s
@pytest.mark.parametrize(("mistake", "claim"), [
    ("the row sum dropped from dS", "dC/dWQ_l"), ("dK without 1/√d_k", "dC/dWK_l"),
    ("the mask forgotten going back", "dC/dW_l"), ("a diagonal softmax Jacobian", "step")])
def test_a_planted_mistake_is_refuted_by_its_own_claim(planted, mistake, claim):
    refuted = [c for c in planted.claims if c.name == claim and c.status == "failed"]
    assert refuted, f"{mistake}: {[(c.name, c.status) for c in planted.claims]}"
    assert refuted[0].entry is not None and refuted[0].how.startswith("refuted at widths")


@pytest.mark.slow  # the theorem once, ~40 s (shared with the test above)
def test_the_planted_theorem_is_not_proved_and_names_its_first_failure(planted):
    assert not planted.holds
    first = next(c for c in planted.claims if not c.proved)
    theorem = next(c for c in planted.claims if c.name == "theorem")
    assert theorem.status == "failed" and theorem.culprit == first.label
    assert first.status == "failed"
    proved = {c.name for c in planted.claims if c.proved}
    assert {"dC/db_l", "causal row softmax Jacobian"} <= proved  # what was not planted holds
