"""How far a long indexing run has got, on a terminal and in logs.

On a terminal a tqdm bar shows. Anywhere else (a service, CI, output piped to
a file) a log line every ``interval_s`` seconds says how many items are done,
the rate and the time left, so an hour-long run is never silent. As soon as a
rate has been measured, a run expected to take longer than ``long_job_s`` is
announced with a warning giving the estimate.

The log lines go to the ``indexer.progress`` logger at INFO, which the CLI
shows even without ``--verbose``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

PROGRESS_LOGGER = "indexer.progress"
logger = logging.getLogger(PROGRESS_LOGGER)

PROGRESS_INTERVAL_S = 15.0
"""Seconds between progress lines when there is no terminal."""
LONG_JOB_S = 300.0
"""A run expected to take longer than this gets a warning up front."""


def format_duration(seconds: float) -> str:
    """A duration as a person reads it.

    >>> format_duration(42), format_duration(125), format_duration(3 * 3600 + 150)
    ('42 s', '2 min 5 s', '3 h 2 min')
    """
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


class Progress:
    """Count work done towards ``total`` and report it.

    >>> ticks = iter([0.0, 20.0, 20.0])
    >>> progress = Progress(100, tty=False, interval_s=15, clock=lambda: next(ticks))
    >>> progress.advance(40)  # logs "Embedded 40 of 100 chunks (40%), 2.0 chunks/s, about 30 s left"
    >>> progress.line()
    'Embedded 40 of 100 chunks (40%), 2.0 chunks/s, about 30 s left'
    """

    def __init__(
        self,
        total: int,
        *,
        what: str = "chunks",
        verb: str = "Embedded",
        label: str = "Embedding",
        tty: bool = False,
        interval_s: float | None = None,
        long_job_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if total < 0:
            raise ValueError(f"total must be 0 or more. Currently it is {total}")
        self.total = total
        self.done = 0
        self.what = what
        self.verb = verb
        self.interval_s = PROGRESS_INTERVAL_S if interval_s is None else interval_s
        self.long_job_s = LONG_JOB_S if long_job_s is None else long_job_s
        self._clock = clock
        self._started = clock()
        self._last_report = self._started
        self._warned = False
        self._bar: Any = None
        if tty and total:
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=label, unit=what.removesuffix("s"))

    def rate(self, now: float | None = None) -> float:
        """Items per second so far (0 before any time has passed)."""
        elapsed = (self._clock() if now is None else now) - self._started
        return self.done / elapsed if elapsed > 0 else 0.0

    def line(self, now: float | None = None) -> str:
        """The progress line as it is logged."""
        now = self._clock() if now is None else now
        rate = self.rate(now)
        share = f"{100 * self.done // self.total}%" if self.total else "100%"
        left = (
            f", about {format_duration((self.total - self.done) / rate)} left"
            if rate > 0 and self.done < self.total
            else ""
        )
        return (
            f"{self.verb} {self.done:,} of {self.total:,} {self.what} ({share}), "
            f"{rate:,.1f} {self.what}/s{left}"
        )

    def advance(self, n: int) -> None:
        self.done += n
        if self._bar is not None:
            self._bar.update(n)
        now = self._clock()
        rate = self.rate(now)
        if not self._warned and rate > 0:
            self._warned = True
            expected = self.total / rate
            if expected > self.long_job_s:
                logger.warning(
                    "This is a large input: %s %s will take about %s at the rate measured so "
                    "far (%.1f %s/s on this machine). Progress is reported every %s; to go "
                    "faster, index fewer or smaller files at a time.",
                    f"{self.total:,}",
                    self.what,
                    format_duration(expected),
                    rate,
                    self.what,
                    format_duration(self.interval_s),
                )
        if self._bar is None and now - self._last_report >= self.interval_s:
            self._last_report = now
            logger.info("%s", self.line(now))

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
