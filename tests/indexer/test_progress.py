"""Progress of long builds: log lines with rate and time left when there is no
terminal, a warning up front for long runs, and nothing for short ones."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from indexer.progress import PROGRESS_LOGGER, Progress, format_duration


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def logged(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    with caplog.at_level(logging.INFO, logger=PROGRESS_LOGGER):
        yield caplog


def messages(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == level]


def test_a_line_every_interval_with_rate_and_time_left(
    clock: Clock, logged: pytest.LogCaptureFixture
) -> None:
    progress = Progress(65_302, tty=False, interval_s=15, long_job_s=1e9, clock=clock)
    for _ in range(10):  # 256 chunks every 5 s
        clock.now += 5
        progress.advance(256)
    lines = messages(logged, logging.INFO)
    assert lines == [
        "Embedded 768 of 65,302 chunks (1%), 51.2 chunks/s, about 21 min 0 s left",
        "Embedded 1,536 of 65,302 chunks (2%), 51.2 chunks/s, about 20 min 45 s left",
        "Embedded 2,304 of 65,302 chunks (3%), 51.2 chunks/s, about 20 min 30 s left",
    ]


def test_a_long_run_is_announced_once_with_its_estimate(
    clock: Clock, logged: pytest.LogCaptureFixture
) -> None:
    progress = Progress(65_302, tty=False, interval_s=15, long_job_s=300, clock=clock)
    clock.now = 13.6
    progress.advance(256)  # 18.8 chunks/s: over 57 minutes for the whole input
    clock.now = 27.2
    progress.advance(256)
    (warning,) = messages(logged, logging.WARNING)
    assert warning.startswith("This is a large input: 65,302 chunks will take about 57 min")
    assert "18.8 chunks/s" in warning and "every 15 s" in warning


def test_a_short_run_logs_nothing(clock: Clock, logged: pytest.LogCaptureFixture) -> None:
    with Progress(300, tty=False, interval_s=15, long_job_s=300, clock=clock) as progress:
        clock.now = 2
        progress.advance(256)
        clock.now = 3
        progress.advance(44)
    assert logged.records == []


def test_on_a_terminal_a_bar_shows_instead_of_log_lines(
    clock: Clock, logged: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    with Progress(1000, tty=True, interval_s=1, long_job_s=1e9, clock=clock) as progress:
        for _ in range(4):
            clock.now += 5
            progress.advance(250)
    assert messages(logged, logging.INFO) == []
    assert "Embedding" in capsys.readouterr().err


def test_nothing_to_do_is_not_an_error(clock: Clock) -> None:
    with Progress(0, tty=True, clock=clock) as progress:
        assert progress.line() == "Embedded 0 of 0 chunks (100%), 0.0 chunks/s"
    with pytest.raises(ValueError, match="total must be 0 or more"):
        Progress(-1)


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(0, "0 s"), (59.4, "59 s"), (60, "1 min 0 s"), (3599, "59 min 59 s"), (7260, "2 h 1 min")],
)
def test_format_duration(seconds: float, shown: str) -> None:
    assert format_duration(seconds) == shown
