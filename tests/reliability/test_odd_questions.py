"""Questions of every kind of oddness get an answer or a clear message, never a crash.

The command line (``tests/ragqa/test_cli.py``) and the chat window
(``tests/ui/test_window.py``) check their own handling of odd questions; this
module checks what both rely on: :func:`qa.answerer.clean_question` (a table of
edge cases), and :meth:`Pipeline.ask` with the real models on the shipped
collection, where a question in another script, with control characters,
markup or SQL, or exactly at the length limit, must come back as a well-formed
:class:`Answer` whose citations are exact document spans, and an unusable
question as a :class:`QuestionError` that says what to do.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable, Iterator, Sequence

import pytest

from corpus.errors import QuestionError
from indexer.embedder import EmbedderConfig
from qa.answer_builder import ABSTAIN_TEXT
from qa.answerer import MAX_QUESTION_CHARS, clean_question
from qa.generator import Message
from qa.pipeline import Pipeline, PipelineConfig
from qa.types import Answer
from tests.fakes import HashEmbedder, ScriptedGenerator


def long_question(length: int) -> str:
    """A real question repeated up to exactly ``length`` characters, ending in "?".

    >>> len(long_question(999)), long_question(30)
    (999, 'When was Lei Jun born? When w?')
    """
    return ("When was Lei Jun born? " * (length // 20 + 1))[: length - 1] + "?"


# (question as typed, question as cleaned)
ACCEPTED = {
    "plain": ("When was Lei Jun born?", "When was Lei Jun born?"),
    "chinese": ("雷军是谁？", "雷军是谁？"),
    "arabic": ("من أسس شاومي؟", "من أسس شاومي؟"),
    "cyrillic": ("Кто основал Xiaomi?", "Кто основал Xiaomi?"),
    "decomposed accents": ("Cafe\u0301 owner?", "Café owner?"),
    "emoji with words": ("🙂 Who founded Xiaomi? 🚀", "🙂 Who founded Xiaomi? 🚀"),
    "C0 controls and ANSI escape": (
        "Who founded Xiaomi?\x07\x1b[31m",
        "Who founded Xiaomi? [31m",
    ),
    "NUL and tabs": ("\x00Who\tfounded\x00Xiaomi?\n", "Who founded Xiaomi?"),
    "line and paragraph separators": ("Who\u2028founded\u2029Xiaomi?", "Who founded Xiaomi?"),
    "html": (
        "<script>alert(1)</script> Who founded Xiaomi?",
        "<script>alert(1)</script> Who founded Xiaomi?",
    ),
    "markdown": ("**Who** _founded_ [Xiaomi](http://x)?", "**Who** _founded_ [Xiaomi](http://x)?"),
    "sql": ("Who founded Xiaomi?' OR 1=1; --", "Who founded Xiaomi?' OR 1=1; --"),
    "format strings": ("{{ question }} %s %(x)s {0}", "{{ question }} %s %(x)s {0}"),
    "999 characters": (long_question(999), long_question(999)),
    "1000 characters (the limit)": (long_question(1000), long_question(1000)),
    "1000 characters after spaces are collapsed": (
        "   " + long_question(1000).replace(" ", "  ") + "   ",
        long_question(1000),
    ),
}

# (question, a phrase the message must hold)
REFUSED = {
    "empty": ("", "The question is empty"),
    "only spaces": ("   \t\n ", "The question is empty"),
    "only control characters": ("\x00\x07 \x1b\x7f", "The question is empty"),
    "only punctuation": ("?!?...", "has no words"),
    "inverted punctuation": ("¿¡", "has no words"),
    "only symbols": ("-- // ** <> </>", "has no words"),
    "only emoji": ("🙂🙂", "has no words"),
    "only zero-width spaces": ("\u200b\u200b", "is empty"),
    "1001 characters": (long_question(1001), "is 1001 characters long; the limit is 1000"),
    "a huge paste": ("word " * 100_000, "the limit is 1000"),
}

# (question as typed, question as it should be cleaned)
INVISIBLE = {
    "C1 control sequence introducer": ("Who\x9b31m founded Xiaomi?", "Who 31m founded Xiaomi?"),
    "right-to-left override": ("\u202eWho founded Xiaomi?", "Who founded Xiaomi?"),
    "byte-order mark": ("\ufeffWho founded Xiaomi?", "Who founded Xiaomi?"),
    "tag characters (invisible text)": (
        "Who founded Xiaomi?\U000e0049\U000e0047\U000e004e",
        "Who founded Xiaomi?",
    ),
}


@pytest.mark.parametrize(("question", "cleaned"), ACCEPTED.values(), ids=list(ACCEPTED))
def test_usable_questions_are_kept_as_typed_text(question: str, cleaned: str) -> None:
    assert clean_question(question) == cleaned
    assert clean_question(cleaned) == cleaned, "cleaning must be idempotent"
    assert len(cleaned) <= MAX_QUESTION_CHARS


@pytest.mark.parametrize(("question", "message"), REFUSED.values(), ids=list(REFUSED))
def test_unusable_questions_are_refused_with_a_clear_message(question: str, message: str) -> None:
    with pytest.raises(QuestionError) as refused:
        clean_question(question)
    text = str(refused.value)
    assert message in text
    assert re.search(r"type a question|Ask something shorter", text), "say what to do instead"
    assert len(text) < 200, "a message, not a dump of the question"


@pytest.mark.parametrize(
    ("question", "cleaned"),
    list(INVISIBLE.values()),
    ids=list(INVISIBLE),
)
def test_invisible_characters_are_removed_from_questions(question: str, cleaned: str) -> None:
    """What the reader cannot see must not reach the model, the terminal or the log."""
    result = clean_question(question)
    assert not [ch for ch in result if unicodedata.category(ch) in {"Cc", "Cf"}], repr(result)
    assert result.replace(" ", "") == cleaned.replace(" ", ""), "only invisible characters go"


def test_non_text_questions_are_refused() -> None:
    for question in [None, b"Who founded Xiaomi?", 42]:
        with pytest.raises(QuestionError, match="must be text"):
            clean_question(question)  # type: ignore[arg-type]


# --- Pipeline.ask ----------------------------------------------------------------------


class MustNotRun(ScriptedGenerator):
    def stream(self, messages: Sequence[Message], max_tokens: int) -> Iterator[str]:
        raise AssertionError("the generator ran for a question that should have been refused")


@pytest.fixture(scope="module")
def fake_pipeline(tmp_path_factory: pytest.TempPathFactory) -> Pipeline:
    """A one-document index with the hash embedder and a generator that must not run."""
    folder = tmp_path_factory.mktemp("odd-docs")
    (folder / "a.txt").write_text("Lei Jun founded Xiaomi in 2010.\n", encoding="utf-8")
    pipeline = Pipeline(
        PipelineConfig(
            index_dir=tmp_path_factory.mktemp("odd-index") / "index",
            embedder=EmbedderConfig(model=HashEmbedder.model_name),
        ),
        embedder=HashEmbedder(),
        generator=MustNotRun(),
    )
    pipeline.build_index([folder])
    return pipeline


@pytest.mark.parametrize(("question", "message"), REFUSED.values(), ids=list(REFUSED))
def test_pipeline_refuses_unusable_questions_before_generating(
    question: str, message: str, fake_pipeline: Pipeline
) -> None:
    with pytest.raises(QuestionError, match=re.escape(message)):
        fake_pipeline.ask(question)
    with pytest.raises(QuestionError, match=re.escape(message)):
        next(iter(fake_pipeline.stream(question)))


REAL_MODEL_QUESTIONS = {
    name: ACCEPTED[name][0]
    for name in [
        "chinese",
        "arabic",
        "cyrillic",
        "C0 controls and ANSI escape",
        "html",
        "sql",
        "1000 characters (the limit)",
    ]
}


@pytest.fixture(scope="module")
def ask_real(real_pipeline: Pipeline) -> Callable[[str], Answer]:
    """``real_pipeline.ask``, once per question for the whole module."""
    answers: dict[str, Answer] = {}

    def cached(question: str) -> Answer:
        if question not in answers:
            answers[question] = real_pipeline.ask(question)
        return answers[question]

    return cached


def check_well_formed(answer: Answer, pipeline: Pipeline) -> None:
    """An answer or an abstention of the documented shape, citing exact spans."""
    assert answer.text.strip() and answer.citations, answer
    if answer.abstained:
        assert answer.text.startswith(ABSTAIN_TEXT)
        assert not any(c.supports_answer for c in answer.citations)
    else:
        markers = {int(n) for n in re.findall(r"\[(\d+)\]", answer.text)}
        assert markers and markers <= {c.number for c in answer.citations}, answer.text
    for citation in answer.citations:
        document = pipeline.document(citation.doc_id)
        assert document is not None
        assert document.text[citation.start : citation.end] == citation.text
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", answer.text), repr(answer.text)
    json.loads(json.dumps(answer.to_dict(), ensure_ascii=False))


@pytest.mark.integration
@pytest.mark.parametrize("question", REAL_MODEL_QUESTIONS.values(), ids=list(REAL_MODEL_QUESTIONS))
def test_odd_questions_get_a_well_formed_answer_from_the_real_models(
    question: str, ask_real: Callable[[str], Answer], real_pipeline: Pipeline
) -> None:
    answer = ask_real(question)
    assert answer.question == clean_question(question)
    check_well_formed(answer, real_pipeline)


@pytest.mark.integration
def test_markup_in_a_question_stays_plain_text(
    ask_real: Callable[[str], Answer], real_pipeline: Pipeline
) -> None:
    """The pipeline neither runs nor escapes markup: the question is kept as the
    text that was typed, citations are verbatim document text, and escaping is
    left to the one place that renders, the chat window (``ui.render``)."""
    question = REAL_MODEL_QUESTIONS["html"]
    answer = ask_real(question)
    assert answer.question == question
    assert answer.to_dict()["question"] == question
    for text in [answer.text, *(c.text for c in answer.citations)]:
        assert "&lt;" not in text and "&gt;" not in text, "escaped too early (twice in the UI)"
    assert not any("<script" in c.text for c in answer.citations)


@pytest.mark.integration
@pytest.mark.parametrize(
    ("question", "message"),
    [REFUSED[name] for name in ["empty", "only punctuation", "only emoji", "1001 characters"]],
    ids=["empty", "only punctuation", "only emoji", "1001 characters"],
)
def test_the_real_pipeline_refuses_unusable_questions(
    question: str, message: str, real_pipeline: Pipeline
) -> None:
    with pytest.raises(QuestionError, match=re.escape(message)):
        real_pipeline.ask(question)
