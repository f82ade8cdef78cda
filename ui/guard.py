"""Questions and index changes, kept apart across the chat window and the API.

Adding documents rebuilds the index and closes the old one; a question that
is retrieving from it at that moment fails ("Cannot operate on a closed
database"). Inside the chat window, Gradio's queue keeps uploads and
questions apart (one ``pipeline`` concurrency group). The OpenAI-compatible
API answers outside that queue, so it and the window's uploads share an
:class:`IndexGuard`: any number of questions at once, or one index change
alone. A waiting change goes first, so a stream of questions cannot starve it.

One guard per pipeline object (:func:`guard_for`), so that the window and the
API, built separately, find the same one.
"""

from __future__ import annotations

import functools
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


class IndexGuard:
    """A readers-writer lock: questions read the index, changes write it."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._readers = 0
        self._writing = False
        self._writers_waiting = 0

    @contextmanager
    def reading(self) -> Iterator[None]:
        with self._changed:
            self._changed.wait_for(lambda: not self._writing and not self._writers_waiting)
            self._readers += 1
        try:
            yield
        finally:
            with self._changed:
                self._readers -= 1
                self._changed.notify_all()

    @contextmanager
    def writing(self) -> Iterator[None]:
        with self._changed:
            self._writers_waiting += 1
            try:
                self._changed.wait_for(lambda: not self._writing and not self._readers)
            finally:
                self._writers_waiting -= 1
            self._writing = True
        try:
            yield
        finally:
            with self._changed:
                self._writing = False
                self._changed.notify_all()

    def exclusive(self, function: Callable[P, R]) -> Callable[P, R]:
        """``function`` run while writing (its signature kept, for Gradio's injection)."""

        @functools.wraps(function)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            with self.writing():
                return function(*args, **kwargs)

        return run


_GUARDS: weakref.WeakKeyDictionary[object, IndexGuard] = weakref.WeakKeyDictionary()
_GUARDS_LOCK = threading.Lock()


def guard_for(pipeline: object) -> IndexGuard:
    """The guard of ``pipeline`` (the same object every time for the same pipeline)."""
    with _GUARDS_LOCK:
        guard = _GUARDS.get(pipeline)
        if guard is None:
            guard = _GUARDS[pipeline] = IndexGuard()
        return guard
