"""Tests for corpus.cleaning.clean_text: an edge-case table plus properties."""

from __future__ import annotations

import re
import unicodedata

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from corpus.cleaning import clean_text


@pytest.mark.parametrize(
    ("raw", "cleaned"),
    [
        ("", ""),
        ("   \n\t\r\n  ", ""),
        ("plain text", "plain text"),
        ("  padded  ", "padded"),
        ("a\r\nb\rc\nd", "a\nb\nc\nd"),
        ("tab\tseparated\t\tcells", "tab separated cells"),
        ("many     spaces", "many spaces"),
        ("trailing   \nspaces\t\n", "trailing\nspaces"),
        ("one\n\n\n\n\ntwo", "one\n\ntwo"),
        ("one\n \n\t\n \ntwo", "one\n\ntwo"),
        ("keep\n\nparagraphs\nand lines", "keep\n\nparagraphs\nand lines"),
        ("  indented\n    lines", "indented\n lines"),
        ("bell\x07 and nul\x00 and esc\x1b[0m", "bell and nul and esc[0m"),
        ("c1 \x85next\x9fline", "c1\nnextline"),
        ("page one\fpage two", "page one\npage two"),
        ("line\u2028separator\u2029paragraph", "line\nseparator\nparagraph"),
        ("zero\u200bwidth\u200c\u200d\u2060\ufeffjoined", "zerowidthjoined"),
        ("\ufeffBOM at start", "BOM at start"),
        ("soft\u00adhyphen", "softhyphen"),
        ("hyphen\u00ad\nated by a soft hyphen", "hyphenated by a soft hyphen"),
        ("bidi \u202eesrever\u202c and \u2066iso\u2069", "bidi esrever and iso"),
        ("tag \U000e0069\U000e0067\U000e006echars", "tag chars"),
        ("lone \ud800surrogate", "lone surrogate"),
        ("infor-\nmation", "information"),
        ("infor- \nmation", "information"),
        ("über-\nmäßig", "übermäßig"),
        ("Jean-\nPaul", "Jean-\nPaul"),
        ("pre-\nWar", "pre-\nWar"),
        ("COVID-\n19", "COVID-\n19"),
        ("well-\n\nknown", "well-\n\nknown"),
        ("a-\nb-\nc", "abc"),
        ("dash –\nand — em", "dash –\nand — em"),
        ("“curly” ‘quotes’ stay", "“curly” ‘quotes’ stay"),
        ("non\u00a0breaking\u00a0\u00a0space", "non\u00a0breaking\u00a0\u00a0space"),
        ("nbsp at end\u00a0\nnext", "nbsp at end\nnext"),
        ("e\u0301 composed", "é composed"),
        ("e\u200b\u0301 after removal", "é after removal"),
        ("Å\u212b ohm \u2126", "ÅÅ ohm Ω"),
        ("emoji 👩‍💻 ok", "emoji 👩💻 ok"),
    ],
)
def test_clean_text_table(raw: str, cleaned: str) -> None:
    assert clean_text(raw) == cleaned
    assert clean_text(cleaned) == cleaned


def test_long_text_is_cleaned_linearly() -> None:
    raw = ("word  \t" * 200_000 + "\r\n") * 5
    cleaned = clean_text(raw)
    assert cleaned.count("\n") == 4
    assert "  " not in cleaned


NASTY = st.sampled_from(
    [
        *" \t\n\r\f\v-—–“”'\"aAbZé\u0301\u00a0\u00ad\u200b\u200d\ufeff\x00\x1b\x85\u2028\u2029ß",
        "\U000e0041",
        "\u2126",
        "\u212b",
        "\u3000",
        "e\u0301",
        "\u1100",
        "\u1161",
        "\u11a8",
    ]
)
PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(st.text() | st.lists(NASTY).map("".join))
@example("a-\n b")
@example("x\u00ad \nb")
@example("a \u00a0\n\n\n\u00a0b")
def test_clean_text_is_idempotent(raw: str) -> None:
    once = clean_text(raw)
    assert clean_text(once) == once


@PROPERTY
@given(st.text() | st.lists(NASTY).map("".join))
def test_clean_text_output_invariants(raw: str) -> None:
    cleaned = clean_text(raw)
    assert cleaned == cleaned.strip()
    assert unicodedata.is_normalized("NFC", cleaned)
    assert "\r" not in cleaned and "\t" not in cleaned
    assert "  " not in cleaned and "\n\n\n" not in cleaned
    assert not re.search(r"[^\S\n]\n", cleaned), "no whitespace at a line end"
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f\u00ad\u200b-\u200f\ufeff]", cleaned)
    cleaned.encode("utf-8")  # always writable, e.g. for content hashes


@PROPERTY
@given(st.text(alphabet=st.characters(categories=["L", "N", "P", "S"]), min_size=1))
def test_visible_single_line_text_is_untouched(raw: str) -> None:
    assert clean_text(raw) == unicodedata.normalize("NFC", raw)
