"""Tests for corpus.chunking: an edge-case table plus properties over random texts.

The properties are the chunker's contract with the rest of the pipeline:
every chunk is an exact slice of the document (so a citation can be
highlighted), chunks come in order, no non-whitespace character is lost,
neighbours share at most ``overlap_tokens``, and no chunk is over budget.
They are checked with two token counters: the word-based
:func:`approximate_token_count` and one that charges a word piece per
character, which is how the real tokenizer treats CJK text.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corpus.chunking import (
    ChunkingConfig,
    TokenCounter,
    approximate_token_count,
    chunk_document,
    chunk_spans,
    sentence_spans,
)
from corpus.documents import Chunk, Document


def per_character_count(text: str) -> int:
    """One word piece per non-space character, like BERT on CJK text."""
    return sum(not ch.isspace() for ch in text)


COUNTERS: dict[str, TokenCounter] = {
    "approximate": approximate_token_count,
    "per-character": per_character_count,
}


def check_chunking_contract(
    text: str, config: ChunkingConfig, count_tokens: TokenCounter
) -> list[tuple[int, int]]:
    """Assert every property of the chunker's contract; returns the spans."""
    spans = chunk_spans(text, config, count_tokens)
    if not text.strip():
        assert spans == []
        return spans
    assert spans, "a text with words must give at least one chunk"
    for start, end in spans:
        assert 0 <= start < end <= len(text)
        piece = text[start:end]
        assert piece == piece.strip(), f"chunk {piece!r} starts or ends with whitespace"
        assert count_tokens(piece) <= config.max_tokens, (
            f"chunk of {count_tokens(piece)} tokens is over max_tokens={config.max_tokens}"
        )
    for (start_a, end_a), (start_b, end_b) in itertools.pairwise(spans):
        assert start_a < start_b and end_a < end_b, "chunks must move forward"
        if start_b < end_a:
            shared = count_tokens(text[start_b:end_a])
            assert shared <= config.overlap_tokens, (
                f"neighbours share {shared} tokens; overlap_tokens={config.overlap_tokens}"
            )
    covered = bytearray(len(text))
    for start, end in spans:
        covered[start:end] = b"\x01" * (end - start)
    lost = [i for i, ch in enumerate(text) if not ch.isspace() and not covered[i]]
    assert not lost, f"characters lost at {lost[:5]}: {[text[i] for i in lost[:5]]}"
    # A sentence within budget is never cut: it lies whole inside some chunk.
    for s_start, s_end in sentence_spans(text):
        if count_tokens(text[s_start:s_end]) <= config.max_tokens:
            assert any(c_start <= s_start and s_end <= c_end for c_start, c_end in spans), (
                f"sentence {text[s_start:s_end]!r} was cut although it fits the budget"
            )
    return spans


# --- edge cases ----------------------------------------------------------------------

EDGE_CASES = {
    "empty": "",
    "only spaces": "   \t  ",
    "only blank lines": "\n\n\n \n\n",
    "one character": "a",
    "one word": "Xiaomi",
    "one huge line without spaces": "x" * 20_000,
    "huge url in a sentence": "See https://example.com/" + "a" * 5_000 + " for details. Done.",
    "emoji": "Lei Jun 😀 likes phones 📱. " * 60,
    "emoji with joiners": "👨\u200d👩\u200d👧\u200d👦 family " * 200,
    "cjk without spaces": "雷军是小米科技的创始人。他出生于一九六九年。" * 80,
    "cjk mixed with latin": "雷军 (Lei Jun) founded 小米 in 2010. 他是董事长。" * 40,
    "many blank lines": "First sentence here.\n\n\n\n\n\nSecond sentence here.\n\n\n" * 30,
    "abbreviations": "Mr. Lei met Dr. Smith in the U.S. on Jan. 5. They talked. " * 30,
    "decimals": "Revenue grew 3.5 times to 2.75 billion. Margins were 1.2 percent. " * 30,
    "windows line endings": "One sentence.\r\nAnother sentence.\r\n" * 50,
    "tabs and odd spaces": "Word\u00a0word\u2003word\tword. " * 80,
    "right-to-left": "مرحبا بالعالم. هذه جملة أخرى. " * 60,
    "combining marks": "Cafe\u0301 na\u0308ive. " * 100,
    "long sentence without stops": " ".join(f"word{i}" for i in range(3_000)),
    "punctuation only": "... !!! ??? ;;; " * 50,
}

CONFIGS = [
    ChunkingConfig(max_tokens=16, overlap_tokens=0),
    ChunkingConfig(max_tokens=16, overlap_tokens=15),
    ChunkingConfig(max_tokens=40, overlap_tokens=10),
    ChunkingConfig(),
]


@pytest.mark.parametrize("counter", COUNTERS.values(), ids=list(COUNTERS))
@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: f"{c.max_tokens}-{c.overlap_tokens}")
@pytest.mark.parametrize("text", EDGE_CASES.values(), ids=list(EDGE_CASES))
def test_edge_cases_keep_the_contract(
    text: str, config: ChunkingConfig, counter: TokenCounter
) -> None:
    check_chunking_contract(text, config, counter)


def test_text_without_words_gives_no_chunks() -> None:
    assert chunk_spans("", ChunkingConfig()) == []
    assert chunk_spans(" \n\t\u00a0\n", ChunkingConfig()) == []


def test_cjk_run_is_cut_to_the_budget_of_a_per_character_tokenizer() -> None:
    text = "雷军" * 300
    spans = chunk_spans(text, ChunkingConfig(max_tokens=16, overlap_tokens=4), len)
    assert all(end - start <= 16 for start, end in spans)
    assert "".join(text[s:e] for s, e in spans) == text


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        (
            "Mr. Lei founded Xiaomi. He was born in 1969.",
            ["Mr. Lei founded Xiaomi.", "He was born in 1969."],
        ),
        (
            "He moved to the U.S. in 1990. It rained.",
            ["He moved to the U.S. in 1990.", "It rained."],
        ),
        (
            "Shares rose 3.5 percent. Then 2.75 more.",
            ["Shares rose 3.5 percent.", "Then 2.75 more."],
        ),
        ("See e.g. Kingsoft. Then Xiaomi.", ["See e.g. Kingsoft.", "Then Xiaomi."]),
        ("J. Smith wrote it. Yes.", ["J. Smith wrote it.", "Yes."]),
        ('He said "Go." Then he left.', ['He said "Go."', "Then he left."]),
        ("Really? Yes! Fine.", ["Really?", "Yes!", "Fine."]),
        ("Line one\nLine two\n\n\nLine three", ["Line one", "Line two", "Line three"]),
        ("  padded sentence.  ", ["padded sentence."]),
        ("雷军出生于1969年。他是创始人。", ["雷军出生于1969年。他是创始人。"]),
    ],
    ids=[
        "mr",
        "u.s.",
        "decimals",
        "e.g.",
        "initial",
        "quotes",
        "? and !",
        "line breaks",
        "padding",
        "cjk",
    ],
)
def test_sentence_spans(text: str, sentences: list[str]) -> None:
    assert [text[s:e] for s, e in sentence_spans(text)] == sentences


def test_abbreviation_does_not_start_a_chunk() -> None:
    text = "Mr. Lei founded Xiaomi in 2010. " * 20
    for start, _ in chunk_spans(text, ChunkingConfig(max_tokens=16, overlap_tokens=0)):
        assert text[start:].startswith("Mr. Lei")


@pytest.mark.parametrize(
    ("max_tokens", "overlap_tokens"), [(15, 0), (0, 0), (16, 16), (16, -1), (100, 200)]
)
def test_config_rejects_bad_values_and_names_them(max_tokens: int, overlap_tokens: int) -> None:
    with pytest.raises(ValueError, match="Currently it is"):
        ChunkingConfig(max_tokens=max_tokens, overlap_tokens=overlap_tokens)


def test_chunk_document_ids_offsets_and_metadata() -> None:
    text = " ".join(f"Sentence number {i} talks about Xiaomi." for i in range(60))
    document = Document(doc_id="d1", title="Title", source_path="/d1.txt", text=text)
    chunks = chunk_document(document, ChunkingConfig(max_tokens=24, overlap_tokens=8))
    assert len(chunks) > 3
    assert [c.chunk_id for c in chunks] == [f"d1:{i:04d}" for i in range(len(chunks))]
    for chunk in chunks:
        assert isinstance(chunk, Chunk)
        assert document.text[chunk.start : chunk.end] == chunk.text
        assert (chunk.doc_id, chunk.title, chunk.source_path) == ("d1", "Title", "/d1.txt")
        assert chunk.embedding_text == f"Title\n{chunk.text}"


# --- properties over random texts ----------------------------------------------------

WORDS = st.sampled_from(
    [
        "Lei",
        "Jun",
        "Xiaomi",
        "founded",
        "the",
        "company",
        "in",
        "2010",
        "3.5",
        "U.S.",
        "Mr.",
        "Dr.",
        "e.g.",
        "雷军",
        "小米科技",
        "😀",
        "“quoted”",
        "(aside)",
        "a" * 60,
        "https://example.com/a/b?c=d",
        "naïve",
        "مرحبا",
    ]
)
SENTENCE_ENDS = st.sampled_from([".", "!", "?", "…", "。", '."', ".)", ""])
SEPARATORS = st.sampled_from([" ", "  ", "\n", "\n\n", "\n\n\n\n", "\t", " \u00a0", "\r\n"])


@st.composite
def documents_text(draw: st.DrawFn) -> str:
    sentences = draw(
        st.lists(
            st.tuples(st.lists(WORDS, min_size=1, max_size=40), SENTENCE_ENDS, SEPARATORS),
            max_size=40,
        )
    )
    return "".join(" ".join(words) + end + sep for words, end, sep in sentences)


RANDOM_TEXTS = st.one_of(
    documents_text(),
    st.text(max_size=800),
    st.text(alphabet=st.sampled_from("ab .\n雷😀?"), max_size=2_000),
)


@st.composite
def configs(draw: st.DrawFn) -> ChunkingConfig:
    max_tokens = draw(st.integers(16, 200))
    return ChunkingConfig(max_tokens, draw(st.integers(0, max_tokens - 1)))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=RANDOM_TEXTS, config=configs(), counter=st.sampled_from(list(COUNTERS.values())))
def test_random_texts_keep_the_contract(
    text: str, config: ChunkingConfig, counter: TokenCounter
) -> None:
    check_chunking_contract(text, config, counter)


@settings(max_examples=150, deadline=None)
@given(text=documents_text(), config=configs())
def test_chunk_document_offsets_round_trip(text: str, config: ChunkingConfig) -> None:
    if not text.strip():
        return
    document = Document(doc_id="doc", title="T", source_path="/t.txt", text=text)
    chunks = chunk_document(document, config)
    assert [(c.start, c.end) for c in chunks] == chunk_spans(text, config)
    for chunk in chunks:
        assert document.text[chunk.start : chunk.end] == chunk.text
    assert len({c.chunk_id for c in chunks}) == len(chunks)
