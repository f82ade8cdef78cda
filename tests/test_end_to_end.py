"""The whole pipeline with the real models on the shipped Lei Jun collection."""

from __future__ import annotations

import pytest

from qa.normalise import mentions

pytestmark = pytest.mark.integration

# Known misses, measured on 2026-12-02 (see README "Answer quality"), kept as
# non-strict xfails so that a fix shows up as XPASS.
RETRIEVAL_MISS = pytest.mark.xfail(
    strict=False,
    reason="the five chunks retrieved all come from the essay, not the biography that holds "
    "the year, and the system abstains",
)

PARAPHRASE_MISS = pytest.mark.xfail(
    strict=False,
    reason="'join' shares no word with the answering sentence ('In 1992, he started as the "
    "sixth employee at Kingsoft'): both selectors quote another Kingsoft sentence (issue 17)",
)

ANSWERABLE = [
    ("How old was Lei Jun when he founded Xiaomi?", "40"),
    ("Where was Lei Jun born?", "Xiantao"),
    ("In which year was Lei Jun born?", "1969"),
    ("Which university did Lei Jun attend?", "Wuhan University"),
    # Answered since drafts stopped voting (a draft said "The answer is 2017.").
    ("In what year did Lei Jun become CEO of Kingsoft?", "1998"),
    pytest.param("In what year was Xiaomi founded?", "2010", marks=RETRIEVAL_MISS),
    # The README's follow-up example, as rewritten from the conversation.
    pytest.param("When did Lei Jun join Kingsoft?", "1992", marks=PARAPHRASE_MISS),
    ("Which book inspired Lei Jun in his youth?", "Fire in the Valley"),
    ("What did Lei Jun study at university?", "computer science"),
]

UNANSWERABLE = [
    "What is the name of Lei Jun's wife?",
    "What was Xiaomi's revenue in 2023?",
]


@pytest.mark.parametrize(
    "question",
    [*(p if isinstance(p, str) else p.values[0] for p in UNANSWERABLE), "Where was Lei Jun born?"],
)
def test_every_citation_is_an_exact_span(real_pipeline, question: str) -> None:
    """Whatever the answer, every citation points at real text of its document."""
    answer = real_pipeline.ask(question)
    assert answer.citations
    _check_citations(real_pipeline, answer)


def _check_citations(pipeline, answer) -> None:
    for citation in answer.citations:
        document = pipeline.document(citation.doc_id)
        assert document is not None, citation
        assert document.text[citation.start : citation.end] == citation.text
        chunk = pipeline.store.chunk(citation.chunk_id)
        assert chunk is not None and chunk.start <= citation.start and citation.end <= chunk.end


@pytest.mark.parametrize(("question", "expected"), ANSWERABLE)
def test_answers_with_cited_support(real_pipeline, question: str, expected: str) -> None:
    answer = real_pipeline.ask(question)
    assert not answer.abstained, (answer.reason, answer.draft, answer.features)
    assert mentions(answer.text, expected), (answer.text, answer.draft)
    assert answer.citations and all(c.supports_answer for c in answer.citations)
    assert any(mentions(c.text, expected) for c in answer.citations), answer.citations
    assert len(answer.text.split()) <= 40
    _check_citations(real_pipeline, answer)


@pytest.mark.parametrize("question", UNANSWERABLE)
def test_abstains_when_the_documents_do_not_say(real_pipeline, question: str) -> None:
    answer = real_pipeline.ask(question)
    assert answer.abstained, (answer.text, answer.features)
    assert answer.text.startswith("The documents don't say")
    assert answer.citations and not any(c.supports_answer for c in answer.citations)
    _check_citations(real_pipeline, answer)


def test_both_backends_give_the_same_greedy_draft(real_pipeline) -> None:
    from qa.generator import GeneratorConfig, make_generator
    from qa.prompt_builder import build_prompt

    prompt = build_prompt("Where was Lei Jun born?", ["Lei Jun was born in Xiantao, Hubei, China."])
    llama = "".join(real_pipeline.generator("llama-cpp").stream(prompt, 24))
    transformers = "".join(
        make_generator(GeneratorConfig(backend="transformers")).stream(prompt, 24)
    )
    assert "Xiantao" in llama and "Xiantao" in transformers
