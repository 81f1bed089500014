"""The REST API: Powertools' ``APIGatewayRestResolver`` with validation and OpenAPI.

Every route authenticates the caller (authorizer claims in AWS, a development token
locally), checks the role on the project through :class:`PlatformService`, and answers
JSON. Errors share one shape, ``{"error": {"code", "message", "details"}}``, with a 4xx
status for every client mistake; the OpenAPI document is served at ``GET /openapi.json``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query

from agentic_mlops.api.auth import Forbidden, Identity, Unauthenticated, authenticate
from agentic_mlops.api.models import (
    AnswersIn,
    ApprovalIn,
    ApprovalOut,
    BundleOut,
    DecisionSetView,
    ErrorBody,
    EventOut,
    EventsPage,
    NewDecisionSet,
    NewProject,
    PendingWait,
    ProjectOut,
    RevisionIn,
)
from agentic_mlops.errors import (
    Conflict,
    DeterminismBudgetExceeded,
    InvalidInput,
    NotFound,
    PlatformError,
    ProviderUnavailable,
)

logger = logging.getLogger(__name__)

TITLE = "Agentic MLOps Platform API"
VERSION = "1.0.0"
JSON = "application/json"

_STATUS: list[tuple[type[Exception], int]] = [
    (Unauthenticated, 401),
    (Forbidden, 403),
    (NotFound, 404),
    (Conflict, 409),
    (InvalidInput, 400),
    (ProviderUnavailable, 503),
    (DeterminismBudgetExceeded, 502),
]

# The single-page app calls from its own origin with a bearer token (no cookies).
app = APIGatewayRestResolver(
    enable_validation=True,
    cors=CORSConfig(
        allow_origin=os.environ.get("AGENTIC_MLOPS_CORS_ORIGIN", "*"),
        allow_headers=["Authorization", "Content-Type"],
        max_age=600,
    ),
)
app.configure_openapi(
    title=TITLE,
    version=VERSION,
    description="Describe an ML workload, get an approved, validated MLOps repository.",
    security_schemes={"bearerAuth": HTTPBearer(bearerFormat="JWT")},
    security=[{"bearerAuth": []}],
)

IdPath = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


def _errors(*codes: int) -> dict[int, Any]:
    descriptions = {
        400: "Invalid input",
        401: "Missing or invalid credentials",
        403: "The caller lacks the role",
        404: "Unknown id",
        409: "Conflicts with the decision set's state",
        422: "The request does not match the schema",
    }
    return {
        code: {"description": descriptions[code], "content": {JSON: {"model": ErrorBody}}}
        for code in (401, 422, *codes)
    }


def error_response(status: int, code: str, message: str, details: Any = None) -> Response:
    """The API's error shape."""
    body: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        body["details"] = details
    return Response(status_code=status, content_type=JSON, body={"error": body})


@app.exception_handler(RequestValidationError)
def _invalid_request(exc: RequestValidationError) -> Response:
    details = [
        {
            "loc": [str(part) for part in e.get("loc", ())],
            "msg": str(e.get("msg", "")),
            "type": str(e.get("type", "")),
        }
        for e in exc.errors()
    ]
    return error_response(422, "invalid_request", "the request does not match the schema", details)


@app.exception_handler(PlatformError)
def _platform_error(exc: PlatformError) -> Response:
    status = next((s for kind, s in _STATUS if isinstance(exc, kind)), 500)
    if status == 500:
        logger.error("request failed: %s: %s", type(exc).__name__, exc)
        return error_response(500, exc.code, "the request failed; it has been logged")
    return error_response(status, exc.code, str(exc))


@app.not_found
def _not_found(exc: NotFoundError) -> Response:
    return error_response(404, "route_not_found", f"no route {app.current_event.path}")


@app.exception_handler(Exception)
def _unexpected(exc: Exception) -> Response:
    logger.exception("unexpected error")
    return error_response(500, "internal_error", "the request failed; it has been logged")


def _caller() -> Identity:
    return authenticate(app.current_event.raw_event)


def _service() -> Any:
    from agentic_mlops.api.runtime import service

    return service()


# projects -------------------------------------------------------------------------------


@app.post(
    "/projects",
    summary="Create a project",
    responses={
        201: {"description": "Created", "content": {JSON: {"model": ProjectOut}}},
        200: {
            "description": "A project with that name exists",
            "content": {JSON: {"model": ProjectOut}},
        },
        **_errors(400, 403),
    },
    tags=["projects"],
)
def create_project(body: Annotated[NewProject, Body()]) -> Response[ProjectOut]:
    project, created = _service().create_project(_caller(), body.name)
    out = ProjectOut(
        id=project.id,
        name=project.name,
        created_at=project.created_at.isoformat(),
        created=created,
    )
    return Response(status_code=201 if created else 200, content_type=JSON, body=out)


@app.post(
    "/projects/<project_id>/decision-sets",
    summary="Create a decision set from a request and start it",
    responses={
        202: {"description": "Started", "content": {JSON: {"model": DecisionSetView}}},
        **_errors(400, 403, 404),
    },
    tags=["decision sets"],
)
def create_decision_set(
    project_id: IdPath, body: Annotated[NewDecisionSet, Body()]
) -> Response[DecisionSetView]:
    service = _service()
    outcome = service.start(_caller(), project_id, body.request, body.answers)
    return Response(202, JSON, view(service, outcome, with_changes=False))


# decision sets ----------------------------------------------------------------------------


@app.get(
    "/decision-sets/<decision_set_id>",
    summary="A decision set: status, constraints, plan, cost, policy, pending wait, changes",
    responses={
        200: {"description": "The decision set", "content": {JSON: {"model": DecisionSetView}}},
        **_errors(403, 404),
    },
    tags=["decision sets"],
)
def get_decision_set(decision_set_id: IdPath) -> DecisionSetView:
    service = _service()
    outcome = service.status(_caller(), decision_set_id)
    return view(service, outcome, with_changes=True)


@app.get(
    "/decision-sets/<decision_set_id>/events",
    summary="The timeline, paginated",
    responses={
        200: {"description": "A page", "content": {JSON: {"model": EventsPage}}},
        **_errors(400, 403, 404),
    },
    tags=["decision sets"],
)
def list_events(
    decision_set_id: IdPath,
    after: Annotated[int, Query(ge=0, le=10**15)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    event_type: Annotated[str | None, Query(alias="type", max_length=64)] = None,
) -> EventsPage:
    events = _service().events(
        _caller(), decision_set_id, after=after, limit=limit, event_type=event_type
    )
    out = [
        EventOut(
            type=e.type,
            seq=e.seq,
            decision_set_id=e.decision_set_id,
            node=e.node,
            payload=e.payload,
            created_at=e.created_at.isoformat(),
            checkpoint_id=e.checkpoint_id,
        )
        for e in events
    ]
    return EventsPage(events=out, next_after=out[-1].seq if len(out) == limit else None)


@app.post(
    "/decision-sets/<decision_set_id>/answers",
    summary="Answer the open questions",
    responses={
        202: {
            "description": "Recorded; the run continues",
            "content": {JSON: {"model": DecisionSetView}},
        },
        **_errors(400, 403, 404, 409),
    },
    tags=["decision sets"],
)
def answer(
    decision_set_id: IdPath, body: Annotated[AnswersIn, Body()]
) -> Response[DecisionSetView]:
    service = _service()
    outcome = service.answer(_caller(), decision_set_id, body.answers)
    return Response(202, JSON, view(service, outcome, with_changes=False))


@app.post(
    "/decision-sets/<decision_set_id>/approval",
    summary="Approve or reject the plan (idempotent; a conflicting decision gets 409)",
    responses={
        200: {"description": "The recorded decision", "content": {JSON: {"model": ApprovalOut}}},
        **_errors(400, 403, 404, 409),
    },
    tags=["approvals"],
)
def decide(decision_set_id: IdPath, body: Annotated[ApprovalIn, Body()]) -> ApprovalOut:
    result = _service().decide(_caller(), decision_set_id, body.decision, body.comment)
    return ApprovalOut(**dataclasses.asdict(result))


@app.post(
    "/decision-sets/<decision_set_id>/revisions",
    summary="Create a revision (a child decision set) carrying a change",
    responses={
        202: {
            "description": "The child decision set",
            "content": {JSON: {"model": DecisionSetView}},
        },
        **_errors(400, 403, 404, 409),
    },
    tags=["decision sets"],
)
def revise(
    decision_set_id: IdPath, body: Annotated[RevisionIn, Body()]
) -> Response[DecisionSetView]:
    service = _service()
    outcome = service.revise(_caller(), decision_set_id, body.change, body.answers)
    return Response(202, JSON, view(service, outcome, with_changes=False))


@app.get(
    "/decision-sets/<decision_set_id>/bundle",
    summary="A download link for the generated repository",
    responses={
        200: {"description": "The link", "content": {JSON: {"model": BundleOut}}},
        **_errors(403, 404, 409),
    },
    tags=["decision sets"],
)
def bundle(decision_set_id: IdPath) -> BundleOut:
    return BundleOut(**_service().bundle(_caller(), decision_set_id))


# Slack and the document -------------------------------------------------------------------


@app.post(
    "/slack/interactions",
    summary="Slack's interactivity callback (signed by Slack; no bearer token)",
    responses={
        200: {"description": "Acknowledged"},
        400: {"description": "Malformed", "content": {JSON: {"model": ErrorBody}}},
        500: {
            "description": "Slack is misconfigured on the server",
            "content": {JSON: {"model": ErrorBody}},
        },
        503: {
            "description": "Slack is not configured on this deployment",
            "content": {JSON: {"model": ErrorBody}},
        },
        401: {
            "description": "Bad signature or stale timestamp",
            "content": {JSON: {"model": ErrorBody}},
        },
    },
    tags=["slack"],
    security=[{}],
)
def slack_interactions() -> Response[dict[str, Any]]:
    from agentic_mlops.api.service import slack_decider
    from agentic_mlops.slack.interactions import handle_proxy_event

    answer = handle_proxy_event(app.current_event.raw_event, decider=slack_decider)
    body = answer.get("body") or "{}"
    return Response(int(answer["statusCode"]), JSON, json.loads(body))


@app.get("/openapi.json", include_in_schema=False)
def openapi_document() -> Response[str]:
    return Response(200, JSON, openapi_json())


def openapi_json() -> str:
    """The OpenAPI document of this API."""
    return app.get_openapi_json_schema(title=TITLE, version=VERSION)


# views --------------------------------------------------------------------------------


def view(service: Any, outcome: Any, *, with_changes: bool) -> DecisionSetView:
    """The JSON view of a decision set (state parts, pending wait, change summary)."""
    ds = outcome.decision_set
    state = outcome.state.model_dump(mode="json") if outcome.state is not None else {}
    pending = outcome.pending
    parts = {
        name: state.get(name)
        for name in (
            "constraints",
            "coverage",
            "plan",
            "technical_critique",
            "cost",
            "policy",
            "approval",
            "feedback",
            "validation",
            "bundle",
            "commit",
        )
    }
    changes = None
    if with_changes and ds.parent_id and outcome.state is not None:
        summary = service.engine.change_summary(ds.id)
        changes = summary.model_dump(mode="json") if summary is not None else None
    job = service.store.latest_job(ds.id)
    base = f"/decision-sets/{ds.id}"
    return DecisionSetView(
        id=ds.id,
        project_id=ds.project_id,
        parent_id=ds.parent_id,
        status=ds.status,
        version=ds.version,
        request=ds.request,
        last_event_seq=ds.last_event_seq,
        commit_sha=ds.commit_sha,
        created_at=ds.created_at.isoformat(),
        updated_at=ds.updated_at.isoformat(),
        pending=PendingWait(
            id=pending.id,
            kind=pending.kind,
            request=pending.request,
            created_at=pending.created_at.isoformat(),
        )
        if pending is not None
        else None,
        change_summary=changes,
        stream_abandoned=bool(job and job["stream_abandoned"]),
        links={"self": base, "events": f"{base}/events", "bundle": f"{base}/bundle"},
        **{k: v for k, v in parts.items() if isinstance(v, dict)},
    )


def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Resolve one API Gateway REST proxy event."""
    return app.resolve(event, context)


__all__ = ["HTTPStatus", "app", "handle", "openapi_json"]
