"""Circuit breakers and retries around model calls.

- One ``pybreaker.CircuitBreaker`` per (provider, model), shared by the process (a warm
  Lambda container, a CLI command); only transient failures count towards opening it, and
  the guarded calls run concurrently (:class:`ModelBreaker`).
- Transient failures (429, 408/409, 5xx, 529 overloaded, timeouts, connection errors) are
  retried with tenacity; the wait honours ``retry-after-ms`` / ``retry-after`` when the
  answer has one, else it is a jittered exponential backoff, capped. A ``retry-after``
  beyond the cap is not waited for: the model is given up for this call (the fallback
  answers), and the breaker keeps counting.

pybreaker and tenacity are imported here only; this module is imported only by the
Anthropic provider.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import pybreaker
import tenacity

T = TypeVar("T")

TRANSIENT_STATUS = frozenset({408, 409, 429})
"""Statuses retried besides every 5xx (529 is Anthropic's "overloaded")."""

_breakers: dict[tuple[str, str], ModelBreaker] = {}
_lock = threading.Lock()


def status_of(exc: BaseException) -> int | None:
    """The HTTP status of an SDK error, if it has one."""
    status = getattr(exc, "status_code", None)
    return status if isinstance(status, int) else None


def is_transient(exc: BaseException) -> bool:
    """Whether a failure is worth retrying: rate limits, overload, server errors, timeouts."""
    import anthropic

    if isinstance(exc, anthropic.APIConnectionError):  # includes APITimeoutError
        return True
    status = status_of(exc)
    return status is not None and (status in TRANSIENT_STATUS or status >= 500)


def describe(exc: BaseException) -> str:
    """A short, log-friendly description of a failure (no response body)."""
    import anthropic

    if isinstance(exc, pybreaker.CircuitBreakerError):
        cause = exc.__cause__ or exc.__context__
        opened = f" after {describe(cause)}" if cause is not None else ""
        return f"circuit breaker open{opened}"
    if isinstance(exc, anthropic.APITimeoutError):
        return "timeout"
    if isinstance(exc, anthropic.APIConnectionError):
        return "connection error"
    status = status_of(exc)
    if status is not None:
        kind = {429: "rate limited", 529: "overloaded"}.get(status, "HTTP error")
        return f"{kind} ({status})"
    return type(exc).__name__


def retry_after_s(exc: BaseException) -> float | None:
    """The delay the server asked for (``retry-after-ms``, then ``retry-after``), if any."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    millis = headers.get("retry-after-ms")
    if millis is not None:
        try:
            return max(float(millis) / 1000.0, 0.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)


@dataclass(frozen=True)
class RetryPolicy:
    """How transient failures are retried.

    Args:
        retries: retries after the first attempt.
        max_wait_s: the longest single wait; a longer ``retry-after`` gives up instead.
        base_s: the first backoff when the server gives no ``retry-after``.
        sleep: the sleep function (tests pass a recorder).
        rng: returns a float in [0, 1) for the jitter.
    """

    retries: int = 2
    max_wait_s: float = 30.0
    base_s: float = 0.5
    sleep: Callable[[float], None] = time.sleep
    rng: Callable[[], float] = random.random

    def wait(self, state: tenacity.RetryCallState) -> float:
        """Seconds to wait before the next attempt."""
        exc = state.outcome.exception() if state.outcome else None
        asked = retry_after_s(exc) if exc is not None else None
        if asked is not None:
            return min(asked, self.max_wait_s)
        ceiling = min(self.max_wait_s, self.base_s * 2 ** (state.attempt_number - 1))
        return ceiling * (0.5 + 0.5 * self.rng())

    def stop(self, state: tenacity.RetryCallState) -> bool:
        """Stop after the last retry, or when the server asks for a wait beyond the cap."""
        if state.attempt_number > self.retries:
            return True
        exc = state.outcome.exception() if state.outcome else None
        asked = retry_after_s(exc) if exc is not None else None
        return asked is not None and asked > self.max_wait_s

    def call(self, fn: Callable[[], T], on_retry: Callable[[int, BaseException, float], None]) -> T:
        """Call ``fn``, retrying transient failures; the last failure propagates."""

        def before_sleep(state: tenacity.RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            wait = state.next_action.sleep if state.next_action else 0.0
            if exc is not None:
                on_retry(state.attempt_number, exc, wait)

        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception(is_transient),
            stop=self.stop,
            wait=self.wait,
            sleep=self.sleep,
            before_sleep=before_sleep,
            reraise=True,
        )
        return retrying(fn)


class ModelBreaker:
    """A ``pybreaker.CircuitBreaker`` that does not serialise the calls it guards.

    ``CircuitBreaker.call`` holds the breaker's lock for the whole guarded call, so
    concurrent runs (the local server's workers) would wait for each other's model calls.
    Here the breaker only admits and records: an open breaker refuses a call until its reset
    timeout has passed (then the call is the trial), the call runs without the lock, and
    its outcome goes through ``CircuitBreaker.call`` (pybreaker's own counting, exclusion of
    non-transient errors, tripping, half-open trial and closing).
    """

    def __init__(self, name: str, *, fail_max: int, reset_s: float) -> None:
        self.storage = pybreaker.CircuitMemoryStorage(pybreaker.STATE_CLOSED)
        self.breaker = pybreaker.CircuitBreaker(
            fail_max=fail_max,
            reset_timeout=reset_s,
            exclude=[lambda exc: not is_transient(exc)],
            state_storage=self.storage,
            name=name,
        )

    @property
    def current_state(self) -> str:
        """``closed``, ``open`` or ``half-open``."""
        return str(self.breaker.current_state)

    @property
    def fail_counter(self) -> int:
        """Consecutive transient failures counted."""
        return int(self.breaker.fail_counter)

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Call ``fn`` if the breaker admits it; record its outcome.

        Raises:
            pybreaker.CircuitBreakerError: the breaker is open, or this failure opened it.
        """
        self._admit()
        try:
            result = fn(*args, **kwargs)
        except Exception as exc:
            self._record_failure(exc)
            raise
        with contextlib.suppress(pybreaker.CircuitBreakerError):
            # a call that started before the breaker opened still returns its answer
            self.breaker.call(_succeed)
        return result

    def _admit(self) -> None:
        if self.breaker.current_state != pybreaker.STATE_OPEN:
            return
        opened_at = self.storage.opened_at
        timeout = timedelta(seconds=self.breaker.reset_timeout)
        if opened_at is not None and datetime.now(UTC) < opened_at + timeout:
            raise pybreaker.CircuitBreakerError("circuit breaker open")

    def _record_failure(self, exc: Exception) -> None:
        def fail() -> None:
            raise exc

        self.breaker.call(fail)


def _succeed() -> None:
    return None


def breaker_for(provider: str, model: str, *, fail_max: int, reset_s: float) -> ModelBreaker:
    """The process-wide circuit breaker of (provider, model).

    A breaker is created on first use; it is replaced when its thresholds change (a new
    configuration), which also closes it.
    """
    key = (provider, model)
    with _lock:
        breaker = _breakers.get(key)
        if (
            breaker is None
            or breaker.breaker.fail_max != fail_max
            or float(breaker.breaker.reset_timeout) != float(reset_s)
        ):
            breaker = ModelBreaker(f"{provider}:{model}", fail_max=fail_max, reset_s=reset_s)
            _breakers[key] = breaker
        return breaker


def breaker_states() -> dict[str, str]:
    """``provider:model`` -> ``closed`` / ``open`` / ``half-open``, for logs and tests."""
    with _lock:
        return {f"{p}:{m}": b.current_state for (p, m), b in sorted(_breakers.items())}


def reset_breakers() -> None:
    """Forget every breaker (tests; a new configuration)."""
    with _lock:
        _breakers.clear()


def is_breaker_error(exc: BaseException) -> bool:
    """Whether ``exc`` says a breaker is open (or has just opened)."""
    return isinstance(exc, pybreaker.CircuitBreakerError)
