"""Every number with a unit in a chapter's prose is printed by that chapter, or is a fact with a named source.

A chapter that says "96.00 %", "627 秒" or "2.3 倍" in its Markdown must show that number in one of its
own committed outputs (stream or ``text/*`` output, thousands separators and spacing ignored; a number
the prose rounds, such as "约 78 %" for a printed "77.96 %", counts), or list it in :data:`FACTS` with
where it comes from: the source course's reported results, a paper's published figure, arithmetic the
prose itself shows, or a saved benchmark result (a path under ``benchmarks/results/``, which must hold
the number). Numbers in code cells, inline code, code blocks and LaTeX are out of scope.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

from cnn_course.chapters import CHAPTERS

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
TIMES, EN_DASH = "\u00d7", "\u2013"  # as the prose writes them: "2.3\u00d7", "90.7\u201395.0 %"

#: Written unit -> the quantity it measures. The pattern tries longer spellings first ("img/s" before "s");
#: a bare "s" needs a space before it ("1990s" is not a time), and "x" or the multiplication sign
#: followed by a number is a size ("28x28", "N x 64 x 112"), not a ratio.
UNITS = {
    "percentage points": "points", "个百分点": "points", "百分点": "points", "points": "points", "%": "percent",
    "img/s": "img/s", "images/s": "img/s", "张/秒": "img/s",
    "seconds": "seconds", "second": "seconds", "秒": "seconds", "s": "seconds",
    "minutes": "minutes", "分钟": "minutes", "min": "minutes",
    "hours": "hours", "小时": "hours",
    "倍": "times", TIMES: "times", "x": "times",
}
_NUMBER = r"\d+(?:,\d{3})*(?:\.\d+)?"
_UNIT = "|".join(
    {"s": r"(?<=\s)s(?![\w/])", "x": r"x(?![\w/])(?!\s*\d)", TIMES: TIMES + r"(?!\s*\d)", "min": r"min(?!\w)"}.get(
        unit, re.escape(unit)
    )
    for unit in sorted(UNITS, key=len, reverse=True)
)
# A number (or a range "90.7-95.0", "4 到 7") and its unit; not the tail of a word or of another number.
CLAIM = re.compile(
    rf"(?<![\d.,A-Za-z_])(?P<low>{_NUMBER})(?:\s*(?:[-~\u2013\u2014]|到|至)\s*(?P<high>{_NUMBER}))?\s*(?P<unit>{_UNIT})"
)
# Prose that is not a claim: fenced code, inline code, display and inline LaTeX.
NOT_PROSE = re.compile(r"```.*?```|`[^`\n]*`|\$\$.*?\$\$|\$[^$\n]*\$", re.DOTALL)


@dataclass(frozen=True)
class Quantity:
    value: Decimal
    kind: str
    text: str
    places: int  # digits after the decimal point, as written

    def shown_by(self, printed: Quantity) -> bool:
        """True when ``printed`` is this number, or rounds to it at the precision the prose writes."""
        if printed.kind != self.kind:
            return False
        if printed.value == self.value:
            return True
        step = Decimal(1).scaleb(-self.places)
        return printed.value.quantize(step, rounding=ROUND_HALF_UP) == self.value


def quantities(text: str) -> list[Quantity]:
    """Every number with a unit in ``text``; a range gives both ends."""
    found = []
    for match in CLAIM.finditer(text):
        kind = UNITS[match["unit"]]
        for part in (match["low"], match["high"]):
            if part is not None:
                places = len(part.partition(".")[2])
                found.append(Quantity(Decimal(part.replace(",", "")), kind, f"{part} {match['unit']}", places))
    return found


def prose(cells: list[dict]) -> str:
    return "\n".join(NOT_PROSE.sub(" ", "".join(c["source"])) for c in cells if c["cell_type"] == "markdown")


def outputs(cells: list[dict]) -> str:
    texts = []
    for cell in cells:
        for output in cell.get("outputs", []):
            texts.append("".join(output.get("text", "")))
            for mime, data in output.get("data", {}).items():
                if mime.startswith("text/") and mime != "text/html":
                    texts.append("".join(data))
    return "\n".join(texts)


#: Numbers a chapter's prose states that no output prints, each with its source: the registry's
#: ``Chapter.facts`` (cnn_course/chapters.py), keyed here by notebook file name.
FACTS: dict[str, dict[str, str]] = {f"{c.stem}.ipynb": dict(c.facts) for c in CHAPTERS if c.facts}


def _facts(notebook: str) -> list[tuple[str, Quantity, str]]:
    return [(claim, q, source) for claim, source in FACTS.get(notebook, {}).items() for q in quantities(claim)]


def unbacked(notebook: Path) -> list[str]:
    """The claims in ``notebook``'s prose that neither an output nor :data:`FACTS` backs."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    printed = quantities(outputs(cells))
    facts = _facts(notebook.name)
    missing = []
    for claim in quantities(prose(cells)):
        if any(claim.shown_by(p) for p in printed):
            continue
        if any(claim.shown_by(fact) for _, fact, _ in facts):
            continue
        missing.append(claim.text)
    return list(dict.fromkeys(missing))


def test_every_number_with_a_unit_is_printed_or_sourced() -> None:
    problems = {nb.name: found for nb in NOTEBOOKS if (found := unbacked(nb))}
    report = "\n".join(f"  {name}: {', '.join(found)}" for name, found in problems.items())
    assert not problems, (
        "Numbers with a unit in the prose that no output of the same notebook prints; make the prose say "
        "what the outputs show, or add the number to the chapter's facts in cnn_course/chapters.py with its "
        "source:\n" + report
    )


def test_every_fact_is_still_stated_and_its_file_holds_it() -> None:
    stale, not_in_file = [], []
    for name in FACTS:
        notebook = ROOT / "notebooks" / name
        assert notebook.exists(), f"FACTS names {name}, which is not a notebook"
        stated = quantities(prose(json.loads(notebook.read_text(encoding="utf-8"))["cells"]))
        for claim, fact, source in _facts(name):
            if not any(said.shown_by(fact) for said in stated):
                stale.append(f"{name}: {claim}")
            path = ROOT / source.split()[0]
            if source.startswith("benchmarks/results/") and not any(
                fact.shown_by(q) for q in quantities(path.read_text(encoding="utf-8"))
            ):
                not_in_file.append(f"{name}: {claim} (not in {path.name})")
    assert not stale, f"FACTS lists claims the prose no longer makes; remove them: {stale}"
    assert not not_in_file, f"FACTS cites benchmark files that do not hold the number: {not_in_file}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("测试准确率是 **96.00 %**", [("96.00", "percent")]),
        (f"在 90.7{EN_DASH}95.0 % 之间", [("90.7", "percent"), ("95.0", "percent")]),
        ("4 到 7 秒,约 627 秒", [("4", "seconds"), ("7", "seconds"), ("627", "seconds")]),
        (f"快 2.3 倍,即 2.3x,或 1.5{TIMES}", [("2.3", "times"), ("2.3", "times"), ("1.5", "times")]),
        ("15,000 img/s 与 1,273 张/秒", [("15000", "img/s"), ("1273", "img/s")]),
        ("130.6 s of training, 3 min, 2 分钟", [("130.6", "seconds"), ("3", "minutes"), ("2", "minutes")]),
        ("高出约 1.7 个百分点", [("1.7", "points")]),
    ],
)
def test_claims_are_read_as_written(text: str, expected: list[tuple[str, str]]) -> None:
    assert [(str(q.value), q.kind) for q in quantities(text)] == expected


@pytest.mark.parametrize(
    "text",
    [f"28{TIMES}28 的图", "3x3 卷积", "N x 64 x 112 x 112", "1990s", "top-5 错误", "steps 40", "a 5 x 5 kernel"],
)
def test_dimensions_and_words_are_not_claims(text: str) -> None:
    assert quantities(text) == []


def test_prose_skips_code_and_latex() -> None:
    cells = [{"cell_type": "markdown", "source": ["`lr=0.1`, $2x/3$, $$50 \\%$$ and 12 %\n"]},
             {"cell_type": "code", "source": ["# 99 %"], "outputs": []}]
    assert [q.text for q in quantities(prose(cells))] == ["12 %"]


def test_rounded_prose_is_backed_and_other_numbers_are_not() -> None:
    printed = quantities("C5 holds 77.96 % of the parameters; 130.6 s of training")
    assert any(quantities("约 78 %")[0].shown_by(p) for p in printed)
    assert any(quantities("131 秒")[0].shown_by(p) for p in printed)
    assert not any(quantities("79 %")[0].shown_by(p) for p in printed)
    assert not any(quantities("78 秒")[0].shown_by(p) for p in printed)  # right number, wrong unit
    assert not any(quantities("77.9 %")[0].shown_by(p) for p in printed)  # 77.96 rounds to 78.0


def test_an_unbacked_number_is_reported(tmp_path: Path) -> None:
    notebook = tmp_path / "99_demo.ipynb"
    cells = [
        {"cell_type": "markdown", "source": [f"种子 0 到 4 的准确率在 90.7{EN_DASH}95.0 % 之间,本次是 96.00 %。"]},
        {"cell_type": "code", "source": ["train()"], "outputs": [
            {"output_type": "stream", "name": "stdout", "text": ["test acc 96.00 %\n"]}]},
    ]
    notebook.write_text(json.dumps({"cells": cells}), encoding="utf-8")
    assert unbacked(notebook) == ["90.7 %", "95.0 %"]
