"""E-books (.epub): the chapters in reading order, each labelled with its title.

An EPUB is a zip of XHTML files listed, in reading order, by the spine of its
package document (OPF); its table of contents (the EPUB 3 ``nav`` document or
the EPUB 2 NCX) names the chapters. This reader follows the spine, reads each
chapter with the same hidden-text-aware HTML reader as web pages
(:mod:`corpus.html_text`), and labels it with its table-of-contents title, else
its first heading, else ``chapter N``.

Why no e-book library: the maintained one for Python, EbookLib, is AGPL-3.0,
which ragqa (Apache-2.0) cannot take on; the format needs only the standard
zip reader and an XML parser. The XML is parsed with lxml (already installed
for python-docx) with entities, DTDs and the network off, so neither a
billion-laughs file nor an external entity can reach anything.

Concessions: DRM-protected books are refused (their chapters are ciphertext);
fixed-layout books and images of text have no text to read.
"""

from __future__ import annotations

import io
import posixpath
import zipfile
from pathlib import Path
from urllib.parse import unquote, urldefrag

from bs4 import BeautifulSoup
from lxml import etree

from corpus.documents import LocationKind
from corpus.errors import DocumentError
from corpus.html_text import html_sections
from corpus.reading import ExtractedText, Section, check_zip, decode, describe, tidy_title

_FIX = "re-export it from your e-book program or remove it"
_NS = {
    "c": "urn:oasis:names:tc:opendocument:xmlns:container",
    "opf": "http://www.idpf.org/2007/opf",
    "dc": "http://purl.org/dc/elements/1.1/",
    "ncx": "http://www.daisy.org/z3986/2005/ncx/",
    "xhtml": "http://www.w3.org/1999/xhtml",
    "epub": "http://www.idpf.org/2007/ops",
}
_XHTML_TYPES = frozenset({"application/xhtml+xml", "text/html", "application/xml"})


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, recover=False
    )


def extract_epub(path: Path, data: bytes, max_bytes: int) -> ExtractedText:
    """The chapters of an EPUB in spine order, one section each."""
    check_zip(path, data, ".epub", _FIX)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as book:
            return _read_book(path, book)
    except DocumentError:
        raise
    except Exception as error:
        raise DocumentError(
            path, f"cannot be read as an .epub: {describe(error)}; {_FIX}"
        ) from error


def _read_book(path: Path, book: zipfile.ZipFile) -> ExtractedText:
    names = set(book.namelist())
    if "META-INF/encryption.xml" in names and _encrypts_content(
        book.read("META-INF/encryption.xml")
    ):
        raise DocumentError(
            path,
            "is protected by DRM (its chapters are encrypted); remove the protection or remove it",
        )
    if "META-INF/container.xml" not in names:
        raise DocumentError(path, f"is not a valid .epub (no META-INF/container.xml); {_FIX}")
    container = etree.fromstring(book.read("META-INF/container.xml"), _parser())
    rootfile = container.find(".//c:rootfile", _NS)
    opf_path = rootfile.get("full-path") if rootfile is not None else None
    if not opf_path or opf_path not in names:
        raise DocumentError(path, f"is not a valid .epub (its package document is missing); {_FIX}")
    package = etree.fromstring(book.read(opf_path), _parser())
    base = posixpath.dirname(opf_path)
    manifest = {
        item.get("id"): item
        for item in package.iterfind(".//opf:manifest/opf:item", _NS)
        if item.get("id") and item.get("href")
    }
    toc = _table_of_contents(book, base, manifest, package)
    sections: list[Section] = []
    number = 0
    for itemref in package.iterfind(".//opf:spine/opf:itemref", _NS):
        item = manifest.get(itemref.get("idref"))
        if item is None or item.get("media-type") not in _XHTML_TYPES:
            continue
        member = _member(base, item.get("href", ""))
        if member not in names:
            continue
        soup = BeautifulSoup(decode(path, book.read(member)), "html.parser")
        chapter = html_sections(soup)
        if not chapter.text.strip():
            continue
        number += 1
        heading = next((s.label for s in chapter.sections if s.label), None)
        label = toc.get(member) or (heading.split(" › ")[0] if heading else None)
        sections.append(Section(chapter.text, LocationKind.CHAPTER, label or f"chapter {number}"))
    title_element = package.find(".//dc:title", _NS)
    title = tidy_title(title_element.text or "") if title_element is not None else None
    return ExtractedText.of_sections(sections, title)


def _member(base: str, href: str) -> str:
    """The zip member an href (relative to the package document) points at."""
    return posixpath.normpath(posixpath.join(base, unquote(urldefrag(href)[0])))


def _encrypts_content(xml: bytes) -> bool:
    """Font obfuscation is allowed; anything else encrypted is DRM."""
    root = etree.fromstring(xml, _parser())
    for method in root.iter("{*}EncryptionMethod"):
        algorithm = method.get("Algorithm", "")
        if "obfuscation" not in algorithm and "font" not in algorithm.lower():
            return True
    return False


def _table_of_contents(
    book: zipfile.ZipFile, base: str, manifest: dict[str, etree._Element], package: etree._Element
) -> dict[str, str]:
    """Chapter titles by zip member, from the EPUB 3 nav or the EPUB 2 NCX."""
    titles: dict[str, str] = {}
    for item in manifest.values():
        if "nav" in (item.get("properties") or "").split():
            nav_path = _member(base, item.get("href", ""))
            nav = etree.fromstring(book.read(nav_path), _parser())
            nav_base = posixpath.dirname(nav_path)
            for link in nav.iterfind(".//xhtml:nav//xhtml:a[@href]", _NS):
                text = tidy_title("".join(link.itertext()))
                member = _member(nav_base, link.get("href", ""))
                if text and member not in titles:
                    titles[member] = text
            return titles
    spine = package.find(".//opf:spine", _NS)
    ncx_item = manifest.get(spine.get("toc")) if spine is not None else None
    if ncx_item is not None:
        ncx_path = _member(base, ncx_item.get("href", ""))
        ncx = etree.fromstring(book.read(ncx_path), _parser())
        ncx_base = posixpath.dirname(ncx_path)
        for point in ncx.iterfind(".//ncx:navPoint", _NS):
            label = point.find("ncx:navLabel/ncx:text", _NS)
            content = point.find("ncx:content", _NS)
            if label is None or content is None:
                continue
            text = tidy_title(label.text or "")
            member = _member(ncx_base, content.get("src", ""))
            if text and member not in titles:
                titles[member] = text
    return titles
