"""The most common mistakes of a classifier, read off its confusion matrix (chapters 3, 5 and 6)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ._checks import check_int, describe

__all__ = ["most_common_mistakes"]


def most_common_mistakes(
    matrix: torch.Tensor | np.ndarray, classes: Sequence[str], k: int = 3, count_width: int = 3
) -> str:
    """Describe the ``k`` largest cells off the diagonal of a confusion matrix, one line each.

    Args:
        matrix: square matrix of counts from :func:`cnn_course.confusion_matrix`; row ``i``, column ``j``
            counts images of true class ``i`` predicted as ``j``.
        classes: class names, one per row (e.g. ``test_iter.classes``).
        k: how many mistakes to list at most; cells with no image are left out.
        count_width: characters the count is right-aligned in.

    Returns:
        A first line with how many images are misclassified, then ``"  <count> x true <class>, predicted
        <class>"`` per mistake, largest first.

    Raises:
        ValueError: for a matrix that is not square, holds negative or fractional counts, or does not
            match ``classes``; or a ``k`` or ``count_width`` below 1.
    """
    check_int(k, "k", low=1)
    check_int(count_width, "count_width", low=1)
    if not isinstance(matrix, (torch.Tensor, np.ndarray)):
        raise ValueError(f"matrix 必须是 cnn_course.confusion_matrix 给出的张量，传入的是 {describe(matrix)}")
    counts = torch.as_tensor(matrix)
    if counts.dim() != 2 or counts.shape[0] != counts.shape[1]:
        raise ValueError(f"matrix 必须是方阵（类别数 x 类别数），传入的形状是 {tuple(counts.shape)}")
    if counts.is_floating_point() and not bool((counts == counts.round()).all()):
        raise ValueError("matrix 里必须是图像的整数个数；传入的却有小数（是不是换算成比例的矩阵？）")
    if bool((counts < 0).any()):
        raise ValueError("matrix 里必须是图像的个数，不能为负；传入的却有负数")
    if isinstance(classes, str) or not isinstance(classes, Sequence) or len(classes) != counts.shape[0]:
        shown = f"{len(classes)} 个" if isinstance(classes, Sequence) and not isinstance(classes, str) \
            else describe(classes)
        raise ValueError(f"classes 必须给出矩阵各行对应的 {counts.shape[0]} 个类别名，例如 "
                         f"test_iter.classes；传入的是 {shown}")
    mistakes = counts.clone()
    mistakes.fill_diagonal_(0)  # keep only the wrong predictions
    wrong, total = int(mistakes.sum()), int(counts.sum())
    if wrong == 0:
        return f"0 of {total:,} test images are misclassified."
    lines = [f"{wrong:,} of {total:,} test images are misclassified; the most common mistakes:"]
    top, positions = mistakes.flatten().topk(min(k, mistakes.numel()))
    for count, position in zip(top.tolist(), positions.tolist(), strict=True):
        if count == 0:
            break
        true, predicted = divmod(position, len(classes))
        lines.append(f"  {int(count):{count_width}d} x true {classes[true]}, predicted {classes[predicted]}")
    return "\n".join(lines)
