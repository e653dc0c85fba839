"""Command line: ``python -m cnn_course run [CHAPTER ...] [--profile ...]``, ``list``, ``answers`` and ``site``.

Each subcommand is one ``_add_<name>(subparsers)`` function that declares its arguments and sets
``handler``, a function ``(args) -> exit status``; listing it in ``SUBCOMMANDS`` adds it.
Exit status: 0 done, 1 a notebook failed, 2 a bad command-line value (one line, no traceback),
130 stopped with Ctrl-C.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from .config import PROFILE_ENV, PROFILES

EPILOG = f"""examples:
  python -m cnn_course list
  python -m cnn_course run                      # every chapter, profile from ${PROFILE_ENV}
  python -m cnn_course run 03 alexnet --profile smoke
  python -m cnn_course run 5 --profile full --out results/gpu --force
  python -m cnn_course answers --check          # teachers: every chapter answered, in results/answers
  python -m cnn_course answers 02 --nbgrader --out course   # nbgrader's source format, course/source/
  python -m cnn_course site --out /tmp/cnn-course-site     # the course website (needs the [site] extra)
"""

#: Exit status for Ctrl-C, as shells report a program stopped by SIGINT.
EXIT_INTERRUPTED = 130


class UsageError(Exception):
    """A bad command-line value; main prints it as one line and exits with status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad value raises :class:`UsageError` instead of printing usage and exiting."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}")


def _positive_seconds(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(
            f"must be a positive whole number of seconds per cell, such as 600; got {text!r}")
    return value


def _error(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def _chapters(folder: str | None) -> dict[str, Path]:
    from .chapters import default_notebooks_dir, find_chapters

    return find_chapters(folder or default_notebooks_dir())


# --------------------------------------------------------------------------- run


def _add_run(sub: argparse._SubParsersAction) -> None:
    run = sub.add_parser(
        "run",
        help="execute chapter notebooks and write a results table",
        description=(
            "Execute chapter notebooks with nbclient. Executed copies go to OUT/<chapter>.<profile>.ipynb "
            "(your notebooks are never modified); the table to OUT/results.<profile>.md and .json. "
            "Ctrl-C stops at once and keeps the table of the chapters that finished."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("chapters", nargs="*", metavar="CHAPTER",
                     help='chapters to run: "03", "3", "lenet" or "03_lenet" (default: all)')
    run.add_argument("--profile", choices=PROFILES, default=None,
                     help=f"how much each chapter trains (default: ${PROFILE_ENV}, else full with CUDA, else quick)")
    run.add_argument("--notebooks", metavar="DIR", default=None,
                     help="folder of the chapter notebooks (default: ./notebooks)")
    run.add_argument("--out", metavar="DIR", default="results",
                     help="folder for executed copies and the table (default: results)")
    run.add_argument("--force", action="store_true", help="replace files left in --out by an earlier run")
    run.add_argument("--timeout", type=_positive_seconds, default=None, metavar="SECONDS",
                     help="time allowed per cell (default: no limit)")
    run.add_argument("--kernel", default=None, metavar="NAME",
                     help="Jupyter kernel (default: the notebook's own, else python3)")
    run.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from .chapters import ChapterError, resolve_chapters
    from .runner import RunInterrupted, RunnerError, run_chapters

    profile = args.profile
    if profile is None:
        from .profiles import get_profile  # imports torch: only when --profile is not given

        try:
            profile = get_profile()
        except ValueError as err:  # a bad value in the environment
            return _error(str(err))
    try:
        chapters = _chapters(args.notebooks)
        stems = resolve_chapters(args.chapters, chapters)
        runs, paths = run_chapters(stems, chapters, profile=profile, out_dir=args.out, force=args.force,
                                   timeout=args.timeout, kernel_name=args.kernel)
    except (ChapterError, RunnerError) as err:
        return _error(str(err))
    except RunInterrupted as stop:
        during = f" during {stop.chapter}" if stop.chapter else ""
        kept = (f"{len(stop.runs)} finished chapter(s) kept in {stop.tables['md']}" if stop.runs
                else "no chapter had finished")
        print(f"interrupted{during}: stopped; {kept}", file=sys.stderr)
        return EXIT_INTERRUPTED
    failed = [r for r in runs if r.status != "ok"]
    print(paths["md"].read_text(encoding="utf-8"))
    print(f"table: {paths['md']}  {paths['json']}")
    if failed:
        print(f"{len(failed)} of {len(runs)} notebook(s) failed: " + ", ".join(r.chapter for r in failed),
              file=sys.stderr)
        return 1
    return 0


# --------------------------------------------------------------------------- list


def _add_list(sub: argparse._SubParsersAction) -> None:
    lst = sub.add_parser("list", help="list the chapter notebooks")
    lst.add_argument("--notebooks", metavar="DIR", default=None, help="folder of the chapter notebooks")
    lst.set_defaults(handler=_list)


def _list(args: argparse.Namespace) -> int:
    from .chapters import CHAPTERS, ChapterError

    try:
        chapters = _chapters(args.notebooks)
    except ChapterError as err:
        return _error(str(err))
    titles = {chapter.stem: chapter.title for chapter in CHAPTERS}
    for stem, path in chapters.items():
        print(f"{stem}  {titles[stem]}  ({path})" if stem in titles else f"{stem}  ({path})")
    return 0


# --------------------------------------------------------------------------- answers


def _add_answers(sub: argparse._SubParsersAction) -> None:
    ans = sub.add_parser(
        "answers",
        help="for teachers: write a copy of every chapter with all exercises answered",
        description=(
            "Write a copy of each chapter notebook into OUT with every exercise answered: each `...` replaced "
            "by the answer, each coding skeleton by the reference code. Your notebooks are never modified."
        ),
    )
    ans.add_argument("chapters", nargs="*", metavar="CHAPTER",
                     help='chapters to answer: "03", "3", "lenet" or "03_lenet" (default: all)')
    ans.add_argument("--notebooks", metavar="DIR", default=None,
                     help="folder of the chapter notebooks (default: ./notebooks)")
    ans.add_argument("--out", metavar="DIR", default=None,
                     help="folder for the answered copies (default: results/answers, or results/nbgrader with "
                          "--nbgrader)")
    ans.add_argument("--force", action="store_true", help="replace copies left in --out by an earlier run")
    ans.add_argument("--check", action="store_true",
                     help="also run every exercise cell of the copies and fail when a check does not pass")
    ans.add_argument("--nbgrader", action="store_true",
                     help="write nbgrader's source format instead: an nbgrader course folder OUT with "
                          "OUT/source/<chapter>/<chapter>.ipynb, one assignment per chapter (solution regions, "
                          "autograder tests that call cnn_course.check, points) and OUT/nbgrader_config.py; "
                          "then run `nbgrader generate_assignment <chapter>` in OUT")
    ans.set_defaults(handler=_answers)


def _answers(args: argparse.Namespace) -> int:
    # Both import torch: only for this command.
    if args.nbgrader:
        from .nbgrader_edition import run_command
    else:
        from .answers import run_command

    return run_command(args)


# --------------------------------------------------------------------------- site


def _add_site(sub: argparse._SubParsersAction) -> None:
    site = sub.add_parser(
        "site",
        help="build the course's static website from the committed notebooks (needs the [site] extra)",
        description=(
            "Build the course's website with Sphinx and MyST-NB: the README as the home page, every chapter in "
            "course order, the glossary. The notebooks are shown with their committed outputs, never executed; "
            "every page opens offline (MathJax, scripts and styles are served from the site). "
            'Install what it needs with: python -m pip install -e ".[site]"'
        ),
    )
    site.add_argument("--out", metavar="DIR", required=True,
                      help="folder for the site; an earlier site there is replaced, other files need --force")
    site.add_argument("--notebooks", metavar="DIR", default=None,
                      help="folder of the chapter notebooks, with README.md and GLOSSARY.md beside it "
                           "(default: ./notebooks)")
    site.add_argument("--repository", metavar="URL", default=None,
                      help="GitHub repository that the Colab and Kaggle links open notebooks from "
                           "(default: cnn_course.config.REPOSITORY)")
    site.add_argument("--force", action="store_true",
                      help="write into a folder that holds other files (same names replaced, nothing deleted)")
    site.add_argument("--strict", action="store_true", help="treat Sphinx's warnings as errors, as CI does")
    site.set_defaults(handler=_site)


def _site(args: argparse.Namespace) -> int:
    from .site import run_command

    return run_command(args)


# --------------------------------------------------------------------------- main

#: One function per subcommand; each adds its parser and sets ``handler``.
SUBCOMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [_add_run, _add_list, _add_answers, _add_site]


def build_parser() -> argparse.ArgumentParser:
    """Return the command-line parser with every subcommand of :data:`SUBCOMMANDS`."""
    parser = _Parser(
        prog="python -m cnn_course",
        description="Run the course's chapter notebooks without a browser and tabulate their results.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in SUBCOMMANDS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status (0 ok, 1 a notebook failed, 2 bad arguments, 130 Ctrl-C)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return 2
        return args.handler(args)
    except UsageError as err:
        return _error(str(err))
    except KeyboardInterrupt:
        print("interrupted: stopped", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
