"""Live-event frames and the @connections client's handling of gone connections."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import boto3
import pytest
from botocore.stub import Stubber

from agentic_mlops.persistence.models import Event
from agentic_mlops.streaming.fanout import (
    MAX_FRAME_BYTES,
    ConnectionGone,
    ManagementApiPoster,
    event_frame,
)


def _event(payload: dict) -> Event:
    return Event(
        decision_set_id="ds-1",
        seq=7,
        type="reason-card",
        node="planner",
        payload=payload,
        step=3,
        checkpoint_id=None,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


def test_small_events_travel_whole():
    frame = json.loads(event_frame(_event({"decision": "use SageMaker"})))
    assert frame["type"] == "reason-card" and frame["seq"] == 7
    assert frame["decision_set_id"] == "ds-1" and frame["payload"] == {"decision": "use SageMaker"}


def test_large_events_go_by_reference_under_the_frame_limit():
    big = {"text": "x" * (MAX_FRAME_BYTES * 2)}
    text = event_frame(_event(big))
    frame = json.loads(text)
    assert len(text.encode()) < MAX_FRAME_BYTES
    assert frame["payload"] is None and frame["seq"] == 7 and frame["type"] == "reason-card"
    assert frame["payload_ref"] == "/decision-sets/ds-1/events?after=6&limit=1"
    assert frame["payload_bytes"] > MAX_FRAME_BYTES


def _stubbed_poster() -> tuple[ManagementApiPoster, Stubber]:
    poster = ManagementApiPoster(region="eu-west-1", credentials=("k", "s"))
    client = boto3.session.Session().client(
        "apigatewaymanagementapi",
        endpoint_url="https://ws123.execute-api.eu-west-1.amazonaws.com/prod",
        region_name="eu-west-1",
        aws_access_key_id="k",
        aws_secret_access_key="s",
    )
    poster._clients["https://ws123.execute-api.eu-west-1.amazonaws.com/prod"] = client
    return poster, Stubber(client)


def test_gone_exception_is_reported_as_a_gone_connection():
    poster, stubber = _stubbed_poster()
    stubber.add_client_error("post_to_connection", "GoneException", http_status_code=410)
    with stubber, pytest.raises(ConnectionGone):
        poster("https://ws123.execute-api.eu-west-1.amazonaws.com/prod", "abc=", "{}")
    stubber.assert_no_pending_responses()


def test_other_errors_are_not_mistaken_for_gone():
    from botocore.exceptions import ClientError

    poster, stubber = _stubbed_poster()
    stubber.add_client_error("post_to_connection", "LimitExceededException", http_status_code=429)
    with stubber, pytest.raises(ClientError):
        poster("https://ws123.execute-api.eu-west-1.amazonaws.com/prod", "abc=", "{}")


def test_post_sends_the_frame_to_the_connection():
    poster, stubber = _stubbed_poster()
    stubber.add_response(
        "post_to_connection", {}, {"ConnectionId": "abc=", "Data": b'{"type":"pong"}'}
    )
    with stubber:
        poster("https://ws123.execute-api.eu-west-1.amazonaws.com/prod", "abc=", '{"type":"pong"}')
    stubber.assert_no_pending_responses()
