"""Real files of the newer formats, built in memory with the libraries that
write them: python-pptx for slides, XlsxWriter (python-pptx's own dependency)
for workbooks, and the EPUB layout written out by hand with ``zipfile``
(the format is a zip of XHTML and two small XML files)."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence
from typing import Any
from xml.sax.saxutils import escape

import pptx
import xlsxwriter
from pptx.util import Inches


def make_pptx(
    slides: Sequence[tuple[str | None, Sequence[str], str | None]],
    title: str | None = None,
    table: Sequence[Sequence[str]] | None = None,
) -> bytes:
    """One slide per ``(title, body lines, notes)``; a table on the last slide if given."""
    presentation = pptx.Presentation()
    for slide_title, lines, notes in slides:
        slide = presentation.slides.add_slide(presentation.slide_layouts[1])
        if slide_title is not None:
            slide.shapes.title.text = slide_title
        else:
            slide.shapes.title.element.getparent().remove(slide.shapes.title.element)
        body = slide.placeholders[1]
        body.text_frame.text = "\n".join(lines)
        if notes is not None:
            slide.notes_slide.notes_text_frame.text = notes
    if table:
        slide = (
            presentation.slides[-1]
            if slides
            else presentation.slides.add_slide(presentation.slide_layouts[6])
        )
        shape = slide.shapes.add_table(
            len(table), len(table[0]), Inches(1), Inches(4), Inches(6), Inches(1)
        )
        for r, row in enumerate(table):
            for c, value in enumerate(row):
                shape.table.cell(r, c).text = value
    if title is not None:
        presentation.core_properties.title = title
    out = io.BytesIO()
    presentation.save(out)
    return out.getvalue()


def make_xlsx(
    sheets: dict[str, Sequence[Sequence[Any]]],
    hidden: Sequence[str] = (),
    first_row: int = 0,
    cells: Sequence[tuple[str, int, int, Any]] = (),
) -> bytes:
    """A workbook with the given rows per sheet, starting at 0-based ``first_row``;
    ``cells`` writes single cells ``(sheet, row, column, value)`` anywhere."""
    out = io.BytesIO()
    workbook = xlsxwriter.Workbook(out, {"in_memory": True})
    worksheets = {}
    for name, rows in sheets.items():
        sheet = workbook.add_worksheet(name)
        worksheets[name] = sheet
        for r, row in enumerate(rows):
            sheet.write_row(first_row + r, 0, row)
        if name in hidden:
            sheet.hide()
    for name, row_number, column, value in cells:
        worksheets[name].write(row_number, column, value)
    workbook.close()
    return out.getvalue()


_CONTAINER = """<?xml version="1.0"?>
<container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">
<rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/></rootfiles>
</container>"""


def make_epub(
    chapters: Sequence[tuple[str | None, str]],
    title: str = "A book",
    toc: str = "nav",
    extra: dict[str, bytes] | None = None,
) -> bytes:
    """An EPUB with one XHTML file per ``(table-of-contents title or None, body html)``,
    its table of contents as an EPUB 3 ``nav`` document or an EPUB 2 ``ncx``."""
    items, spine, nav_links, nav_points = [], [], [], []
    files: dict[str, str] = {}
    for number, (toc_title, body) in enumerate(chapters, start=1):
        name = f"text/chapter {number}.xhtml"
        href = name.replace(" ", "%20")
        files[f"OEBPS/{name}"] = (
            '<?xml version="1.0" encoding="utf-8"?>\n<html xmlns="http://www.w3.org/1999/xhtml">'
            f"<head><title>c{number}</title></head><body>{body}</body></html>"
        )
        items.append(f'<item id="c{number}" href="{href}" media-type="application/xhtml+xml"/>')
        spine.append(f'<itemref idref="c{number}"/>')
        if toc_title is not None:
            nav_links.append(f'<li><a href="{href}#start">{escape(toc_title)}</a></li>')
            nav_points.append(
                f'<navPoint id="n{number}" playOrder="{number}"><navLabel><text>'
                f'{escape(toc_title)}</text></navLabel><content src="{href}"/></navPoint>'
            )
    spine_attributes = ""
    if toc == "nav":
        items.append(
            '<item id="nav" href="nav.xhtml" media-type="application/xhtml+xml" properties="nav"/>'
        )
        files["OEBPS/nav.xhtml"] = (
            '<?xml version="1.0" encoding="utf-8"?>\n<html xmlns="http://www.w3.org/1999/xhtml" '
            'xmlns:epub="http://www.idpf.org/2007/ops"><head><title>Contents</title></head><body>'
            f'<nav epub:type="toc"><ol>{"".join(nav_links)}</ol></nav></body></html>'
        )
    else:
        items.append('<item id="ncx" href="toc.ncx" media-type="application/x-dtbncx+xml"/>')
        spine_attributes = ' toc="ncx"'
        files["OEBPS/toc.ncx"] = (
            '<?xml version="1.0" encoding="utf-8"?>\n<ncx xmlns="http://www.daisy.org/z3986/2005/ncx/" '
            f'version="2005-1"><navMap>{"".join(nav_points)}</navMap></ncx>'
        )
    files["OEBPS/content.opf"] = (
        '<?xml version="1.0" encoding="utf-8"?>\n<package xmlns="http://www.idpf.org/2007/opf" '
        'version="3.0" unique-identifier="id"><metadata xmlns:dc="http://purl.org/dc/elements/1.1/">'
        f'<dc:identifier id="id">urn:uuid:1</dc:identifier><dc:title>{escape(title)}</dc:title>'
        f"<dc:language>en</dc:language></metadata><manifest>{''.join(items)}</manifest>"
        f"<spine{spine_attributes}>{''.join(spine)}</spine></package>"
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as book:
        book.writestr(zipfile.ZipInfo("mimetype"), "application/epub+zip")
        book.writestr("META-INF/container.xml", _CONTAINER, zipfile.ZIP_DEFLATED)
        for name, text in files.items():
            book.writestr(name, text, zipfile.ZIP_DEFLATED)
        for name, data in (extra or {}).items():
            book.writestr(name, data, zipfile.ZIP_DEFLATED)
    return out.getvalue()
