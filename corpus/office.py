"""Slides and tables: .pptx, .xlsx and .csv, each cut where a reader looks.

* **.pptx** (python-pptx): one section per slide, labelled ``slide 4: Title``;
  the text of every text box, placeholder, group and table on the slide in
  the file's order, then the speaker notes after ``Notes:``.
* **.xlsx** (python-calamine, the Rust calamine reader): one line per row of
  every visible sheet, each cell written with its column's header
  (``Region: North; Sales: 120``) so that a passage of rows still says what
  its numbers are, labelled ``Budget, row 7`` with the row number the
  spreadsheet shows.
* **.csv** (the standard library): the same rows, labelled ``row 7``, with the
  delimiter (comma, semicolon, tab or bar) sniffed from the first lines.

Why these libraries: python-pptx is the maintained reader of PowerPoint files
in Python (python-docx's sibling, already a dependency's family). For .xlsx,
calamine read a 50,000-row sheet in 0.35 s against openpyxl's 5.8 s
(read-only mode) and is released monthly where openpyxl's last release is
from mid-2024. calamine allocates a sheet's whole bounding box at once, so a
5 KB file with one cell in A1 and one in XFD1048576 would abort the process;
:func:`_check_sheet_extent` reads the cell references first and refuses such
a sheet, like a zip bomb, before calamine sees it.

Concessions: hidden and very hidden sheets are not read (a reader of the
workbook does not see them), but hidden rows and columns of a visible sheet
are; formulas count by their cached values; charts, images and SmartArt text
on slides are not read; hidden slides are read.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pptx
from pptx.enum.shapes import MSO_SHAPE_TYPE
from python_calamine import CalamineWorkbook, SheetTypeEnum, SheetVisibleEnum

from corpus.documents import LocationKind
from corpus.errors import DocumentError, DocumentTooLargeError
from corpus.reading import ExtractedText, Section, check_zip, decode, describe, tidy_title

MAX_SHEET_CELLS = 5_000_000
"""The most cells a sheet's bounding box may span (rows times columns)."""
MAX_CELL_CHARS = 2_000
"""A cell longer than this is cut: a row is one line, and one cell must not
swallow a whole chunk."""

_SNIFF_CHARS = 4096
_PPTX_FIX = "re-save it from PowerPoint or remove it"
_XLSX_FIX = "re-save it from your spreadsheet program or remove it"


# --- .pptx -------------------------------------------------------------------------


def extract_pptx(path: Path, data: bytes, max_bytes: int) -> ExtractedText:
    """Slide text and speaker notes, one section per slide."""
    check_zip(path, data, ".pptx", _PPTX_FIX)
    try:
        presentation = pptx.Presentation(io.BytesIO(data))
        sections = [
            _slide_section(number, slide) for number, slide in enumerate(presentation.slides, 1)
        ]
        title = presentation.core_properties.title
    except Exception as error:
        raise DocumentError(
            path, f"cannot be read as a .pptx: {describe(error)}; {_PPTX_FIX}"
        ) from error
    sections = [section for section in sections if section.text.strip()]
    first_slide_title = next(
        (s.label.partition(": ")[2] for s in sections if s.label and ": " in s.label), None
    )
    return ExtractedText.of_sections(
        sections,
        tidy_title(title) if isinstance(title, str) and title.strip() else first_slide_title,
    )


def _slide_section(number: int, slide: Any) -> Section:
    title_shape = slide.shapes.title
    title = tidy_title(title_shape.text_frame.text) if title_shape is not None else None
    lines = list(_shape_lines(slide.shapes))
    if slide.has_notes_slide:
        frame = slide.notes_slide.notes_text_frame
        notes = frame.text.strip() if frame is not None else ""
        if notes:
            lines.append(f"Notes: {notes}")
    label = f"slide {number}: {title}" if title else f"slide {number}"
    return Section("\n".join(lines), LocationKind.SLIDE, label)


def _shape_lines(shapes: Iterable[Any]) -> Iterator[str]:
    """The text of each shape, groups and tables included, in the slide's order."""
    for shape in shapes:
        if shape.shape_type == MSO_SHAPE_TYPE.GROUP:
            yield from _shape_lines(shape.shapes)
        elif getattr(shape, "has_table", False) and shape.has_table:
            for row in shape.table.rows:
                cells = [" ".join(cell.text.split()) for cell in row.cells]
                if any(cells):
                    yield " | ".join(cells)
        elif getattr(shape, "has_text_frame", False) and shape.has_text_frame:
            text = shape.text_frame.text.strip()
            if text:
                yield text


# --- .xlsx -------------------------------------------------------------------------

_CELL_REF = re.compile(rb"<(?:\w+:)?c\b[^>]*?\sr=\"([A-Z]{1,3})([0-9]{1,7})\"")
_ROW_REF = re.compile(rb"<(?:\w+:)?row\b[^>]*?\sr=\"([0-9]{1,7})\"")
_CELL_TAG = re.compile(rb"<(?:\w+:)?c[\s/>]")
_ROW_BLOCK = re.compile(rb"<(?:\w+:)?row\b.*?</(?:\w+:)?row>", re.DOTALL)


def extract_xlsx(path: Path, data: bytes, max_bytes: int) -> ExtractedText:
    """Every visible sheet's rows, each cell with its header."""
    check_zip(path, data, ".xlsx", _XLSX_FIX)
    _check_sheet_extent(path, data)
    try:
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
        sections: list[Section] = []
        for sheet in workbook.sheets_metadata:
            if sheet.typ != SheetTypeEnum.WorkSheet or sheet.visible != SheetVisibleEnum.Visible:
                continue
            rows = workbook.get_sheet_by_name(sheet.name).iter_rows()
            sections += table_sections(enumerate(rows, start=1), sheet.name)
    except DocumentError:
        raise
    except Exception as error:
        raise DocumentError(
            path, f"cannot be read as a .xlsx: {describe(error)}; {_XLSX_FIX}"
        ) from error
    return ExtractedText.of_sections(sections, None)


def _check_sheet_extent(path: Path, data: bytes) -> None:
    """Refuse a sheet whose cells span more than :data:`MAX_SHEET_CELLS`.

    calamine allocates the bounding box of a sheet's cells in one piece, and a
    failed allocation aborts the process instead of raising, so the extent is
    measured from the cell references in the sheet's XML first. (Cells without
    a reference lie next to the previous one and cannot stretch the box
    further than the file's own size allows.)
    """
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for member in archive.infolist():
            if not re.fullmatch(r"xl/worksheets/[^/]+\.xml", member.filename, re.IGNORECASE):
                continue
            xml = archive.read(member)
            rows = [int(r) for r in _ROW_REF.findall(xml)]
            columns = 0
            references = _CELL_REF.findall(xml)
            for letters, row in references:
                rows.append(int(row))
                columns = max(columns, _column_number(letters))
            if len(_CELL_TAG.findall(xml)) > len(references):
                # Cells without a reference follow one another along their row.
                widest = max(
                    (len(_CELL_TAG.findall(r)) for r in _ROW_BLOCK.findall(xml)), default=0
                )
                columns += widest
            extent = max(rows, default=0) * max(columns, 1)
            if extent > MAX_SHEET_CELLS:
                raise DocumentTooLargeError(
                    path,
                    f"sheet {member.filename!r} spans {max(rows):,} rows by {columns:,} columns, "
                    f"over the limit of {MAX_SHEET_CELLS:,} cells; delete the far-away cells "
                    "or split the sheet",
                )


def _column_number(letters: bytes) -> int:
    """``b"A"`` is 1, ``b"AA"`` is 27.

    >>> _column_number(b"XFD")
    16384
    """
    number = 0
    for letter in letters:
        number = number * 26 + letter - ord("A") + 1
    return number


def column_letters(number: int) -> str:
    """The spreadsheet name of 1-based column ``number``.

    >>> column_letters(1), column_letters(28)
    ('A', 'AB')
    """
    letters = ""
    while number > 0:
        number, rest = divmod(number - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


# --- rows as text --------------------------------------------------------------------


def table_sections(rows: Iterable[tuple[int, Sequence[Any]]], sheet: str | None) -> list[Section]:
    """One section per non-empty row, each cell written with its header.

    The first non-empty row is the header. Its section names the sheet and the
    columns and opens with a blank line; the rows after it follow line by line.

    >>> [(s.label, s.text) for s in table_sections([(1, ["Name", "Age"]), (2, ["Ada", 36.0])], "People")]
    [('People, row 1', 'Sheet People. Columns: Name, Age'), ('People, row 2', 'Name: Ada; Age: 36')]
    """
    sections: list[Section] = []
    header: list[str] | None = None
    for number, row in rows:
        cells = [_cell_text(value) for value in row]
        if not any(cells):
            continue
        label = f"{sheet}, row {number}" if sheet else f"row {number}"
        if header is None:
            header = cells
            named = ", ".join(cell for cell in cells if cell)
            opening = f"Sheet {sheet}. Columns: {named}" if sheet else f"Columns: {named}"
            sections.append(Section(opening, LocationKind.ROW, label))
            continue
        pairs = [
            f"{header[i] if i < len(header) and header[i] else 'Column ' + column_letters(i + 1)}: {cell}"
            for i, cell in enumerate(cells)
            if cell
        ]
        sections.append(Section("; ".join(pairs), LocationKind.ROW, label, gap="\n"))
    return sections


def _cell_text(value: Any) -> str:
    """A cell as one line of text: whole numbers without ``.0``, dates in ISO form.

    >>> _cell_text(3.0), _cell_text(2.5), _cell_text(" two\\nlines "), _cell_text(None)
    ('3', '2.5', 'two lines', '')
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    text = " ".join(str(value).split())
    return text[: MAX_CELL_CHARS - 1] + "…" if len(text) > MAX_CELL_CHARS else text


# --- .csv ----------------------------------------------------------------------------


def extract_csv(path: Path, data: bytes, max_bytes: int) -> ExtractedText:
    """The rows of a CSV file, each cell with its header."""
    text = decode(path, data)
    # The sniffer's regular expressions take quadratic time on quote-heavy
    # text (36 s on 64 KB of '"a,'); a few KB of whole lines is enough to judge.
    sample = text[:_SNIFF_CHARS]
    if len(text) > _SNIFF_CHARS and "\n" in sample:
        sample = sample[: sample.rindex("\n")]
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    try:
        reader = csv.reader(io.StringIO(text, newline=""), dialect)
        sections = table_sections(enumerate(reader, start=1), None)
    except csv.Error as error:
        raise DocumentError(
            path,
            f"cannot be read as a CSV file: {describe(error)}; check its quoting or re-export it",
        ) from error
    return ExtractedText.of_sections(sections, None)
