"""The matrix chapter for a network of layer kinds: its claims (proof.kinds_matrix), planted
mistakes that fail them, and the chapter that shows them (document.kinds_matrix)."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest
import sympy as sp

from symbp.cli import config
from symbp.core.derivation import Derivation
from symbp.core.layers import KINDS, conv1d
from symbp.core.network import Network
from symbp.document.kinds_matrix import kinds_matrix_chapter
from symbp.proof import kinds_matrix
from symbp.proof.kinds_matrix import network_identities
from symbp.render.documents import render_matrix
from tests.seeds import other_seed_env

EXAMPLES = Path(__file__).parent.parent / "examples"
CONV = dict(inputs=[1, 5], layers=[{"kind": "conv1d", "channels": 1, "kernel": 2},
                                   {"kind": "dense", "units": 1}])


def roles(d: Derivation) -> dict[str, str]:
    """Every claim's name → its status."""
    return {c.name: c.status.value for found in network_identities(d)
            for c in found.claims.values()}


@pytest.mark.parametrize("example", ["residual", "conv1d", "recurrent", "layernorm-mlp"])
def test_every_identity_of_an_example_is_proved(example):
    d = Derivation(config.load(EXAMPLES / f"{example}.toml").net)
    found = roles(d)
    assert set(found.values()) == {"proved"}
    assert {f"jacobian {l}" for l in range(1, d.L + 1)} <= set(found)
    assert {f"input {l}" for l in range(1, d.L + 1)} <= set(found)


def test_the_claims_of_each_kind_are_the_ones_its_section_shows():
    d = Derivation(config.load(EXAMPLES / "recurrent.toml").net)
    first, second = network_identities(d)
    assert list(first.claims) == ["jacobian", "steps", "delta", "input", "W", "U", "b"]
    assert list(second.claims) == ["jacobian", "delta", "input", "W", "b"]
    claim = first.claims["steps"]
    assert claim.statement.startswith("layer 1 (recurrent): the Jacobian of the last state by "
                                      "the first, through the unrolled steps, equals the "
                                      "product of the steps' Jacobians")
    assert claim.how.startswith("by exact comparison, entry by entry, at this network's "
                                "sizes only (T_steps = 4, h_rnn = 2, n_seq = 1)")


def test_the_convolutions_jacobian_is_the_banded_block_printed():
    d = Derivation(Network(**CONV))
    block = network_identities(d)[0].shown["block"]
    k1, k2 = sp.symbols("k_1 k_2")
    assert block == sp.Matrix([[k1, k2, 0, 0, 0], [0, k1, k2, 0, 0], [0, 0, k1, k2, 0],
                               [0, 0, 0, k1, k2]])


def _without_the_flip(layer):
    """conv1d's maps with the input VJP reading K[o, c, s] where it reads K[o, c, k + 1 − s]."""
    m = conv1d.maps(layer)
    formula = m.input_vjp.formula.replace(
        lambda e: isinstance(e, sp.Indexed) and e.base.label.name == "W",
        lambda e: e.base[e.indices[0], e.indices[1], conv1d.S])
    return dataclasses.replace(m, input_vjp=dataclasses.replace(m.input_vjp, formula=formula))


def test_a_convolution_without_the_flip_fails_its_claim_and_the_chapter_says_so(monkeypatch):
    monkeypatch.setitem(KINDS, "conv1d", dataclasses.replace(KINDS["conv1d"],
                                                             maps=_without_the_flip))
    d = Derivation(Network(**CONV))
    found = network_identities(d)[0].claims
    assert found["input"].status == "failed"
    assert found["input"].name == "input 1"
    assert found["input"].entry == (1, 1)
    assert {r: c.status.value for r, c in found.items() if r != "input"} == {
        "jacobian": "proved", "delta": "proved", "W": "proved", "b": "proved"}
    chapter = kinds_matrix_chapter(d)
    assert chapter.status == "failed"
    shown = chapter.layers[0].eq["input"]
    tag = next(c.tag for c in chapter.checks if c.name == "input 1")
    assert shown.unproved.startswith(f"{tag} is failed at entry (1, 1): ")
    assert "Not proved:" in render_matrix(chapter, "md")


def test_a_wrong_jacobian_display_fails_its_claim(monkeypatch):
    def no_highway(r, t, found):  # the residual block's Jacobian without its skip's I
        built, truth = kinds_matrix._residual(r, t, found)
        return built - sp.eye(built.rows), truth

    monkeypatch.setitem(kinds_matrix.STRUCTURES, "residual", no_highway)
    net = Network(inputs=2, layers=[{"kind": "residual"}, {"kind": "dense", "units": 1}])
    claim = network_identities(Derivation(net))[0].claims["jacobian"]
    assert (claim.status.value, claim.name, claim.entry) == ("failed", "jacobian 1", (1, 1))


def test_the_chapter_shows_the_flipped_kernel_and_the_toeplitz_block_in_every_format():
    chapter = kinds_matrix_chapter(Derivation(Network(**CONV)))
    assert chapter.status == "proved"
    tex = render_matrix(chapter, "tex")
    assert r"T(k) = \begin{bmatrix}k_{1} & k_{2} & 0 & 0 & 0\\" in tex
    assert (r"g_{0} = \Bigl(\frac{\partial z_{1}}{\partial a_{0}}\Bigr)^{T} \delta_{1} = "
            r"\operatorname{flip}(K_{1}) \ast_{\text{full}} \delta_{1} \tag{M4, M1}") in tex
    assert "Not proved" not in tex
    assert render_matrix(chapter, "tex") == tex  # the same every time
    assert "\\operatorname{flip}" in render_matrix(chapter, "md")
    assert "<math" in render_matrix(chapter, "html")


def test_a_residual_block_shows_the_highway():
    net = Network(inputs=2, layers=[{"kind": "residual"}, {"kind": "dense", "units": 1}])
    layer = kinds_matrix_chapter(Derivation(net)).layers[0]
    assert layer.eq["jacobian"].tex == (
        r"\frac{\partial a_{1}}{\partial a_{0}} = \operatorname{diag}\bigl(\tanh'(z_{1})\bigr)"
        r"\, W_{1} + I \tag{M2}")
    assert layer.eq["input"].tex.endswith(r"= W_{1}^{T} \delta_{1} + g_{1} \tag{M4, M1}")


@pytest.mark.slow
def test_batch_norms_block_diagonal_jacobian_is_proved():
    d = Derivation(config.load(EXAMPLES / "batchnorm.toml").net)
    assert set(roles(d).values()) == {"proved"}


@pytest.mark.slow
def test_attention_says_why_its_chain_rule_claims_are_not_made():
    chapter = kinds_matrix_chapter(Derivation(config.load(EXAMPLES / "attention.toml").net))
    layer = chapter.layers[0]
    assert "jacobian" not in layer.eq and layer.unchecked.startswith("comparing its")
    assert chapter.status == "proved"  # its vector forms, and the dense layer's claims
    assert "Nor are its vector-Jacobian products compared" in render_matrix(chapter, "md")


@pytest.mark.slow
def test_the_chapter_is_byte_identical_across_hash_seeds(tmp_path):
    code = ("import sys; from symbp.cli import config; from symbp.core.derivation import "
            "Derivation; from symbp.document.kinds_matrix import kinds_matrix_chapter; "
            "from symbp.render.documents import render_matrix; "
            "sys.stdout.write(render_matrix(kinds_matrix_chapter(Derivation(config.load("
            f"{str(EXAMPLES / 'recurrent.toml')!r}).net)), 'tex'))")
    there = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True, env=other_seed_env()).stdout  # not this one's seed
    here = render_matrix(kinds_matrix_chapter(Derivation(config.load(
        EXAMPLES / "recurrent.toml").net)), "tex")
    assert there == here and r"\tag{M3}" in here


def test_a_block_past_a_page_is_shown_by_its_corner_and_its_last_entry():
    # the digits network's convolution block is 60 x 64: amsmath sets 20 columns at most and a
    # page far fewer, so pdflatex failed on the whole matrix
    import sympy as sp

    from symbp.document.kinds_matrix import _matrix_latex

    m = sp.Matrix(60, 64, lambda i, j: sp.Symbol(f"m_{i}_{j}"))
    text = _matrix_latex(m)
    rows = text.removeprefix(r"\begin{bmatrix}").removesuffix(r"\end{bmatrix}").split(r" \\ ")
    assert len(rows) == 8 and all(len(r.split(" & ")) == 8 for r in rows)
    assert rows[0].split(" & ")[-2:] == [r"\cdots", "m_{0 63}"]
    assert rows[6].split(" & ")[-2:] == [r"\ddots", r"\vdots"]
    assert rows[7].split(" & ")[-1] == "m_{59 63}"
    small = sp.Matrix(3, 12, lambda i, j: i + j)
    assert _matrix_latex(small) == sp.latex(small, mat_str="bmatrix", mat_delim="")
