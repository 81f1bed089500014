"""Approvals name the plan they approve, and a repeated decision answers from the record
at once (the run goes on in the background)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from api_client import WORKLOAD, Rest, token

from agentic_mlops.persistence import Database

pytestmark = pytest.mark.integration


@pytest.fixture
def admin(api_server: Any) -> Rest:
    return Rest(api_server.url, token("alice", "requester", "approver"))


def _paused(admin: Rest) -> dict[str, Any]:
    status, project = admin.post("/projects", {"name": f"appr-{uuid.uuid4().hex[:8]}"})
    assert status == 201
    status, body = admin.post(f"/projects/{project['id']}/decision-sets", {"request": WORKLOAD})
    assert status == 202
    return admin.wait_status(body["id"], {"awaiting_approval"})


def test_the_approval_request_carries_the_plan_hash_and_a_stale_one_is_refused(
    admin: Rest, database: Database
) -> None:
    # Given a plan waiting for approval, its hash in the request
    view = _paused(admin)
    current = view["pending"]["request"]["plan_hash"]
    assert len(current) == 64
    path = f"/decision-sets/{view['id']}/approval"

    # When an approver decides on another plan than the one waiting
    status, body = admin.post(path, {"decision": "approve", "plan_hash": "f" * 64})

    # Then it is refused with the current hash, and nothing is decided
    assert status == 409 and body["error"]["code"] == "stale_plan"
    assert body["error"]["details"] == [{"plan_hash": current}]
    assert "changed since it was shown" in body["error"]["message"]
    assert database.store.latest_wait(view["id"]).status == "pending"

    # And the decision naming the plan shown is recorded, with that hash
    status, decided = admin.post(path, {"decision": "approve", "plan_hash": current})
    assert status == 200 and decided["plan_hash"] == current and decided["replayed"] is False
    response = database.store.latest_wait(view["id"]).response
    assert response["plan_hash"] == current


def test_a_repeated_decision_answers_from_the_record_while_the_run_goes_on(
    admin: Rest, database: Database
) -> None:
    # Given an approval just recorded (delivery takes seconds: codegen, validators, commit)
    view = _paused(admin)
    path = f"/decision-sets/{view['id']}/approval"
    status, first = admin.post(path, {"decision": "approve"})
    assert status == 200

    # When the same decision is sent again, at once
    status, again = admin.post(path, {"decision": "approve"})

    # Then it is answered from the record without waiting for the delivery to end
    assert status == 200 and again["replayed"] is True
    assert again["approval_id"] == first["approval_id"]
    assert again["status"] == "running"
    assert database.store.get_decision_set(view["id"]).status in {"running", "approved"}
    assert admin.wait_status(view["id"], {"approved", "failed"})["status"] == "approved"
