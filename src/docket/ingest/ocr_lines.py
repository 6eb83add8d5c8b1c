"""A line of text OCR found on a picture, with its box and its words' edges: what the engines
return, what reading order sorts and what a table's rows are cut from."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["OcrLine"]


@dataclass(frozen=True)
class OcrLine:
    """One line of text found on a picture: its box in pixels (left, top, right, bottom), as read
    (on a page turned upright to be read, in the upright picture); ``page_box`` is the box on the
    picture as given, where that differs."""

    text: str
    box: tuple[float, float, float, float]
    confidence: float
    page_box: tuple[float, float, float, float] | None = None
    words: tuple[tuple[str, float, float], ...] = ()  # each word and its left and right edge, in order
    cells: tuple[str, ...] = ()  # a table's row: its cells (``text`` is them joined by " | ")

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]

    @property
    def on_page(self) -> tuple[float, float, float, float]:
        """The box on the picture as it was given."""
        return self.page_box or self.box
