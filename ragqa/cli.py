"""The ``ragqa`` command line: index, ask, chat window and evaluation.

Standard output carries only the result (exactly one JSON object with
``--json``); logs and progress bars go to standard error. Errors the user can
fix are printed as one plain message and exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import textwrap
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from corpus.errors import ConfigError, RagqaError
from qa.generator import GENERATOR_BACKENDS
from ragqa import app, calibration_cli, evaluation_cli

if TYPE_CHECKING:
    from ragqa.settings import Settings

logger = logging.getLogger("ragqa")

EXIT_USER_ERROR = 2
# qa.answerer.MAX_QUESTION_CHARS, repeated so that building the parser (and
# `--help`) need not import the answering stack; a test keeps them equal.
DEFAULT_MAX_QUESTION_CHARS = 1000


class _StderrHandler(logging.StreamHandler):
    """Logs to whatever ``sys.stderr`` is when a record is written, so that
    running :func:`main` more than once in a process (tests, notebooks) never
    writes to a stream that was swapped out or closed."""

    @property
    def stream(self) -> object:
        return sys.stderr

    @stream.setter
    def stream(self, value: object) -> None:
        pass


class _LevelOrProgress(logging.Filter):
    """Pass records at ``level`` or above, and indexing progress at any level:
    a long build is reported in logs even without ``--verbose``."""

    def __init__(self, level: int) -> None:
        super().__init__()
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        from indexer.progress import PROGRESS_LOGGER

        return record.levelno >= self.level or (
            record.name == PROGRESS_LOGGER and record.levelno >= logging.INFO
        )


def _configure_logging(verbose: bool) -> None:
    from indexer.progress import PROGRESS_LOGGER

    level = logging.INFO if verbose else logging.WARNING
    root = logging.getLogger()
    handler = next((h for h in root.handlers if isinstance(h, _StderrHandler)), None)
    if handler is None:
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    # The handler filters too: some libraries (bm25s) set their own loggers to DEBUG.
    handler.setLevel(logging.INFO)
    for old in [f for f in handler.filters if isinstance(f, _LevelOrProgress)]:
        handler.removeFilter(old)
    handler.addFilter(_LevelOrProgress(level))
    root.setLevel(level)
    logging.getLogger(PROGRESS_LOGGER).setLevel(logging.INFO)
    # pypdf warns about every flaw it repairs, without naming the file; the
    # loaders report what matters, naming it.
    logging.getLogger("pypdf").setLevel(logging.INFO if verbose else logging.ERROR)


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--collection",
        metavar="NAME",
        help="the collection to use (default: 'default', the Lei Jun texts); "
        "`ragqa collections` lists them",
    )
    parser.add_argument(
        "--index-dir",
        type=Path,
        help="index location, instead of a collection (default: <data dir>/index/<collection>)",
    )
    parser.add_argument("--config", type=Path, help="settings file (TOML); see README")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more to standard error")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ragqa",
        description="Answer questions from your documents, with citations you can check. "
        "Everything runs locally.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    index = commands.add_parser(
        "index",
        help="build or update an index",
        description="Index files and folders (.txt .md .html .pdf .docx). With no PATH, indexes the "
        "shipped Lei Jun collection. Re-running embeds only new or changed files and drops "
        "deleted ones.",
    )
    index.add_argument(
        "paths", nargs="*", type=Path, metavar="PATH", help="files or folders to index"
    )
    index.add_argument("--json", action="store_true", help="print the build report as JSON")
    _add_common(index)

    ask = commands.add_parser(
        "ask",
        help="ask one question",
        description="Answer one question from the index, with citations.",
    )
    ask.add_argument(
        "question",
        help=f"the question, in quotes; at most {DEFAULT_MAX_QUESTION_CHARS} characters "
        "(setting [answer] max_question_chars)",
    )
    ask.add_argument(
        "--top-k", type=int, help="passages to retrieve, 1 to 100 (default from settings: 5)"
    )
    ask.add_argument("--backend", choices=GENERATOR_BACKENDS, help="generator backend")
    ask.add_argument("--json", action="store_true", help="print one JSON object on standard output")
    _add_common(ask)

    ui = commands.add_parser(
        "ui", help="start the chat window", description="Serve the Gradio chat window."
    )
    ui.add_argument("--host", help="address to bind (default 127.0.0.1: this machine only)")
    ui.add_argument("--port", type=int, help="port (default 7860)")
    _add_common(ui)

    collections = commands.add_parser(
        "collections",
        help="list or delete collections",
        description="List the collections (each an index of its own documents) with their "
        "document and chunk counts, or delete one.",
    )
    collections.add_argument(
        "action", nargs="?", choices=["list", "delete"], default="list", help="default: list"
    )
    collections.add_argument("name", nargs="?", help="the collection to delete")
    collections.add_argument("--json", action="store_true", help="print JSON")
    collections.add_argument("--config", type=Path, help="settings file (TOML); see README")
    collections.add_argument("-v", "--verbose", action="store_true", help="log more")

    passwd = commands.add_parser(
        "passwd",
        help="add or change a login for the chat window",
        description="Store NAME's password as a salted scrypt hash in the password file that "
        "the chat window's login reads ([ui] password_file, default <data dir>/passwords). "
        "On a terminal the password is asked for twice; otherwise it is the first line of "
        "standard input. It is never printed or logged.",
    )
    passwd.add_argument("name", metavar="NAME", help="the user name to log in with")
    passwd.add_argument("--file", type=Path, help="password file (default: see above)")
    passwd.add_argument("--config", type=Path, help="settings file (TOML); see README")
    passwd.add_argument("-v", "--verbose", action="store_true", help="log more to standard error")

    evaluation_cli.add_commands(commands, _add_common)
    calibration_cli.add_command(commands, _add_common)
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    """The settings with this subcommand's --config, --collection and --index-dir applied."""
    return app.load(
        args.config,
        collection=getattr(args, "collection", None),
        index_dir=getattr(args, "index_dir", None),
    )


def run_collections(args: argparse.Namespace) -> int:
    from indexer.store import make_catalog

    settings = _settings(args)
    catalog = make_catalog(settings.vector_store, settings.collections_dir)
    if args.action == "delete":
        if not args.name:
            raise ConfigError("Name the collection to delete: `ragqa collections delete NAME`.")
        gone = catalog.delete_collection(args.name)
        if args.json:
            print(json.dumps({"deleted": gone.to_dict()}, ensure_ascii=False))
        else:
            print(
                f"Deleted collection {gone.name!r} ({gone.documents} documents, {gone.chunks} chunks)."
            )
        return 0
    found = catalog.list_collections()
    if args.json:
        print(json.dumps([c.to_dict() for c in found], ensure_ascii=False))
        return 0
    if not found:
        print(f"No collections yet in {catalog.location}; `ragqa index` makes the default one.")
        return 0
    width = max(len(c.name) for c in found)
    for c in found:
        state = (
            f"damaged: {c.problem}" if c.problem else f"{c.documents} documents, {c.chunks} chunks"
        )
        print(f"{c.name:<{width}}  {state}")
    return 0


def _print_build(outcome, as_json: bool) -> None:
    report, load = outcome.build, outcome.load
    summary = {
        "index_dir": report.index_dir,
        "documents": report.n_documents,
        "chunks": report.n_chunks,
        "embedded": report.n_embedded,
        "reused": report.n_reused,
        "added": report.added,
        "changed": report.changed,
        "removed": report.removed,
        "skipped": [{"path": s.path, "reason": s.reason} for s in load.skipped],
        "vector_index": report.vector_index,
        "seconds": round(report.seconds, 2),
    }
    if as_json:
        print(json.dumps(summary, ensure_ascii=False))
        return
    print(
        f"Indexed {report.n_documents} documents into {report.n_chunks} chunks at {report.index_dir} "
        f"in {report.seconds:.1f} s ({report.n_embedded} embedded, {report.n_reused} reused; "
        f"{len(report.added)} added, {len(report.changed)} changed, {len(report.removed)} removed)."
    )
    for skipped in load.skipped:
        print(f"  skipped {skipped.path}: {skipped.reason}")


def run_index(args: argparse.Namespace) -> int:
    # A build with no readable document is refused by the builder (the
    # skipped files are logged on standard error), so stdout stays empty.
    from indexer.layout import check_index_dir_usable

    settings = _settings(args)
    pipeline = app.build_pipeline(settings)
    check_index_dir_usable(settings.index_dir)  # before reading any file or model
    outcome = pipeline.build_index(args.paths or None, show_progress=sys.stderr.isatty())
    _print_build(outcome, args.json)
    return 0


def _format_answer(answer) -> str:
    lines = [answer.text, ""]
    if answer.citations:
        lines.append("Closest passages:" if answer.abstained else "Sources:")
        for citation in answer.citations:
            quote = textwrap.shorten(citation.text, width=300, placeholder=" ...")
            where = f", {citation.location.label}" if citation.location is not None else ""
            lines.append(
                f"[{citation.number}] {citation.document}{where} "
                f"(characters {citation.start}-{citation.end})"
            )
            lines.append(textwrap.indent(textwrap.fill(f'"{quote}"', width=88), "    "))
    return "\n".join(lines).rstrip()


def run_ask(args: argparse.Namespace) -> int:
    from dataclasses import replace

    settings = _settings(args)
    pipeline = app.build_pipeline(settings)
    # Fail fast, before loading any model: the question is checked here.
    answering = pipeline.stream(args.question, top_k=args.top_k, backend=args.backend)
    if args.top_k is not None:
        try:
            replace(settings.retrieval, top_k=args.top_k)
        except RagqaError as error:
            raise ConfigError(f"--top-k {args.top_k}: {error}") from error
    app.ensure_index(pipeline, settings)
    answer = answering.answer()
    if args.json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False))
    else:
        print(_format_answer(answer))
    return 0


def _warm_up(pipeline: Any) -> None:
    try:
        pipeline.warm_up()
    except RagqaError as error:  # the first question reports it to the user too
        logging.getLogger(__name__).error("Loading the models failed: %s", error)


def _read_new_password() -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    import getpass

    first = getpass.getpass("New password: ")
    if first != getpass.getpass("Repeat it: "):
        raise ConfigError("The two passwords differ; nothing was changed.")
    return first


def run_passwd(args: argparse.Namespace) -> int:
    from ui.auth import set_password

    path = args.file.expanduser() if args.file else _settings(args).password_file
    new = set_password(path, args.name, _read_new_password())
    print(f"{'Added' if new else 'Changed the password of'} {args.name} in {path}.")
    return 0


def run_ui(args: argparse.Namespace) -> int:
    settings = _settings(args)
    ui_changes = {k: v for k, v in {"host": args.host, "port": args.port}.items() if v is not None}
    if not settings.ui.password_file and settings.password_file.is_file():
        ui_changes["password_file"] = str(settings.password_file)  # written by `ragqa passwd`
    if ui_changes:
        from dataclasses import replace

        settings = settings.replace(ui=replace(settings.ui, **ui_changes))
    pipeline = app.open_pipeline(settings)
    # The models load while Gradio is imported and the page is built: the
    # window is served seconds sooner, and a question asked before the load
    # is done waits for it.
    loading = threading.Thread(target=_warm_up, args=(pipeline,), name="warm-up", daemon=True)
    loading.start()
    from ui.app import serve

    serve(
        pipeline,
        settings.ui,
        uploads_dir=settings.uploads_dir,
        feedback_log=settings.feedback_log,
        api=settings.api,
        collection=settings.collection,
        # Other collections are offered beside it unless an index was given by folder.
        collections_dir=settings.collections_dir
        if settings.index_dir == settings.collections_dir / settings.collection
        else None,
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_logging(args.verbose)
    handlers = {
        "index": run_index,
        "ask": run_ask,
        "ui": run_ui,
        "collections": run_collections,
        "passwd": run_passwd,
        **evaluation_cli.HANDLERS,
        **calibration_cli.HANDLERS,
    }
    try:
        from ragqa.runtime import configure_process
        from ragqa.settings import load_settings

        # Once, for every subcommand, before any model loads (see ragqa.runtime).
        configure_process(load_settings(args.config))
        return handlers[args.command](args)
    except RagqaError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USER_ERROR
    except OSError as error:
        # The disk or a path the user gave (an index folder that cannot be
        # written, a full disk): theirs to fix, so a message, not a traceback.
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
