"""Identities: development tokens, authorizer claims, roles per project, download links."""

from __future__ import annotations

import time

import pytest

from agentic_mlops.api.auth import (
    Forbidden,
    Identity,
    Unauthenticated,
    authenticate,
    bearer_token,
    identity_from_claims,
    issue_dev_token,
    parse_grants,
    verify_dev_token,
)
from agentic_mlops.artifacts.links import signed_download_url, verify_download

SECRET = "unit-secret-0123456789abcdef0123456789abcdef"


def test_dev_token_round_trip_scoped_to_a_project():
    token = issue_dev_token("alice", ["approver"], "prj-1", secret=SECRET)
    identity = verify_dev_token(token, secret=SECRET)
    assert identity.user == "alice"
    assert identity.has("approver", "prj-1")
    assert not identity.has("approver", "prj-2")
    assert not identity.has("requester", "prj-1")
    assert identity.can_read("prj-1") and not identity.can_read("prj-2")


def test_dev_token_without_project_holds_everywhere():
    identity = verify_dev_token(issue_dev_token("bob", ["requester"], secret=SECRET), secret=SECRET)
    assert identity.has("requester", "prj-anything") and not identity.has("approver", "prj-x")


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),
        lambda t: issue_dev_token(
            "eve", ["approver"], secret="another-secret-0123456789abcdefghij"
        ),
        lambda t: "not-a-jwt",
        lambda t: "",
    ],
)
def test_forged_tokens_are_refused(tamper):
    token = tamper(issue_dev_token("alice", ["approver"], secret=SECRET))
    with pytest.raises(Unauthenticated):
        verify_dev_token(token, secret=SECRET)


def test_expired_token_is_refused_with_a_clear_message():
    token = issue_dev_token("alice", ["approver"], ttl_s=60, secret=SECRET, now=time.time() - 3600)
    with pytest.raises(Unauthenticated, match="expired"):
        verify_dev_token(token, secret=SECRET)


def test_unknown_role_cannot_be_issued():
    with pytest.raises(ValueError, match="roles"):
        issue_dev_token("alice", ["admin"], secret=SECRET)


def test_cognito_claims_with_flattened_groups():
    identity = identity_from_claims(
        {"sub": "x", "email": "a@example.com", "cognito:groups": "[prj-1:approver, requester]"}
    )
    assert identity.user == "a@example.com"
    assert identity.has("approver", "prj-1") and identity.has("requester", "prj-9")
    assert not identity.has("approver", "prj-9")


def test_authorizer_claims_win_over_headers_and_dev_tokens_can_be_switched_off():
    event = {
        "headers": {"authorization": "Bearer forged"},
        "requestContext": {"authorizer": {"claims": {"sub": "u1", "cognito:groups": ["approver"]}}},
    }
    assert authenticate(event, mode="dev", secret=SECRET).user == "u1"
    token = issue_dev_token("alice", ["requester"], secret=SECRET)
    with pytest.raises(Unauthenticated):
        authenticate(
            {"headers": {"Authorization": f"Bearer {token}"}, "requestContext": {}},
            mode="claims",
            secret=SECRET,
        )


def test_websocket_token_comes_from_the_query_string():
    token = issue_dev_token("alice", ["requester"], secret=SECRET)
    event = {"queryStringParameters": {"token": token}, "requestContext": {}}
    assert authenticate(event, mode="dev", secret=SECRET, query_token=True).user == "alice"
    with pytest.raises(Unauthenticated, match="missing credentials"):
        authenticate(event, mode="dev", secret=SECRET)


def test_bearer_header_parsing():
    assert bearer_token({"AUTHORIZATION": "bearer abc"}) == "abc"
    assert bearer_token({"Authorization": "Basic abc"}) is None
    assert bearer_token(None) is None


def test_require_names_the_missing_role():
    identity = Identity("rita", parse_grants(["prj-1:requester"]))
    identity.require("requester", "prj-1", "start")
    with pytest.raises(Forbidden, match="approver role on prj-1"):
        identity.require("approver", "prj-1", "approve plans")


def test_download_links_are_signed_and_expire():
    url = signed_download_url("http://h:1", "bundles/sha256/ab/abc.zip", 60, SECRET, now=1000)
    query = dict(part.split("=") for part in url.split("?", 1)[1].split("&"))
    key, signature = "bundles/sha256/ab/abc.zip", query["signature"]
    assert verify_download(key, query["expires"], signature, SECRET, now=1030)
    assert not verify_download(key, query["expires"], signature, SECRET, now=1061)
    assert not verify_download("bundles/other.zip", query["expires"], signature, SECRET, now=1030)
    later = str(int(query["expires"]) + 100)
    assert not verify_download(key, later, signature, SECRET, now=1030)
    assert not verify_download(key, query["expires"], signature, "another-secret", now=1030)
    assert not verify_download(key, None, None, SECRET)


def test_the_scheduler_serialises_each_decision_set_and_serves_them_in_turns():
    import threading

    from agentic_mlops.engines.scheduler import Scheduler

    scheduler = Scheduler(workers=1)
    order: list[str] = []
    gate = threading.Event()

    def job(name: str, wait: bool = False):
        def work() -> str:
            if wait:
                gate.wait(5)
            order.append(name)
            return name

        return work

    # Given one worker busy with ds-a, and ds-a queueing three more jobs before ds-b one
    first = scheduler.submit("ds-a", job("a1", wait=True))
    more = [scheduler.submit("ds-a", job(f"a{n}")) for n in (2, 3, 4)]
    other = scheduler.submit("ds-b", job("b1"))
    gate.set()
    # Then ds-b is served after ds-a's current job, not after all of ds-a's queue
    assert other.result(5) == "b1"
    assert all(f.result(5) for f in [first, *more])
    assert order == ["a1", "b1", "a2", "a3", "a4"]
    assert scheduler.settle("ds-a", timeout_s=5)
    assert scheduler.busy() == 0
    assert scheduler.shutdown(1.0) == []


def test_stopping_the_scheduler_cancels_queued_jobs_and_bounds_the_wait():
    import threading

    from agentic_mlops.engines.scheduler import Scheduler

    scheduler = Scheduler(workers=1)
    release = threading.Event()
    running = scheduler.submit("ds-slow", lambda: release.wait(10))
    queued = scheduler.submit("ds-next", lambda: "never")
    deadline = time.monotonic() + 5
    while not running.running() and time.monotonic() < deadline:
        time.sleep(0.01)
    # When it stops while a job runs: the queued one is cancelled, the wait is bounded
    started = time.monotonic()
    still_running = scheduler.shutdown(0.2)
    assert time.monotonic() - started < 2
    assert still_running == ["ds-slow"] and queued.cancelled()
    assert scheduler.submit("ds-late", lambda: 1).cancelled()
    release.set()
