"""The mistakes summary that chapters 3, 5 and 6 print under their confusion matrix."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from cnn_course.mistakes import most_common_mistakes

DIGITS = [str(d) for d in range(10)]


def notebook_cell(matrix: torch.Tensor, classes: list[str], width: int) -> str:
    """What the chapters' own cell printed before it became one package function (chapter 5 used width 4)."""
    lines = []
    mistakes = matrix.clone()
    mistakes.fill_diagonal_(0)
    lines.append(f"{int(mistakes.sum()):,} of {int(matrix.sum()):,} test images are misclassified; "
                 "the most common mistakes:")
    counts, positions = mistakes.flatten().topk(3)
    for count, position in zip(counts.tolist(), positions.tolist(), strict=True):
        true, predicted = divmod(position, len(classes))
        lines.append(f"  {count:{width}d} x true {classes[true]}, predicted {classes[predicted]}")
    return "\n".join(lines)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("width", [3, 4])
def test_prints_what_the_chapters_printed(seed: int, width: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    matrix = torch.randint(0, 40, (10, 10), generator=generator) + torch.diag(torch.full((10,), 900))
    assert most_common_mistakes(matrix, DIGITS, count_width=width) == notebook_cell(matrix, DIGITS, width)


def test_counts_are_right_aligned_under_the_summary_line() -> None:
    matrix = torch.diag(torch.full((10,), 90))
    matrix[9, 4], matrix[7, 2], matrix[6, 5], matrix[0, 0] = 22, 5, 4, 90 + 1000 - 900 - 31
    assert most_common_mistakes(matrix, DIGITS) == (
        "31 of 1,000 test images are misclassified; the most common mistakes:\n"
        "   22 x true 9, predicted 4\n"
        "    5 x true 7, predicted 2\n"
        "    4 x true 6, predicted 5"
    )


def test_leaves_out_cells_without_mistakes_and_accepts_numpy() -> None:
    matrix = np.diag([5, 5, 5])
    matrix[0, 1] = 2
    assert most_common_mistakes(matrix, ["a", "b", "c"], k=5).splitlines()[1:] == ["    2 x true a, predicted b"]
    assert most_common_mistakes(np.diag([5, 5, 5]), ["a", "b", "c"]) == "0 of 15 test images are misclassified."


@pytest.mark.parametrize(
    ("matrix", "classes", "kwargs", "message"),
    [
        (torch.ones(3, 4), ["a", "b", "c"], {}, r"matrix 必须是方阵（类别数 x 类别数），传入的形状是 \(3, 4\)"),
        (torch.ones(3), ["a", "b", "c"], {}, r"matrix 必须是方阵（类别数 x 类别数），传入的形状是 \(3,\)"),
        (torch.full((2, 2), 0.5), ["a", "b"], {}, "图像的整数个数；传入的却有小数"),
        (-torch.ones(2, 2, dtype=torch.long), ["a", "b"], {}, "不能为负；传入的却有负数"),
        (torch.ones(2, 2, dtype=torch.long), ["a", "b", "c"], {}, "对应的 2 个类别名，例如 test_iter.classes；传入的是 3 个"),
        (torch.ones(2, 2, dtype=torch.long), "ab", {}, "对应的 2 个类别名，例如 test_iter.classes；传入的是 'ab'"),
        ([[1, 0], [0, 1]], ["a", "b"], {}, "cnn_course.confusion_matrix"),
        (torch.ones(2, 2, dtype=torch.long), ["a", "b"], {"k": 0}, "k 必须是至少为 1 的整数，传入的是 0"),
        (torch.ones(2, 2, dtype=torch.long), ["a", "b"], {"count_width": 2.5}, "count_width 必须是至少为 1 的整数，传入的是 2.5（不是整数）"),
    ],
)
def test_bad_input_is_named(matrix: Any, classes: Any, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        most_common_mistakes(matrix, classes, **kwargs)
