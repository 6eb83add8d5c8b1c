"""OCR on scanned pages whose text is known: character error rate, word recall, pages/s.

    python bench/ocr.py [--engines tesseract,rapidocr] [--dpi 150,300] [--pages 24] [--workers 2] [--json]
    python bench/ocr.py invoices [--engines tesseract] [--dpi 300]
    python bench/ocr.py speed --baseline ../main/src [--dpi 300] [--pages 24]

The scanned set is made here from real PDFs with a text layer (``../shared/data``:
invoice2data-samples, MIT; docugami-kg-rag-raw-pdfs, MIT): each page is rendered by pypdfium2 at
the given dpi, turned to grey, rotated by a random angle of up to ±1° and given mild noise
(Gaussian, sigma 8 of 255) with Pillow, with a fixed seed. The reference is the page's text layer
(pypdfium2). Reported per engine and dpi:

- CER (any order): :func:`cer_any_order`, the character error rate of the words matched one to
  one, so that reading a table row by row where the text layer runs column by column costs
  nothing; CER (in order): the edit distance between the two texts, whitespace collapsed, over the
  text layer's length (reading order counts: mostly an upper bound);
- word recall: the share of the text layer's words (3+ letters or digits, lower case, counted
  with multiplicity) found in the OCR text;
- the same per set (``by_set``): the invoices (English, German, Dutch, French; logos and rules)
  and the docugami pages (English prose and tables);
- pages/s: the OCR of every page by ``--workers`` processes at once (each engine single-threaded),
  so ``--workers 2`` is what 2 cores give when two files are parsed at once.

Both engines run through Docket's own path (:func:`docket.ingest.ocr.read_image`: the engine, then
its lines in reading order): ``tesseract`` is Debian's ``tesseract`` 5 (``apt install
tesseract-ocr``), single-threaded, automatic page segmentation; ``rapidocr`` is
``rapidocr-onnxruntime`` (``pip install 'docket[ocr]'``) with its packaged PP-OCRv4 models, one
ONNX Runtime thread.

``speed``: seconds per page of this checkout and of ``--baseline`` (another checkout's ``src/``),
the two taking turns page by page, one page at a time, so that both see the same load on a shared
machine; the ratio is the figure to compare.

``invoices``: the invoice field extraction (``docket.answer`` figures are not involved: the fields
of invoice2data's expected JSON — invoice number, date, amount — are looked for in the text) on the
text layer and on the OCR of the scanned pages (the first engine of ``--engines``): the share of
gold fields found in each.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
SHARED = ROOT.parent / "shared" / "data"
INVOICES = SHARED / "invoice2data-samples" / "tests" / "compare"
DOCUGAMI = SHARED / "docugami-kg-rag-raw-pdfs"
_WORD = re.compile(r"[^\W_]{3,}")
_SPACE = re.compile(r"\s+")


def _pages(limit: int) -> list[tuple[Path, int]]:
    """Invoice pages first (all of them), then the first two pages of docugami PDFs, up to ``limit``."""
    import pypdfium2 as pdfium

    out: list[tuple[Path, int]] = []
    for pdf in sorted(INVOICES.glob("*.pdf")):
        doc = pdfium.PdfDocument(str(pdf))
        out += [(pdf, i) for i in range(len(doc)) if _layer(doc, i).strip()]
        doc.close()
    for pdf in sorted(DOCUGAMI.rglob("*.pdf")):
        if len(out) >= limit:
            break
        doc = pdfium.PdfDocument(str(pdf))
        out += [(pdf, i) for i in range(min(2, len(doc))) if len(_layer(doc, i).strip()) > 200]
        doc.close()
    return out[:limit]


def _layer(doc: Any, index: int) -> str:
    page = doc[index]
    text = page.get_textpage().get_text_bounded()
    page.close()
    return str(text)


def scan(pdf: Path, index: int, dpi: int, seed: int = 0) -> Any:
    """Page ``index`` of ``pdf`` as a scanner would give it: grey, slightly rotated, noisy."""
    import numpy as np
    import pypdfium2 as pdfium
    from PIL import Image

    doc = pdfium.PdfDocument(str(pdf))
    image = doc[index].render(scale=dpi / 72, grayscale=True).to_pil().convert("L")
    doc.close()
    rng = random.Random(f"{pdf.name}:{index}:{seed}")
    image = image.rotate(rng.uniform(-1.0, 1.0), resample=Image.Resampling.BICUBIC, expand=True, fillcolor=255)
    pixels = np.asarray(image, dtype=np.float32)
    noise = np.random.default_rng(rng.randrange(2**32)).normal(0.0, 8.0, pixels.shape)
    scanned = Image.fromarray(np.clip(pixels + noise, 0, 255).astype(np.uint8), mode="L")
    scanned.info["dpi"] = (dpi, dpi)  # as a scanner records it
    return scanned


def _norm(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def _words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


# What a reader cannot tell apart on the page, made equal on both sides before counting: ligatures
# and other compatibility forms (NFKC: "ﬁ" is "fi"), curly and straight quotes, the dashes, bullets;
# and leaders and rules (runs of 3 or more dots, underscores, hyphens: "Introduction......3", a form's
# "______"), whose length in characters is a matter of the font, not of the text; and a "|" on its
# own, a table's vertical rule (no text layer has it) or the " | " Docket puts between a table's cells.
_TYPOGRAPHY = str.maketrans(
    {"‘": "'", "’": "'", "‚": "'", "“": '"', "”": '"', "„": '"', "–": "-", "—": "-", "‐": "-", "‑": "-"}
    | {"•": " ", "·": " ", "▪": " ", "●": " "}
)
_LEADER = re.compile(r"(?:[._…-] ?){3,}")
_RULE = re.compile(r"(?<!\S)\|(?!\S)")  # a "|" standing alone: a table's rule, or the cell separator


def fair(text: str) -> str:
    """``text`` with the differences a reader cannot see taken out (see ``_TYPOGRAPHY``)."""
    import unicodedata

    text = _LEADER.sub(" ", unicodedata.normalize("NFKC", text).translate(_TYPOGRAPHY))
    return _RULE.sub(" ", text)


def cer(ocr: str, truth: str) -> float:
    from rapidfuzz.distance import Levenshtein

    truth, ocr = _norm(fair(truth)), _norm(fair(ocr))
    return Levenshtein.distance(ocr, truth) / max(len(truth), 1)


def cer_any_order(ocr: str, truth: str, raw: bool = False) -> float:
    missed, extra = cer_parts(ocr, truth, raw)
    return missed + extra


def cer_parts(ocr: str, truth: str, raw: bool = False) -> tuple[float, float]:
    """CER with reading order left out: the words of both texts are matched one to one (equal words
    first, then each remaining word of the text layer to its nearest remaining OCR word); the
    edit distances of the pairs plus the letters of the unmatched words, over the text layer's
    letters. A misread letter counts one, a word run into its neighbour counts its letters. Both
    texts go through :func:`fair` first unless ``raw``. Returned in two parts: the errors on the
    text layer's words (misread, missed) and the letters of OCR words left over (text the text
    layer does not have: a logo read as symbols, but also text in a picture read right)."""
    from collections import Counter

    from rapidfuzz import process
    from rapidfuzz.distance import Levenshtein

    if not raw:
        ocr, truth = fair(ocr), fair(truth)
    want, got = Counter(truth.split()), Counter(ocr.split())
    common = want & got
    rest_want = sorted((want - common).elements(), key=len, reverse=True)
    rest_got = list((got - common).elements())
    cost = 0
    for word in rest_want:
        best = process.extractOne(word, rest_got, scorer=Levenshtein.distance) if rest_got else None
        if best is None or best[1] >= len(word):
            cost += len(word)
            continue
        cost += best[1]
        rest_got.pop(best[2])
    letters = max(sum(len(w) for w in truth.split()), 1)
    return cost / letters, sum(len(w) for w in rest_got) / letters


def word_recall(ocr: str, truth: str) -> float:
    from collections import Counter

    want, got = Counter(_words(truth)), Counter(_words(ocr))
    total = sum(want.values())
    return sum(min(n, got[w]) for w, n in want.items()) / total if total else 1.0


def _ocr(engine: str, image: Any, languages: str | None = None) -> str:
    from docket.ingest.ocr import ocr_engine, read_image

    made = ocr_engine(engine, languages) if languages else ocr_engine(engine)
    return read_image(image, made).text


def split_of(pdf: Path) -> str:
    """``dev`` or ``test``: half the files of each set, by a hash of the file's name (all pages of
    a file on one side). Settings are chosen on ``dev``; ``test`` is the held-out half."""
    import hashlib

    return "dev" if hashlib.sha1(pdf.name.encode()).digest()[0] % 2 == 0 else "test"


def _use_source(src: str | None) -> None:
    """In a worker: import Docket from ``src`` (another checkout: the baseline) instead of this one."""
    if src:
        sys.path.insert(0, src)


def _one(job: tuple[str, str, int, int, str | None]) -> dict[str, Any]:
    engine, pdf, index, dpi, languages = job
    import pypdfium2 as pdfium

    image = scan(Path(pdf), index, dpi)
    doc = pdfium.PdfDocument(pdf)
    truth = _layer(doc, index)
    doc.close()
    started = time.perf_counter()
    text = _ocr(engine, image, languages)
    seconds = time.perf_counter() - started
    missed, extra = cer_parts(text, truth)
    return {
        "file": Path(pdf).name,
        "page": index + 1,
        "split": split_of(Path(pdf)),
        "cer": cer(text, truth),
        "cer_any_order": missed + extra,
        "cer_missed": missed,
        "cer_extra": extra,
        "cer_any_order_raw": cer_any_order(text, truth, raw=True),
        "recall": word_recall(text, truth),
        "ocr_s": seconds,
        "text": text,
    }


def _warm(engine: str, src: str | None = None) -> None:
    _use_source(src)
    if engine != "tesseract":
        from docket.ingest.ocr import ocr_engine

        ocr_engine(engine)


def _mean(rows: list[dict[str, Any]], key: str) -> float:
    return round(sum(r[key] for r in rows) / len(rows), 4)


def _summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "pages": len(rows),
        "cer_any_order": _mean(rows, "cer_any_order"),
        "cer_any_order_median": round(sorted(r["cer_any_order"] for r in rows)[len(rows) // 2], 4),
        "cer_missed": _mean(rows, "cer_missed"),
        "cer_extra": _mean(rows, "cer_extra"),
        "cer_any_order_raw": _mean(rows, "cer_any_order_raw"),
        "word_recall": _mean(rows, "recall"),
    }


def measure(
    engine: str,
    dpi: int,
    pages: list[tuple[Path, int]],
    workers: int,
    languages: str | None = None,
    src: str | None = None,
) -> dict[str, Any]:
    jobs = [(engine, str(pdf), index, dpi, languages) for pdf, index in pages]
    with ProcessPoolExecutor(workers, initializer=_warm, initargs=(engine, src)) as pool:
        list(pool.map(_warm, [engine] * workers))  # models loaded before the clock starts
        started = time.perf_counter()
        rows = list(pool.map(_one, jobs))
        wall = time.perf_counter() - started
    chars = sum(len(_norm(r["text"])) for r in rows)
    invoice_names = {pdf.name for pdf in INVOICES.glob("*.pdf")}
    by_set: dict[str, Any] = {}
    for name, chosen in (
        ("invoices", [r for r in rows if r["file"] in invoice_names]),
        ("docugami", [r for r in rows if r["file"] not in invoice_names]),
    ):
        for split in ("dev", "test"):
            part = [r for r in chosen if r["split"] == split]
            if part:
                by_set[f"{name}/{split}"] = _summary(part)
    by_split = {split: _summary([r for r in rows if r["split"] == split]) for split in ("dev", "test")}
    return {
        "engine": engine,
        "source": src or "this checkout",
        "languages": languages or "default",
        "dpi": dpi,
        **_summary(rows),
        "cer_in_order": _mean(rows, "cer"),
        "pages_per_s": round(len(rows) / wall, 2),
        "s_per_page_one_core": round(sum(r["ocr_s"] for r in rows) / len(rows), 2),
        "chars": chars,
        "by_split": by_split,
        "by_set": by_set,
        "rows": rows,
        "worst": sorted(((round(r["cer_any_order"], 3), f"{r['file']} p{r['page']}") for r in rows), reverse=True)[:3],
    }


# ---------------------------------------------------------------------------------------- speed
def _timed(job: tuple[str, str, int, int, str | None]) -> float:
    """In a worker: seconds to OCR one scanned page (rendering and noise not counted)."""
    engine, pdf, index, dpi, languages = job
    image = scan(Path(pdf), index, dpi)
    started = time.perf_counter()
    _ocr(engine, image, languages)
    return time.perf_counter() - started


def speed(engine: str, dpi: int, pages: list[tuple[Path, int]], baseline: str, languages: str | None) -> dict[str, Any]:
    """Seconds per page of this checkout and of ``baseline`` taking turns page by page, one page
    at a time (the order swapped every page), so that both see the same load on a shared machine."""
    a = ProcessPoolExecutor(1, initializer=_warm, initargs=(engine, str(Path(baseline).resolve())))
    b = ProcessPoolExecutor(1, initializer=_warm, initargs=(engine, None))
    with a, b:
        a.submit(_warm, engine).result()
        b.submit(_warm, engine).result()
        times: dict[str, list[float]] = {"baseline": [], "this": []}
        for n, (pdf, index) in enumerate(pages):
            turns = [("baseline", a, None), ("this", b, languages)]
            for name, pool, langs in turns if n % 2 == 0 else turns[::-1]:
                times[name].append(pool.submit(_timed, (engine, str(pdf), index, dpi, langs)).result())
    base, this = sum(times["baseline"]), sum(times["this"])
    return {
        "engine": engine,
        "dpi": dpi,
        "pages": len(pages),
        "baseline": baseline,
        "baseline_s_per_page": round(base / len(pages), 2),
        "this_s_per_page": round(this / len(pages), 2),
        "speedup": round(base / this, 2),
        "pages_faster": sum(1 for x, y in zip(times["baseline"], times["this"], strict=True) if y < x),
    }


# ------------------------------------------------------------------------------------- invoices
_DATE_FORMATS = ("%d %B %Y", "%d %b %Y", "%B %d, %Y", "%b %d, %Y", "%d.%m.%Y", "%d/%m/%Y", "%m/%d/%Y", "%Y-%m-%d")


def _field_found(value: Any, text: str) -> bool:
    """Whether a gold field value appears in ``text`` (numbers in any common format, dates in any
    of the formats invoices print)."""
    flat = _norm(text).lower()
    if isinstance(value, (int, float)):
        digits = re.sub(r"[^\d]", "", flat)
        for shown in {f"{value:.2f}", f"{value:,.2f}", f"{value:g}"}:
            if re.sub(r"[^\d]", "", shown) in digits and shown.replace(",", "").replace(".", "") != "":
                return True
        return False
    value = str(value)
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        from datetime import date

        day = date.fromisoformat(value)
        return any(day.strftime(f).lower() in flat for f in _DATE_FORMATS)
    return _norm(value).lower() in flat


def invoices(dpi: int, engine: str) -> dict[str, Any]:
    import pypdfium2 as pdfium

    layer_hits = ocr_hits = total = 0
    per_file: list[dict[str, Any]] = []
    for gold_path in sorted(INVOICES.glob("*.json")):
        pdf = gold_path.with_suffix(".pdf")
        if not pdf.exists():
            continue
        gold = json.loads(gold_path.read_text())
        gold = gold[0] if isinstance(gold, list) else gold
        fields = {k: v for k, v in gold.items() if k in ("invoice_number", "date", "amount") and v not in (None, "")}
        doc = pdfium.PdfDocument(str(pdf))
        count = len(doc)
        layer = "\n".join(_layer(doc, i) for i in range(count))
        doc.close()
        scanned = "\n".join(_ocr(engine, scan(pdf, i, dpi)) for i in range(count))
        a = sum(_field_found(v, layer) for v in fields.values())
        b = sum(_field_found(v, scanned) for v in fields.values())
        layer_hits, ocr_hits, total = layer_hits + a, ocr_hits + b, total + len(fields)
        per_file.append({"file": pdf.name, "fields": len(fields), "text_layer": a, "ocr": b})
    return {
        "engine": engine,
        "dpi": dpi,
        "fields": total,
        "text_layer": round(layer_hits / total, 3),
        "ocr": round(ocr_hits / total, 3),
        "files": per_file,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", nargs="?", default="ocr", choices=["ocr", "invoices", "speed"])
    parser.add_argument("--engines", default="tesseract,rapidocr")
    parser.add_argument("--dpi", default="150,300")
    parser.add_argument("--pages", type=int, default=24)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--languages", default=None, help="ingest.ocr_languages for this checkout (e.g. eng, auto)")
    parser.add_argument(
        "--baseline", default=None, help="another checkout's src/ (e.g. ../main/src), measured first, same pages"
    )
    parser.add_argument("--baseline-languages", default=None)
    parser.add_argument("--dump", default=None, help="write every page's OCR text and figures to this JSON file")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    header = {"nproc": os.cpu_count(), "load_average": [round(x, 2) for x in os.getloadavg()]}
    if args.what == "invoices":
        results: Any = [invoices(int(d), args.engines.split(",")[0]) for d in args.dpi.split(",")]
    elif args.what == "speed":
        if not args.baseline:
            parser.error("speed needs --baseline DIR (another checkout's src/)")
        engine = args.engines.split(",")[0]
        results = [
            speed(engine, int(d), _pages(args.pages), args.baseline, args.languages) for d in args.dpi.split(",")
        ]
    else:
        pages = _pages(args.pages)
        runs: list[tuple[str | None, str | None]] = [(None, args.languages)]
        if args.baseline:
            runs.insert(0, (str(Path(args.baseline).resolve()), args.baseline_languages))
        results = [
            measure(engine, int(dpi), pages, args.workers, languages, src)
            for engine in args.engines.split(",")
            for dpi in args.dpi.split(",")
            for src, languages in runs
        ]
    header["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    rows = [row.pop("rows", []) for row in results]
    if args.dump:
        Path(args.dump).write_text(json.dumps(rows, indent=1))
    if args.json:
        print(json.dumps({**header, "results": results}, indent=2))
        return
    print(f"nproc {header['nproc']}, load average {header['load_average']} -> {header['load_average_after']}")
    for row in results:
        print(json.dumps({k: v for k, v in row.items() if k != "files"}))
        for item in row.get("files", []):
            print("   ", json.dumps(item))


if __name__ == "__main__":
    main()
