"""Locations in every format, and the newer formats' damaged files.

Each file is built here with the library that writes it (python-pptx,
XlsxWriter, python-docx, a hand-written PDF and EPUB), loaded the way
``ragqa index`` loads it (:func:`load_document`: extract, clean, locate), and
checked phrase by phrase: the location in force where the phrase starts is the
one a reader would look in. Every document also passes the round trip: its
text is a fixed point of the cleaner, and every chunk is an exact slice that
carries the document's own locations.
"""

from __future__ import annotations

import contextlib
import io
import re
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import docx
import pytest

from corpus.chunking import ChunkingConfig, chunk_document
from corpus.cleaning import clean_text
from corpus.collection import load_collection, load_document
from corpus.documents import Document, LocationKind
from corpus.errors import DocumentError, DocumentTooLargeError, RagqaError
from corpus.loaders import extract_text
from corpus.office import MAX_SHEET_CELLS
from tests.corpus.builders import make_epub, make_pptx, make_xlsx
from tests.corpus.test_loaders import MB, make_pdf, make_zip, write


def make_headed_docx() -> bytes:
    document = docx.Document()
    document.add_paragraph("Before any heading.")
    document.add_heading("Overview", level=1)
    document.add_paragraph("Summary text.")
    document.add_heading("Risks", level=2)
    document.add_paragraph("Flooding is likely.")
    grid = document.add_table(rows=1, cols=2)
    grid.cell(0, 0).text = "Cell text."
    grid.cell(0, 1).text = "Other cell."
    document.add_heading("Budget", level=1)
    document.add_paragraph("Money is tight.")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


MARKDOWN = """Intro text.
# Install
General notes.
## Linux
Use apt.
```
# not a heading
```
## Windows
Use the installer.
Setext title
============
Under setext.
"""

HTML = (
    "<html><head><title>Guide</title></head><body><h1>Guide</h1><p>Start here.</p>"
    "<h2>Setup</h2><p>Run it.</p><h2 hidden>Secret</h2><p>Still setup.</p>"
    "<h3>Details <em>now</em></h3><p>Fine print.</p><h2>Use</h2><p>Go now.</p></body></html>"
)

# (file name, builder, [(phrase, label of its location or None)], kind of location)
LOCATED: list[tuple[str, Callable[[], bytes | str], list[tuple[str, str | None]], str]] = [
    (
        "report.pdf",
        lambda: make_pdf(
            [["Alpha on the first page."], ["Beta on the second page.", "More beta."], [],
             ["Delta on the fourth page."]],
            title="Report",
        ),
        [("Alpha", "page 1"), ("Beta", "page 2"), ("More beta", "page 2"), ("Delta", "page 4")],
        "page",
    ),
    (
        "guide.md",
        lambda: MARKDOWN,
        [("Intro", None), ("General", "Install"), ("Use apt", "Install › Linux"),
         ("# not a heading", "Install › Linux"), ("Use the installer", "Install › Windows"),
         ("Under setext", "Setext title")],
        "section",
    ),
    (
        "guide.html",
        lambda: HTML,
        [("Start here", "Guide"), ("Run it", "Guide › Setup"), ("Still setup", "Guide › Setup"),
         ("Fine print", "Guide › Setup › Details now"), ("Go now", "Guide › Use")],
        "section",
    ),
    (
        "plan.docx",
        make_headed_docx,
        [("Before any", None), ("Summary", "Overview"), ("Flooding", "Overview › Risks"),
         ("Cell text", "Overview › Risks"), ("Money", "Budget")],
        "section",
    ),
    (
        "deck.pptx",
        lambda: make_pptx(
            [("Plans", ["Grow sales.", "Hire two people."], "Say it slowly."),
             (None, ["Untitled body."], None),
             ("Numbers", ["A table follows."], None)],
            table=[["Region", "Sales"], ["North", "120"]],
        ),
        [("Plans", "slide 1: Plans"), ("Hire two", "slide 1: Plans"),
         ("Notes: Say it slowly.", "slide 1: Plans"), ("Untitled body", "slide 2"),
         ("Region | Sales", "slide 3: Numbers"), ("North | 120", "slide 3: Numbers")],
        "slide",
    ),
    (
        "budget.xlsx",
        lambda: make_xlsx(
            {"Budget": [["Region", "Sales"], ["North", 120], ["South", 80.5], [None, None],
                        ["West", None, "no header"]],
             "Secret": [["Password"], ["hunter2"]],
             "Staff": [["Name", "Role"], ["Ada", "Engineer"]]},
            hidden=["Secret"],
        ),
        [("Sheet Budget. Columns: Region, Sales", "Budget, row 1"),
         ("Region: North; Sales: 120", "Budget, row 2"),
         ("Region: South; Sales: 80.5", "Budget, row 3"),
         ("Region: West; Column C: no header", "Budget, row 5"),
         ("Name: Ada; Role: Engineer", "Staff, row 2")],
        "row",
    ),
    (
        "people.csv",
        lambda: 'Name;City\nAda;Oslo\n"Lund, Bo";"Bergen\nNorway"\n\nCy;Rome\n',
        [("Columns: Name, City", "row 1"), ("Name: Ada; City: Oslo", "row 2"),
         ("Name: Lund, Bo; City: Bergen Norway", "row 3"), ("Name: Cy; City: Rome", "row 5")],
        "row",
    ),
    (
        "book.epub",
        lambda: make_epub(
            [("Loomings", "<h1>Chapter 1</h1><p>Call me Ishmael.</p>"),
             (None, "<h2>The Carpet-Bag</h2><p>I stuffed a shirt.</p>"),
             (None, "<p>No heading here.</p>"),
             (None, "<p style='display:none'>only hidden</p>"),
             (None, "<p>Last words.</p>")],
            title="Moby-Dick",
        ),
        [("Call me", "Loomings"), ("I stuffed", "The Carpet-Bag"),
         ("No heading", "chapter 3"), ("Last words", "chapter 4")],
        "chapter",
    ),
    (
        "book2.epub",
        lambda: make_epub(
            [("Loomings", "<p>Call me Ishmael.</p>"), ("The Carpet-Bag", "<p>I stuffed.</p>")],
            toc="ncx",
        ),
        [("Call me", "Loomings"), ("I stuffed", "The Carpet-Bag")],
        "chapter",
    ),
]  # fmt: skip


def _load(tmp_path: Path, name: str, data: bytes | str) -> Document:
    return load_document(write(tmp_path, name, data))


def assert_exact(document: Document) -> None:
    """The text is a fixed point of the cleaner and every chunk is an exact
    slice carrying the locations the document has over its span."""
    assert clean_text(document.text) == document.text
    for chunk in chunk_document(document, ChunkingConfig(max_tokens=16, overlap_tokens=4)):
        assert document.text[chunk.start : chunk.end] == chunk.text
        for offset in range(chunk.start, chunk.end, 7):
            assert chunk.location_at(offset) == document.location_at(offset)


@pytest.mark.parametrize(
    ("name", "build", "expected", "kind"), LOCATED, ids=[case[0] for case in LOCATED]
)
def test_each_phrase_lies_in_its_location(
    tmp_path: Path,
    name: str,
    build: Callable[[], bytes | str],
    expected: list[tuple[str, str | None]],
    kind: str,
) -> None:
    document = _load(tmp_path, name, build())
    for phrase, label in expected:
        assert phrase in document.text, f"{phrase!r} not in {document.text!r}"
        location = document.location_at(document.text.index(phrase))
        assert (location.label if location else None) == label, phrase
    assert {location.kind for location in document.locations} == {LocationKind(kind)}
    assert_exact(document)


def test_pdf_page_text_stays_exact_where_cleaning_changes_it(tmp_path: Path) -> None:
    """Cleaning shortens page 1 (hyphenation, spaces); page 2's offset follows."""
    pdf = make_pdf([["An infor-", "mation   page."], ["Second  page text."]])
    document = _load(tmp_path, "clean.pdf", pdf)
    assert document.text == "An information page.\n\nSecond page text."
    assert [(m.start, m.label) for m in document.locations] == [(0, "page 1"), (22, "page 2")]


def test_titles_of_new_formats(tmp_path: Path) -> None:
    assert _load(tmp_path, "d.pptx", make_pptx([("First slide", ["x"], None)])).title == (
        "First slide"
    )
    assert _load(tmp_path, "t.pptx", make_pptx([("S", ["x"], None)], title="Deck")).title == "Deck"
    assert _load(tmp_path, "b.epub", make_epub([(None, "<p>x</p>")], title="My book")).title == (
        "My book"
    )
    assert _load(tmp_path, "my_table.csv", "a\n1\n").title == "My table"


def test_hidden_sheets_and_hidden_epub_text_are_not_read(tmp_path: Path) -> None:
    sheets = _load(
        tmp_path, "s.xlsx", make_xlsx({"Open": [["A"], ["1"]], "Hid": [["hunter2"]]}, ["Hid"])
    )
    assert "hunter2" not in sheets.text
    book = _load(tmp_path, "b.epub", make_epub([(None, "<p>Shown.</p><p hidden>PWNED</p>")]))
    assert "PWNED" not in book.text


def test_rows_keep_the_spreadsheet_row_numbers_when_the_table_starts_lower(tmp_path: Path) -> None:
    document = _load(
        tmp_path, "low.xlsx", make_xlsx({"Data": [["Item", "Qty"], ["Pens", 4]]}, first_row=6)
    )
    location = document.location_at(document.text.index("Item: Pens"))
    assert location is not None and location.label == "Data, row 8"


# --- damaged and hostile files of the newer formats ---------------------------------------

GOOD_PPTX = make_pptx([("Hi", ["Hello."], None)])
GOOD_XLSX = make_xlsx({"S": [["A"], ["1"]]})
GOOD_EPUB = make_epub([("One", "<p>Hello.</p>")])

_DRM = (
    b'<encryption xmlns="urn:oasis:names:tc:opendocument:xmlns:container" '
    b'xmlns:enc="http://www.w3.org/2001/04/xmlenc#"><enc:EncryptedData><enc:EncryptionMethod '
    b'Algorithm="http://www.w3.org/2001/04/xmlenc#aes128-cbc"/></enc:EncryptedData></encryption>'
)


def _epub_without(member: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(GOOD_EPUB)) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            if item.filename != member:
                dst.writestr(item, src.read(item))
    return out.getvalue()


@pytest.mark.parametrize(
    ("name", "data", "error", "reason_part"),
    [
        ("a.pptx", b"not a zip", DocumentError, "is not a valid .pptx (not a zip archive"),
        ("a.pptx", GOOD_PPTX[: len(GOOD_PPTX) // 2], DocumentError, "not a zip archive"),
        ("a.pptx", make_zip({"ppt/presentation.xml": 10}), DocumentError, "cannot be read as a .pptx"),
        ("a.pptx", make_zip({"a.bin": 10 * MB}), DocumentTooLargeError, "zip bomb"),
        ("a.pptx", make_pptx([(None, [""], None)]), DocumentError, "is empty"),
        ("a.xlsx", b"not a zip", DocumentError, "is not a valid .xlsx"),
        ("a.xlsx", GOOD_XLSX[: len(GOOD_XLSX) // 2], DocumentError, "not a zip archive"),
        ("a.xlsx", make_zip({"xl/workbook.xml": 10}), DocumentError, "cannot be read as a .xlsx"),
        ("a.xlsx", make_zip({"a.bin": 10 * MB}), DocumentTooLargeError, "zip bomb"),
        ("a.xlsx", make_xlsx({"S": [["a"]]}, cells=[("S", 1_048_575, 16_383, "z")]),
         DocumentTooLargeError, f"over the limit of {MAX_SHEET_CELLS:,} cells"),
        ("a.xlsx", make_xlsx({"S": [["a"]], "T": [["b"]]}, hidden=["T"], cells=[]) and
         make_xlsx({"Only": [[None]]}), DocumentError, "is empty"),
        ("a.csv", b"\x00\x01\x02\x03" * 100, DocumentError, "binary"),
        ("a.csv", b'a\n"' + b"x" * 200_000 + b'"\n', DocumentError, "cannot be read as a CSV"),
        ("a.csv", b",,,\n,,,\n", DocumentError, "is empty"),
        ("a.epub", b"not a zip", DocumentError, "is not a valid .epub"),
        ("a.epub", GOOD_EPUB[: len(GOOD_EPUB) // 2], DocumentError, "not a zip archive"),
        ("a.epub", _epub_without("META-INF/container.xml"), DocumentError, "no META-INF/container.xml"),
        ("a.epub", _epub_without("OEBPS/content.opf"), DocumentError, "package document is missing"),
        ("a.epub", make_epub([(None, "<p>x</p>")], extra={"META-INF/encryption.xml": _DRM}),
         DocumentError, "protected by DRM"),
        ("a.epub", make_zip({"a.bin": 10 * MB}), DocumentTooLargeError, "zip bomb"),
    ],
    ids=["pptx-not-zip", "pptx-truncated", "pptx-junk", "pptx-bomb", "pptx-blank",
         "xlsx-not-zip", "xlsx-truncated", "xlsx-junk", "xlsx-bomb", "xlsx-far-corner",
         "xlsx-blank", "csv-binary", "csv-huge-field", "csv-blank", "epub-not-zip",
         "epub-truncated", "epub-no-container", "epub-no-package", "epub-drm", "epub-bomb"],
)  # fmt: skip
def test_damaged_files_get_a_clear_error(
    tmp_path: Path, name: str, data: bytes, error: type[DocumentError], reason_part: str
) -> None:
    path = write(tmp_path, name, data)
    started = time.perf_counter()
    with pytest.raises(error) as caught:
        extract_text(path)
    assert time.perf_counter() - started < 10
    assert type(caught.value) is error
    assert reason_part in caught.value.reason
    assert str(path) in str(caught.value)


_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE p [<!ENTITY a "lollollollollollollollollollol">'
    + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(8))
    + ']><package xmlns="http://www.idpf.org/2007/opf"><metadata '
    'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>&i;</dc:title></metadata>'
    '<manifest><item id="c" href="c.xhtml" media-type="application/xhtml+xml"/></manifest>'
    '<spine><itemref idref="c"/></spine></package>'
)
_XXE = _LAUGHS.split("<!DOCTYPE")[0] + (
    '<!DOCTYPE p [<!ENTITY x SYSTEM "file:///etc/passwd">]><package '
    'xmlns="http://www.idpf.org/2007/opf"><metadata xmlns:dc="http://purl.org/dc/elements/1.1/">'
    '<dc:title>&x;</dc:title></metadata><manifest><item id="c" href="c.xhtml" '
    'media-type="application/xhtml+xml"/></manifest><spine><itemref idref="c"/></spine></package>'
)


@pytest.mark.parametrize("opf", [_LAUGHS, _XXE], ids=["billion-laughs", "external-entity"])
def test_hostile_epub_xml_expands_nothing(tmp_path: Path, opf: str) -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(GOOD_EPUB)) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            body = opf.encode() if item.filename == "OEBPS/content.opf" else src.read(item)
            dst.writestr(item.filename, body)
        dst.writestr("OEBPS/c.xhtml", "<html><body><p>Safe text.</p></body></html>")
    path = write(tmp_path, "hostile.epub", out.getvalue())
    started = time.perf_counter()
    try:
        extracted = extract_text(path)
    except RagqaError:
        pass
    else:
        assert "lollol" not in (extracted.title or "") and "root:" not in (extracted.title or "")
        assert len(extracted.text) < 1000
    assert time.perf_counter() - started < 5


def test_a_damaged_file_costs_only_itself(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    write(folder, "deck.pptx", GOOD_PPTX)
    write(folder, "broken.xlsx", GOOD_XLSX[:100])
    write(folder, "people.csv", "Name\nAda\n")
    write(folder, "far.xlsx", make_xlsx({"S": [["a"]]}, cells=[("S", 1_048_575, 16_383, "z")]))
    write(folder, "book.epub", GOOD_EPUB)
    report = load_collection([folder])
    assert sorted(Path(d.source_path).name for d in report.documents) == [
        "book.epub", "deck.pptx", "people.csv"
    ]  # fmt: skip
    reasons = {Path(s.path).name: s.reason for s in report.skipped}
    assert set(reasons) == {"broken.xlsx", "far.xlsx"}
    assert "not a zip archive" in reasons["broken.xlsx"]
    assert "rows by" in reasons["far.xlsx"]


def test_sheet_whose_cells_have_no_references_is_measured_too(tmp_path: Path) -> None:
    """Cells may leave out their ``r="B7"``; their row's width still counts."""
    data = make_xlsx({"S": [["h"] * 10] * 2})
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            body = src.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                body = re.sub(rb' r="[A-Z]+[0-9]+"', b"", body)
                body = body.replace(b'<row r="2"', b'<row r="1048576"')
            dst.writestr(item, body)
    with pytest.raises(DocumentTooLargeError, match="1,048,576 rows by 10 columns"):
        extract_text(write(tmp_path, "noref.xlsx", out.getvalue()))


@pytest.mark.parametrize(
    "data", ['"a,' * 16_000, 'x,"y"\n' * 8_000], ids=["quote-storm", "many-quoted-lines"]
)
def test_quote_heavy_csv_is_read_quickly(tmp_path: Path, data: str) -> None:
    """The dialect sniffer is quadratic on such text; only a few KB are sniffed."""
    started = time.perf_counter()
    with contextlib.suppress(RagqaError):
        extract_text(write(tmp_path, "quotes.csv", data))
    assert time.perf_counter() - started < 5
