"""The size limits of a network of layer kinds: each kind counts itself (``Kind.size``).

A convolution's kernel is shared by every position, so it is counted by its real structure
(C_out (C_in k + 1) parameters, C_out N C_in k connections), never as the dense layer its
widths would make: the issue's network of 8 channels, kernel 3, length 32 is accepted.
"""

from __future__ import annotations

import dataclasses

import pytest

import symbp
from symbp.cli.main import main
from symbp.core import limits
from symbp.core.layers import Layer, dense
from symbp.core.layers import resolve as resolve_layers
from symbp.core.limits import LayerSize


def sizes(layers, inputs) -> list[LayerSize]:
    return [r.size for r in symbp.Network(layers=layers, inputs=inputs).resolved]


def test_each_kind_counts_its_parameters_and_connections():
    assert sizes([Layer("dense", units=3), Layer("dense", units=2)], 4) == [
        LayerSize(parameters=15, connections=12), LayerSize(parameters=8, connections=6)]
    assert sizes([Layer("residual"), Layer("residual", units=2, projection=True)], 3) == [
        LayerSize(parameters=12, connections=9 + 3),  # the skip joins x_j to a_j
        LayerSize(parameters=8 + 6, connections=6 + 6)]  # P: 2 × 3 more of each
    # valid: 6 positions of 2 × 3 inputs each; same, pooled by 2: 8 positions, 4 outputs
    assert sizes([Layer("conv1d", channels=4, kernel=3),
                  Layer("conv1d", channels=2, kernel=2, padding="same", pool="avg")], [2, 8]) == [
        LayerSize(parameters=4 * (2 * 3 + 1), connections=4 * 6 * 2 * 3),
        LayerSize(parameters=2 * (4 * 2 + 1), connections=2 * 6 * 4 * 2 + 2 * 6)]


def test_the_issues_convolution_is_accepted_though_dense_counting_refused_it():
    layers = [Layer("conv1d", channels=8, kernel=3, padding="same")] * 2 + \
        [Layer("dense", units=2)]
    net = symbp.Network(layers=layers, inputs=[8, 32])
    assert net.widths == (256, 256, 256, 2)
    assert [r.size for r in net.resolved] == [LayerSize(200, 6144), LayerSize(200, 6144),
                                              LayerSize(514, 512)]
    with pytest.raises(ValueError, match="MAX_PARAMETERS"):  # what counting it as dense did
        limits.check_network_size(list(net.widths))


@pytest.mark.parametrize(("layers", "inputs", "message"), [
    ([Layer("conv1d", channels=16, kernel=5, padding="same")] * 3, [16, 64],
     r"^the layers have 245,760 connections \(layer 1, conv1d: 81,920\), past the limit of "
     r"20,000 \(limit MAX_CONNECTIONS\)$"),
    ([Layer("conv1d", channels=10**9, kernel=3)], [1, 32],
     r"^layer 1 \(conv1d\) has 30,000,000,000 entries, past the limit of 1024 per layer "
     r"\(limit MAX_WIDTH\)$"),
    ([Layer("conv1d", channels=2, kernel=10**30, padding="same")], [1, 8],
     r"^the layers have about 10\^30 parameters \(layer 1, conv1d: about 10\^30\), past the "
     r"limit of 20,000 \(limit MAX_PARAMETERS\)$"),
    ([Layer("residual", units=100, projection=True)] * 2, 100,
     r"^the layers have 40,200 parameters \(layer 1, residual: 20,100\), past the limit of "
     r"20,000 \(limit MAX_PARAMETERS\)$"),
])
def test_an_absurd_network_is_refused_in_one_line_naming_the_limit(layers, inputs, message):
    with pytest.raises(ValueError, match=message):
        symbp.Network(layers=layers, inputs=inputs)


def test_a_kind_that_does_not_count_itself_is_counted_as_dense():
    silent = dataclasses.replace(dense.KIND, size=None)
    (r,) = resolve_layers([Layer("dense", units=3)], (4,))
    assert silent.size_of(r.layer, r.maps, r.sizes) == r.size == LayerSize(15, 12)


def test_the_cli_refuses_it_with_exit_2_and_one_line(tmp_path, monkeypatch, capsys):
    network = tmp_path / "wide.toml"
    network.write_text('inputs = [16, 64]\n' + '[[layers]]\nkind = "conv1d"\nchannels = 16\n'
                       'kernel = 5\npadding = "same"\n' * 3)
    monkeypatch.chdir(tmp_path)  # in this process: tests/test_cli.py starts real ones
    assert main(["prove", str(network)]) == 2
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and "MAX_CONNECTIONS" in err
    assert "Traceback" not in err and out == ""
