"""One self-contained web page: LaTeX math as MathML, made when the page is built.

The formulas are the same strings the LaTeX document sets; ``mathml`` turns each into
MathML with latex2mathml (pure Python), so the page needs no script, no font and no
network to show them, and any browser with MathML Core (Chromium, Firefox, Safari)
draws them. Two LaTeX forms it does not read are rewritten first: an ``aligned`` block
becomes ``align*`` (the same rows and columns), and a ``\\tag`` becomes a label beside
the formula. ``finish_html`` does what the templates cannot: inline ``$...$`` math to
MathML, paragraphs around the running text, the figures set inline, and the table of
contents from the section headings.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping

from latex2mathml.converter import convert

_TAG = re.compile(r"\s*\\tag\{([^{}]*)\}")
_INLINE = re.compile(r"(?<!\\)\$([^$\n]+?)\$")
# a part of the page that is not running text: it gets no <p> around it
_BLOCK = re.compile(r"<(figure|table|ul|nav|div)\b.*?</\1>|<h[1-6]\b.*?</h[1-6]>", re.S)
_HEADING = re.compile(r'<h2 id="([^"]+)">(.*?)</h2>', re.S)
_FIGURE = re.compile(r"<!--svg (\S+)-->")
_GROUPED = re.compile(r"\\begin\{(bmatrix|cases)\}.*?\\end\{\1\}", re.S)
_OPERATOR_NAME = re.compile(r"<mo>([A-Za-z]{2,})</mo>")
_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "$": "&#36;"}


def escape_html(text: object) -> str:
    """Plain text for a page: ``& < > "`` as entities, and ``$``, which would start math."""
    return "".join(_ESCAPES.get(c, c) for c in str(text))


def mathml(tex: str, display: bool = False) -> str:
    """One formula as MathML; ``display`` sets it as a block, with its ``\\tag`` beside it."""
    tag = _TAG.search(tex)
    body = _TAG.sub("", tex).strip()
    body = body.replace(r"\begin{aligned}", r"\begin{align*}").replace(
        r"\end{aligned}", r"\end{align*}")
    body = _GROUPED.sub(r"{\g<0>}", body)  # a matrix's brackets stretch to it, not its row
    math = _tidy(convert(body, display="block" if display else "inline"))
    if not display:
        return math
    label = f'<span class="tag">({escape_html(tag.group(1))})</span>' if tag else ""
    return f'<span class="display"><span class="formula">{math}</span>{label}</span>'


def _tidy(math: str) -> str:
    """Spacing as TeX sets it: \\bigl( and \\left( open without space, a / is no operator, and
    an operator name (diag, vec, Cost) is an upright name."""
    math = math.replace('fence="true"', 'fence="true" lspace="0" rspace="0"')
    math = math.replace("<mo>&#x02202;</mo>", "<mi>&#x02202;</mi>")  # ∂ is a letter in TeX
    for slash in ("/", "&#x0002F;"):
        math = math.replace(f"<mo>{slash}</mo>", f'<mo lspace="0" rspace="0">{slash}</mo>')
    return _OPERATOR_NAME.sub(r"<mi>\1</mi>", math)


def slug(title: str) -> str:
    """An id for a heading: its words in lower case, joined by hyphens."""
    return "-".join(re.findall(r"[a-z0-9]+", html.unescape(re.sub(r"<[^>]+>", "", title))
                               .lower())) or "section"


def finish_html(page: str, images: Mapping[str, str] | None = None) -> str:
    """The laid-out page made whole: inline math, paragraphs, figures and the contents."""
    page = _INLINE.sub(lambda m: mathml(html.unescape(m.group(1))), page)
    head, _, rest = page.partition("<!--body-->")
    body, _, tail = rest.partition("<!--end body-->")
    page = head + _paragraphs(body) + tail
    page = _FIGURE.sub(lambda m: _svg(_image(images or {}, m.group(1))), page)
    return page.replace("<!--contents-->", _contents(page))


def _paragraphs(body: str) -> str:
    """Running text between blank lines in ``<p>``; headings, lists, tables, figures as they are."""
    out, start = [], 0
    for block in _BLOCK.finditer(body):
        out += [*_wrap(body[start:block.start()]), block.group(0)]
        start = block.end()
    out += _wrap(body[start:])
    return "\n".join(out) + "\n"


def _wrap(text: str) -> list[str]:
    return [f"<p>{part.strip()}</p>" for part in re.split(r"\n\s*\n", text) if part.strip()]


def _image(images: Mapping[str, str], name: str) -> str:
    if name not in images:
        raise ValueError(f"the page shows {name}; give its SVG text in images={{{name!r}: ...}}")
    return images[name]


def _svg(svg: str) -> str:
    """An SVG file's text as an inline element, scaled to the column."""
    svg = re.sub(r"^<\?xml[^>]*\?>\s*", "", svg.strip())
    return svg.replace("<svg ", '<svg class="figure" role="img" ', 1)


def _contents(page: str) -> str:
    items = [f'<li><a href="#{anchor}">{title}</a></li>'
             for anchor, title in _HEADING.findall(page)]
    return '<nav class="contents"><h2 class="contents-title">Contents</h2><ol>\n' \
        + "\n".join(items) + "\n</ol></nav>" if items else ""
