"""The time a request has left: work that would outlive its answer is not started.

The REST and WebSocket handlers set the deadline of the request (from the Lambda
context's remaining time, which the local server sets to API Gateway's 29-second
integration timeout); the service checks it before every side effect, so a request that
already got its 504 changes nothing afterwards.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from agentic_mlops.errors import DeadlineExceeded

_DEADLINE: ContextVar[float | None] = ContextVar("request_deadline", default=None)
MARGIN_S = 0.5
"""Stop this long before the deadline: the answer still has to travel."""


@contextmanager
def request_deadline(remaining_s: float | None) -> Iterator[None]:
    """Give the work inside the block ``remaining_s`` seconds (None: no limit)."""
    token = _DEADLINE.set(None if remaining_s is None else time.monotonic() + remaining_s)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def check_deadline(action: str) -> None:
    """Refuse to start ``action`` when the request's time is (nearly) up.

    Raises:
        DeadlineExceeded: nothing has been changed.
    """
    deadline = _DEADLINE.get()
    if deadline is not None and time.monotonic() > deadline - MARGIN_S:
        raise DeadlineExceeded(f"the request ran out of time before {action}; nothing changed")
