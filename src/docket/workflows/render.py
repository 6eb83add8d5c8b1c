"""Writing a document (title, paragraphs, notes, tables, images) as HTML, Markdown, PDF or DOCX.

A document is a list of blocks, plain dicts: ``{"type": "text", "text": ...}``, ``{"type": "note",
"text": ...}``, ``{"type": "table", "title": ..., "columns": [...], "rows": [[...]]}`` and
``{"type": "image", "title": ..., "file": NAME}`` (a file in the output folder). PDF uses fpdf2
and DOCX python-docx, loaded only when those formats are asked for.
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

from docket.errors import MissingExtraError

__all__ = ["FORMATS", "cell", "write_document"]

FORMATS = {"html": "html", "markdown": "md", "md": "md", "pdf": "pdf", "docx": "docx"}


def cell(value: Any) -> str:
    """A figure as shown in a table: thousands separators, at most two decimals."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.0f}" if value.is_integer() else f"{value:,.2f}"
    return str(value)


def write_document(title: str, blocks: list[dict[str, Any]], folder: Path, name: str, fmt: str) -> Path:
    """Write the document as ``folder/name.EXT`` and return its path."""
    ext = FORMATS[fmt]
    path = folder / f"{name}.{ext}"
    if ext == "html":
        path.write_text(_html(title, blocks), encoding="utf-8")
    elif ext == "md":
        path.write_text(_markdown(title, blocks), encoding="utf-8")
    elif ext == "pdf":
        _pdf(title, blocks, folder, path)
    else:
        _docx(title, blocks, folder, path)
    return path


_CSS = """body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
table{border-collapse:collapse;margin:1rem 0}th,td{border:1px solid #ccc;padding:.3rem .6rem}
td.n{text-align:right}caption{text-align:left;font-weight:bold;padding:.3rem 0}
.note{color:#855;font-style:italic}img{max-width:100%}"""


def _html(title: str, blocks: list[dict[str, Any]]) -> str:
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
    ]
    for block in blocks:
        kind = block["type"]
        if kind == "text":
            out.extend(f"<p>{escape(p.strip())}</p>" for p in block["text"].split("\n\n") if p.strip())
        elif kind == "note":
            out.append(f'<p class="note">{escape(block["text"])}</p>')
        elif kind == "table":
            out.append(f"<table><caption>{escape(block['title'])}</caption>")
            out.append(
                "<thead><tr>" + "".join(f"<th>{escape(str(c))}</th>" for c in block["columns"]) + "</tr></thead>"
            )
            out.append("<tbody>")
            for row in block["rows"]:
                cells = "".join(
                    f'<td class="n">{escape(cell(v))}</td>'
                    if isinstance(v, (int, float))
                    else f"<td>{escape(cell(v))}</td>"
                    for v in row
                )
                out.append(f"<tr>{cells}</tr>")
            out.append("</tbody></table>")
        elif kind == "image":
            out.append(f'<figure><img src="{escape(block["file"])}" alt="{escape(block["title"])}"></figure>')
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def _markdown(title: str, blocks: list[dict[str, Any]]) -> str:
    out = [f"# {title}", ""]
    for block in blocks:
        kind = block["type"]
        if kind == "text":
            out += [block["text"].strip(), ""]
        elif kind == "note":
            out += [f"*{block['text']}*", ""]
        elif kind == "table":
            out += [f"**{block['title']}**", ""]
            out.append("| " + " | ".join(str(c) for c in block["columns"]) + " |")
            out.append(
                "|" + "|".join("---:" if _numeric(block, i) else "---" for i in range(len(block["columns"]))) + "|"
            )
            out += ["| " + " | ".join(cell(v).replace("|", "\\|") for v in row) + " |" for row in block["rows"]]
            out.append("")
        elif kind == "image":
            out += [f"![{block['title']}]({block['file']})", ""]
    return "\n".join(out)


def _numeric(block: dict[str, Any], i: int) -> bool:
    return any(isinstance(row[i], (int, float)) for row in block["rows"])


def _latin1(text: str) -> str:
    return text.replace("—", "-").replace("–", "-").encode("latin-1", "replace").decode("latin-1")


def _pdf(title: str, blocks: list[dict[str, Any]], folder: Path, path: Path) -> None:
    try:
        from fpdf import FPDF
    except ImportError:
        raise MissingExtraError("fpdf2", "workflows", "PDF output") from None
    pdf = FPDF()
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 18)
    pdf.multi_cell(0, 10, _latin1(title), new_x="LMARGIN", new_y="NEXT")
    for block in blocks:
        kind = block["type"]
        if kind in ("text", "note"):
            pdf.set_font("Helvetica", "I" if kind == "note" else "", 11)
            pdf.multi_cell(0, 6, _latin1(block["text"].strip()), new_x="LMARGIN", new_y="NEXT")
            pdf.ln(2)
        elif kind == "table":
            pdf.set_font("Helvetica", "B", 12)
            pdf.multi_cell(0, 8, _latin1(block["title"]), new_x="LMARGIN", new_y="NEXT")
            pdf.set_font("Helvetica", "", 9)
            aligns = tuple("RIGHT" if _numeric(block, i) else "LEFT" for i in range(len(block["columns"])))
            with pdf.table(text_align=aligns, first_row_as_headings=True) as table:
                table.row([_latin1(str(c)) for c in block["columns"]])
                for values in block["rows"]:
                    table.row([_latin1(cell(v)) for v in values])
            pdf.ln(3)
        elif kind == "image" and block["file"].lower().endswith(".png"):
            pdf.image(str(folder / block["file"]), w=pdf.epw * 0.8)
            pdf.ln(3)
    pdf.output(str(path))


def _docx(title: str, blocks: list[dict[str, Any]], folder: Path, path: Path) -> None:
    from docx import Document
    from docx.shared import Inches

    doc = Document()
    doc.add_heading(title, level=1)
    for block in blocks:
        kind = block["type"]
        if kind in ("text", "note"):
            paragraph = doc.add_paragraph(block["text"].strip())
            if kind == "note":
                for run in paragraph.runs:
                    run.italic = True
        elif kind == "table":
            doc.add_heading(block["title"], level=2)
            table = doc.add_table(rows=1, cols=len(block["columns"]))
            table.style = "Table Grid"
            for i, column in enumerate(block["columns"]):
                table.rows[0].cells[i].text = str(column)
            for values in block["rows"]:
                row = table.add_row()
                for i, value in enumerate(values):
                    row.cells[i].text = cell(value)
        elif kind == "image" and block["file"].lower().endswith(".png"):
            doc.add_picture(str(folder / block["file"]), width=Inches(6))
    doc.save(str(path))
