"""The website in a real browser: build it (warnings as errors), serve it on 127.0.0.1, open every page in
headless Chromium with every other host blocked, and search it for a term of each chapter.

Needs the ``[site]`` extra, playwright and a Chromium (Debian's ``/usr/bin/chromium``); without them the test
is skipped and says which is missing, except in CI (``CI`` set), where it fails: CI must run it.
"""

from __future__ import annotations

import functools
import http.server
import importlib.util
import json
import os
import re
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest

from cnn_course.chapters import CHAPTERS
from cnn_course.config import REPOSITORY
from cnn_course.site import SITE_PACKAGES, build_site, glossary_terms, launch_links

pytestmark = pytest.mark.site

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
CHROMIUM_NAMES = ("chromium", "chromium-browser")
# Searches a reader makes, and a page each must find (besides one term of each chapter, chosen below).
SEARCHES = {"卷积核": "notebooks/01_convolution", "感受野": "notebooks/03_lenet"}


def _chromium() -> str | None:
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def _requirements() -> str:
    """Empty when the test can run, else what is missing and how to install it."""
    missing = [dist for module, dist in SITE_PACKAGES.items() if importlib.util.find_spec(module) is None]
    if missing:
        return f"the [site] extra is not installed ({', '.join(missing)}): python -m pip install -e \".[site]\""
    if importlib.util.find_spec("playwright") is None:
        return "playwright is not installed: python -m pip install playwright"
    if _chromium() is None:
        return "no Chromium on PATH: apt-get install chromium (Debian's browser; playwright's own is not used)"
    return ""


def _notebook(stem: str) -> dict[str, Any]:
    return json.loads((NOTEBOOKS / f"{stem}.ipynb").read_text(encoding="utf-8"))


def _markdown(stem: str) -> str:
    cells = _notebook(stem)["cells"]
    return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")


def _outputs(stem: str) -> list[dict[str, Any]]:
    return [output for cell in _notebook(stem)["cells"] for output in cell.get("outputs", [])]


def search_terms() -> dict[str, str]:
    """``{page: term}``: for each chapter, the glossary term in its prose that the fewest other chapters use."""
    terms = glossary_terms((ROOT / "GLOSSARY.md").read_text(encoding="utf-8"))
    prose = {chapter.stem: _markdown(chapter.stem) for chapter in CHAPTERS}
    chosen = {}
    for stem, text in prose.items():
        used = [term for term in terms if term in text]
        assert used, f"{stem} uses no term of GLOSSARY.md: nothing to search it by"
        chosen[f"notebooks/{stem}"] = min(used, key=lambda term: sum(term in other for other in prose.values()))
    return chosen


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:  # every request would be printed
        pass


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """Build the site with warnings as errors and serve it; yield ``(base URL, folder)``."""
    problem = _requirements()
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the site test, but {problem}")
        pytest.skip(problem)
    out = tmp_path_factory.mktemp("site") / "html"
    build = build_site(out, notebooks_dir=NOTEBOOKS, strict=True)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                             functools.partial(_QuietHandler, directory=str(build.out)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", build.out
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser(site: tuple[str, Path]) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=_chromium(), args=["--no-sandbox"])
        try:
            yield chromium
        finally:
            chromium.close()


class Visit:
    """One page opened in a fresh browser context, with every problem it shows recorded in ``problems``."""

    def __init__(self, browser: Any, base: str) -> None:
        self.problems: list[str] = []
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        host = urlsplit(base).netloc

        def route(request_route: Any) -> None:
            url = request_route.request.url
            if urlsplit(url).netloc == host or url.startswith(("data:", "blob:")):
                request_route.continue_()
            else:
                self.problems.append(f"request to another host: {url}")
                request_route.abort()

        self.context.route("**/*", route)
        self.page = self.context.new_page()
        self.page.on("console", lambda msg: msg.type == "error" and self.problems.append(f"console: {msg.text}"))
        self.page.on("pageerror", lambda err: self.problems.append(f"script error: {err}"))
        self.page.on("requestfailed", lambda req: self.problems.append(f"failed request: {req.url} {req.failure}"))
        self.page.on("response", lambda res: res.status >= 400 and self.problems.append(f"{res.status}: {res.url}"))

    def open(self, url: str) -> Any:
        self.page.goto(url, wait_until="load")
        self.page.wait_for_load_state("networkidle")
        return self.page

    def close(self) -> None:
        self.context.close()


# What the reader sees of a page's math: every formula typeset (MathJax's mjx-container in each .math
# element), and no TeX left in the text outside code.
MATH_STATE = """async () => {
  const math = document.querySelectorAll('article .math');
  if (math.length && window.MathJax && MathJax.startup) { await MathJax.startup.promise; }
  const untypeset = [...math].filter((el) => !el.querySelector('mjx-container')).map((el) => el.textContent);
  const article = document.querySelector('article').cloneNode(true);
  article.querySelectorAll('pre, code, mjx-container, script, style, .math').forEach((el) => el.remove());
  return {count: math.length, untypeset: untypeset.slice(0, 3), text: article.textContent};
}"""
RAW_TEX = re.compile(r"\\\(|\\\)|\\\[|\\\]|\$\$|\$[^\s$][^$\n]*\$|\\(?:frac|left|right|times|sum|lfloor)\b")


def test_every_page_opens_offline_with_its_math_figures_and_links(site: tuple[str, Path], browser: Any) -> None:
    base, folder = site
    pages = ["index", "GLOSSARY", "search", "genindex"] + [f"notebooks/{chapter.stem}" for chapter in CHAPTERS]
    assert {str(p.relative_to(folder).with_suffix("")) for p in folder.rglob("*.html")} == set(pages)
    problems: dict[str, list[str]] = {}
    for name in pages:
        visit = Visit(browser, base)
        page = visit.open(f"{base}/{name}.html")
        math = page.evaluate(MATH_STATE)
        found = visit.problems
        found += [f"formula not typeset: {tex}" for tex in math["untypeset"]]
        found += [f"TeX left in the text: {m.group(0)!r}" for m in RAW_TEX.finditer(math["text"])][:3]
        broken = page.evaluate("[...document.images].filter((i) => !i.complete || !i.naturalWidth).map((i) => i.src)")
        found += [f"image not shown: {src}" for src in broken]
        if name.startswith("notebooks/"):
            stem = name.split("/", 1)[1]
            found += _chapter_problems(page, stem, math["count"])
        if name in ("index", "notebooks/01_convolution"):
            assert math["count"] or name == "index", f"{name}: no formula found; the math check checked nothing"
        if found:
            problems[name] = found
        visit.close()
    assert problems == {}


def _chapter_problems(page: Any, stem: str, math_count: int) -> list[str]:
    found = []
    links = launch_links(REPOSITORY, f"notebooks/{stem}.ipynb")
    shown = page.eval_on_selector_all(".launch-links a", "(links) => links.map((a) => a.href)")
    if shown != list(links.values()):
        found.append(f"launch links {shown}, expected {list(links.values())}")
    outputs = _outputs(stem)
    pngs = sum("image/png" in output.get("data", {}) for output in outputs)
    figures = page.eval_on_selector_all(".cell_output img", "(imgs) => imgs.length")
    if figures != pngs:
        found.append(f"{figures} figures shown of the notebook's {pngs} PNG outputs")
    text = page.inner_text("article")
    for output in outputs:
        data = output.get("data", {})
        if "application/vnd.jupyter.widget-view+json" in data:
            fallback = "".join(data.get("text/plain", "")).strip()
            if fallback and fallback not in text:
                found.append(f"widget fallback not shown: {fallback!r}")
    has_math = any("$" in line for line in _markdown(stem).splitlines())
    if has_math and not math_count:
        found.append("the notebook's prose has $...$ but the page has no formula")
    return found


def _search(browser: Any, base: str, term: str) -> tuple[list[str], list[str]]:
    """Search the site as a reader does; return the result pages (``notebooks/03_lenet``) and the problems met."""
    visit = Visit(browser, base)
    page = visit.open(f"{base}/search.html?q={quote(term)}")
    page.wait_for_function("() => (document.querySelector('#search-results .search-summary') || {}).innerText")
    hrefs = page.eval_on_selector_all("#search-results ul.search li a", "(links) => links.map((a) => a.href)")
    visit.close()
    found = {urlsplit(href).path.lstrip("/").removesuffix(".html") for href in hrefs}
    return sorted(found), visit.problems


def test_search_finds_each_chapter_by_a_term_of_its_own(site: tuple[str, Path], browser: Any) -> None:
    base, _ = site
    wanted = {**{term: page for page, term in search_terms().items()}, **SEARCHES}
    missed, problems = {}, []
    for term, page in wanted.items():
        results, met = _search(browser, base, term)
        problems += met
        if page not in results:
            missed[term] = f"{page} not among {results}"
    assert (missed, problems) == ({}, [])


def test_search_terms_come_from_each_chapter() -> None:
    """The search test covers every chapter of the registry, each with a term its prose uses."""
    terms = search_terms()
    assert list(terms) == [f"notebooks/{chapter.stem}" for chapter in CHAPTERS]
    assert all(term in _markdown(page.split("/")[1]) for page, term in terms.items())
