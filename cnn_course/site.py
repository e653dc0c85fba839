"""The course as a static website: Sphinx and MyST-NB render the committed notebooks, none of them executed.

``python -m cnn_course site --out DIR`` lays out a temporary Sphinx source folder (the README as the home
page, every chapter of :data:`cnn_course.chapters.CHAPTERS` in course order, the glossary), writes its
``conf.py`` there and builds it into DIR; nothing in the repository is written. Every page carries "open in
Colab" and "open in Kaggle" links built from :data:`cnn_course.config.REPOSITORY`.

Everything a page loads comes from the site itself, so it opens offline and where public CDNs are slow or
blocked: MathJax from the ``sphinx-mathjax-offline`` package, the Furo theme's own scripts, no web fonts, no
widget scripts (a widget shows its saved text fallback and the figure saved under it). Chinese search splits
sentences into words with jieba, with the glossary's terms added to its dictionary. The ``[site]`` extra
installs all of it; this module imports Sphinx only when a site is built.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import logging
import os
import posixpath
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .chapters import CHAPTERS, Chapter, ChapterError, default_notebooks_dir, find_chapters
from .config import REPOSITORY
from .results import check_output

__all__ = [
    "MARKER",
    "SiteBuild",
    "SiteBuildFailed",
    "SiteError",
    "build_site",
    "check_site_output",
    "glossary_terms",
    "launch_links",
    "parse_repository",
    "rewrite_readme_links",
    "run_command",
]

#: The file a finished build leaves in its folder: a later build may replace such a folder without --force.
MARKER = ".cnn_course_site"
#: What the ``[site]`` extra installs, for the message when something is missing (import name: distribution).
SITE_PACKAGES = {"sphinx": "sphinx", "myst_nb": "myst-nb", "furo": "furo", "jieba": "jieba",
                 "sphinx-mathjax-offline": "sphinx-mathjax-offline"}
INSTALL_HINT = 'install them with: python -m pip install -e ".[site]"'

_WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
# MathJax 3 files the pages load: the TeX-to-HTML component, the TeX extensions it loads on demand (autoload),
# its fonts, and what its right-click menu loads (the accessibility explorer with its English speech rules).
_MATHJAX_FILES = ("tex-chtml.js", "input/tex/extensions", "output/chtml/fonts/woff-v2", "ui", "a11y",
                  "sre/mathmaps/base.json", "sre/mathmaps/en.json")
_GITHUB = re.compile(r"^https://github\.com/([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+?)(?:\.git)?(?:/tree/([^?#\s]+?))?/?$")
_FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.M | re.S)
_LINK = re.compile(r"(!?\[[^\]\n]*\])\(([^)\s]+)\)")
_CODE_SPAN = re.compile(r"(?<!`)`(?:notebooks/)?(\d+[a-z]?_[A-Za-z0-9_\-]+\.ipynb)`(?!`)")

_CSS = """\
.launch-links { display: flex; flex-wrap: wrap; gap: .5rem; margin: 0 0 1.2rem; }
.launch-links a { border: 1px solid var(--color-background-border); border-radius: .3rem;
  padding: .15rem .6rem; font-size: .9em; text-decoration: none; }
.launch-links a:hover { background: var(--color-background-hover); }
a.reference code.literal { color: var(--color-link); }
"""

# Sphinx's Chinese catalog has the search summary only in an older wording (8.2); this adds the current one.
_SEARCH_ZH_JS = """\
Documentation.addTranslations({locale: "zh_Hans_CN", plural_expr: "0", messages: {
  "Search finished, found one page matching the search query.": ["搜索完成，找到 ${resultCount} 个匹配的页面。"],
}});
"""


class SiteError(ValueError):
    """The site cannot be built as asked: a bad --out, a bad repository setting, missing files or packages."""


class SiteBuildFailed(RuntimeError):
    """Sphinx ran and failed (with ``strict``, a warning is enough); its messages were printed before."""


@dataclass(frozen=True)
class SiteBuild:
    """A finished build.

    Attributes:
        out: the site's folder; ``out / "index.html"`` is the home page.
        pages: the source names of the pages, home page first (``"index"``, ``"notebooks/01_convolution"``, ...).
        seconds: how long the build took, wall clock.
        size_bytes: the site's size on disk.
    """

    out: Path
    pages: tuple[str, ...]
    seconds: float
    size_bytes: int


# --------------------------------------------------------------------------- links


def parse_repository(url: str) -> tuple[str, str, str]:
    """Split a GitHub repository URL into ``(owner, name, branch)``; the branch is ``main`` unless ``/tree/BRANCH``.

    Raises:
        SiteError: for anything but ``https://github.com/OWNER/NAME`` (Colab and Kaggle open notebooks from GitHub).
    """
    match = _GITHUB.match(url.strip())
    if match is None:
        raise SiteError(
            f"repository {url!r} is not a GitHub repository URL; set cnn_course.config.REPOSITORY (or give "
            "--repository) as https://github.com/OWNER/NAME, with /tree/BRANCH for a branch other than main")
    owner, name, branch = match.groups()
    return owner, name, branch or "main"


def _blob(repository: str, path: str) -> str:
    owner, name, branch = parse_repository(repository)
    return f"https://github.com/{owner}/{name}/blob/{branch}/{path}"


def launch_links(repository: str, notebook: str) -> dict[str, str]:
    """Return ``{"Colab": url, "Kaggle": url}`` that open a notebook of the repository in a hosted Jupyter.

    Args:
        repository: ``https://github.com/OWNER/NAME`` (``/tree/BRANCH`` for another branch than main).
        notebook: the notebook's path in the repository, such as ``notebooks/03_lenet.ipynb``.

    Raises:
        SiteError: for a repository that is no GitHub URL, or a notebook path that is not a relative ``.ipynb`` path.
    """
    path = posixpath.normpath(notebook.replace("\\", "/"))
    if not path.endswith(".ipynb") or path.startswith(("/", "..")) or ":" in path:
        raise SiteError(f"notebook {notebook!r} is not a path of an .ipynb file inside the repository, "
                        "such as notebooks/03_lenet.ipynb")
    owner, name, branch = parse_repository(repository)
    return {
        "Colab": f"https://colab.research.google.com/github/{owner}/{name}/blob/{branch}/{path}",
        "Kaggle": f"https://kaggle.com/kernels/welcome?src=https://github.com/{owner}/{name}/blob/{branch}/{path}",
    }


def _launch_cell(links: Mapping[str, str]) -> dict[str, Any]:
    """A markdown cell with the launch links, as raw HTML (MyST passes it through; search does not index it)."""
    anchors = "".join(f'<a href="{url}">在 {name} 中打开</a>' for name, url in links.items())
    return {"cell_type": "markdown", "id": "cnn-course-launch-links", "metadata": {},
            "source": f'<div class="launch-links">{anchors}</div>\n'}


def rewrite_readme_links(markdown: str, pages: Iterable[str], repository: str) -> str:
    """Point the README's links at the site: to a page where the target is one, else to the file on GitHub.

    A relative link whose file is a page of the site (``GLOSSARY.md``, ``notebooks/03_lenet.ipynb``) stays
    as it is (the source folder keeps the repository's layout, so Sphinx resolves it); one to any other file
    of the repository (``CONTRIBUTING.md``) points at that file on GitHub. A code span naming a chapter
    notebook alone (`` `03_lenet.ipynb` ``) becomes a link to its page. Fenced code blocks are left alone.

    Args:
        markdown: the README's text.
        pages: the repository paths that are pages of the site (``"GLOSSARY.md"``, ``"notebooks/03_lenet.ipynb"``).
        repository: the repository URL (see :func:`parse_repository`).
    """
    known = set(pages)
    notebooks = {posixpath.basename(page): page for page in known if page.endswith(".ipynb")}

    def link(match: re.Match[str]) -> str:
        label, target = match.groups()
        if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:|^#|^/", target):  # a URL, an anchor on the page, a site path
            return match.group(0)
        path, hashmark, anchor = target.partition("#")
        path = posixpath.normpath(path)
        if path in known or label.startswith("!"):
            return match.group(0)
        return f"{label}({_blob(repository, path)}{hashmark}{anchor})"

    def code_span(match: re.Match[str]) -> str:
        page = notebooks.get(match.group(1))
        return f"[{match.group(0)}]({page})" if page else match.group(0)

    parts, start = [], 0
    for fence in _FENCE.finditer(markdown):
        parts.append(_CODE_SPAN.sub(code_span, _LINK.sub(link, markdown[start:fence.start()])))
        parts.append(fence.group(0))
        start = fence.end()
    parts.append(_CODE_SPAN.sub(code_span, _LINK.sub(link, markdown[start:])))
    return "".join(parts)


def glossary_terms(markdown: str) -> list[str]:
    """Return the Chinese terms of the glossary table's first column, for jieba's dictionary (search finds them whole).

    ``| 汇聚（最大汇聚、平均汇聚、全局平均汇聚） | pooling | 池化 |`` gives 汇聚, 最大汇聚, 平均汇聚, 全局平均汇聚:
    the column split at brackets and list commas, each piece that is all Chinese characters (two or more),
    in order, once. The header row and pieces mixed with Latin letters or digits (``He 初始化``) are left out.
    """
    terms: list[str] = []
    in_table = False
    for line in markdown.splitlines():
        if not line.lstrip().startswith("|"):
            in_table = False
            continue
        first = line.strip().strip("|").split("|")[0].strip()
        if set(first) <= set("-: "):  # the separator row: the rows after it hold the terms
            in_table = True
            continue
        if not in_table:
            continue
        for piece in re.split(r"[（）()、，,；;]", first):
            piece = piece.strip()
            if re.fullmatch(r"[\u4e00-\u9fff]{2,}", piece) and piece not in terms:
                terms.append(piece)
    return terms


# --------------------------------------------------------------------------- output folder


def check_site_output(out: str | os.PathLike[str], notebooks_dir: str | os.PathLike[str], force: bool = False) -> bool:
    """Check, before any work, that the site may be written to ``out``; return True when it replaces an earlier site.

    ``out`` may be missing or empty; an earlier site (it holds :data:`MARKER`) is replaced whole. Any other
    folder with files in it is refused without ``force``; with ``force`` the site's files are written into
    it, replacing files of the same names and deleting nothing else.

    Raises:
        SiteError: one line saying what is wrong: ``out`` is or lies under a file, cannot be written, holds other
            files (without ``force``), or holds the notebooks (writing there would mix the site into the course).
    """
    out, notebooks = Path(out).resolve(), Path(notebooks_dir).resolve()
    try:
        check_output(out)
    except ValueError as err:
        raise SiteError(str(err)) from None
    if out == notebooks or out in notebooks.parents or notebooks in out.parents:
        raise SiteError(f"--out {out} holds the notebooks or lies inside them; choose a folder outside "
                        f"{notebooks.parent}, such as /tmp/cnn-course-site")
    if not out.is_dir() or not any(out.iterdir()):
        return False
    if (out / MARKER).is_file():
        return True
    if not force:
        raise SiteError(f"--out {out} is not empty and holds no earlier site; add --force to write the site into "
                        "it (files of the same names are replaced, nothing else is deleted), or choose another --out")
    return False


# --------------------------------------------------------------------------- source folder


def _missing_packages() -> list[str]:
    return [dist for module, dist in SITE_PACKAGES.items() if importlib.util.find_spec(module) is None]


def _mathjax_dir() -> Path:
    spec = importlib.util.find_spec("sphinx-mathjax-offline")
    if spec is None or not spec.submodule_search_locations:
        raise SiteError(f"the site needs sphinx-mathjax-offline (MathJax served from the site); {INSTALL_HINT}")
    return Path(next(iter(spec.submodule_search_locations))) / "static" / "mathjax"


def _copy_mathjax(target: Path) -> None:
    source = _mathjax_dir()
    for name in _MATHJAX_FILES:
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        if (source / name).is_dir():
            shutil.copytree(source / name, target / name)
        else:
            shutil.copy2(source / name, target / name)


def _is_empty(output: dict[str, Any]) -> bool:
    """An output that shows nothing: a display emptied in place (``LiveOutput.clear``) or an empty stream."""
    if output.get("output_type") == "stream":
        return not "".join(output.get("text", "")).strip()
    data = output.get("data", {})
    return output.get("output_type") == "display_data" and set(data) <= {"text/plain"} and not "".join(
        data.get("text/plain", "")).strip()


def _chapter_notebook(path: Path, links: Mapping[str, str]) -> dict[str, Any]:
    """The notebook as the site shows it: the launch links under its title, no empty outputs, no widget state."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    cells = notebook["cells"]
    launch = _launch_cell(links)
    first = "".join(cells[0]["source"]) if cells and cells[0]["cell_type"] == "markdown" else ""
    title, _, rest = first.lstrip().partition("\n")
    if title.startswith("# "):  # split the first cell after its title: the links go right under it
        cells[0:1] = [{**cells[0], "source": title + "\n"}, launch,
                      {"cell_type": "markdown", "id": "cnn-course-after-title", "metadata": {}, "source": rest}]
    else:
        cells.insert(0, launch)
    for cell in cells:
        if "outputs" in cell:
            cell["outputs"] = [output for output in cell["outputs"] if not _is_empty(output)]
    # Without a kernel the widgets cannot compute: their saved state would draw sliders that move nothing.
    # The text fallback of each widget output stays (nb_mime_priority_overrides), and the figure saved under it.
    notebook["metadata"].pop("widgets", None)
    return notebook


def _conf(project: str, jieba_dict: Path) -> str:
    settings: dict[str, Any] = {
        "project": project,
        "html_title": project,
        "language": "zh_CN",  # Chinese search: jieba splits sentences into words
        "html_search_options": {"dict": str(jieba_dict)},
        "extensions": ["myst_nb"],
        "exclude_patterns": ["**/.ipynb_checkpoints"],
        "html_theme": "furo",
        "html_static_path": ["_static"],
        "html_css_files": ["cnn_course.css"],
        "html_js_files": ["cnn_course_zh.js"],
        "html_copy_source": False,
        "html_show_sourcelink": False,
        "mathjax_path": "mathjax/tex-chtml.js",  # relative to _static: the site's own copy
        "myst_enable_extensions": ["dollarmath", "amsmath"],
        "myst_heading_anchors": 3,
        "nb_execution_mode": "off",  # the committed outputs are the content
        "nb_ipywidgets_js": {},  # myst-nb's default loads require.js and the widget manager from CDNs
        "nb_mime_priority_overrides": [("html", _WIDGET_VIEW, None)],
        "nb_merge_streams": True,
    }
    lines = ["# Written by python -m cnn_course site (cnn_course/site.py); the site is built from this folder."]
    lines += [f"{name} = {value!r}" for name, value in settings.items()]
    return "\n".join(lines) + "\n"


def _chapters_in_order(notebooks_dir: Path) -> list[tuple[Chapter, Path]]:
    found = find_chapters(notebooks_dir)
    missing = [chapter.stem for chapter in CHAPTERS if chapter.stem not in found]
    if missing:
        raise SiteError(f"the chapter notebooks {', '.join(missing)} are not in {notebooks_dir}; give the folder "
                        "that holds them with --notebooks DIR")
    return [(chapter, found[chapter.stem]) for chapter in CHAPTERS]


def _write_source(source: Path, root: Path, notebooks_dir: Path, repository: str) -> list[str]:
    """Lay out the Sphinx source folder; return the page names, home page first."""
    chapters = _chapters_in_order(notebooks_dir)
    for name in ("README.md", "GLOSSARY.md"):
        if not (root / name).is_file():
            raise SiteError(f"{root / name} is missing: the site's home page is README.md and its glossary "
                            "GLOSSARY.md, beside the notebooks folder")
    (source / "notebooks").mkdir(parents=True)
    pages = ["index"]
    for chapter, path in chapters:
        repo_path = f"notebooks/{path.name}"
        notebook = _chapter_notebook(path, launch_links(repository, repo_path))
        (source / repo_path).write_text(json.dumps(notebook, ensure_ascii=False), encoding="utf-8")
        pages.append(f"notebooks/{chapter.stem}")
    pages.append("GLOSSARY")

    readme = (root / "README.md").read_text(encoding="utf-8")
    readme = rewrite_readme_links(readme, [f"notebooks/{path.name}" for _, path in chapters] + ["GLOSSARY.md"],
                                  repository)
    toctree = ["", "```{toctree}", ":hidden:", ":caption: 章节", ""] + pages[1:-1] + ["```", "",
               "```{toctree}", ":hidden:", ":caption: 参考", "", "GLOSSARY", "```", ""]
    (source / "index.md").write_text(readme.rstrip("\n") + "\n" + "\n".join(toctree), encoding="utf-8")
    glossary = (root / "GLOSSARY.md").read_text(encoding="utf-8")
    (source / "GLOSSARY.md").write_text(glossary, encoding="utf-8")

    static = source / "_static"
    _copy_mathjax(static / "mathjax")
    (static / "cnn_course.css").write_text(_CSS, encoding="utf-8")
    (static / "cnn_course_zh.js").write_text(_SEARCH_ZH_JS, encoding="utf-8")
    jieba_dict = source / "jieba_dict.txt"
    jieba_dict.write_text("".join(f"{term}\n" for term in glossary_terms(glossary)), encoding="utf-8")
    title = next((line[2:].strip() for line in readme.splitlines() if line.startswith("# ")), "CNN course")
    (source / "conf.py").write_text(_conf(title, jieba_dict), encoding="utf-8")
    return pages


# --------------------------------------------------------------------------- build


def _size(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def _run_sphinx(argv: list[str]) -> int:
    """Run ``sphinx-build`` with these arguments in this process; return its exit status."""
    from sphinx.cmd.build import build_main

    importlib.import_module("sphinx.search.zh")  # imports jieba, which logs loading its dictionary at DEBUG level
    logging.getLogger("jieba").setLevel(logging.WARNING)
    return build_main(argv)


def build_site(
    out: str | os.PathLike[str],
    *,
    notebooks_dir: str | os.PathLike[str] | None = None,
    repository: str = REPOSITORY,
    force: bool = False,
    strict: bool = False,
    quiet: bool = True,
) -> SiteBuild:
    """Build the course's website into ``out`` from the committed notebooks, README.md and GLOSSARY.md.

    The Sphinx source folder is laid out in a temporary folder and the site is built there too; only a
    finished build reaches ``out`` (an earlier site there is replaced whole).

    Args:
        out: the site's folder (see :func:`check_site_output` for what may already be there).
        notebooks_dir: the chapter notebooks (default: ``./notebooks``); README.md and GLOSSARY.md are beside it.
        repository: the GitHub repository the launch links open notebooks from (see :func:`launch_links`).
        force: write into a folder that holds other files.
        strict: treat Sphinx's warnings as errors (``-W``), as CI does.
        quiet: print only Sphinx's warnings, not its progress.

    Returns:
        The finished build: its folder, pages, time and size.

    Raises:
        SiteError: before any work, for a bad ``out``, repository or notebooks folder, or missing packages.
        SiteBuildFailed: when Sphinx's build failed; ``out`` is left as it was.
    """
    started = time.perf_counter()
    parse_repository(repository)
    folder = Path(notebooks_dir) if notebooks_dir is not None else default_notebooks_dir()
    try:
        replaces_site = check_site_output(out, folder, force=force)
        _chapters_in_order(folder)
    except ChapterError as err:
        raise SiteError(str(err)) from None
    missing = _missing_packages()
    if missing:
        raise SiteError(f"the site needs {', '.join(missing)}; {INSTALL_HINT}")
    out = Path(out)
    with tempfile.TemporaryDirectory(prefix="cnn-course-site-") as work:
        source, html = Path(work) / "source", Path(work) / "html"
        pages = _write_source(source, folder.resolve().parent, folder, repository)
        argv = ["-b", "html", "-d", str(Path(work) / "doctrees"), "-j", "auto"]
        argv += ["-W", "--keep-going"] if strict else []
        argv += ["-q"] if quiet else []
        if _run_sphinx([*argv, str(source), str(html)]) != 0:
            kind = "warnings (treated as errors)" if strict else "errors"
            raise SiteBuildFailed(f"Sphinx stopped with {kind}, printed above; nothing was written to {out}")
        (html / MARKER).write_text("built by python -m cnn_course site\n", encoding="utf-8")
        if replaces_site:
            shutil.rmtree(out)
        shutil.copytree(html, out, dirs_exist_ok=True)
    return SiteBuild(out=out, pages=tuple(pages), seconds=time.perf_counter() - started, size_bytes=_size(out))


def run_command(args: argparse.Namespace) -> int:
    """``python -m cnn_course site``: build the website; 0 built, 1 Sphinx failed, 2 bad arguments or missing packages.

    ``args`` has ``out``, ``notebooks``, ``repository``, ``force`` and ``strict`` (see ``cnn_course.__main__``).
    """
    try:
        build = build_site(args.out, notebooks_dir=args.notebooks, repository=args.repository or REPOSITORY,
                           force=args.force, strict=args.strict)
    except SiteError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except SiteBuildFailed as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    size = build.size_bytes / 2**20
    print(f"wrote {len(build.pages)} pages to {build.out} ({size:.1f} MiB) in {build.seconds:.0f} s; "
          f"open {build.out / 'index.html'}")
    return 0
