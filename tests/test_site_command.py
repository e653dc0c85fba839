"""``python -m cnn_course site`` without Sphinx: the links built from the repository setting, the README's links,
the glossary's search terms, and what the command does with --out and --force (tests/test_site.py builds for real).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from cnn_course import site
from cnn_course.__main__ import main
from cnn_course.chapters import CHAPTERS
from cnn_course.config import REPOSITORY
from cnn_course.site import (
    MARKER,
    SiteBuildFailed,
    SiteError,
    build_site,
    check_site_output,
    glossary_terms,
    launch_links,
    parse_repository,
    rewrite_readme_links,
)

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
REPO = "https://github.com/someone/cnn-course"

# --------------------------------------------------------------------------- links


@pytest.mark.parametrize("url, parts", [
    ("https://github.com/someone/cnn-course", ("someone", "cnn-course", "main")),
    ("https://github.com/someone/cnn-course/", ("someone", "cnn-course", "main")),
    ("https://github.com/someone/cnn-course.git", ("someone", "cnn-course", "main")),
    ("https://github.com/some-one/cnn.course/tree/spring-2027", ("some-one", "cnn.course", "spring-2027")),
])
def test_repository_urls_are_split_into_owner_name_and_branch(url: str, parts: tuple[str, str, str]) -> None:
    assert parse_repository(url) == parts


@pytest.mark.parametrize("url", ["", "github.com/someone/cnn-course", "https://gitlab.com/someone/cnn-course",
                                 "https://github.com/someone", "http://github.com/someone/cnn-course"])
def test_a_repository_that_is_no_github_url_is_refused_naming_the_setting(url: str) -> None:
    with pytest.raises(SiteError, match=r"cnn_course\.config\.REPOSITORY .*https://github\.com/OWNER/NAME"):
        parse_repository(url)


def test_launch_links_open_the_notebook_of_the_branch_in_colab_and_kaggle() -> None:
    links = launch_links(f"{REPO}/tree/dev", "notebooks/03_lenet.ipynb")
    assert links == {
        "Colab": "https://colab.research.google.com/github/someone/cnn-course/blob/dev/notebooks/03_lenet.ipynb",
        "Kaggle": "https://kaggle.com/kernels/welcome?src="
                  "https://github.com/someone/cnn-course/blob/dev/notebooks/03_lenet.ipynb",
    }


def test_the_courses_own_setting_builds_links() -> None:
    owner, name, _ = parse_repository(REPOSITORY)
    assert f"/github/{owner}/{name}/blob/" in launch_links(REPOSITORY, "notebooks/01_convolution.ipynb")["Colab"]


@pytest.mark.parametrize("path", ["notebooks/03_lenet.py", "/notebooks/03_lenet.ipynb", "../x.ipynb",
                                  "https://example.org/x.ipynb"])
def test_launch_links_need_a_notebook_path_inside_the_repository(path: str) -> None:
    with pytest.raises(SiteError, match="not a path of an .ipynb file inside the repository"):
        launch_links(REPO, path)


def test_readme_links_point_at_pages_or_at_github() -> None:
    readme = (
        "See [the glossary](GLOSSARY.md) and [how to help](CONTRIBUTING.md#add-a-chapter), [tests](#测试),\n"
        "[LeNet](notebooks/03_lenet.ipynb), [PyTorch](https://pytorch.org), ![a figure](figures/a.png).\n"
        "| `03_lenet.ipynb` | LeNet |\n"
        "Run `python -m pytest notebooks/03_lenet.ipynb` or `notebooks/03_lenet.ipynb`; `09_unknown.ipynb`.\n"
        "```bash\n[not a link](CONTRIBUTING.md) `03_lenet.ipynb`\n```\n"
    )
    pages = ["GLOSSARY.md", "notebooks/03_lenet.ipynb"]
    assert rewrite_readme_links(readme, pages, REPO) == (
        "See [the glossary](GLOSSARY.md) and "
        "[how to help](https://github.com/someone/cnn-course/blob/main/CONTRIBUTING.md#add-a-chapter),"
        " [tests](#测试),\n"
        "[LeNet](notebooks/03_lenet.ipynb), [PyTorch](https://pytorch.org), ![a figure](figures/a.png).\n"
        "| [`03_lenet.ipynb`](notebooks/03_lenet.ipynb) |"
        " LeNet |\n"
        "Run `python -m pytest notebooks/03_lenet.ipynb` or [`notebooks/03_lenet.ipynb`](notebooks/03_lenet.ipynb);"
        " `09_unknown.ipynb`.\n"
        "```bash\n[not a link](CONTRIBUTING.md) `03_lenet.ipynb`\n```\n"
    )


def test_glossary_terms_are_the_chinese_terms_of_the_first_column() -> None:
    glossary = (
        "# 术语表\n\n| 中文（本课程用） | English | 不用 |\n|---|---|---|\n"
        "| 卷积核 | kernel | 过滤器 |\n"
        "| 汇聚（最大汇聚、平均汇聚） | pooling | 池化 |\n"
        "| 初始化（He 初始化、Xavier 初始化） | initialisation | |\n"
        "| 投影（1×1 卷积把通道数变成指定的个数） | projection | |\n"
        "| Grad-CAM | Grad-CAM | |\n"
        "| 卷积核 | kernel, again | |\n\n"
        "公式一律用 LaTeX 书写。\n"
    )
    assert glossary_terms(glossary) == ["卷积核", "汇聚", "最大汇聚", "平均汇聚", "初始化", "投影"]


def test_the_courses_glossary_gives_the_terms_readers_search_for() -> None:
    terms = glossary_terms((ROOT / "GLOSSARY.md").read_text(encoding="utf-8"))
    assert {"卷积核", "感受野", "全局平均汇聚", "批量规范化"} <= set(terms)
    assert "中文" not in terms  # the header row is no term


# --------------------------------------------------------------------------- the output folder


def test_a_new_or_empty_folder_and_an_earlier_site_may_be_written(tmp_path: Path) -> None:
    assert check_site_output(tmp_path / "new" / "site", NOTEBOOKS) is False
    assert check_site_output(tmp_path, NOTEBOOKS) is False  # empty
    (tmp_path / MARKER).write_text("", encoding="utf-8")
    (tmp_path / "index.html").write_text("", encoding="utf-8")
    assert check_site_output(tmp_path, NOTEBOOKS) is True


def test_a_folder_with_other_files_needs_force(tmp_path: Path) -> None:
    (tmp_path / "thesis.tex").write_text("mine", encoding="utf-8")
    with pytest.raises(SiteError, match="is not empty and holds no earlier site; add --force"):
        check_site_output(tmp_path, NOTEBOOKS)
    assert check_site_output(tmp_path, NOTEBOOKS, force=True) is False  # written into, never emptied


@pytest.mark.parametrize("where", ["notebooks", "root", "inside"])
def test_the_notebooks_folder_or_the_one_holding_it_is_refused_even_with_force(tmp_path: Path, where: str) -> None:
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    out = {"notebooks": notebooks, "root": tmp_path, "inside": notebooks / "site"}[where]
    with pytest.raises(SiteError, match="holds the notebooks or lies inside them"):
        check_site_output(out, notebooks, force=True)


def _fake_sphinx(monkeypatch: pytest.MonkeyPatch, status: int = 0) -> list[list[str]]:
    """Stand in for the source folder and Sphinx: the "site" built is one index.html."""
    calls: list[list[str]] = []

    def run_sphinx(argv: list[str]) -> int:
        calls.append(argv)
        Path(argv[-1]).mkdir(parents=True)
        (Path(argv[-1]) / "index.html").write_text("new site", encoding="utf-8")
        return status

    monkeypatch.setattr(site, "_missing_packages", lambda: [])
    monkeypatch.setattr(site, "_write_source", lambda source, *args: ["index"])
    monkeypatch.setattr(site, "_run_sphinx", run_sphinx)
    return calls


def test_an_earlier_site_is_replaced_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _fake_sphinx(monkeypatch)
    out = tmp_path / "site"
    out.mkdir()
    (out / MARKER).write_text("", encoding="utf-8")
    (out / "a-page-since-removed.html").write_text("stale", encoding="utf-8")
    build = build_site(out, notebooks_dir=NOTEBOOKS, repository=REPO, strict=True)
    assert sorted(p.name for p in out.iterdir()) == [MARKER, "index.html"]
    assert build.pages == ("index",) and build.size_bytes == sum(p.stat().st_size for p in out.iterdir())
    assert "-W" in calls[0]  # strict: Sphinx's warnings are errors


def test_force_writes_into_a_folder_and_deletes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_sphinx(monkeypatch)
    (tmp_path / "index.html").write_text("old", encoding="utf-8")
    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")
    build_site(tmp_path, notebooks_dir=NOTEBOOKS, repository=REPO, force=True)
    assert (tmp_path / "notes.txt").read_text(encoding="utf-8") == "mine"
    assert (tmp_path / "index.html").read_text(encoding="utf-8") == "new site"
    assert (tmp_path / MARKER).is_file()


def test_a_failed_build_leaves_the_folder_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _fake_sphinx(monkeypatch, status=1)
    out = tmp_path / "site"
    out.mkdir()
    (out / MARKER).write_text("", encoding="utf-8")
    (out / "index.html").write_text("earlier site", encoding="utf-8")
    with pytest.raises(SiteBuildFailed, match="nothing was written"):
        build_site(out, notebooks_dir=NOTEBOOKS, repository=REPO, strict=True)
    argv = ["site", "--out", str(out), "--notebooks", str(NOTEBOOKS), "--strict"]
    assert main(argv) == 1
    assert capsys.readouterr().err.startswith("error: Sphinx stopped with warnings (treated as errors)")
    assert (out / "index.html").read_text(encoding="utf-8") == "earlier site"


def test_the_command_says_where_the_site_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _fake_sphinx(monkeypatch)
    assert main(["site", "--out", str(tmp_path / "site"), "--notebooks", str(NOTEBOOKS)]) == 0
    assert f"open {tmp_path / 'site' / 'index.html'}" in capsys.readouterr().out


# --------------------------------------------------------------------------- bad command lines


@pytest.mark.parametrize(
    "args, message",
    [
        (["--out", "{tmp}/a-file"], "输出文件夹 {tmp}/a-file 是一个文件；请另选 --out"),
        (["--out", "{tmp}/a-file/site"], "会位于文件 {tmp}/a-file 之下；请另选 --out"),
        (["--out", "{tmp}/mine"], "--out {tmp}/mine is not empty and holds no earlier site; add --force"),
        (["--out", "{tmp}/site", "--repository", "https://gitlab.com/a/b"], "is not a GitHub repository URL"),
        (["--out", "{tmp}/site", "--notebooks", "{tmp}/nope"], "the notebooks folder {tmp}/nope does not exist"),
        (["--out", "{tmp}/site", "--notebooks", "{tmp}/few"], "the chapter notebooks 01_convolution,"),
        (["--out", "{tmp}/few"], "holds the notebooks or lies inside them"),
        ([], "the following arguments are required: --out"),
    ],
)
def test_bad_values_get_one_line_and_status_2(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a-file").write_text("", encoding="utf-8")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("mine", encoding="utf-8")
    (tmp_path / "few").mkdir()
    (tmp_path / "few" / "03_lenet.ipynb").write_text(json.dumps({"cells": []}), encoding="utf-8")
    argv = ["site", *(a.format(tmp=tmp_path) for a in args)]
    if "--notebooks" not in argv:
        argv += ["--notebooks", str(tmp_path / "few" if "{tmp}/few" in args else NOTEBOOKS)]
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and captured.err.startswith("error: ")
    assert message.format(tmp=tmp_path) in captured.err
    assert not (tmp_path / "site").exists()
    assert [p.name for p in (tmp_path / "mine").iterdir()] == ["notes.txt"]


def test_a_folder_that_cannot_be_written_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = os.access
    # Tests run as root, for whom every folder is writable: the permission is what os.access says.
    monkeypatch.setattr(os, "access", lambda path, mode: Path(path) != locked and real_access(path, mode))
    assert main(["site", "--out", str(locked / "site"), "--notebooks", str(NOTEBOOKS)]) == 2
    assert capsys.readouterr().err == f"error: 无法写入 {locked}（没有权限）；请另选 --out\n"


def test_missing_packages_are_named_with_the_install_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(site, "SITE_PACKAGES", {"sphinx": "sphinx", "no_such_module_for_the_site": "no-such-dist"})
    assert main(["site", "--out", str(tmp_path / "site"), "--notebooks", str(NOTEBOOKS)]) == 2
    err = capsys.readouterr().err
    assert err == 'error: the site needs no-such-dist; install them with: python -m pip install -e ".[site]"\n'
    assert not (tmp_path / "site").exists()


def test_the_site_shows_every_chapter_of_the_registry_in_course_order(tmp_path: Path) -> None:
    """The source folder is laid out from the registry, the launch links sit under each chapter's title."""
    if site._missing_packages():
        pytest.skip(f"the [site] extra is not installed ({', '.join(site._missing_packages())})")
    pages = site._write_source(tmp_path, ROOT, NOTEBOOKS, REPO)
    assert pages == ["index", *(f"notebooks/{chapter.stem}" for chapter in CHAPTERS), "GLOSSARY"]
    index = (tmp_path / "index.md").read_text(encoding="utf-8")
    assert index.index(":caption: 章节") < index.index("notebooks/01_convolution\nnotebooks/02_pooling\n")
    lenet = json.loads((tmp_path / "notebooks" / "03_lenet.ipynb").read_text(encoding="utf-8"))
    assert "".join(lenet["cells"][0]["source"]).startswith("# 第 3 章")
    assert launch_links(REPO, "notebooks/03_lenet.ipynb")["Kaggle"] in lenet["cells"][1]["source"]
    assert "widgets" not in lenet["metadata"]
    assert "nb_execution_mode = 'off'" in (tmp_path / "conf.py").read_text(encoding="utf-8")
    assert (tmp_path / "_static" / "mathjax" / "tex-chtml.js").is_file()
