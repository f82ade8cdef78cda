"""Tests for corpus.loaders: one table of cases per format, plus fuzzing.

Every fixture file is built in ``tmp_path`` by the test itself (real .docx via
python-docx, real PDFs written byte by byte), so the tests need no data files.
"""

from __future__ import annotations

import codecs
import functools
import io
import time
import zipfile
from pathlib import Path

import docx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pypdf import PdfWriter

from corpus.errors import (
    ConfigError,
    DocumentError,
    DocumentTooLargeError,
    RagqaError,
    UnsupportedFileTypeError,
)
from corpus.loaders import (
    DEFAULT_MAX_FILE_BYTES,
    SUPPORTED_SUFFIXES,
    ExtractedText,
    extract_text,
)
from tests.corpus.builders import make_epub, make_pptx, make_xlsx

MB = 1024 * 1024


# --- builders ----------------------------------------------------------------------


def _pdf_string(text: str) -> str:
    return "(" + text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ")"


def make_pdf(pages: list[list[str]], title: str | None = None) -> bytes:
    """A minimal valid PDF: one Helvetica text line per string, an empty page for []."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>"]
    page_ids = [4 + 2 * i for i in range(len(pages))]
    kids = " ".join(f"{i} 0 R" for i in page_ids)
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode())
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    for page_id, lines in zip(page_ids, pages, strict=True):
        shows = " 0 -16 Td ".join(f"{_pdf_string(line)} Tj" for line in lines)
        content = f"BT /F1 12 Tf 72 720 Td {shows} ET".encode("latin-1") if lines else b"q Q"
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % (page_id + 1)
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream")
    info = ""
    if title is not None:
        objects.append(f"<< /Title {_pdf_string(title)} >>".encode("latin-1"))
        info = f" /Info {len(objects)} 0 R"
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    trailer = f"<< /Size {len(objects) + 1} /Root 1 0 R{info} >>"
    out += f"trailer\n{trailer}\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def encrypt_pdf(pdf: bytes, user_password: str) -> bytes:
    """RC4 encryption, which pypdf can undo without the optional crypto packages."""
    writer = PdfWriter(clone_from=io.BytesIO(pdf))
    writer.encrypt(user_password, owner_password="owner", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def make_docx(
    paragraphs: list[str], table: list[list[str]] | None = None, title: str | None = None
) -> bytes:
    document = docx.Document()
    if title is not None:
        document.core_properties.title = title
    for text in paragraphs:
        document.add_paragraph(text)
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for c, value in enumerate(row):
                grid.cell(r, c).text = value
        document.add_paragraph("After the table.")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def make_zip(members: dict[str, int], level: int = 6) -> bytes:
    """A zip whose members are runs of zero bytes of the given sizes, streamed."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=level) as zf:
        for name, size in members.items():
            with zf.open(name, "w", force_zip64=True) as member:
                block = bytes(MB)
                for start in range(0, size, MB):
                    member.write(block[: min(MB, size - start)])
    return out.getvalue()


def write(tmp_path: Path, name: str, data: bytes | str) -> Path:
    path = tmp_path / name
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)
    return path


@functools.cache
def valid_file(suffix: str) -> bytes:
    """One well-formed file per supported suffix, to truncate and mutate."""
    if suffix == ".pdf":
        return make_pdf([["Hello from a PDF."], ["Second page."]], title="A PDF")
    if suffix == ".docx":
        return make_docx(["Hello from Word."], table=[["a", "b"]], title="A docx")
    if suffix in {".html", ".htm"}:
        return (
            b"<html><head><title>Page</title></head><body><h1>Hi</h1>"
            b"<p hidden>secret</p><p>Hello from HTML.</p></body></html>"
        )
    if suffix == ".pptx":
        return make_pptx([("Greeting", ["Hello from slides."], "Speaker says hi.")])
    if suffix == ".xlsx":
        return make_xlsx({"Sheet1": [["Word", "Count"], ["Hello", 3]]})
    if suffix == ".csv":
        return b"Word,Count\nHello,3\n"
    if suffix == ".epub":
        return make_epub(
            [("One", "<h1>One</h1><p>Hello from a book.</p><p hidden>secret</p>")], title="Book"
        )
    return "# Title\n\nHello, “world” — café.\n".encode()


# --- general behaviour --------------------------------------------------------------


def test_supported_suffixes_and_default_limit() -> None:
    assert {
        ".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx", ".pptx", ".xlsx", ".csv",
        ".epub",
    } == SUPPORTED_SUFFIXES  # fmt: skip
    assert DEFAULT_MAX_FILE_BYTES == 50 * MB


@pytest.mark.parametrize(
    ("name", "error", "reason_part"),
    [
        ("data.ods", UnsupportedFileTypeError, "supported types are .csv, .docx, .epub, .htm"),
        ("archive.tar.gz", UnsupportedFileTypeError, "'.gz'"),
        ("README", UnsupportedFileTypeError, "(no extension)"),
        ("missing.txt", DocumentError, "does not exist"),
    ],
)
def test_path_errors_name_the_file(
    tmp_path: Path, name: str, error: type[DocumentError], reason_part: str
) -> None:
    path = tmp_path / name
    if name != "missing.txt":
        path.write_text("text")
    with pytest.raises(error) as caught:
        extract_text(path)
    assert str(path) in str(caught.value)
    assert reason_part in caught.value.reason


def test_directory_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "notes.txt"
    folder.mkdir()
    with pytest.raises(DocumentError, match="is a directory"):
        extract_text(folder)
    with pytest.raises(DocumentError, match="is a directory"):
        extract_text(tmp_path)


def test_permission_denied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "locked.txt", "secret")

    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "open", refuse)
    with pytest.raises(DocumentError, match="permission denied"):
        extract_text(path)


def test_file_over_the_limit(tmp_path: Path) -> None:
    path = write(tmp_path, "big.txt", "x" * 101)
    assert extract_text(path, max_bytes=101).text == "x" * 101
    with pytest.raises(DocumentTooLargeError, match="over the limit of 100 bytes"):
        extract_text(path, max_bytes=100)


def test_non_positive_limit_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="max_bytes"):
        extract_text(write(tmp_path, "a.txt", "a"), max_bytes=0)


def test_suffix_is_case_insensitive(tmp_path: Path) -> None:
    assert extract_text(write(tmp_path, "LOUD.TXT", "hello")).text == "hello"


# --- plain text and markdown ----------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "data", "text", "title"),
    [
        ("plain.txt", "Hello, world.\n", "Hello, world.\n", None),
        ("curly.txt", "“Quoted” – dash…", "“Quoted” – dash…", None),
        ("emoji.txt", "naïve 😀 日本語", "naïve 😀 日本語", None),
        ("bom.txt", codecs.BOM_UTF8 + b"with BOM", "with BOM", None),
        ("utf16le.txt", "Grüße".encode("utf-16"), "Grüße", None),
        ("utf16be.txt", codecs.BOM_UTF16_BE + "Grüße".encode("utf-16-be"), "Grüße", None),
        ("latin1.txt", "café déjà vu".encode("latin-1"), "café déjà vu", None),
        ("cp1252.txt", b"\x93smart\x94 \x96 quotes", "“smart” – quotes", None),
        ("form-feed.txt", "page one\fpage two", "page one\fpage two", None),
        ("notes.md", "a\n# Main title #\n## Sub\n", "a\n# Main title #\n## Sub\n", "Main title"),
        ("notes.markdown", "## Only a subheading\n", "## Only a subheading\n", None),
        ("code.md", "#hashtag is not a heading\n", "#hashtag is not a heading\n", None),
    ],
)  # fmt: skip
def test_text_files(
    tmp_path: Path, name: str, data: bytes | str, text: str, title: str | None
) -> None:
    extracted = extract_text(write(tmp_path, name, data))
    assert (extracted.text, extracted.title) == (text, title)


@pytest.mark.parametrize(
    ("name", "data", "reason_part"),
    [
        ("empty.txt", b"", "is empty"),
        ("blank.md", b" \n\t\r\n ", "is empty"),
        ("blank16.txt", " \n ".encode("utf-16"), "is empty"),
        ("nul.txt", b"text\x00with\x00nuls", "binary"),
        ("png.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
        ("controls.txt", bytes(range(1, 9)) * 20 + b"some words", "binary"),
        ("controls-utf8.md", "\x01\x02\x03\x04abc", "binary"),
        ("odd16.txt", codecs.BOM_UTF16_LE + b"a\x00b", "byte-order mark"),
    ],
)
def test_bad_text_files(tmp_path: Path, name: str, data: bytes | str, reason_part: str) -> None:
    with pytest.raises(DocumentError) as caught:
        extract_text(write(tmp_path, name, data))
    assert reason_part in caught.value.reason
    assert name in str(caught.value)


def test_huge_single_line_loads(tmp_path: Path) -> None:
    line = "word " * (MB + 1)  # a little over 5 MB, no newline at all
    assert extract_text(write(tmp_path, "line.txt", line)).text == line


# --- HTML ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "text"),
    [
        ("<p>One.</p><p>Two.</p>", "One.\n\nTwo."),
        ("<div>One.</div><div>Two.</div>", "One.\nTwo."),
        ("<div><div><p>Deep.</p></div></div>Tail.", "Deep.\n\nTail."),
        ("Line one<br>line two<br/>line three", "Line one\nline two\nline three"),
        ("<ul><li>apples</li><li>pears</li></ul>", "apples\npears"),
        ("<h2>Heading</h2>Body text.", "Heading\n\nBody text."),
        ("<p>Wrapped\n   across\n lines.</p>", "Wrapped across lines."),
        ("<b>bo</b>ld and <i>it</i>alic", "bold and italic"),
        ("<table><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr></table>", "a b\nc"),
        ("Tom &amp; Jerry &lt;3 &#8220;hi&#8221;", "Tom & Jerry <3 “hi”"),
        ("<p>Unclosed<p>paragraphs", "Unclosed\n\nparagraphs"),
    ],
)
def test_html_structure_becomes_line_breaks(tmp_path: Path, body: str, text: str) -> None:
    path = write(tmp_path, "page.html", f"<html><body>{body}</body></html>")
    assert extract_text(path).text == text


@pytest.mark.parametrize(
    "hidden",
    [
        "<p hidden>SECRET</p>",
        "<p hidden='hidden'>SECRET</p>",
        '<div aria-hidden="true">SECRET</div>',
        '<div aria-hidden=" TRUE ">SECRET</div>',
        '<span style="display:none">SECRET</span>',
        '<span style="color: red; DISPLAY : None !important">SECRET</span>',
        '<span style="visibility: hidden">SECRET</span>',
        '<span style="visibility:collapse">SECRET</span>',
        '<span style="font-size: 0">SECRET</span>',
        '<span style="opacity:0.0">SECRET</span>',
        '<div style="display:none"><p>SECRET <b>nested SECRET</b></p></div>',
        "<script>var x = 'SECRET';</script>",
        "<style>p::after { content: 'SECRET' }</style>",
        "<noscript>SECRET</noscript>",
        "<template><p>SECRET</p></template>",
        "<!-- SECRET -->",
        "<head><meta name='description' content='SECRET'></head>",
        # Hidden by the page's CSS (issue 16.5): each way a page hides text from its reader.
        '<p style="color:#fff">SECRET</p>',
        '<p style="color: white; background-color: #FFFFFF">SECRET</p>',
        '<div style="background:#000"><p style="color:#000">SECRET</p></div>',
        '<p style="color: rgba(0, 0, 0, 0)">SECRET</p>',
        '<p><font color="#ffffff">SECRET</font></p>',
        '<div style="color:#fff"><span><b>nested SECRET</b></span></div>',
        '<div style="position:absolute; left:-9999px">SECRET</div>',
        '<div style="position:fixed; top:-5000px">SECRET</div>',
        '<div style="margin-left:-10000px">SECRET</div>',
        '<div style="transform: translateX(-9999px)">SECRET</div>',
        '<span style="font-size:1px">SECRET</span>',
        '<div style="font-size:2px"><p>SECRET</p></div>',
        '<div style="font-size:10px"><p style="font-size:0.1em">SECRET</p></div>',
        '<span style="font: 1px/1 serif">SECRET</span>',
        '<div style="height:0; overflow:hidden">SECRET</div>',
        '<div style="max-height:0px;overflow-y:hidden">SECRET</div>',
        '<div style="width:1px; height:1px; overflow:hidden">SECRET</div>',
        "<style>.x { display: none }</style><p class='x'>SECRET</p>",
        "<style>#a > p { visibility: hidden }</style><div id='a'><p>SECRET</p></div>",
        "<style>@media screen { .m { font-size: 0 } }</style><p class='m'>SECRET</p>",
        "<style>@media (min-width: 800px) { .m { display: none } }</style><p class='m'>SECRET</p>",
        "<style>p.w { color: #fefefe }</style><p class='w'>SECRET</p>",
        '<p style="text-indent:-9999px">SECRET</p>',
        '<p style="position:absolute; clip:rect(0 0 0 0)">SECRET</p>',
        '<p style="position:absolute; clip: rect(1px, 1px, 1px, 1px)">SECRET</p>',
        '<p style="clip-path: inset(50%)">SECRET</p>',
        '<p style="transform: scale(0)">SECRET</p>',
        '<svg><text opacity="0">SECRET</text></svg>',
        '<svg><text fill-opacity="0">SECRET</text></svg>',
        '<svg><text fill="none">SECRET</text></svg>',
        '<span style="display:/**/none">SECRET</span>',
        '<span style="/* a */display/* b */:/* c */none">SECRET</span>',
    ],
)
def test_html_hidden_text_never_reaches_the_index(tmp_path: Path, hidden: str) -> None:
    path = write(tmp_path, "page.htm", f"<html><body><p>Visible.</p>{hidden}<p>End.</p></body>")
    extracted = extract_text(path)
    assert "SECRET" not in extracted.text
    assert extracted.text == "Visible.\n\nEnd."


@pytest.mark.parametrize(
    "shown",
    [
        '<p aria-hidden="false">shown</p>',
        '<p style="font-size: 0.9em">shown</p>',
        '<p style="opacity: 0.5">shown</p>',
        '<p style="display: block">shown</p>',
        '<p class="hidden">shown</p>',
        # Look-alikes of the hiding tricks that a reader can still see.
        '<div style="background:#000"><p style="color:#fff">shown</p></div>',
        '<div style="color:#fff"><p style="color:#222">shown</p></div>',
        '<div style="background: url(dark.png)"><p style="color:#fff">shown</p></div>',
        '<p style="color:#777">shown</p>',
        '<p style="color: hsl(0 0% 100%)">shown</p>',
        '<div style="position:absolute; left:-20px">shown</div>',
        '<div style="left:-9999px">shown</div>',
        '<div style="font-size:2px"><p style="font-size:16px">shown</p></div>',
        '<p style="font-size:8px">shown</p>',
        '<div style="height:0">shown</div>',
        '<div style="height:20px; overflow:hidden">shown</div>',
        '<p style="text-indent:2em">shown</p>',
        '<p style="clip: rect(0 100px 40px 0)">shown</p>',
        "<style>.x { display: none }</style><p class='y'>shown</p>",
        "<style>.x { display: none } .x { display: block }</style><p class='x'>shown</p>",
        "<style>p { display: none }</style><p style='display:block'>shown</p>",
        "<style>@media print { p { display: none } }</style><p>shown</p>",
        "<style>@media (max-width: 600px) { p { display: none } }</style><p>shown</p>",
        "<style media='(max-width: 40em)'>p { display: none }</style><p>shown</p>",
        "<style>@media (prefers-color-scheme: dark) { p { color: #fff } }</style><p>shown</p>",
        "<style>p::before { display: none } :hover { color: #fff }</style><p>shown</p>",
        "<style>{{{ broken</style><p>shown</p>",
        '<svg><text opacity="0.8">shown</text></svg>',
    ],
)
def test_html_visible_text_is_kept(tmp_path: Path, shown: str) -> None:
    assert extract_text(write(tmp_path, "page.html", shown)).text == "shown"


def test_a_page_with_many_style_rules_is_read_quickly(tmp_path: Path) -> None:
    rules = "".join(
        f".c{i} {{ color: #{i % 256:02x}0000; font-size: 1{i % 9}px }}" for i in range(3000)
    )
    body = "".join(f"<p class='c{i}'>para {i}</p>" for i in range(3000))
    path = write(tmp_path, "styled.html", f"<style>{rules}</style>{body}")
    started = time.perf_counter()
    assert "para 2999" in extract_text(path).text
    assert time.perf_counter() - started < 30


@pytest.mark.parametrize(
    ("html", "title"),
    [
        ("<title>  The\n Title </title><h1>Heading</h1>body", "The Title"),
        ("<h1>First <i>heading</i></h1><h1>Second</h1>body", "First heading"),
        ("<h1 hidden>Injected</h1><h1>Real</h1>body", "Real"),
        ("<title> </title><p>body</p>", None),
        ("<p>body</p>", None),
    ],
)
def test_html_title(tmp_path: Path, html: str, title: str | None) -> None:
    assert extract_text(write(tmp_path, "page.html", html)).title == title


@pytest.mark.parametrize(
    ("data", "text"),
    [
        ('<meta charset="iso-8859-1"><p>caf\xe9</p>'.encode("latin-1"), "café"),
        ('<meta charset="cp1251"><p>\xcf\xf0\xe8\xe2\xe5\xf2</p>'.encode("latin-1"), "Привет"),
        ("<p>utf-16 page</p>".encode("utf-16"), "utf-16 page"),
        ('<meta charset="no-such-codec"><p>caf\xe9</p>'.encode("latin-1"), "café"),
    ],
)
def test_html_encodings(tmp_path: Path, data: bytes, text: str) -> None:
    assert extract_text(write(tmp_path, "page.html", data)).text == text


@pytest.mark.parametrize(
    ("data", "reason_part"),
    [
        (b"<html><body><script>only code</script></body></html>", "is empty"),
        (b"<p hidden>only hidden</p>", "is empty"),
        (b"<html>\x00\x01\x02\x00</html>", "binary"),
    ],
)
def test_bad_html(tmp_path: Path, data: bytes, reason_part: str) -> None:
    with pytest.raises(DocumentError, match=reason_part):
        extract_text(write(tmp_path, "page.html", data))


def test_deeply_nested_html_is_read_quickly(tmp_path: Path) -> None:
    html = "<div><span>" * 20_000 + "deep" + "</span></div>" * 20_000
    extracted = extract_text(write(tmp_path, "deep.html", html))
    assert (extracted.text, extracted.title) == ("deep", None)


# --- PDF -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pages", "title", "text"),
    [
        ([["Hello world."]], None, "Hello world."),
        ([["Line one.", "Line two."]], "Report 2024", "Line one.\nLine two."),
        ([["Page one."], ["Page two."]], None, "Page one.\n\nPage two."),
        ([["Page one."], [], ["Page three."]], None, "Page one.\n\nPage three."),
        ([["Brackets (and) back\\slash"]], "  ", "Brackets (and) back\\slash"),
    ],
)
def test_pdf_text_and_title(
    tmp_path: Path, pages: list[list[str]], title: str | None, text: str
) -> None:
    extracted = extract_text(write(tmp_path, "doc.pdf", make_pdf(pages, title=title)))
    assert extracted.text == text
    assert extracted.title == (title.strip() or None if title else None)


def test_pdf_encrypted_without_user_password_is_read(tmp_path: Path) -> None:
    pdf = encrypt_pdf(make_pdf([["Open secret."]]), user_password="")
    assert extract_text(write(tmp_path, "open.pdf", pdf)).text == "Open secret."


GOOD_PDF = make_pdf([["Hello world."], ["Second page."]])


@pytest.mark.parametrize(
    ("data", "reason_part"),
    [
        (encrypt_pdf(GOOD_PDF, user_password="secret"), "password"),
        (GOOD_PDF[: len(GOOD_PDF) // 2], "cannot be read as a PDF"),
        (GOOD_PDF[:40], "cannot be read as a PDF"),
        (b"%PDF-1.4\nthis is not really a pdf\n%%EOF\n", "cannot be read as a PDF"),
        (b"Just some text with a .pdf name", "cannot be read as a PDF"),
        (GOOD_PDF.replace(b"/Pages 2 0 R", b"/Pages 9 0 R"), "cannot be read as a PDF"),
        (make_pdf([[], []]), "no text layer"),
        (b"", "is empty"),
    ],
    ids=["encrypted", "truncated-half", "truncated-head", "garbage", "not-pdf", "bad-ref",
         "scanned", "empty"],
)  # fmt: skip
def test_bad_pdfs(tmp_path: Path, data: bytes, reason_part: str) -> None:
    path = write(tmp_path, "bad.pdf", data)
    with pytest.raises(DocumentError) as caught:
        extract_text(path)
    assert reason_part in caught.value.reason
    assert str(path) in str(caught.value)


def test_pdf_errors_say_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(DocumentError, match="re-export it or remove it"):
        extract_text(write(tmp_path, "bad.pdf", GOOD_PDF[:100]))


# --- DOCX ----------------------------------------------------------------------------


def test_docx_paragraphs_tables_and_title(tmp_path: Path) -> None:
    data = make_docx(
        ["First paragraph.", "", "Second “quoted” paragraph."],
        table=[["A1", "B1"], ["A2", "B2"]],
        title=" Quarterly  report ",
    )
    extracted = extract_text(write(tmp_path, "report.docx", data))
    assert extracted.text == (
        "First paragraph.\nSecond “quoted” paragraph.\nA1\nB1\nA2\nB2\nAfter the table."
    )
    assert extracted.title == "Quarterly report"


def test_docx_merged_cells_appear_once(tmp_path: Path) -> None:
    document = docx.Document()
    grid = document.add_table(rows=1, cols=3)
    merged = grid.cell(0, 0).merge(grid.cell(0, 1))
    merged.text = "wide"
    grid.cell(0, 2).text = "narrow"
    path = tmp_path / "merged.docx"
    document.save(str(path))
    extracted = extract_text(path)
    assert extracted.text == "wide\nnarrow"
    assert extracted.title is None


def _rezip(data: bytes, drop: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            if item.filename != drop:
                dst.writestr(item, src.read(item))
    return out.getvalue()


GOOD_DOCX = make_docx(["Hello."])


@pytest.mark.parametrize(
    ("data", "error", "reason_part"),
    [
        (b"plain text, not a zip", DocumentError, "not a zip archive"),
        (GOOD_DOCX[: len(GOOD_DOCX) // 2], DocumentError, "not a zip archive"),
        (_rezip(GOOD_DOCX, drop="word/document.xml"), DocumentError, "cannot be read as a .docx"),
        (_rezip(GOOD_DOCX, drop="[Content_Types].xml"), DocumentError, "cannot be read as a .docx"),
        (make_zip({"word/document.xml": 10}), DocumentError, "cannot be read as a .docx"),
        (make_docx([" ", ""]), DocumentError, "is empty"),
        (make_zip({"a.bin": 10 * MB}), DocumentTooLargeError, "compressed"),
        (make_zip({"a.bin": 10 * MB}, level=0), DocumentError, "cannot be read as a .docx"),
    ],
    ids=["not-zip", "truncated", "no-document", "no-content-types", "junk-member", "blank",
         "ratio-bomb", "stored-junk"],
)  # fmt: skip
def test_bad_docx(
    tmp_path: Path, data: bytes, error: type[DocumentError], reason_part: str
) -> None:
    path = write(tmp_path, "bad.docx", data)
    with pytest.raises(error) as caught:
        extract_text(path)
    assert type(caught.value) is error
    assert reason_part in caught.value.reason
    assert str(path) in str(caught.value)


@pytest.fixture(scope="module")
def zip_bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """300 MB of zeros deflated into a few hundred KB, named like a Word file."""
    path = tmp_path_factory.mktemp("bomb") / "bomb.docx"
    with (
        zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf,
        zf.open("word/document.xml", "w", force_zip64=True) as member,
    ):
        block = bytes(4 * MB)
        for _ in range(75):
            member.write(block)
    return path


def test_docx_zip_bomb_is_refused_before_unpacking(zip_bomb: Path) -> None:
    assert zip_bomb.stat().st_size < 5 * MB
    with pytest.raises(DocumentTooLargeError, match="looks like a zip bomb"):
        extract_text(zip_bomb)


# --- fuzzing: nothing but RagqaError may ever leave extract_text ----------------------

FUZZ = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SUFFIXES = sorted(SUPPORTED_SUFFIXES)


def _extract_or_refuse(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    try:
        result = extract_text(path)
    except RagqaError:
        return
    assert isinstance(result, ExtractedText)
    assert result.text.strip()


@pytest.mark.parametrize("suffix", SUFFIXES)
@FUZZ
@given(data=st.binary(max_size=4096))
def test_fuzz_random_bytes(
    tmp_path_factory: pytest.TempPathFactory, suffix: str, data: bytes
) -> None:
    _extract_or_refuse(tmp_path_factory.getbasetemp() / f"fuzz{suffix}", data)


@pytest.mark.parametrize("suffix", SUFFIXES)
@FUZZ
@given(cut=st.floats(min_value=0, max_value=1))
def test_fuzz_truncated_valid_file(
    tmp_path_factory: pytest.TempPathFactory, suffix: str, cut: float
) -> None:
    valid = valid_file(suffix)
    _extract_or_refuse(
        tmp_path_factory.getbasetemp() / f"cut{suffix}", valid[: int(len(valid) * cut)]
    )


@pytest.mark.parametrize("suffix", SUFFIXES)
@FUZZ
@given(edits=st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255)), min_size=1, max_size=8))
def test_fuzz_mutated_valid_file(
    tmp_path_factory: pytest.TempPathFactory, suffix: str, edits: list[tuple[float, int]]
) -> None:
    data = bytearray(valid_file(suffix))
    for where, value in edits:
        data[min(int(where * len(data)), len(data) - 1)] = value
    _extract_or_refuse(tmp_path_factory.getbasetemp() / f"mut{suffix}", bytes(data))


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_valid_files_used_for_fuzzing_load(tmp_path: Path, suffix: str) -> None:
    extracted = extract_text(write(tmp_path, f"valid{suffix}", valid_file(suffix)))
    assert "Hello" in extracted.text
    assert "secret" not in extracted.text
