"""Circuit breakers and retry waits around model calls (no SDK calls: errors are built)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import anthropic
import pybreaker
import pytest
from anthropic_fake import http

from agentic_mlops.providers import resilience
from agentic_mlops.providers.resilience import ModelBreaker, is_transient, retry_after_s


@pytest.fixture(autouse=True)
def fresh_breakers() -> Iterator[None]:
    resilience.reset_breakers()
    yield
    resilience.reset_breakers()


def status_error(status: int, headers: dict[str, str] | None = None) -> anthropic.APIStatusError:
    request = http.Request("POST", "http://anthropic.fake/v1/messages")
    response = http.Response(status, headers=headers or {}, request=request)
    return anthropic.APIStatusError("fake", response=response, body=None)


def failing(exc: Exception):
    def fn() -> None:
        raise exc

    return fn


@pytest.mark.parametrize(
    ("exc", "transient"),
    [
        (status_error(429), True),
        (status_error(529), True),
        (status_error(500), True),
        (status_error(503), True),
        (status_error(408), True),
        (status_error(400), False),
        (status_error(401), False),
        (status_error(404), False),
        (anthropic.APITimeoutError(http.Request("POST", "http://x")), True),
        (ValueError("not an API error"), False),
    ],
)
def test_transient_failures_are_rate_limits_overload_server_errors_and_timeouts(exc, transient):
    assert is_transient(exc) is transient


def test_retry_after_headers_are_read_in_milliseconds_seconds_or_as_a_date() -> None:
    assert retry_after_s(status_error(429, {"retry-after-ms": "250"})) == 0.25
    assert retry_after_s(status_error(429, {"retry-after": "3"})) == 3.0
    assert retry_after_s(status_error(429, {"retry-after": "1.5", "retry-after-ms": "x"})) == 1.5
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 < retry_after_s(status_error(429, {"retry-after": when})) <= 30
    assert retry_after_s(status_error(429, {"retry-after": "soon"})) is None
    assert retry_after_s(status_error(429)) is None
    assert retry_after_s(ValueError()) is None


def test_the_breaker_opens_on_transient_failures_only() -> None:
    breaker = ModelBreaker("anthropic:m", fail_max=2, reset_s=60)

    # a client error is not the service's fault: it does not count
    with pytest.raises(anthropic.APIStatusError):
        breaker.call(failing(status_error(400)))
    assert breaker.fail_counter == 0

    # transient failures count; the one that reaches the threshold opens the breaker
    with pytest.raises(anthropic.APIStatusError):
        breaker.call(failing(status_error(529)))
    with pytest.raises(pybreaker.CircuitBreakerError) as tripped:
        breaker.call(failing(status_error(529)))
    assert breaker.current_state == "open"
    assert resilience.describe(tripped.value) == "circuit breaker open after overloaded (529)"

    # while open, calls are refused without running
    ran = []
    with pytest.raises(pybreaker.CircuitBreakerError):
        breaker.call(lambda: ran.append(1))
    assert ran == []


def test_after_the_reset_timeout_one_trial_closes_or_reopens_the_breaker() -> None:
    breaker = ModelBreaker("anthropic:m", fail_max=1, reset_s=0.05)
    with pytest.raises(pybreaker.CircuitBreakerError):
        breaker.call(failing(status_error(429)))
    assert breaker.current_state == "open"

    # a failed trial opens it again
    time.sleep(0.06)
    with pytest.raises(pybreaker.CircuitBreakerError):
        breaker.call(failing(status_error(429)))
    assert breaker.current_state == "open"

    # a successful trial closes it
    time.sleep(0.06)
    assert breaker.call(lambda: "answer") == "answer"
    assert breaker.current_state == "closed"


def test_guarded_calls_run_concurrently() -> None:
    # Given two threads calling through the same breaker, each waiting for the other inside
    breaker = ModelBreaker("anthropic:m", fail_max=5, reset_s=60)
    both_inside = threading.Barrier(2, timeout=5)
    results: list[str] = []

    def inside() -> str:
        both_inside.wait()  # BrokenBarrierError after 5 s if the calls were serialised
        return "ok"

    def call() -> None:
        results.append(breaker.call(inside))

    # When both run (pybreaker's own call() would hold its lock for the whole call)
    threads = [threading.Thread(target=call) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    # Then both were inside at the same time and both succeeded
    assert results == ["ok", "ok"]


def test_a_call_that_started_before_the_breaker_opened_keeps_its_answer() -> None:
    breaker = ModelBreaker("anthropic:m", fail_max=1, reset_s=60)

    def slow_success() -> str:
        with pytest.raises(pybreaker.CircuitBreakerError):
            breaker.call(failing(status_error(529)))  # another call opens the breaker meanwhile
        return "late answer"

    assert breaker.call(slow_success) == "late answer"
    assert breaker.current_state == "open"


def test_breakers_are_shared_per_model_and_replaced_when_thresholds_change() -> None:
    first = resilience.breaker_for("anthropic", "m1", fail_max=3, reset_s=60)
    assert resilience.breaker_for("anthropic", "m1", fail_max=3, reset_s=60) is first
    assert resilience.breaker_for("anthropic", "m2", fail_max=3, reset_s=60) is not first
    assert resilience.breaker_for("anthropic", "m1", fail_max=4, reset_s=60) is not first
    assert resilience.breaker_states() == {"anthropic:m1": "closed", "anthropic:m2": "closed"}
