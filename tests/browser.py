"""A real headless Chromium for the web-page tests: load a page, run a checking script in it,
read back what the script found (``inspect``), or take a screenshot (``screenshot``).

Debian's ``chromium`` (CI installs it); ``CHROMIUM`` is None where it is missing, and the
tests that need it skip with that reason. Every run gets a fresh profile folder and no
network: the page must carry everything it shows.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
MISSING = "chromium is not installed (Debian: apt-get install chromium)"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>"]

# Runs after the page has loaded: the page's width against the window's, every element that
# reaches past the window's edges (except inside a box that scrolls), the math, and any TeX
# left as text. The report goes into the page as JSON, for --dump-dom to carry out.
CHECK = r"""
(function () {
  const document = doc, getComputedStyle = frame.getComputedStyle.bind(frame);
  const view = document.documentElement.clientWidth;
  const scrolls = el => ["auto", "scroll", "hidden"].includes(getComputedStyle(el).overflowX);
  const clipped = el => {
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement)
      if (scrolls(p) && p.getBoundingClientRect().right <= view + 1) return true;
    return false;
  };
  const wide = [];
  for (const el of document.body.querySelectorAll("*")) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    if ((r.right > view + 1 || r.left < -1) && !clipped(el))
      wide.push(el.tagName.toLowerCase() + " " + Math.round(r.left) + ".." + Math.round(r.right)
                + ": " + (el.textContent || "").trim().slice(0, 60));
  }
  const prose = "p, li, td, th, h1, h2, h3, figcaption";
  const outside = Array.from(document.body.querySelectorAll(prose))
    .map(el => { const c = el.cloneNode(true); c.querySelectorAll("math").forEach(m => m.remove());
                 return c.textContent; }).join("\n");
  const report = {
    view: view, scrollWidth: document.documentElement.scrollWidth,
    maths: document.querySelectorAll("math").length,
    merror: document.querySelectorAll("merror").length,
    tex: (outside.match(/\\[A-Za-z]+|\$\$|\\\(|\\\[|\$[^$\s]/g) || []).slice(0, 10),
    mathTex: Array.from(document.querySelectorAll("math")).map(m => m.textContent)
      .filter(t => t.includes("\\")).slice(0, 5),
    wide: wide.slice(0, 20), wideCount: wide.length,
  };
  const pre = document.createElement("pre");
  pre.id = "symbp-report-" + index;
  pre.textContent = JSON.stringify(report);
  window.document.body.appendChild(pre);
})();
"""


def _run(page: Path, window: tuple[int, int], *extra: str, timeout: float = 90) -> str:
    with tempfile.TemporaryDirectory(prefix="symbp-chromium-") as profile:
        done = subprocess.run(
            [CHROMIUM or "chromium", *FLAGS, f"--user-data-dir={profile}",
             f"--window-size={window[0]},{window[1]}", *extra, page.as_uri()],
            capture_output=True, text=True, timeout=timeout, check=False)
    return done.stdout


def _framed(pages: list[tuple[str, int, int]], script: str) -> str:
    """Each page of ``pages`` (its HTML, width and height) in an iframe exactly that many px
    wide, one below the other: headless Chromium lays a window out at least 500 px wide,
    whatever its size, so a phone's 375 px needs a frame, and one browser serves many pages.
    ``script`` runs for each frame once the page and its frames have loaded, with ``frame``
    the frame's window, ``doc`` its document and ``index`` its place in ``pages``."""
    frames = "".join(
        f'<iframe id="page-{n}" width="{width}" height="{height}" '
        f'srcdoc="{html.escape(page_html, quote=True)}"></iframe>'
        for n, (page_html, width, height) in enumerate(pages))
    return ('<!DOCTYPE html><html><head><meta charset="utf-8"><style>body{margin:0}'
            'iframe{border:0;display:block}</style></head><body>'
            f'{frames}<script>'
            'window.addEventListener("load", function () {'
            'document.querySelectorAll("iframe").forEach(function (element, index) {'
            'const frame = element.contentWindow, doc = element.contentDocument;'
            f'{script}}});}});</script></body></html>')


def inspect_all(pages: list[tuple[str, int]], folder: Path) -> list[dict]:
    """What the checking script finds in each ``(page_html, width)`` of ``pages``, laid out
    that many px wide: one Chromium for them all (a start costs more than a page)."""
    page = folder / "inspect.html"
    page.write_text(_framed([(text, width, 1200) for text, width in pages], CHECK),
                    encoding="utf-8")
    widest = max(width for _, width in pages)
    dom = _run(page, (max(widest, 500) + 20, 1200), "--dump-dom",
               timeout=60 + 30 * len(pages))
    found = dict(re.findall(r'<pre id="symbp-report-(\d+)">(.*?)</pre>', dom, re.S))
    assert sorted(found, key=int) == [str(n) for n in range(len(pages))], \
        f"chromium gave no report for some of {page}: {dom[-300:]!r}"
    return [json.loads(html.unescape(found[str(n)])) for n in range(len(pages))]


def inspect(page_html: str, width: int, folder: Path) -> dict:
    """What the checking script finds in ``page_html`` laid out ``width`` px wide."""
    return inspect_all([(page_html, width)], folder)[0]


def screenshot(page_html: str, png: Path, width: int, height: int, top: int = 0) -> Path:
    """A PNG of ``page_html`` laid out ``width`` px wide, ``height`` px of it from ``top``."""
    page = png.with_suffix(".html")
    page.write_text(_framed([(page_html, width, height)], f"frame.scrollTo(0, {top});"),
                    encoding="utf-8")
    _run(page, (max(width, 500), height), f"--screenshot={png}")
    return png


def assert_clean(report: dict, width: int) -> None:
    """A page as ``inspect`` saw it at ``width``: math rendered, no TeX left, nothing wider."""
    assert report["view"] == width
    assert report["maths"] > 50 and report["merror"] == 0
    assert report["tex"] == [] and report["mathTex"] == []
    assert report["scrollWidth"] <= width, report
    assert report["wide"] == [], report["wide"]
