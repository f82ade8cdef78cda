"""The human report of ``ragqa eval --out DIR``.

Written from the evaluation result alone (the dict that ``--json`` prints),
so a report can be redrawn from a saved ``results.json``::

    DIR/report.md      summary, metric table, per-kind table, failures table
    DIR/results.json   the full result, per-question records included
    DIR/metrics.png    one bar per metric (all in [0, 1])
    DIR/latency.png    distribution of per-question latency, p50 and p95 marked
    DIR/failures.csv   the failures table, for a spreadsheet

(``ragqa eval`` also saves ``DIR/per_question.jsonl`` record by record as it
runs, so an interrupted run keeps what it measured.)

Plots use matplotlib's object API on the Agg canvas, so no display is needed.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

METRIC_ROWS: list[tuple[str, str, str, str]] = [
    ("retrieval", "hit@1", "retrieval hit@1", "with_evidence"),
    ("retrieval", "hit@3", "retrieval hit@3", "with_evidence"),
    ("retrieval", "hit@5", "retrieval hit@5", "with_evidence"),
    ("retrieval", "hit@10", "retrieval hit@10", "with_evidence"),
    ("retrieval", "mrr", "retrieval MRR", "with_evidence"),
    ("answer", "accuracy", "answer accuracy", "answerable"),
    ("citations", "precision", "citation precision", "citations_judged"),
    ("citations", "recall", "citation recall", "answered_with_evidence"),
    ("abstention", "recall", "abstention recall", "unanswerable"),
    ("abstention", "false_rate", "false abstention rate", "answerable"),
]
"""(group, key, label, count that is the metric's population) for each [0, 1] metric."""

_POPULATION = {
    "with_evidence": "answerable questions with evidence",
    "answerable": "answerable questions",
    "citations_judged": "citations of answered answerable questions",
    "answered_with_evidence": "answered answerable questions",
    "unanswerable": "unanswerable questions",
}

REPORT_FILES = ("report.md", "results.json", "metrics.png", "latency.png", "failures.csv")


def _number(value: Any, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _cell(value: Any, limit: int = 300) -> str:
    text = " ".join(str(value).split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text.replace("|", "\\|") or " "


def metrics_table(result: Mapping[str, Any]) -> str:
    """The headline metrics as a Markdown table."""
    counts = result.get("counts", {})
    lines = ["| metric | value | over |", "|---|---:|---|"]
    for group, key, label, population in METRIC_ROWS:
        value = result.get(group, {}).get(key)
        over = f"{counts.get(population, '?')} {_POPULATION[population]}"
        lines.append(f"| {label} | {_number(value)} | {over} |")
    answer, latency = result.get("answer", {}), result.get("latency_ms", {})
    lines.append(
        f"| mean answer length | {_number(answer.get('mean_words'), 1)} words | "
        f"{counts.get('answered', '?')} answers given |"
    )
    n = result.get("n_questions", "?")
    for key in ("p50", "p95"):
        lines.append(f"| latency {key} | {_number(latency.get(key), 0)} ms | {n} questions |")
    return "\n".join(lines)


def failures(result: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Questions the system got wrong: an answerable one not answered correctly,
    or an unanswerable one answered."""
    rows = []
    for record in result.get("per_question", []):
        if record.get("correct"):
            continue
        answerable = record["answerable"]
        given = record["answer"]
        if record["abstained"]:
            given = f"(abstained: {record.get('reason') or 'no reason given'})"
        rank = record.get("hit_rank")
        rows.append(
            {
                "id": record["id"],
                "kind": record.get("kind", ""),
                "question": record["question"],
                "expected": " / ".join(record["answers"]) if answerable else "(abstain)",
                "answer": given,
                "cited": cited_sources(record),
                "evidence_rank": (rank if rank is not None else ">10")
                if answerable and record["evidence"]
                else "n/a",
            }
        )
    return rows


def cited_sources(record: Mapping[str, Any]) -> str:
    """The sources an answer cited, with where they point in the reader's terms.

    >>> cited_sources({"citations": [{"number": 1, "chunk_id": "r:0001",
    ...     "document": "Report", "location": "page 3"}]})
    '[1] Report, page 3'
    """
    cited = []
    for citation in record.get("citations", []):
        name = citation.get("document") or citation.get("chunk_id", "?")
        place = f", {citation['location']}" if citation.get("location") else ""
        cited.append(f"[{citation.get('number', '?')}] {name}{place}")
    return "; ".join(cited) or "none"


def _by_kind_table(by_kind: Mapping[str, Mapping[str, Any]]) -> str:
    lines = [
        "| kind | questions | hit@5 | MRR | accuracy | abstention recall | false abstention |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for kind, summary in by_kind.items():
        lines.append(
            f"| {_cell(kind)} | {summary['n_questions']} | {_number(summary['retrieval']['hit@5'])} "
            f"| {_number(summary['retrieval']['mrr'])} | {_number(summary['answer']['accuracy'])} "
            f"| {_number(summary['abstention']['recall'])} "
            f"| {_number(summary['abstention']['false_rate'])} |"
        )
    return "\n".join(lines)


def _failures_table(rows: Sequence[Mapping[str, Any]]) -> str:
    if not rows:
        return "None: every question was answered correctly or rightly abstained on."
    lines = [
        "| id | kind | question | expected | answer given | cited | rank of first evidence passage |",
        "|---|---|---|---|---|---|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {_cell(row['id'])} | {_cell(row['kind'])} | {_cell(row['question'])} "
            f"| {_cell(row['expected'])} | {_cell(row['answer'])} | {_cell(row['cited'])} "
            f"| {row['evidence_rank']} |"
        )
    return "\n".join(lines)


def markdown_report(result: Mapping[str, Any], plots: bool = True) -> str:
    """The Markdown summary: run details, metrics, per-kind table and failures."""
    run, settings, counts = (
        result.get("run", {}),
        result.get("settings", {}),
        result.get("counts", {}),
    )
    retrieval = settings.get("retrieval", {})
    sample = f" (a sample of {run['sample']} with seed {run['seed']})" if run.get("sample") else ""
    parts = [
        "# ragqa evaluation",
        "",
        f"- Questions: `{run.get('questions', '?')}`{sample}: {result.get('n_questions')} "
        f"({counts.get('answerable', '?')} answerable, {counts.get('unanswerable', '?')} "
        "unanswerable)",
        f"- Index: `{settings.get('index_dir', '?')}`; embedding model "
        f"`{settings.get('embedding_model', '?')}`; retrieval {retrieval.get('mode', '?')} "
        f"({retrieval.get('fusion', '?')}), reranker {settings.get('rerank', {}).get('kind', '?')}; "
        f"generator backend {settings.get('generator_backend', '?')}",
        f"- Run: {run.get('started', '?')}, {result.get('seconds', '?')} s in all",
    ]
    if counts.get("evidence_not_in_index"):
        parts.append(
            f"- Warning: for {counts['evidence_not_in_index']} question(s) no chunk of the index "
            "contains every evidence string, so they can never count as retrieval hits."
        )
    parts += ["", "## Metrics", "", metrics_table(result), ""]
    if plots:
        parts += ["![one bar per metric](metrics.png)", "", "![latency](latency.png)", ""]
    parts += [
        "Definitions: hit@k: the top k retrieved chunks together contain "
        "every evidence string; MRR: 1/rank of the first chunk containing any evidence string "
        "(0 beyond rank 10); accuracy: not abstained and the answer mentions an acceptable "
        "answer. `n/a`: the metric's population is empty.",
        "",
    ]
    if result.get("by_kind"):
        parts += ["## By kind", "", _by_kind_table(result["by_kind"]), ""]
    rows = failures(result)
    parts += [
        f"## Failures ({len(rows)})",
        "",
        "Answerable questions not answered correctly, and unanswerable questions answered. "
        "The last column is the rank of the first retrieved passage holding any evidence "
        "string (>10: not in the top 10).",
        "",
        _failures_table(rows),
        "",
    ]
    return "\n".join(parts)


def _metrics_plot(result: Mapping[str, Any], path: Path) -> None:
    from matplotlib.figure import Figure

    labels, values = [], []
    for group, key, label, _ in METRIC_ROWS:
        labels.append(label)
        values.append(result.get(group, {}).get(key))
    figure = Figure(figsize=(7.5, 4.2), layout="constrained")
    axes = figure.add_subplot()
    positions = list(range(len(labels)))[::-1]
    colours = ["#4c72b0"] * 5 + ["#55a868"] + ["#8172b2"] * 2 + ["#c44e52"] * 2
    axes.barh(positions, [v or 0.0 for v in values], color=colours)
    for y, value in zip(positions, values, strict=True):
        axes.text(
            (value or 0.0) + 0.01, y, _number(value), va="center", fontsize=8, color="#333333"
        )
    axes.set_yticks(positions, labels, fontsize=9)
    axes.set_xlim(0, 1.1)
    axes.set_xlabel("share (0 to 1); false abstention: lower is better")
    axes.set_title(f"ragqa eval: {result.get('n_questions')} questions", fontsize=10)
    axes.grid(axis="x", alpha=0.3)
    figure.savefig(path, dpi=120)


def _latency_plot(result: Mapping[str, Any], path: Path) -> None:
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    latencies = [r["latency_ms"] / 1000 for r in result.get("per_question", [])]
    figure = Figure(figsize=(7, 3.5), layout="constrained")
    axes = figure.add_subplot()
    if latencies:
        axes.hist(latencies, bins=min(30, max(5, len(latencies) // 4)), color="#4c72b0")
    latency = result.get("latency_ms", {})
    for key, style in (("p50", "--"), ("p95", ":")):
        if latency.get(key) is not None:
            seconds = latency[key] / 1000
            axes.axvline(seconds, color="#c44e52", linestyle=style, label=f"{key} {seconds:.2f} s")
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_xlabel("seconds per question, end to end")
    axes.set_ylabel("questions")
    axes.set_title("Latency distribution", fontsize=10)
    if latency.get("p50") is not None:
        axes.legend()
    figure.savefig(path, dpi=120)


def write_report(result: Mapping[str, Any], out_dir: Path) -> dict[str, Path]:
    """Write every report file into ``out_dir`` (created if needed)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {name: out_dir / name for name in REPORT_FILES}
    paths["results.json"].write_text(
        json.dumps(result, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )
    _metrics_plot(result, paths["metrics.png"])
    _latency_plot(result, paths["latency.png"])
    rows = failures(result)
    with paths["failures.csv"].open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(
            handle,
            fieldnames=["id", "kind", "question", "expected", "answer", "cited", "evidence_rank"],
        )
        writer.writeheader()
        writer.writerows(rows)
    paths["report.md"].write_text(markdown_report(result), encoding="utf-8")
    return paths
