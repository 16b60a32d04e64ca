"""The status of a claim: one enum, one order, read everywhere a claim is judged or shown."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class Status(StrEnum):
    """How far a claim was established (a str: compares and prints as its word)."""

    PROVED = "proved"  # an exact argument that covers every case claimed
    CHECKED = "checked"  # exact, but only at the finite sizes the claim names
    SCREENED = "screened"  # evaluated at random points: evidence, never a proof
    NOT_COMPARED = "not compared"  # the claim was not made
    TIMED_OUT = "timed out"  # not settled before the deadline
    FAILED = "failed"  # refuted, or refused (the reason says which)


ORDER = (Status.FAILED, Status.TIMED_OUT, Status.NOT_COMPARED, Status.SCREENED,
         Status.CHECKED, Status.PROVED)  # worst first


def worst(statuses: Iterable[str]) -> Status:
    """The worst of ``statuses`` in ``ORDER`` (PROVED for none)."""
    found = {Status(s) for s in statuses}
    return next((s for s in ORDER if s in found), Status.PROVED)
