"""Deadlines interrupt, nest, and are never caught as ordinary errors."""

import time

import pytest

from symbp.core.deadline import TimedOut, deadline


def _spin(seconds):
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def _spin_catching_errors(seconds):
    try:
        _spin(seconds)
    except Exception:  # the prover's broad catch must not swallow it
        pytest.fail("TimedOut was caught as an Exception")


def test_a_deadline_interrupts_and_is_not_an_exception():
    with pytest.raises(TimedOut), deadline(0.05):
        _spin_catching_errors(5)


def test_an_inner_deadline_rearms_the_outer_one():
    started = time.perf_counter()

    def inner_then_spin():
        with pytest.raises(TimedOut), deadline(0.05):
            _spin(5)
        _spin(5)  # the outer one still fires, at its own time

    with pytest.raises(TimedOut), deadline(0.3):
        inner_then_spin()
    assert 0.25 < time.perf_counter() - started < 2


def test_a_sooner_outer_deadline_fires_inside_the_inner_block():
    started = time.perf_counter()
    with pytest.raises(TimedOut), deadline(0.05), deadline(10):
        _spin(5)
    assert time.perf_counter() - started < 2


def test_no_deadline_does_nothing():
    with deadline(None) as limit:
        assert limit.remaining is None and not limit.expired
