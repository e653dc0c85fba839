"""Notebook outputs that update in place: the one mechanism behind the explorers, the pad and the live plots."""

from __future__ import annotations

import io
from typing import Any

from matplotlib.figure import Figure

__all__ = ["LiveOutput", "png"]


def png(picture: Figure | bytes, dpi: float = 90) -> Any:
    """An ``IPython.display.Image`` of a matplotlib figure (saved at ``dpi``, cropped tight) or of PNG bytes."""
    from IPython.display import Image

    if isinstance(picture, Figure):
        buffer = io.BytesIO()
        picture.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
        picture = buffer.getvalue()
    return Image(data=picture, format="png")


class LiveOutput:
    """One notebook output, shown once and then replaced in place (a ``display_id`` handle).

    Outside a notebook, :meth:`show` prints the object's plain text as ``display`` does, and
    :meth:`update` does nothing: there is no output to replace.
    """

    def __init__(self) -> None:
        self.handle: Any = None  # set by show(); tests put a fake here

    @property
    def active(self) -> bool:
        """True once shown in a notebook (outside one, ``display`` returns no handle)."""
        return self.handle is not None

    def show(self, obj: Any, raw: bool = False) -> None:
        """Display ``obj`` (with ``raw=True``, a MIME bundle such as ``{"text/plain": ...}``) as a new output."""
        from IPython.display import display

        self.handle = display(obj, raw=raw, display_id=True)

    def update(self, obj: Any, raw: bool = False) -> None:
        """Replace the shown output by ``obj``."""
        if self.handle is not None:
            self.handle.update(obj, raw=raw)

    def clear(self) -> None:
        """Empty the output, so that a saved notebook keeps nothing stale."""
        self.update({"text/plain": ""}, raw=True)
