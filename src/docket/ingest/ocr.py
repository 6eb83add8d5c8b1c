"""Reading text from pictures of pages: the OCR engines, and their lines put in reading order.

The default engine is Tesseract 5 (Apache-2.0), the ``tesseract`` program of the system's packages
(``apt install tesseract-ocr``, ``brew install tesseract``) with its English model; it is run as a
program, one page at a time, and its TSV output gives each word's box and confidence. It was
chosen over RapidOCR (PP-OCRv4 models in ONNX) on rendered, noised pages of real PDFs on 2 cores:
it is more accurate on English text (RapidOCR's recogniser drops many spaces between words) and
faster; the figures and the command are in docs/ingestion.md and bench/RESULTS.md
(``python bench/ocr.py``). RapidOCR stays registered as ``rapidocr`` (``pip install
'docket[ocr]'``; its wheel ships its models) for Chinese text. Nothing downloads anything.

Without the engine, :func:`ocr_engine` raises :class:`~docket.errors.MissingExtraError` naming what
to install; the parsers turn that into a warning (a PDF page) or a one-line refusal (an image file).

Engines are registered by short name in :data:`OCR_ENGINES` (entry-point group
``docket.ocr_engines``), as parsers are. An engine returns :class:`OcrLine` s — text, box, confidence
— in any order; :func:`reading_order` sorts them for reading with a recursive XY cut: the page is
cut along the widest empty band, across (between paragraphs) or down (between columns), until no
band is left, so the left column is read before the right one and a title above both comes first;
the columns of a table (short cells side by side on the same rows) are read row by row instead.
"""

from __future__ import annotations

import contextlib
import csv
import ctypes
import functools
import importlib.util
import io
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from docket.errors import MissingExtraError, UnknownBackendError
from docket.ingest.limits import current_limits
from docket.ingest.ocr_lines import OcrLine
from docket.ingest.ocr_tables import find_tables, table_rows
from docket.registry import Registry

__all__ = [
    "DEFAULT_OCR_ENGINE",
    "OCR_ENGINES",
    "OcrEngine",
    "OcrError",
    "OcrLine",
    "OcrPage",
    "ocr_available",
    "ocr_engine",
    "read_image",
    "reading_order",
]

DEFAULT_OCR_ENGINE = "tesseract"
AUTO = "auto"  # ingest.ocr_languages: English, and another installed language where a page is in it
# Pictures larger than this (pixels on the long side) are scaled down before detection: the size
# RapidOCR itself works at, so a 600 dpi scan costs no more than a 200 dpi one.
_MAX_SIDE = 2000


@dataclass(frozen=True)
class OcrPage:
    """What OCR read on one picture: the lines in reading order and the picture's size."""

    lines: tuple[OcrLine, ...]
    width: int
    height: int
    engine: str

    @property
    def text(self) -> str:
        """Lines of one row joined by two spaces, rows by a newline, blocks by a blank line."""
        return "\n".join(line.text for line in self.lines)

    @property
    def confidence(self) -> float | None:
        """The engine's confidence, averaged over characters (None when nothing was read)."""
        read = [line for line in self.lines if line.text]
        if not read:
            return None
        return round(sum(len(line.text) * line.confidence for line in read) / sum(len(line.text) for line in read), 3)


class OcrEngine(Protocol):
    name: str

    @staticmethod
    def installed() -> bool:
        """Whether the engine can be made here, told cheaply (no models loaded)."""
        ...

    def read(self, image: Any) -> list[OcrLine]:
        """The lines of text on ``image`` (a Pillow image), in any order."""
        ...


OCR_ENGINES: Registry[OcrEngine] = Registry("OCR engine", "docket.ocr_engines")


_TESSERACT_INSTALL = "apt install tesseract-ocr (Debian, Ubuntu), brew install tesseract (macOS)"


def _die_with_parent() -> None:
    """In the engine's process: be killed when the parse worker that started it dies (Linux), so a
    worker killed for its time limit leaves nothing running."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


@OCR_ENGINES.register("tesseract")
class Tesseract:
    """The ``tesseract`` program: single-threaded (parse workers are processes: the cores are shared
    out between files), automatic page segmentation, Sauvola's adaptive thresholding (the default
    global threshold loses light grey text: a third of the words of an AWS invoice), words grouped
    into its lines. One page may take ``ingest.ocr_page_timeout`` seconds."""

    name = "tesseract"

    @staticmethod
    def installed() -> bool:
        return shutil.which("tesseract") is not None

    def __init__(self, languages: str = AUTO) -> None:
        program = shutil.which("tesseract")
        if program is None:
            raise MissingExtraError("tesseract", "ocr", "Reading scanned pages and images (OCR)", _TESSERACT_INSTALL)
        self.program, self.languages = program, languages

    def read(self, image: Any) -> list[OcrLine]:
        """Read the page; a page that looks turned (most words taller than wide) or reads badly is
        checked for orientation (Tesseract's OSD) and read again turned upright, where it reads
        better. With ``languages="auto"`` the page is read in English first and, where its words are
        mostly another installed language's (:func:`guess_language`), read again in that language
        too; the reading with the higher confidence is kept."""
        image = image.convert("L")
        lines = self._read_upright(image, self._first_languages())
        if self.languages != AUTO:
            return lines
        other = guess_language(" ".join(line.text for line in lines), installed_languages(self.program))
        if other is None:
            return lines
        again = self._read_upright(image, f"{other}+eng")
        return again if _mean_confidence(again) >= _mean_confidence(lines) else lines

    def _first_languages(self) -> str:
        return "eng" if self.languages == AUTO else self.languages

    def _read_upright(self, image: Any, languages: str) -> list[OcrLine]:
        lines, turned = _tsv_lines(self._run(image, *_READ_ARGS, languages=languages, dpi=_dpi(image)))
        if not turned and _mean_confidence(lines) >= TURN_CHECK_BELOW:
            return lines
        angle = _rotation(self._run(image, "--psm", "0", languages="osd"))
        if not angle:
            return lines
        upright = image.rotate(-angle, expand=True, fillcolor=255)  # Pillow turns counter-clockwise
        again, _ = _tsv_lines(self._run(upright, *_READ_ARGS, languages=languages, dpi=_dpi(image)))
        # lines of a turned page run down the page: the upright reading wins unless it reads nothing
        better = bool(again) if turned else _mean_confidence(again) > _mean_confidence(lines)
        if not better:
            return lines
        width, height = image.size
        return [replace(line, page_box=_turned_back(line.box, angle, width, height)) for line in again]

    def _run(self, image: Any, *args: str, languages: str, dpi: int | None = None) -> str:
        # PGM, not PNG: encoding a noisy 300-dpi page as PNG takes longer than reading it
        buffer = io.BytesIO()
        image.save(buffer, format="PPM")
        env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
        timeout = current_limits().ocr_page_seconds
        resolution = ("--dpi", str(dpi)) if dpi else ()
        try:
            done = subprocess.run(
                [self.program, "stdin", "stdout", "-l", languages, *resolution, *args],
                input=buffer.getvalue(),
                capture_output=True,
                timeout=timeout,
                env=env,
                # in a parse worker (one thread); a preexec_fn is unsafe in a threaded process
                # (ingest.sandbox = false in the server), where the engine is left to its timeout
                preexec_fn=_die_with_parent if threading.active_count() == 1 else None,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise OcrError(f"tesseract took longer than {timeout:g} s on one page (ingest.ocr_page_timeout)") from exc
        if done.returncode != 0:
            if languages == "osd":
                return ""  # orientation could not be told (too little text): read it as it is
            why = done.stderr.decode("utf-8", "replace").strip().splitlines()
            raise OcrError(f"tesseract failed ({why[-1][:160] if why else f'exit {done.returncode}'})")
        return done.stdout.decode("utf-8", "replace")


# automatic page segmentation; Sauvola's adaptive threshold; no second reading of each line inverted
# (white on black), which costs time on every line that reads with low confidence and is rare in scans
_READ_ARGS = ("--psm", "3", "-c", "thresholding_method=2", "-c", "tessedit_do_invert=0", "tsv")


def _dpi(image: Any) -> int | None:
    """The picture's resolution where it says (a rendered PDF page, most scans), for Tesseract,
    which otherwise guesses it from the height of the text."""
    dpi = image.info.get("dpi")
    try:
        value = round(float(dpi[0] if isinstance(dpi, tuple) else dpi))
    except (TypeError, ValueError, IndexError):
        return None
    return value if 70 <= value <= 1200 else None


# Short words frequent in each language and rare in English (in English, only "die" and "an" are
# common words; "de", "la", "en" belong to several of these languages, so they count for each)
_STOPWORDS = {
    "deu": "der die das und nicht mit von ist den dem des auf sich ein eine einer wir zu im bei oder auch sie "
    "zur zum wird werden wie nach ihre ihr sind uns aus",
    "fra": "le la les des et du est une pour par sur dans au aux vous nous pas que qui ce cette sont avec votre ne en",
    "nld": "de het een van en op voor met niet aan te zijn wordt uw bij ook naar dit deze worden wij onze u",
    "spa": "el la los las de y en por para con una que del es se al su sus como este esta",
    "ita": "il la le di che e per con una del della sono non gli dei nel alla questo",
    "por": "o a os as de e em para com uma que do da dos das no na por se",
}
# ("in", "is", "we" are Dutch or German words too, so they do not count for English)
_ENGLISH = set("the and of to for with on that by this be are it as at from or you your our not".split())
_ADDRESS = re.compile(r"\S*(?:@|://|\w\.\w)\S*")  # e-mail and web addresses: "de" of "shop.de" is no word
_LETTERS = re.compile(r"[^\W\d_]+")


def guess_language(text: str, installed: frozenset[str]) -> str | None:
    """The installed language other than English that ``text`` (read in English) is mostly in: the
    one whose frequent short words occur most, at least 3 times and more often than English's; None
    when the page reads as English or too little of it is known."""
    words = [w.lower() for w in _LETTERS.findall(_ADDRESS.sub(" ", text))]
    english = sum(1 for w in words if w in _ENGLISH)
    best, hits = None, 0
    for code, stop in _STOPWORDS.items():
        if code not in installed:
            continue
        found = sum(1 for w in words if w in set(stop.split()))
        if found > hits:
            best, hits = code, found
    return best if best is not None and hits >= 3 and hits > english else None


@functools.cache
def installed_languages(program: str) -> frozenset[str]:
    """The language models Tesseract has (``tesseract --list-langs``), asked once per process."""
    try:
        done = subprocess.run([program, "--list-langs"], capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return frozenset()
    lines = done.stdout.decode("utf-8", "replace").splitlines()
    return frozenset(line.strip() for line in lines[1:] if line.strip() and line.strip() != "osd")


TURN_CHECK_BELOW = 0.6  # a page read with less confidence is checked for orientation
_ROTATE = re.compile(r"^Rotate:\s*(\d+)", re.M)
_ORIENTATION_CONFIDENCE = re.compile(r"^Orientation confidence:\s*([\d.]+)", re.M)


def _rotation(osd: str) -> int:
    """Degrees clockwise that turn the page upright (Tesseract's OSD "Rotate"), where it is sure (0 if not)."""
    rotate, sure = _ROTATE.search(osd), _ORIENTATION_CONFIDENCE.search(osd)
    if rotate is None or sure is None or float(sure.group(1)) < 2.0:
        return 0
    return int(rotate.group(1)) % 360


def _turned_back(
    box: tuple[float, float, float, float], angle: int, width: float, height: float
) -> tuple[float, float, float, float]:
    """A box on the picture turned ``angle`` degrees clockwise, on the ``width`` x ``height`` picture
    as it was given."""
    x0, y0, x1, y1 = box
    if angle == 90:
        xs, ys = (y0, y1), (height - x1, height - x0)
    elif angle == 180:
        xs, ys = (width - x1, width - x0), (height - y1, height - y0)
    elif angle == 270:
        xs, ys = (width - y1, width - y0), (x0, x1)
    else:
        return box
    return min(xs), min(ys), max(xs), max(ys)


def _mean_confidence(lines: list[OcrLine]) -> float:
    chars = sum(len(line.text) for line in lines)
    return sum(len(line.text) * line.confidence for line in lines) / chars if chars else 0.0


class OcrError(Exception):
    """The engine failed on one picture; the message is one line."""


def _skew(lines: list[list[tuple[float, float, float, float]]]) -> float:
    """The page's slope (dy/dx) from the word boxes of its longer lines: a scan fed a little askew
    puts the cells of one table row at different heights, which would split the row."""
    slopes: list[float] = []
    for boxes in lines:
        if len(boxes) < 3 or boxes[-1][2] - boxes[0][0] < 300:
            continue
        xs = [(b[0] + b[2]) / 2 for b in boxes]
        ys = [(b[1] + b[3]) / 2 for b in boxes]
        mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
        spread = sum((x - mean_x) ** 2 for x in xs)
        if spread:
            slopes.append(sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / spread)
    slope = statistics.median(slopes) if len(slopes) >= 3 else 0.0
    return slope if abs(slope) < 0.1 else 0.0  # more than about 6 degrees: not a small tilt


def _tsv_lines(tsv: str) -> tuple[list[OcrLine], bool]:
    """Tesseract's TSV (one row per word, numbered by block, paragraph and line) as lines, their
    boxes straightened by the page's skew; and whether the page looks turned by a quarter (most
    words of four letters or more stand taller than they are wide)."""
    words: dict[tuple[str, str, str], list[dict[str, str]]] = {}
    for row in csv.DictReader(io.StringIO(tsv), delimiter="\t", quoting=csv.QUOTE_NONE):
        if row.get("level") == "5" and (row.get("text") or "").strip():
            words.setdefault((row["block_num"], row["par_num"], row["line_num"]), []).append(row)
    boxes = [
        [
            (
                float(w["left"]),
                float(w["top"]),
                float(w["left"]) + float(w["width"]),
                float(w["top"]) + float(w["height"]),
            )
            for w in row_words
        ]
        for row_words in words.values()
    ]
    slope = _skew(boxes)
    lines: list[OcrLine] = []
    for row_words, row_boxes in zip(words.values(), boxes, strict=True):
        left, right = min(b[0] for b in row_boxes), max(b[2] for b in row_boxes)
        shift = slope * (left + right) / 2
        top, bottom = min(b[1] for b in row_boxes) - shift, max(b[3] for b in row_boxes) - shift
        text = " ".join(w["text"].strip() for w in row_words)
        chars = sum(len(w["text"].strip()) for w in row_words)
        confidence = sum(len(w["text"].strip()) * max(float(w["conf"]), 0.0) for w in row_words) / chars / 100
        spans = tuple((w["text"].strip(), b[0], b[2]) for w, b in zip(row_words, row_boxes, strict=True))
        lines.append(OcrLine(text, (left, top, right, bottom), round(confidence, 3), words=spans))
    return lines, _turned(words)


def _turned(words: dict[tuple[str, str, str], list[dict[str, str]]]) -> bool:
    tall = wide = 0
    for row_words in words.values():
        for word in row_words:
            if len(word["text"].strip()) >= 4:
                if int(word["height"]) > int(word["width"]):
                    tall += 1
                else:
                    wide += 1
    return tall > wide


@OCR_ENGINES.register("rapidocr")
class RapidOcr:
    """RapidOCR with its packaged PP-OCRv4 models, one thread per ONNX Runtime session: parse
    workers are processes, so the cores are shared out between files, not inside one page."""

    name = "rapidocr"

    @staticmethod
    def installed() -> bool:
        return importlib.util.find_spec("rapidocr_onnxruntime") is not None

    def __init__(self, languages: str = "") -> None:  # its models read Chinese and English, nothing else
        try:
            from rapidocr_onnxruntime import RapidOCR
        except ImportError as exc:
            raise MissingExtraError("rapidocr-onnxruntime", "ocr", "Reading scanned pages and images (OCR)") from exc
        self._ocr = RapidOCR(intra_op_num_threads=1, inter_op_num_threads=1, max_side_len=_MAX_SIDE)

    def read(self, image: Any) -> list[OcrLine]:
        result, _ = self._ocr(image.convert("RGB"))
        lines: list[OcrLine] = []
        for points, text, score in result or ():
            xs = [float(p[0]) for p in points]
            ys = [float(p[1]) for p in points]
            if str(text).strip():
                lines.append(OcrLine(str(text).strip(), (min(xs), min(ys), max(xs), max(ys)), float(score)))
        return lines


@functools.cache
def ocr_engine(name: str = DEFAULT_OCR_ENGINE, languages: str = AUTO) -> OcrEngine:
    """The engine ``name`` reading ``languages``, made once per process (RapidOCR's models take a
    second to load).

    Raises MissingExtraError (with what to install) when the engine is missing, and
    UnknownBackendError for a name that is not registered."""
    return OCR_ENGINES.get(name)(languages=languages)


def ocr_available(name: str = DEFAULT_OCR_ENGINE) -> bool:
    """Whether the engine ``name`` is installed, told without loading it (a sync asks before it
    parses anything; a registered engine that cannot tell is taken as installed)."""
    try:
        factory = OCR_ENGINES.get(name)
    except UnknownBackendError:
        return False
    installed = getattr(factory, "installed", None)
    return bool(installed()) if callable(installed) else True


def read_image(image: Any, engine: OcrEngine | None = None) -> OcrPage:
    """OCR one picture (a Pillow image) and put its lines in reading order."""
    engine = engine or ocr_engine()
    return OcrPage(tuple(reading_order(engine.read(image))), image.width, image.height, engine.name)


# --------------------------------------------------------------------------------- reading order
def _gaps(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The empty bands between the union of ``spans`` (start, end), as (start, end) of each gap."""
    gaps: list[tuple[float, float]] = []
    spans = sorted(spans)
    reach = spans[0][1]
    for start, end in spans[1:]:
        if start > reach:
            gaps.append((reach, start))
        reach = max(reach, end)
    return gaps


def _rows(lines: list[OcrLine]) -> list[OcrLine]:
    """Lines of one block: top to bottom; lines side by side on one row (table cells, a label and
    its value) become one line, left to right, two spaces apart."""
    out: list[list[OcrLine]] = []
    for line in sorted(lines, key=lambda ln: (ln.box[1] + ln.box[3]) / 2):
        if out:
            row = out[-1]
            top, bottom = min(ln.box[1] for ln in row), max(ln.box[3] for ln in row)
            middle = (line.box[1] + line.box[3]) / 2
            if top <= middle <= bottom:
                row.append(line)
                continue
        out.append([line])
    merged: list[OcrLine] = []
    for row in out:
        row.sort(key=lambda ln: ln.box[0])
        if len(row) == 1:
            merged.append(row[0])
            continue
        text = "  ".join(ln.text for ln in row)
        box = (row[0].box[0], min(ln.box[1] for ln in row), max(ln.box[2] for ln in row), max(ln.box[3] for ln in row))
        chars = sum(len(ln.text) for ln in row) or 1
        confidence = sum(len(ln.text) * ln.confidence for ln in row) / chars
        page_box = None
        if any(ln.page_box for ln in row):
            on_page = [ln.on_page for ln in row]
            page_box = (
                min(b[0] for b in on_page),
                min(b[1] for b in on_page),
                max(b[2] for b in on_page),
                max(b[3] for b in on_page),
            )
        words = tuple(word for ln in row for word in ln.words)
        merged.append(OcrLine(text, box, confidence, page_box, words))
    return merged


def _table_like(left: list[OcrLine], right: list[OcrLine], unit: float) -> bool:
    """Whether two sides of a gutter are columns of one table rather than columns of text: most
    lines on the right have a partner on the same row at the left, and the lines are short."""
    if not left or not right:
        return False
    widths = [ln.box[2] - ln.box[0] for ln in left + right]
    if statistics.median(widths) > 12 * unit:  # prose: lines of 25 characters and more
        return False
    paired = sum(
        1
        for r in right
        if any(l.box[1] <= (r.box[1] + r.box[3]) / 2 <= l.box[3] for l in left)  # noqa: E741
    )
    return paired >= 0.5 * len(right)


def _cut(lines: list[OcrLine], unit: float, depth: int = 0) -> list[tuple[list[OcrLine], bool]]:
    """Recursive XY cut: split at the widest empty band (across or down), blocks in reading order,
    each with whether it is a table."""
    if len(lines) < 2 or depth > 30:
        return [(lines, False)]
    across = _gaps([(ln.box[1], ln.box[3]) for ln in lines])
    down = _gaps([(ln.box[0], ln.box[2]) for ln in lines])
    best_across = max(across, key=lambda g: g[1] - g[0], default=None)
    # a column gutter is at least two character widths; a paragraph break any visible gap
    best_down = max((g for g in down if g[1] - g[0] > unit), key=lambda g: g[1] - g[0], default=None)
    if best_down is not None and (best_across is None or best_down[1] - best_down[0] > best_across[1] - best_across[0]):
        cut = (best_down[0] + best_down[1]) / 2
        parts = [[ln for ln in lines if ln.box[2] <= cut], [ln for ln in lines if ln.box[2] > cut]]
        if _table_like(parts[0], parts[1], unit):  # cells of one table: read row by row
            return [(lines, True)]
    elif best_across is not None and best_across[1] - best_across[0] > unit * 0.2:
        cut = (best_across[0] + best_across[1]) / 2
        parts = [[ln for ln in lines if ln.box[3] <= cut], [ln for ln in lines if ln.box[3] > cut]]
    else:
        return [(lines, False)]
    return [block for part in parts for block in _cut(part, unit, depth + 1)]


def reading_order(lines: Sequence[OcrLine]) -> list[OcrLine]:
    """``lines`` sorted for reading: blocks of a recursive XY cut (columns left to right, bands top
    to bottom), each block's lines top to bottom with the lines of one row joined. An empty line
    goes before a block that starts a paragraph or a column, so that paragraphs stay apart. The
    rows of a table are cut into cells by its columns (:mod:`docket.ingest.ocr_tables`)."""
    lines = [ln for ln in lines if ln.text]
    if not lines:
        return []
    unit = max(statistics.median(ln.height for ln in lines), 1.0)
    out: list[OcrLine] = []
    for block, table in _cut(list(lines), unit):
        rows = table_rows(_rows(block), unit) if table else _rows(block)
        if out and rows:
            before, after = out[-1].box, rows[0].box
            # a paragraph break: a gap of most of a line, or the top of the next column
            if after[1] - before[3] > 0.7 * unit or after[1] < before[1] or after[0] > before[2]:
                out.append(OcrLine("", rows[0].box, 1.0))
        out.extend(rows)
    return find_tables(out, unit)
