"""The chapter "Second order" laid out by its templates as .tex or .md (``second_order.*.j2``)."""

from __future__ import annotations

from ..document.second_order import SecondOrderChapter
from .documents import _lay_out


def render_second_order(chapter: SecondOrderChapter, fmt: str = "tex") -> str:
    """The second-order chapter as LaTeX (``fmt="tex"``) or Markdown (``"md"``)."""
    if not isinstance(chapter, SecondOrderChapter):
        raise TypeError(f"render_second_order() needs a SecondOrderChapter, got "
                        f"{type(chapter).__name__}")
    return _lay_out("second_order", chapter, fmt)
