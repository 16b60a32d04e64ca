"""The documents of a recurrent network (examples/recurrent.toml): BPTT written out entry by
entry with the step through time, the vector forms, and the measured sizes of ∂C/∂s_t and
δ_t back through time equal to PyTorch's autograd at the example's point."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import numpy as np
import pytest

import symbp
from symbp import Layer
from symbp.cli import config
from symbp.cli.main import main
from symbp.core.layers import recurrent
from symbp.printing.vector import printed

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "recurrent.toml"


@cache
def loaded():
    job = config.load(EXAMPLE)
    return job, symbp.derive(job.net)


@cache
def markdown() -> str:
    job, d = loaded()
    return symbp.render(d, "md", example=job.example)


def _printed(output: str) -> dict[str, str]:
    net = symbp.Network(layers=[Layer("recurrent", units=2, output=output)], inputs=[1, 3])
    return printed(net.resolved[0], r"\sigma")


def test_its_vector_forms():
    forms = _printed("last")
    assert forms["delta"] == (r"\delta_{1,t} = \bigl([t = T]\, g_{1} + W_{1}^{T} \delta_{1,t+1}"
                              r"\bigr) \odot \sigma'(z_{1,t})")
    assert forms["W"] == r"\sum_{t=2}^{T} \delta_{1,t}\, s_{1,t-1}^{T}"
    assert forms["input"] == r"g_{0,t} = U_{1}^{T} \delta_{1,t}"
    every = _printed("all")
    assert every["delta"].startswith(r"\delta_{1,t} = \bigl(g_{1,t} + W_{1}^{T}")


def test_it_describes_itself():
    assert recurrent.describe(Layer("recurrent", units=3)) == \
        "a recurrent (Elman) layer, 3 units, last state"
    assert recurrent.describe(Layer("recurrent", units=3, output="all")) == \
        "a recurrent (Elman) layer, 3 units, every state"


def test_its_entries_show_the_step_through_time():
    text = markdown()
    assert (r"\frac{\partial C}{\partial {s^{(1)}}_{j,t}} &= [4 \le t \le 4] {{g^{(1)}}}_{j} + "
            r"[1 \le t + 1 \le 4] \sum_{k=1}^{2} {{W^{(1)}}}_{k,j} {{\delta^{(1)}}}_{k,t + 1}"
            ) in text
    assert "vanishes" in text and "explodes" in text


def test_the_sizes_back_through_time_are_pytorchs():
    torch = pytest.importorskip("torch")
    job, _ = loaded()
    ex = job.example
    (first, second) = ex.params
    W, U, b = (torch.tensor(first[k], dtype=torch.float64) for k in ("W", "U", "b"))
    x = torch.tensor(ex.x[0], dtype=torch.float64)
    h, states = torch.zeros(2, dtype=torch.float64), []
    W.requires_grad_(True)
    for t in range(4):
        h = torch.tanh(W @ h + U[:, 0] * x[t] + b)
        h.retain_grad()
        states.append(h)
    a = torch.sigmoid(torch.tensor(second["W"], dtype=torch.float64) @ h +
                      torch.tensor(second["b"], dtype=torch.float64))
    (0.5 * ((a - torch.tensor(ex.y, dtype=torch.float64)) ** 2).sum()).backward()
    want = [float(s.grad.norm()) for s in reversed(states)]
    row = re.search(r"\\lVert \\partial C / \\partial s_\{1,t\} \\rVert((?: & [-0-9.e]+)+)",
                    markdown())
    assert row is not None
    got = [float(v) for v in row.group(1).split("&")[1:]]
    np.testing.assert_allclose(got, want, rtol=5e-4)  # shown to 4 digits


def test_the_example_derives_through_the_cli_the_same_every_time(tmp_path):
    written = []
    for run in ("first", "second"):
        out = tmp_path / run
        assert main(["derive", str(EXAMPLE), "--format", "md,json,py", "--out", str(out),
                     "-q"]) == 0
        written.append({p.name: p.read_bytes() for p in out.iterdir()
                        if not p.name.startswith(".")})
    assert sorted(written[0]) == ["derivation.md", "gradients.py", "graph.svg", "proof.json",
                                  "swell.svg", "worked.json"]
    assert written[0] == written[1]
    assert b"Back through time" in written[0]["derivation.md"]
