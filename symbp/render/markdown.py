"""Markdown whose math survives GitHub: math in the two forms GitHub renders as written.

GitHub reads ``$...$`` and ``$$...$$`` only after Markdown has processed the text, so a
backslash escape is eaten first (``\\,`` becomes ``,`` and a row break ``\\\\`` becomes
``\\``) and ``_`` or ``*`` may start emphasis. Its own two math forms are code, which
Markdown leaves alone: ``$`...`$`` inline and a fenced ```` ```math ```` block. The
templates write ``$...$`` and ``$$`` blocks, as for LaTeX; ``github_math`` turns them
into those forms at the very end, so the formulas reach the math renderer exactly as
the LaTeX document has them.
"""

from __future__ import annotations

import re

_DISPLAY = re.compile(r"^\$\$\n(.*?)\n\$\$$", re.S | re.M)
# outside a display: a code span (left as it is), an escaped character, or inline math
_INLINE = re.compile(r"(`+)(?:.*?)\1|\\.|\$([^$\n]+)\$")


def github_math(md: str) -> str:
    """``md`` with every ``$$`` block fenced as ```` ```math ```` and every ``$x$`` as ``$`x`$``."""
    parts = []
    start = 0
    for match in _DISPLAY.finditer(md):
        parts.append(_inline(md[start:match.start()]))
        parts.append("```math\n" + match.group(1) + "\n```")
        start = match.end()
    parts.append(_inline(md[start:]))
    return "".join(parts)


def _inline(text: str) -> str:
    def replace(match: re.Match) -> str:
        if match.group(2) is None:  # a code span or an escape: as it is
            return match.group(0)
        return "$`" + match.group(2) + "`$"

    return _INLINE.sub(replace, text)
