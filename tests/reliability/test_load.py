"""A bounded burst of concurrent API clients against the real chat server.

The server runs in this process on 127.0.0.1 with the real models over its
own copy of the default index, and a deliberately small queue: one request
runs and two wait, so at most three are accepted at a time. Eight clients,
each a thread with its own ``gradio_client.Client``, start together and send
two questions each to ``/ask`` (16 requests, no retries), so the first wave
overflows the queue whatever the machine's speed: refusals really happen.

Every request must end as a complete answer to the question its client sent,
or as the queue's "busy, try again" refusal; nothing else. The burst is the
one ``python -m benchmarks.load`` times at full size (16 clients x 5).
"""

from __future__ import annotations

import shutil

import pytest

from benchmarks.load import BUSY_MESSAGE, Burst, run_burst
from qa.pipeline import Pipeline, PipelineConfig
from tests.ui.conftest import running_app
from ui.app import preload
from ui.config import UiConfig

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

CLIENTS = 8
QUESTIONS_EACH = 2
SMALL_QUEUE = UiConfig(concurrency_limit=1, max_queue_size=2)
REQUEST_TIMEOUT_S = 240.0


@pytest.fixture(scope="module")
def burst(
    tmp_path_factory: pytest.TempPathFactory, default_index_dir, real_embedder, real_generator
) -> Burst:
    root = tmp_path_factory.mktemp("load-server")
    shutil.copytree(default_index_dir, root / "index")
    pipeline = Pipeline(
        PipelineConfig(index_dir=root / "index"), embedder=real_embedder, generator=real_generator
    )
    preload(pipeline)
    (root / "data").mkdir()
    with running_app(pipeline, root / "data", SMALL_QUEUE) as server:
        burst = run_burst(
            server.url, clients=CLIENTS, questions=QUESTIONS_EACH, timeout=REQUEST_TIMEOUT_S
        )
    pipeline.reload_index()
    return burst


def test_every_request_is_answered_or_refused_as_busy(burst: Burst) -> None:
    errors = burst.with_status("error")
    assert not errors, "\n".join(f"{o.request}: {o.detail}" for o in errors)
    assert len(burst.outcomes) == CLIENTS * QUESTIONS_EACH
    assert len(burst.with_status("answered")) + len(burst.with_status("busy")) == len(
        burst.outcomes
    )


def test_a_full_queue_refuses_with_a_clear_busy_message(burst: Burst) -> None:
    busy = burst.with_status("busy")
    # 8 simultaneous first requests, at most 1 running + 2 waiting: 5 or more refused.
    in_flight = SMALL_QUEUE.concurrency_limit + SMALL_QUEUE.max_queue_size
    assert len(busy) >= CLIENTS - in_flight
    assert {o.detail for o in busy} == {BUSY_MESSAGE}
    assert burst.with_status("answered"), "the queue limit refused everything"


def test_each_client_gets_the_answer_to_its_own_question(burst: Burst) -> None:
    answered = burst.with_status("answered")
    assert len({o.request.client for o in answered}) >= 2, "answers for one client only"
    for outcome in answered:
        answer, request = outcome.answer, outcome.request
        assert answer is not None
        assert answer["question"] == request.question
        assert len(answer["retrieved"]) == request.top_k
        assert any(request.keyword.lower() in hit["text"].lower() for hit in answer["retrieved"])
        assert answer["answer"]
        assert answer["citations"] or answer["abstained"] is True


def test_the_burst_stops_by_itself(burst: Burst) -> None:
    assert burst.wall_s < QUESTIONS_EACH * REQUEST_TIMEOUT_S
    summary = burst.summary()
    latency = summary["latency_ms"] or {"p95": float("nan")}
    print(
        f"\n{summary['requests']} requests: {summary['answered']} answered, "
        f"{summary['busy']} busy, {summary['errors']} errors; "
        f"{summary['throughput_answers_per_s']:.3f} answers/s, "
        f"p95 {latency['p95']:.0f} ms, wall {summary['wall_s']:.1f} s"
    )
