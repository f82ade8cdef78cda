"""Tests for the chat window's handlers (ui.app.ChatWindow) with fake models.

The handlers are plain methods, so these run without a server or a browser;
the browser tests check the same behaviour end to end with the real models.
"""

from __future__ import annotations

import html
import itertools
from pathlib import Path

import gradio as gr
import pytest

from qa.pipeline import Pipeline, PipelineConfig
from qa.types import Answer
from tests.fakes import HashEmbedder, ScriptedGenerator
from tests.ui.conftest import fake_pipeline
from ui import render
from ui.app import ChatWindow, Turn
from ui.config import UiConfig

SKIP = gr.skip()


def window_for(pipeline: Pipeline, data_dir: Path, **config) -> ChatWindow:
    return ChatWindow(
        pipeline, UiConfig(**config), data_dir / "uploads", data_dir / "feedback.jsonl"
    )


def ask(window: ChatWindow, question: str, turns: list[Turn] | None = None, **options):
    settings = {"top_k": 5, "show_scores": False, "backend": None, **options}
    return list(
        window.respond(
            question, turns or [], settings["top_k"], settings["show_scores"], settings["backend"]
        )
    )


def test_without_drafts_the_answer_comes_in_one_step(pipeline, data_dir) -> None:
    outputs = ask(window_for(pipeline, data_dir), "When was Lei Jun born?")
    assert len(outputs) == 2, "the question with a cursor, then the finished answer"
    (turn,) = outputs[-1][2]
    assert isinstance(turn.answer, Answer) and turn.answer.draft == ""
    assert pipeline._generators[pipeline.config.generator.backend].prompts == []


def test_answer_is_streamed_then_replaced_by_the_grounded_answer(tmp_path, data_dir) -> None:
    pipeline = fake_pipeline(tmp_path / "index", draft=True)
    outputs = ask(window_for(pipeline, data_dir), "When was Lei Jun born?")
    question_box, chat, turns, sources, shown, passage, document = outputs[0]
    assert question_box == "" and turns == SKIP and shown is None
    assert chat == [
        {"role": "user", "content": render.escape_markdown("When was Lei Jun born?")},
        {"role": "assistant", "content": render.CURSOR},
    ]
    assert sources.visible is False and passage == render.EMPTY_VIEWER and document == ""

    drafts = [out[1][-1]["content"] for out in outputs[1:-1]]
    assert len(drafts) >= 3, "the draft should arrive in pieces"
    assert all(d.endswith(render.CURSOR) for d in drafts)
    assert all(len(a) < len(b) for a, b in itertools.pairwise(drafts))
    assert all(out[2] == SKIP for out in outputs[1:-1])

    _, chat, turns, sources, shown, passage, _ = outputs[-1]
    (turn,) = turns
    assert isinstance(turn.answer, Answer) and not turn.answer.abstained
    assert turn.searched_for is None
    assert chat[-1]["content"] == turn.markdown
    assert render.CURSOR not in turn.markdown and "**Sources**" in turn.markdown
    assert shown == 0 and sources.visible is True
    assert [value for _, value in sources.choices] == [
        f"0:{c.number}" for c in turn.answer.citations
    ]
    assert sources.choices[0][0].startswith("[1] ")


def test_follow_up_is_searched_for_with_the_name(pipeline, data_dir) -> None:
    window = window_for(pipeline, data_dir)
    turns = ask(window, "Who is Lei Jun?")[-1][2]
    outputs = ask(window, "When did he join Kingsoft?", turns)
    turns = outputs[-1][2]
    assert len(turns) == 2
    follow_up = turns[1]
    assert follow_up.question == "When did he join Kingsoft?"
    assert follow_up.searched_for == "When did Lei Jun join Kingsoft?"
    assert follow_up.answer is not None
    assert follow_up.answer.retrieval_query == "When did Lei Jun join Kingsoft?"
    assert follow_up.answer.question == "When did he join Kingsoft?"
    assert "Searched for: When did Lei Jun join Kingsoft" in follow_up.markdown.replace("\\", "")
    assert [m["role"] for m in outputs[-1][1]] == ["user", "assistant"] * 2
    assert outputs[-1][3].choices[0][1] == "1:1"


def test_question_without_a_pronoun_is_searched_for_as_asked(pipeline, data_dir) -> None:
    window = window_for(pipeline, data_dir)
    turns = ask(window, "Who is Lei Jun?")[-1][2]
    (_, follow_up) = ask(window, "What is Xiaomi's vision statement?", turns)[-1][2]
    assert follow_up.searched_for is None
    assert follow_up.answer.retrieval_query == "What is Xiaomi's vision statement?"


@pytest.mark.parametrize("question", ["", "   ", "?!", "x" * 1001])
def test_unusable_questions_are_refused_with_a_message(pipeline, data_dir, question) -> None:
    with pytest.warns(UserWarning) as caught:
        outputs = ask(window_for(pipeline, data_dir), question)
    assert outputs == [(SKIP,) * 7]
    message = str(caught[0].message)
    assert "question" in message and "Traceback" not in message


def test_abstention_is_shown_as_such(tmp_path, data_dir) -> None:
    invented = fake_pipeline(tmp_path / "index", reply="Zork Blorp was born in 1234.")
    _, chat, turns, sources, *_ = ask(window_for(invented, data_dir), "Who is Zork Blorp?")[-1]
    answer = turns[0].answer
    assert answer.abstained
    assert chat[-1]["content"].startswith(f"**{render.escape_markdown(render.ABSTAIN_HEADING)}**")
    assert "**Closest passages**" in chat[-1]["content"]
    assert sources.label.startswith("Closest passages (not an answer)")


def test_pipeline_errors_are_shown_in_the_chat_not_raised(tmp_path, data_dir) -> None:
    no_index = Pipeline(
        PipelineConfig(index_dir=tmp_path / "missing"),
        embedder=HashEmbedder(),
        generator=ScriptedGenerator("x"),
    )
    _, chat, turns, sources, *_ = ask(window_for(no_index, data_dir), "When was Lei Jun born?")[-1]
    assert turns[0].answer is None and turns[0].error
    assert chat[-1]["content"].startswith("**Could not answer")
    assert sources.visible is False


def test_unexpected_errors_show_a_plain_message(tmp_path, data_dir) -> None:
    class Broken:
        name = "broken"

        def stream(self, messages, max_tokens):
            raise RuntimeError("secret internal detail")
            yield ""

    broken = fake_pipeline(tmp_path / "index", draft=True)
    broken._generators[broken.config.generator.backend] = Broken()  # type: ignore[assignment]
    chat = ask(window_for(broken, data_dir), "When was Lei Jun born?")[-1][1]
    assert "secret" not in chat[-1]["content"]
    assert "server log" in chat[-1]["content"]


def test_settings_are_passed_to_the_pipeline(pipeline, data_dir) -> None:
    turns = ask(window_for(pipeline, data_dir), "When was Lei Jun born?", top_k=2)[-1][2]
    assert len(turns[0].answer.hits) == 2
    many = ask(window_for(pipeline, data_dir), "When was Lei Jun born?", top_k=99)[-1][2]
    assert len(many[0].answer.hits) > 5  # clamped to the slider's range, not refused
    scored = ask(window_for(pipeline, data_dir), "When was Lei Jun born?", show_scores=True)[-1]
    assert "score" in scored[2][0].markdown and "(score" in scored[3].choices[0][0]


def test_clicking_a_citation_shows_the_marked_passage(pipeline, data_dir) -> None:
    window = window_for(pipeline, data_dir)
    final = ask(window, "When was Lei Jun born?")[-1]
    turns, sources = final[2], final[3]
    citation = turns[0].answer.citations[0]
    passage, document = window.show_citation(sources.choices[0][1], turns, False)
    assert f"<mark>{html.escape(citation.text)}</mark>".replace("\n", "<br>") in passage
    assert html.escape(citation.document) in passage
    assert "<mark>" in document and html.escape(citation.document) in document
    full = pipeline.document(citation.doc_id)
    assert len(html.unescape(document)) >= len(full.text)  # the whole text is there
    for bad in [None, "", "junk", "9:1", "-1:1", "0:99", "x:y", "0:1:2"]:
        assert window.show_citation(bad, turns, False) == (render.EMPTY_VIEWER, "")


def test_clicking_an_answer_lists_its_sources(pipeline, data_dir) -> None:
    window = window_for(pipeline, data_dir)
    turns = ask(window, "When was Lei Jun born?")[-1][2]
    turns = ask(window, "What is Xiaomi's vision statement?", turns)[-1][2]
    sources, shown = window.select_turn(
        turns, False, gr.SelectData(None, {"index": 1, "value": ""})
    )
    assert shown == 0 and sources.choices[0][1] == "0:1"
    sources, shown = window.select_turn(
        turns, False, gr.SelectData(None, {"index": 3, "value": ""})
    )
    assert shown == 1 and sources.choices[0][1] == "1:1"
    assert window.rescore(turns, 1, True).choices[0][0].endswith(")")
    assert window.rescore(turns, None, True).visible is False


def test_thumbs_are_logged_with_question_answer_and_citations(pipeline, data_dir) -> None:
    window = window_for(pipeline, data_dir)
    turns = ask(window, "When was Lei Jun born?")[-1][2]
    window.record_feedback(turns, gr.LikeData(None, {"index": 1, "value": [], "liked": True}))
    window.record_feedback(turns, gr.LikeData(None, {"index": 1, "value": [], "liked": False}))
    window.record_feedback(turns, gr.LikeData(None, {"index": 1, "value": [], "liked": ""}))
    window.record_feedback(turns, gr.LikeData(None, {"index": 7, "value": [], "liked": True}))
    records = window.feedback.read()
    assert [r["rating"] for r in records] == ["up", "down", "cleared"]
    answer = turns[0].answer
    assert records[0]["question"] == "When was Lei Jun born?"
    assert records[0]["answer"] == answer.text
    assert records[0]["citations"] == answer.to_dict()["citations"]


def test_upload_indexes_good_files_and_names_the_refused(pipeline, data_dir, tmp_path) -> None:
    window = window_for(pipeline, data_dir, max_upload_mb=1)
    incoming = tmp_path / "gradio-cache" / "0123abcd"
    incoming.mkdir(parents=True)
    notes = incoming / "zorblax notes.txt"
    notes.write_text("The Zorblax festival is held every April in Quillport.\n")
    bad_type = incoming / "tool.exe"
    bad_type.write_bytes(b"MZ\x90\x00")
    too_big = incoming / "huge.txt"
    too_big.write_bytes(b"word " * 300_000)
    broken = incoming / "broken.pdf"
    broken.write_bytes(b"this is not a PDF at all")
    before = len(pipeline.store.documents())

    steps: list[tuple[float, str]] = []
    status, cleared = window.add_files(
        [str(p) for p in (notes, bad_type, too_big, broken)],
        progress=lambda fraction, desc="": steps.append((fraction, desc)),
    )
    assert [fraction for fraction, _ in steps] == sorted(fraction for fraction, _ in steps)
    assert steps[-1] == (1.0, "Done") and any("Indexing" in desc for _, desc in steps)
    text = status.replace("\\", "")
    assert cleared is None
    assert "**Added:** zorblax notes.txt" in text
    assert "**Refused** tool.exe: .exe is not a supported type" in text
    assert "**Refused** huge.txt: is 1.4 MB, larger than the 1.0 MB limit" in text
    assert "**Skipped** broken.pdf" in text
    assert f"holds {before + 1} documents" in text
    assert sorted(p.name for p in (data_dir / "uploads").iterdir()) == ["zorblax notes.txt"]
    assert not incoming.exists(), "Gradio's temporary copies are removed"

    turns = ask(window, "When is the Zorblax festival held?")[-1][2]
    assert any(c.document == "Zorblax notes" for c in turns[0].answer.citations)

    notes_again = tmp_path / "again" / "zorblax notes.txt"
    notes_again.parent.mkdir()
    notes_again.write_text("The Zorblax festival moved to May.\n")
    status, _ = window.add_files([str(notes_again)])
    assert "**Updated:** zorblax notes.txt" in status.replace("\\", "")
    assert f"holds {before + 1} documents" in status.replace("\\", "")


def test_upload_with_nothing_to_add(pipeline, data_dir) -> None:
    assert window_for(pipeline, data_dir).add_files(None) == ("No files received.", None)
    status, _ = window_for(pipeline, data_dir).add_files(["/nonexistent/x.txt"])
    assert "**Refused** x.txt" in status.replace("\\", "")


def test_api_answers_with_the_cli_json(pipeline, data_dir) -> None:
    window = window_for(pipeline, data_dir)
    result = window.ask(
        "When did he join Kingsoft?", [["Who is Lei Jun?", "Lei Jun founded Xiaomi."]], 3
    )
    assert result["question"] == "When did he join Kingsoft?"
    assert result["retrieval_query"] == "When did Lei Jun join Kingsoft?"
    assert len(result["retrieved"]) == 3
    assert set(result) >= {"answer", "abstained", "citations", "timings_ms"}
    assert window.ask("When was Lei Jun born?")["retrieval_query"] == "When was Lei Jun born?"
    with pytest.raises(gr.Error, match="question is empty"):
        window.ask("  ")
    with pytest.raises(gr.Error, match="pairs"):
        window.ask("When?", [["only one"]])


def test_upload_folder_that_cannot_be_created_is_reported(pipeline, tmp_path) -> None:
    blocker = tmp_path / "data"
    blocker.write_text("a file where the data folder should be")
    window = ChatWindow(pipeline, UiConfig(), blocker / "uploads", tmp_path / "feedback.jsonl")
    incoming = tmp_path / "incoming.txt"
    incoming.write_text("Some text.\n")
    status, _ = window.add_files([str(incoming)])
    assert status.startswith("**Could not save the files:**")
    assert not incoming.exists()
