"""The chat window: ask, watch the answer being written, check its sources.

:func:`build_app` wires a Gradio ``Blocks`` app around a
:class:`~qa.pipeline.Pipeline`; :func:`serve` is what ``ragqa ui`` runs. The
event handlers live on :class:`ChatWindow`, a plain class that tests can call
without a browser.

What a person sees:

* the draft streamed as the generator writes it, then the grounded answer
  (which may differ: grounding can replace the draft with a quote) and its
  numbered sources; an abstention under its own heading, with the closest
  passages labelled as not being an answer;
* a list of the answer's citations under the chat: clicking one shows the
  document's title, the passage in its neighbouring text with the cited span
  marked, and the whole document on request;
* follow-ups resolved against the conversation for retrieval (the window
  hands the conversation to :meth:`qa.pipeline.Pipeline.stream`, which
  validates the question and resolves it), with the query shown;
* settings (passages, scores, generator backend), example questions,
  uploads indexed incrementally, and thumbs up/down logged as JSON Lines.

Safety defaults (:func:`launch_options`): bound to loopback unless told
otherwise, an upload size limit, a queue with a concurrency limit and a
maximum size, and no raw HTML from documents or the model anywhere
(:mod:`ui.render` escapes it all). The same chat is callable as the ``/ask``
API endpoint through ``gradio_client``, and the same server carries the
OpenAI-compatible API (:mod:`ui.openai_api`) and, when accounts are set up,
a login (:mod:`ui.auth`): see :func:`server_options`. What ``/ask`` returns
names documents by title and file name, never by their path on the server
(:func:`client_payload`). Files posted to Gradio's upload route live in its
cache only until the upload event stores them; any left there (posted but
never passed to an upload event) are deleted within minutes
(:data:`UPLOAD_CACHE_SWEEP`).
"""

from __future__ import annotations

import ipaddress
import logging
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

import gradio as gr

from corpus.errors import QuestionError, RagqaError
from indexer.collections import DEFAULT_COLLECTION
from qa.collections import CollectionPipelines
from qa.generator import GENERATOR_BACKENDS, LOCAL_BACKENDS
from qa.pipeline import Pipeline
from qa.types import Answer, Citation, Token
from ui import render
from ui.config import ApiConfig, UiConfig
from ui.feedback import FeedbackLog, feedback_record, rating_from_like
from ui.guard import guard_for
from ui.uploads import UploadPolicy, discard_temporary, remove_stored, store_uploads

logger = logging.getLogger(__name__)

API_NAME = "ask"
MAX_TOP_K = 20
DEFAULT_EXAMPLES = (
    "When was Lei Jun born?",
    "Which company did Lei Jun join as its sixth employee?",
    "What is Xiaomi's vision statement?",
    "How does Lei Jun thank the audience at launch events?",
    "What's the name of Lei Jun's wife?",
)
GENERIC_ERROR = "Something went wrong while answering; the server log has the details."
# Gradio's ``delete_cache`` as (every N seconds, delete files older than M
# seconds). It covers the files posted to its upload route (gradio 6.31 keeps
# them in ``Blocks.upload_file_set``, aged by ctime) and those it made for
# events. Ours are needed only between the upload and its event storing them,
# which deletes them at once; one left longer was posted without an event and
# could be fetched from ``/file=`` by anyone who has its path, so it goes
# after five minutes. (An upload whose event waits in the queue longer than
# that has to be uploaded again.)
UPLOAD_CACHE_SWEEP = (60, 300)

CSS = """
.ragqa-context { line-height: 1.55; max-height: 28rem; overflow-y: auto; }
.ragqa-context mark { background: #ffe27a; color: #111; padding: 0 .1em; }
.ragqa-meta, .ragqa-note { font-size: .85em; opacity: .8; margin: .2em 0 .6em; }
.ragqa-title { margin: .2em 0; }
"""


@dataclass(frozen=True)
class Turn:
    """One question and what the window answered (kept in the session state)."""

    question: str
    markdown: str
    answer: Answer | None = None
    searched_for: str | None = None
    error: str = ""


def _history(turns: Sequence[Turn]) -> list[tuple[str, str]]:
    """The answered turns as (what was searched for, answer) pairs, oldest first."""
    return [
        (turn.searched_for or turn.question, turn.answer.text)
        for turn in turns
        if turn.answer is not None
    ]


def _messages(turns: Sequence[Turn]) -> list[dict[str, str]]:
    messages: list[dict[str, str]] = []
    for turn in turns:
        messages.append({"role": "user", "content": render.escape_markdown(turn.question)})
        messages.append({"role": "assistant", "content": turn.markdown})
    return messages


def _choice(turn_index: int, citation: Citation) -> str:
    return f"{turn_index}:{citation.number}"


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable from this machine only.

    >>> is_loopback("127.0.0.1"), is_loopback("localhost"), is_loopback("0.0.0.0")
    (True, True, False)
    """
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ChatWindow:
    """The window's event handlers, around the served collections' pipelines
    (shared by all sessions); each event names the collection shown."""

    def __init__(
        self,
        pipeline: Pipeline,
        config: UiConfig,
        uploads_dir: Path,
        feedback_log: Path,
        collections: CollectionPipelines | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.collections = collections or CollectionPipelines(pipeline, DEFAULT_COLLECTION, None)
        self.config = config
        self.uploads_dir = uploads_dir
        self.feedback = FeedbackLog(feedback_log)
        self.policy = UploadPolicy(
            max_bytes=config.max_upload_mb * 1024 * 1024,
            allowed_suffixes=frozenset(config.allowed_suffixes),
            max_files=config.max_uploads_per_request,
        )

    def pipeline_for(self, collection: str | None) -> Pipeline:
        """The pipeline of the collection shown (the first one if none is named)."""
        return self.collections.pipeline(collection) if collection else self.pipeline

    def collection_choices(self) -> Any:
        """The picker's choices, read afresh (a collection built since appears)."""
        names = self.collections.names()
        return gr.Dropdown(choices=names, interactive=len(names) > 1)

    # --- asking ---------------------------------------------------------
    def _top_k(self, top_k: float | None) -> int:
        default = self.pipeline.config.retrieval.top_k
        return max(1, min(MAX_TOP_K, int(top_k))) if top_k else default

    @staticmethod
    def _backend(backend: str | None) -> str | None:
        return backend if backend in GENERATOR_BACKENDS else None

    def sources(self, turns: Sequence[Turn], index: int | None, show_scores: bool) -> Any:
        """The clickable citation list for turn ``index``."""
        turn = turns[index] if index is not None and 0 <= index < len(turns) else None
        if turn is None or turn.answer is None or not turn.answer.citations:
            return gr.Radio(choices=[], value=None, visible=False)
        answer = turn.answer
        label = (
            "Closest passages (not an answer): click one to read it"
            if answer.abstained
            else "Sources: click one to read it in its document"
        )
        choices = [
            (render.citation_label(c, show_scores=show_scores), _choice(index or 0, c))
            for c in answer.citations
        ]
        return gr.Radio(choices=choices, value=None, label=label, visible=True)

    def respond(
        self,
        question: str,
        turns: list[Turn] | None,
        top_k: float | None,
        show_scores: bool,
        backend: str | None,
        collection: str | None = None,
    ) -> Iterator[tuple[Any, ...]]:
        """Stream one answer. Yields (question box, chat, turns, sources,
        shown turn, passage viewer, whole document)."""
        turns = list(turns or [])
        pipeline = self.pipeline_for(collection)
        try:
            answering = pipeline.stream(
                question or "",
                history=_history(turns),
                top_k=self._top_k(top_k),
                backend=self._backend(backend),
            )
        except QuestionError as error:
            gr.Warning(str(error))
            yield (gr.skip(),) * 7
            return
        question, searched_for = answering.question.text, answering.question.follow_up_query
        asked = [*_messages(turns), {"role": "user", "content": render.escape_markdown(question)}]
        yield (
            "",
            [*asked, {"role": "assistant", "content": render.CURSOR}],
            gr.skip(),
            gr.Radio(choices=[], value=None, visible=False),
            None,
            render.EMPTY_VIEWER,
            "",
        )
        draft = ""
        answer: Answer | None = None
        try:
            for event in answering:
                if isinstance(event, Token):
                    draft += event.text
                    streaming = {"role": "assistant", "content": render.draft_markdown(draft)}
                    yield (gr.skip(), [*asked, streaming], *(gr.skip(),) * 5)
                elif isinstance(event, Answer):
                    answer = event
            if answer is None:
                raise RuntimeError("the pipeline ended without an answer")
            turn = Turn(
                question,
                render.answer_markdown(answer, show_scores=show_scores, searched_for=searched_for),
                answer=answer,
                searched_for=searched_for,
            )
        except RagqaError as error:
            turn = Turn(question, render.error_markdown(str(error)), error=str(error))
        except Exception:
            logger.exception("Answering %r failed", question)
            turn = Turn(question, render.error_markdown(GENERIC_ERROR), error=GENERIC_ERROR)
        turns.append(turn)
        index = len(turns) - 1
        yield (
            gr.skip(),
            _messages(turns),
            turns,
            self.sources(turns, index, show_scores),
            index,
            render.EMPTY_VIEWER,
            "",
        )

    def select_turn(
        self, turns: list[Turn] | None, show_scores: bool, event: gr.SelectData
    ) -> tuple[Any, Any]:
        """Clicking an answer in the chat lists that answer's sources."""
        index = event.index[0] if isinstance(event.index, list | tuple) else event.index
        if not isinstance(index, int):
            return gr.skip(), gr.skip()
        turn_index = index // 2
        return self.sources(turns or [], turn_index, show_scores), turn_index

    def rescore(self, turns: list[Turn] | None, shown: int | None, show_scores: bool) -> Any:
        return self.sources(turns or [], shown, show_scores)

    @staticmethod
    def reset() -> tuple[Any, ...]:
        """A new conversation: empty chat, no sources, empty viewer."""
        hidden = gr.Radio(choices=[], value=None, visible=False)
        return [], [], hidden, None, render.EMPTY_VIEWER, ""

    # --- reading a citation ----------------------------------------------
    def _citation(self, choice: str | None, turns: Sequence[Turn]) -> Citation | None:
        try:
            turn_part, number_part = (choice or "").split(":")
            turn_index, number = int(turn_part), int(number_part)
        except ValueError:
            return None
        answer = turns[turn_index].answer if 0 <= turn_index < len(turns) else None
        if answer is None:
            return None
        return next((c for c in answer.citations if c.number == number), None)

    def show_citation(
        self,
        choice: str | None,
        turns: list[Turn] | None,
        show_scores: bool,
        collection: str | None = None,
    ) -> tuple[str, str]:
        """The passage viewer and the whole document for the clicked citation."""
        citation = self._citation(choice, turns or [])
        if citation is None:
            return render.EMPTY_VIEWER, ""
        try:
            document = self.pipeline_for(collection).document(citation.doc_id)
        except Exception:
            logger.exception("Looking up document %s failed", citation.doc_id)
            document = None
        return (
            render.passage_html(document, citation, show_scores=show_scores),
            render.document_html(document, citation),
        )

    # --- feedback ---------------------------------------------------------
    def record_feedback(self, turns: list[Turn] | None, event: gr.LikeData) -> None:
        """Append a thumbs up/down on an answer to the feedback log."""
        index = event.index[0] if isinstance(event.index, list | tuple) else event.index
        turns = turns or []
        turn = (
            turns[index // 2] if isinstance(index, int) and 0 <= index // 2 < len(turns) else None
        )
        if turn is None or turn.answer is None:
            gr.Info("Feedback is kept for finished answers only.")
            return
        rating = rating_from_like(event.liked)
        try:
            self.feedback.append(feedback_record(turn.answer, rating, turn=index // 2))
        except OSError as error:
            logger.error("Could not write feedback to %s: %s", self.feedback.path, error)
            gr.Warning("Could not save the feedback; the server log says why.")
            return
        if rating != "cleared":
            gr.Info("Thanks, your feedback was saved.")

    # --- uploads ------------------------------------------------------------
    def add_files(
        self,
        files: Sequence[str] | None,
        collection: str | None = None,
        progress: gr.Progress = gr.Progress(track_tqdm=True),  # noqa: B008 (Gradio injects it)
    ) -> tuple[str, None]:
        """Store uploaded files and index them into the collection shown;
        returns a status message (Markdown)."""
        esc = render.escape_markdown
        if not files:
            return "No files received.", None
        try:
            pipeline = self.pipeline_for(collection)
        except RagqaError as error:
            discard_temporary([Path(f) for f in files])
            return f"**Could not add the files:** {esc(str(error))}", None
        sources = [Path(f) for f in files]
        progress(0.05, desc="Saving the files")
        try:
            stored = store_uploads([(p.name, p) for p in sources], self.uploads_dir, self.policy)
        except OSError as error:
            logger.error("Cannot store uploads in %s: %s", self.uploads_dir, error)
            return f"**Could not save the files:** {esc(str(error.strerror or error))}", None
        finally:
            discard_temporary(sources)
        lines: list[str] = []
        if stored.saved:
            progress(0.15, desc=f"Indexing {len(stored.saved)} file(s)")
            try:
                with guard_for(pipeline).writing():  # apart from API questions
                    outcome = pipeline.add_documents(stored.saved, show_progress=True)
            except RagqaError as error:
                remove_stored(stored.saved, self.uploads_dir)
                lines.append(f"**Could not index the files:** {esc(str(error))}")
            except Exception:
                logger.exception("Indexing uploads failed")
                remove_stored(stored.saved, self.uploads_dir)
                lines.append(f"**Could not index the files:** {esc(GENERIC_ERROR)}")
            else:
                build = outcome.build
                unreadable = {Path(s.path).name: s.reason for s in outcome.load.skipped}
                remove_stored([p for p in stored.saved if p.name in unreadable], self.uploads_dir)
                added = [Path(p).name for p in build.added]
                changed = [Path(p).name for p in build.changed]
                if added:
                    lines.append(f"**Added:** {esc(', '.join(added))}")
                if changed:
                    lines.append(f"**Updated:** {esc(', '.join(changed))}")
                if not added and not changed and not unreadable:
                    lines.append(
                        esc("Already indexed, unchanged: ")
                        + esc(", ".join(p.name for p in stored.saved))
                    )
                for name, reason in unreadable.items():
                    lines.append(f"**Skipped** {esc(name)}: {esc(reason)}")
                lines.append(
                    esc(
                        f"The index now holds {build.n_documents} documents "
                        f"({build.n_chunks} passages; {build.n_embedded} embedded now, "
                        f"{build.seconds:.1f} s)."
                    )
                )
        for refusal in stored.refused:
            lines.append(f"**Refused** {esc(refusal.name)}: {esc(refusal.reason)}")
        progress(1.0, desc="Done")
        return "\n\n".join(lines), None

    # --- API ------------------------------------------------------------------
    def ask(
        self,
        question: str,
        history: list[list[str]] | None = None,
        top_k: int | None = None,
        collection: str | None = None,
    ) -> dict[str, Any]:
        """Answer a question from the indexed documents, with citations.

        ``history`` is the earlier turns as [question, answer] pairs (oldest
        first); a follow-up such as "When did he join Kingsoft?" is searched
        for with the name it refers to. ``collection`` names the collection
        to ask (default: the one the server was started on). Returns the
        JSON of ``ragqa ask --json``.
        """
        pairs: list[tuple[str, str]] = []
        for item in history or []:
            if not isinstance(item, list | tuple) or len(item) != 2:
                raise gr.Error("history must be a list of [question, answer] pairs.")
            pairs.append((str(item[0] or ""), str(item[1] or "")))
        try:
            answer = self.pipeline_for(collection).ask(
                question or "", history=pairs, top_k=self._top_k(top_k)
            )
        except RagqaError as error:
            raise gr.Error(str(error)) from error
        except Exception as error:
            logger.exception("API question %r failed", question)
            raise gr.Error(GENERIC_ERROR) from error
        return client_payload(answer)


def client_payload(answer: Answer) -> dict[str, Any]:
    """What ``/ask`` returns: ``ragqa ask --json``'s object, except that each
    citation names its file by base name (``file``) instead of its absolute
    path on the server (``source_path``), which no API client needs and which
    tells them where the server keeps its data.

    >>> from qa.types import Citation
    >>> c = Citation(1, "bio:0000", "bio", "Bio", "/srv/data/uploads/bio.txt", 0, 2, "Le")
    >>> client_payload(Answer("Q?", "Le [1]", False, [c], []))["citations"][0]["file"]
    'bio.txt'
    """
    payload = answer.to_dict()
    for shown, citation in zip(payload["citations"], answer.citations, strict=True):
        del shown["source_path"]
        shown["file"] = PurePath(citation.source_path).name
    return payload


def build_app(
    pipeline: Pipeline,
    config: UiConfig,
    uploads_dir: Path,
    feedback_log: Path,
    collections: CollectionPipelines | None = None,
    *,
    upload_cache_sweep: tuple[int, int] = UPLOAD_CACHE_SWEEP,
) -> gr.Blocks:
    """The chat window as a Gradio app, with its queue configured (not launched).

    ``collections`` offers a picker (default: ``pipeline``'s collection
    alone); ``upload_cache_sweep`` is Gradio's ``delete_cache`` (see
    :data:`UPLOAD_CACHE_SWEEP`)."""
    collections = collections or CollectionPipelines(pipeline, DEFAULT_COLLECTION, None)
    window = ChatWindow(pipeline, config, uploads_dir, feedback_log, collections)
    names = collections.names()
    default_backend = pipeline.config.generator.backend
    with gr.Blocks(title="ragqa", analytics_enabled=False, delete_cache=upload_cache_sweep) as app:
        turns = gr.State([])
        shown_turn = gr.State(None)
        gr.Markdown(
            "## ragqa: ask your documents\n"
            "Answers come only from the indexed documents, with numbered sources you can "
            "check. If the documents do not say, the window says so."
        )
        with gr.Row():
            with gr.Column(scale=3):
                chat = gr.Chatbot(
                    label="Chat",
                    elem_id="chat",
                    height=460,
                    sanitize_html=True,
                    allow_tags=False,
                    latex_delimiters=[],
                    render_markdown=True,
                    feedback_options=("Like", "Dislike"),
                    buttons=["copy", "copy_all"],
                    placeholder="Ask a question about the documents.",
                )
                collection = gr.Dropdown(
                    choices=names,
                    value=collections.first_name,
                    label="Collection",
                    info="Switching starts a new conversation; uploads go to the collection shown.",
                    elem_id="collection",
                    interactive=len(names) > 1,
                    filterable=False,
                )
                with gr.Row():
                    question = gr.Textbox(
                        placeholder="Ask a question, e.g. When was Lei Jun born?",
                        show_label=False,
                        elem_id="question",
                        scale=5,
                        max_lines=4,
                        max_length=pipeline.config.answer.max_question_chars,
                        autofocus=True,
                    )
                    send = gr.Button("Ask", variant="primary", elem_id="ask", scale=1)
                sources = gr.Radio(choices=[], label="Sources", elem_id="sources", visible=False)
                gr.Examples(
                    examples=[[q] for q in DEFAULT_EXAMPLES],
                    inputs=[question],
                    label="Example questions (Lei Jun collection)",
                    api_visibility="private",
                )
                clear = gr.Button("New conversation", size="sm", elem_id="clear")
            with gr.Column(scale=2):
                gr.Markdown("### Passage")
                passage = gr.HTML(render.EMPTY_VIEWER, elem_id="passage")
                with gr.Accordion("Whole document", open=False, elem_id="whole-document-box"):
                    whole_document = gr.HTML("", elem_id="whole-document")
                with gr.Accordion("Settings", open=False, elem_id="settings"):
                    top_k = gr.Slider(
                        1,
                        MAX_TOP_K,
                        value=pipeline.config.retrieval.top_k,
                        step=1,
                        label="Passages to retrieve",
                        elem_id="top-k",
                    )
                    show_scores = gr.Checkbox(
                        value=config.show_scores, label="Show retrieval scores", elem_id="scores"
                    )
                    backend = gr.Radio(
                        # a server (backend "openai") only where it is configured
                        list(dict.fromkeys([*LOCAL_BACKENDS, default_backend])),
                        value=default_backend,
                        visible=pipeline.config.answer.draft,  # no drafts, no generator
                        label="Generator backend",
                        info="transformers is slower to load and to answer",
                        elem_id="backend",
                    )
                with gr.Accordion("Add documents", open=True, elem_id="add-documents"):
                    files = gr.File(
                        label=(
                            f"{', '.join(config.allowed_suffixes)}; up to "
                            f"{config.max_upload_mb} MB each, {config.max_uploads_per_request} "
                            "at a time"
                        ),
                        file_count="multiple",
                        file_types=list(config.allowed_suffixes),
                        elem_id="upload",
                    )
                    upload_status = gr.Markdown("", elem_id="upload-status")

        ask_inputs = [question, turns, top_k, show_scores, backend, collection]
        ask_outputs = [question, chat, turns, sources, shown_turn, passage, whole_document]
        gr.on(
            [question.submit, send.click],
            window.respond,
            ask_inputs,
            ask_outputs,
            concurrency_id="pipeline",
            api_visibility="private",
            show_progress="minimal",
            trigger_mode="once",
        )
        sources.input(
            window.show_citation,
            [sources, turns, show_scores, collection],
            [passage, whole_document],
            api_visibility="private",
            show_progress="hidden",
        )
        chat.select(
            window.select_turn,
            [turns, show_scores],
            [sources, shown_turn],
            api_visibility="private",
            show_progress="hidden",
        )
        show_scores.change(
            window.rescore,
            [turns, shown_turn, show_scores],
            [sources],
            api_visibility="private",
            show_progress="hidden",
        )
        chat.like(window.record_feedback, [turns], None, api_visibility="private")
        files.upload(
            window.add_files,
            [files, collection],
            [upload_status, files],
            concurrency_id="pipeline",
            api_visibility="private",
        )
        reset_outputs = [chat, turns, sources, shown_turn, passage, whole_document]
        for trigger in (clear.click, chat.clear, collection.change):
            trigger(window.reset, None, reset_outputs, api_visibility="private")
        app.load(window.collection_choices, None, [collection], api_visibility="private")
        gr.api(window.ask, api_name=API_NAME, concurrency_id="pipeline")
    app.queue(default_concurrency_limit=config.concurrency_limit, max_size=config.max_queue_size)
    return app


def launch_options(config: UiConfig) -> dict[str, Any]:
    """The keyword arguments of ``Blocks.launch`` that carry the safety defaults."""
    return {
        "server_name": config.host,
        "server_port": config.port,
        "max_file_size": f"{config.max_upload_mb}mb",
        "share": False,
        "inbrowser": False,
        "show_error": False,
        "ssr_mode": False,
        "css": CSS,
    }


def preload(pipeline: Pipeline) -> None:
    """Load the models and open the index now, so the first question is fast."""
    pipeline.warm_up()


def server_options(
    pipeline: Pipeline,
    config: UiConfig,
    api: ApiConfig,
    collection: str = DEFAULT_COLLECTION,
    collections: CollectionPipelines | None = None,
) -> dict[str, Any]:
    """The ``Blocks.launch`` keyword arguments that add the OpenAI-compatible
    API's routes and the login, if accounts are set up.

    The routes go in through ``app_kwargs={"routes": ...}``, which Gradio
    hands to the FastAPI app it creates: they are there before the server
    starts and ahead of Gradio's own routes, and ``launch`` keeps doing
    everything else (``gr.mount_gradio_app`` would need a server of our own).
    Gradio's login guards its own routes only, so ``/v1`` keeps its key.
    Reads the password file now, so that a bad one stops the start with a message.
    """
    from ui.auth import accounts_from
    from ui.openai_api import OpenAIApi, ServedCollections

    collections = collections or CollectionPipelines(pipeline, collection, None)
    options: dict[str, Any] = {}
    if api.enabled:
        routes = OpenAIApi(
            ServedCollections(collections),
            api,
            public=not is_loopback(config.host),
            concurrency_limit=config.concurrency_limit,
            max_waiting=config.max_queue_size,
        ).routes()
        options["app_kwargs"] = {"routes": routes}
    accounts = accounts_from(config)
    if accounts is not None:
        options["auth"] = accounts.check
        options["auth_message"] = "Log in to ask the documents."
    return options


def serve(
    pipeline: Pipeline,
    config: UiConfig,
    *,
    uploads_dir: Path,
    feedback_log: Path,
    api: ApiConfig | None = None,
    collection: str = DEFAULT_COLLECTION,
    collections_dir: Path | None = None,
) -> None:
    """Run the chat window until interrupted (what ``ragqa ui`` does).
    ``pipeline`` is collection ``collection``'s; the other collections in
    ``collections_dir`` are offered beside it, in the picker and as API models."""
    # Gradio's temporary copies of uploads go where GRADIO_TEMP_DIR says: under
    # the data directory, set by ragqa.runtime.configure_process at start-up.
    api = api or ApiConfig()
    collections = CollectionPipelines(pipeline, collection, collections_dir)
    options = server_options(pipeline, config, api, collection, collections)
    if not is_loopback(config.host):
        print(
            f"warning: serving on {config.host}: the chat window and its documents are "
            "reachable from other machines"
            + ("." if "auth" in options else ", with no login (see the README, Shared use)."),
            file=sys.stderr,
        )
        if api.enabled and not api.key:
            print(
                "warning: no [api] key is set, so the OpenAI-compatible API at /v1 refuses "
                "every request (set RAGQA_API__KEY to use it).",
                file=sys.stderr,
            )
    app = build_app(pipeline, config, uploads_dir, feedback_log, collections)
    app.launch(**launch_options(config), **options)
