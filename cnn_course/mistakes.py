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
        raise ValueError(f"matrix must be a tensor from cnn_course.confusion_matrix, got {describe(matrix)}")
    counts = torch.as_tensor(matrix)
    if counts.dim() != 2 or counts.shape[0] != counts.shape[1]:
        raise ValueError(f"matrix must be square (classes x classes), got shape {tuple(counts.shape)}")
    if counts.is_floating_point() and not bool((counts == counts.round()).all()):
        raise ValueError("matrix must hold whole counts of images; got fractions (a normalised matrix?)")
    if bool((counts < 0).any()):
        raise ValueError("matrix must hold counts of images, 0 or more; got a negative entry")
    if isinstance(classes, str) or not isinstance(classes, Sequence) or len(classes) != counts.shape[0]:
        size = len(classes) if isinstance(classes, Sequence) else describe(classes)
        raise ValueError(f"classes must name the {counts.shape[0]} classes of the matrix's rows, e.g. "
                         f"test_iter.classes; got {size}")
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
