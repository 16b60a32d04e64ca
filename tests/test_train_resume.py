"""Checkpoints: written atomically, complete after Ctrl-C or a timeout at any moment, and
resumed to the same final parameters, bit for bit, as a run that was never interrupted."""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import symbp
from symbp.cli import training as training_cli
from symbp.cli.main import main
from symbp.core.deadline import Deadline
from symbp.train import TrainingInterrupted, TrainingTimedOut, make_plan, run
from symbp.train import checkpoint as checkpoints
from symbp.train.parameters import Parameters

NET = symbp.Network([3, 4, 3], activation="tanh", cost="softmax_ce")


def data(n=30, seed=1, features=3):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, features)), rng.integers(0, 3, size=n).astype(float)


def plan(**settings):
    settings = {"epochs": 4, "batch": 8, "backend": "numpy", **settings}
    return make_plan(NET, data(), **settings)  # 23 samples to train on: 3 steps per epoch


def stop_at(*moments):
    """A hook that presses Ctrl-C once the loop reaches each (epoch, step) in turn."""
    left = list(moments)

    def hook(position):
        if left and (position.epoch, position.step) == left[0]:
            left.pop(0)
            raise KeyboardInterrupt

    return hook


def interrupted_then_resumed(path, moments, net=NET, **settings):
    """Run, interrupted at ``moments``, resuming each time from the checkpoint."""
    stops, resume = 0, None
    while True:
        try:
            return run(make_plan(net, data(features=net.widths[0]),
                                 **{"epochs": 4, "batch": 8, "backend": "numpy", **settings},
                                 resume=resume),
                       checkpoint_path=path, hook=stop_at(*moments[stops:stops + 1])), stops
        except TrainingInterrupted as stop:
            written = stop.checkpoint
        assert written == path and path.is_file()
        stops, resume = stops + 1, path


SETTINGS = [{"optimizer": "adam", "learning_rate": 0.05},
            {"optimizer": "sgd", "learning_rate": 0.2, "momentum": 0.9}]
MOMENTS = [[(0, 1)], [(0, 3)], [(1, 0)], [(2, 2)], [(4, 0)], [(0, 2), (1, 3), (3, 1)]]


@pytest.mark.parametrize("settings", SETTINGS, ids=["adam", "momentum"])
@pytest.mark.parametrize("moments", MOMENTS, ids=str)
def test_an_interrupted_run_resumes_to_the_same_parameters(tmp_path, settings, moments):
    whole = run(plan(**settings))
    path = tmp_path / "checkpoint.npz"
    resumed, stops = interrupted_then_resumed(path, moments, **settings)
    assert stops == len(moments)
    assert resumed.params.flat.tobytes() == whole.params.flat.tobytes()
    assert resumed.history == whole.history and resumed.steps == whole.steps == 12
    assert resumed.to_dict() == whole.to_dict()  # the same report


# the network tests/test_fused.py compiles with its adam step: the same module source, so
# numba's cache of the session has both (resuming does not depend on the network's shape)
FUSED = symbp.Network([5, 9, 3], ["relu", "softmax"], "softmax_ce")


def test_the_numba_step_resumes_exactly_too(tmp_path):
    pytest.importorskip("numba")
    whole = run(make_plan(FUSED, data(features=5), epochs=4, batch=8, backend="numba"))
    assert whole.steps == 12
    resumed, _ = interrupted_then_resumed(tmp_path / "c.npz", [(1, 2)], FUSED, backend="numba")
    assert resumed.params.flat.tobytes() == whole.params.flat.tobytes()


def test_a_longer_run_continues_a_finished_one(tmp_path):
    path = tmp_path / "c.npz"
    run(plan(epochs=2), checkpoint_path=path)
    more = run(make_plan(NET, data(), epochs=4, batch=8, backend="numpy", resume=path))
    assert more.params.flat.tobytes() == run(plan()).params.flat.tobytes()
    assert more.resumed_at == (2, 0)


def test_a_timeout_leaves_a_checkpoint_that_resumes(tmp_path):
    path = tmp_path / "c.npz"
    with pytest.raises(TrainingTimedOut) as info:
        run(plan(epochs=50), checkpoint_path=path, deadline=Deadline(0.3),
            hook=lambda position: time.sleep(0.01))
    assert 0 < info.value.training.steps < 150 and info.value.checkpoint == path
    resumed = run(make_plan(NET, data(), epochs=50, batch=8, backend="numpy", resume=path))
    assert resumed.params.flat.tobytes() == run(plan(epochs=50)).params.flat.tobytes()


def test_ctrl_c_is_acted_on_between_steps(tmp_path):
    # a real SIGINT, in this process, while a step runs: the step is finished, not torn
    path, seen = tmp_path / "c.npz", []

    def slow_step(x, y, params, state):
        if len(seen) == 2:
            signal.raise_signal(signal.SIGINT)
        seen.append(len(x))
        params.flat += 1.0
        state.step += 1

    with pytest.raises(TrainingInterrupted) as info:
        run(plan(), checkpoint_path=path, step=slow_step)
    assert len(seen) == 3 and info.value.training.steps == 3
    saved = checkpoints.load(path).state(Parameters.of(symbp.Network([3, 4, 3])), ("m", "v"))
    assert saved.step == 3 and saved.optimizer.step == 3
    assert np.all(saved.params.flat == run(plan(epochs=1), step=lambda *a: None).params.flat + 3)


def test_an_ignored_ctrl_c_stays_ignored_while_training(tmp_path):
    # as a shell asks of a background job (tests/test_interrupt.py, for the other commands)
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        try:
            whole = run(plan(), checkpoint_path=tmp_path / "c.npz",
                        hook=lambda position: signal.raise_signal(signal.SIGINT))
        except TrainingInterrupted:
            pytest.fail("an ignored Ctrl-C stopped training")
        assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)
    assert whole.steps == 12


def test_a_stop_after_the_last_step_names_the_last_epoch(tmp_path, capsys):
    with pytest.raises(TrainingInterrupted) as info:
        run(plan(), checkpoint_path=tmp_path / "c.npz", hook=stop_at((4, 0)))
    assert training_cli._stopped(None, info.value, "interrupted", 130) == 130
    assert capsys.readouterr().err.startswith("symbp: interrupted at step 12 of 12 (epoch 4 of 4);")


def test_a_checkpoint_holds_the_parameters_by_name(tmp_path):
    path = tmp_path / "c.npz"
    result = run(plan(), checkpoint_path=path)
    with np.load(path) as saved:
        assert saved["W1"].tobytes() == result.weights[0].tobytes()
        assert saved["b2"].tobytes() == result.biases[1].tobytes()
        assert {"optimizer_m", "optimizer_v", "order", "history", "meta"} <= set(saved.files)
    first = path.read_bytes()
    run(plan(), checkpoint_path=path)
    assert path.read_bytes() == first  # the same run, the same bytes


def test_writing_replaces_a_symlink_and_never_follows_it(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n")
    path = tmp_path / "c.npz"
    path.symlink_to(victim)
    run(plan(epochs=1), checkpoint_path=path)
    assert victim.read_text() == "keep me\n"
    assert not path.is_symlink() and checkpoints.load(path).meta["epoch"] == 1


def test_a_failed_write_leaves_the_old_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "c.npz"
    run(plan(epochs=1), checkpoint_path=path)
    before = path.read_bytes()

    def full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(checkpoints.os, "fsync", full)
    with pytest.raises(OSError, match="No space left"):
        run(plan(epochs=2), checkpoint_path=path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.npz"]  # no temporary file left


def test_a_damaged_checkpoint_is_named(tmp_path):
    path = tmp_path / "c.npz"
    run(plan(epochs=1), checkpoint_path=path)
    with np.load(path) as saved:
        arrays = {name: saved[name] for name in saved.files}
    arrays["W2"] = arrays["W2"][:, :2]
    path.write_bytes(checkpoints.npz_bytes(arrays))
    with pytest.raises(ValueError, match=r"array 'W2' should be float64 of shape \(3, 4\)"):
        run(make_plan(NET, data(), epochs=2, batch=8, backend="numpy", resume=path))


# ---------------------------------------------------------------- the command line


XOR = ["train", "--backend", "numpy", "--quiet"]


def test_the_cli_resumes_where_it_was_interrupted(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SYMBP_STALL_AT", "training")  # 5 ms a step: about 2.5 s in all
    timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        code = main([*XOR, "--out", str(tmp_path / "a")])
    finally:
        timer.cancel()
    err = capsys.readouterr().err.splitlines()
    assert code == 130, err
    checkpoint = tmp_path / "a" / "checkpoint.npz"
    assert err[-1].startswith("symbp: interrupted at step ") and \
        err[-1].endswith(f"the checkpoint {checkpoint} is complete: continue with --resume "
                         f"{checkpoint}")
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["checkpoint.npz"]
    monkeypatch.delenv("SYMBP_STALL_AT")
    assert main([*XOR, "--out", str(tmp_path / "a"), "--resume", str(checkpoint)]) == 0
    assert "(resumed at epoch " in capsys.readouterr().out
    assert main([*XOR, "--out", str(tmp_path / "b")]) == 0
    for name in ("report.json", "history.csv", "loss.svg", "checkpoint.npz"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


@pytest.mark.slow  # waits out a real --timeout
def test_the_cli_timeout_writes_the_checkpoint(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SYMBP_STALL_AT", "training")
    assert main([*XOR, "--out", str(tmp_path), "--timeout", "1"]) == 1
    stalled, err = capsys.readouterr().err.splitlines()
    assert stalled == "stalled at training"
    assert err.startswith("symbp: timed out after 1 s (--timeout) at step ")
    assert (tmp_path / "checkpoint.npz").is_file()


@pytest.mark.slow  # a real SIGINT to a real process
def test_a_real_ctrl_c_to_the_command_leaves_a_complete_checkpoint(tmp_path):
    env = {**os.environ, "SYMBP_STALL_AT": "training"}
    with subprocess.Popen([sys.executable, "-m", "symbp", *XOR, "--out", str(tmp_path)],
                          stderr=subprocess.PIPE, text=True, env=env) as process:
        assert process.stderr.readline() == "stalled at training\n"
        time.sleep(0.3)  # some steps on
        process.send_signal(signal.SIGINT)
        err = process.stderr.read()
        assert process.wait(timeout=60) == 130, err
    assert err.startswith("symbp: interrupted at step ") and err.count("\n") == 1
    path = tmp_path / "checkpoint.npz"
    epoch = checkpoints.load(path).meta["epoch"]
    assert 0 < epoch < 500
    resumed = symbp.train(backend="numpy", resume=path)
    assert resumed.params.flat.tobytes() == symbp.train(backend="numpy").params.flat.tobytes()
    assert resumed.resumed_at[0] == epoch
    assert not list(Path(tmp_path).glob(".*.tmp"))
