"""Command line: ``python -m cnn_course run [CHAPTER ...] [--profile ...]`` and ``python -m cnn_course list``."""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from .profiles import PROFILES

EPILOG = """examples:
  python -m cnn_course list
  python -m cnn_course run                      # every chapter, profile from $CNN_COURSE_PROFILE
  python -m cnn_course run 03 alexnet --profile smoke
  python -m cnn_course run 5 --profile full --out results/gpu --force
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m cnn_course",
        description="Run the course's chapter notebooks without a browser and tabulate their results.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    run = sub.add_parser(
        "run",
        help="execute chapter notebooks and write a results table",
        description=(
            "Execute chapter notebooks with nbclient. Executed copies go to OUT/<chapter>.<profile>.ipynb "
            "(your notebooks are never modified); the table to OUT/results.<profile>.md and .json."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("chapters", nargs="*", metavar="CHAPTER",
                     help='chapters to run: "03", "3", "lenet" or "03_lenet" (default: all)')
    run.add_argument("--profile", choices=PROFILES, default=None,
                     help="how much each chapter trains (default: $CNN_COURSE_PROFILE, else full with CUDA, else quick)")
    run.add_argument("--notebooks", metavar="DIR", default=None,
                     help="folder of the chapter notebooks (default: ./notebooks)")
    run.add_argument("--out", metavar="DIR", default="results",
                     help="folder for executed copies and the table (default: results)")
    run.add_argument("--force", action="store_true", help="replace files left in --out by an earlier run")
    run.add_argument("--timeout", type=int, default=None, metavar="SECONDS",
                     help="time allowed per cell (default: no limit)")
    run.add_argument("--kernel", default=None, metavar="NAME",
                     help="Jupyter kernel (default: the notebook's own, else python3)")
    lst = sub.add_parser("list", help="list the chapter notebooks")
    lst.add_argument("--notebooks", metavar="DIR", default=None, help="folder of the chapter notebooks")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status (0 ok, 1 a notebook failed, 2 bad arguments)."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    from .runner import ChapterError, default_notebooks_dir, find_chapters, resolve_chapters

    folder = args.notebooks or default_notebooks_dir()
    try:
        chapters = find_chapters(folder)
        if args.command == "list":
            for stem, path in chapters.items():
                print(f"{stem}  ({path})")
            return 0
        stems = resolve_chapters(args.chapters, chapters)
    except ChapterError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return _run(args, stems, chapters)


def _run(args: argparse.Namespace, stems: list[str], chapters: dict) -> int:
    from .profiles import get_profile
    from .runner import run_chapters

    try:
        profile = args.profile or get_profile()
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.timeout is not None and args.timeout <= 0:
        print(f"error: --timeout must be a positive number of seconds, got {args.timeout}", file=sys.stderr)
        return 2
    try:
        runs, paths = run_chapters(stems, chapters, profile=profile, out_dir=args.out, force=args.force,
                                   timeout=args.timeout, kernel_name=args.kernel)
    except FileExistsError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; the table holds the chapters that finished", file=sys.stderr)
        return 130
    failed = [r for r in runs if r.status != "ok"]
    print(paths["md"].read_text(encoding="utf-8"))
    print(f"table: {paths['md']}  {paths['json']}")
    if failed:
        print(f"{len(failed)} of {len(runs)} notebook(s) failed: " + ", ".join(r.chapter for r in failed),
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
