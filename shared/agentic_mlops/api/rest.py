"""The REST API: Powertools' ``APIGatewayRestResolver`` with validation and OpenAPI.

Every route authenticates the caller (authorizer claims in AWS, a development token
locally), calls :class:`~agentic_mlops.service.application.PlatformService` once, and
answers JSON. Errors share one shape, ``{"error": {"code", "message", "details"}}``, with a
4xx status for every client mistake; the OpenAPI document is served at
``GET /openapi.json``.

The resolver keeps each request's state (its event, Lambda context and route context) per
thread, so the local server's handler threads never see each other's request (Lambda runs
one event at a time per container; the local server runs many). Bodies are checked before
the resolver sees them: size, UTF-8, JSON nesting, numbers and storable text.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
import time
from http import HTTPStatus
from typing import TYPE_CHECKING, Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query

from agentic_mlops.api.auth import authenticate
from agentic_mlops.api.models import (
    AnswersIn,
    ApprovalIn,
    ApprovalOut,
    ApprovalsPage,
    ApprovalSummary,
    BundleOut,
    DecisionSetSummary,
    DecisionSetView,
    ErrorBody,
    EventOut,
    EventsPage,
    FileOut,
    FilesPage,
    MeOut,
    NewDecisionSet,
    NewProject,
    PendingWait,
    ProjectOut,
    ProjectsPage,
    ProjectView,
    RevisionIn,
    SummariesPage,
    answers_of,
)
from agentic_mlops.errors import (
    Conflict,
    DeadlineExceeded,
    DeterminismBudgetExceeded,
    Forbidden,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    PlatformError,
    ProviderUnavailable,
    SchemaBehind,
    StalePlan,
    Unauthenticated,
)
from agentic_mlops.service.inputs import (
    EVENT_TYPE_PATTERN,
    ID_PATTERN,
    MAX_SEQ,
    REQUIRED_TEXT_PATTERN,
    read_json,
)

if TYPE_CHECKING:
    from agentic_mlops.composition import Platform
    from agentic_mlops.domain.identity import Identity
    from agentic_mlops.service.application import PlatformService
    from agentic_mlops.service.reads import DecisionSetRead

logger = logging.getLogger(__name__)

TITLE = "Agentic MLOps Platform API"
VERSION = "1.1.0"
JSON = "application/json"

_STATUS: list[tuple[type[Exception], int]] = [
    (Unauthenticated, 401),
    (Forbidden, 403),
    (NotFound, 404),
    (Conflict, 409),
    (PayloadTooLarge, 413),
    (InvalidInput, 400),
    (ProviderUnavailable, 503),
    (SchemaBehind, 503),
    (DeterminismBudgetExceeded, 502),
    (DeadlineExceeded, 504),
]
_VIEW_PARTS = (
    "constraints",
    "coverage",
    "plan",
    "technical_critique",
    "cost",
    "policy",
    "approval",
    "feedback",
    "validation",
    "repository",
    "bundle",
    "commit",
    "forked_from",
)


class ThreadSafeRestResolver(APIGatewayRestResolver):
    """Powertools' REST resolver with each request's state kept per thread.

    Powertools keeps the current event and Lambda context on class attributes and the
    route context on the instance: shared by every thread. Here the three live in
    thread-local storage, and :meth:`resolve` never touches the shared attributes.
    """

    _request_state = threading.local()

    @property  # type: ignore[override]
    def current_event(self) -> Any:
        return getattr(self._request_state, "event", None)

    @current_event.setter
    def current_event(self, value: Any) -> None:
        self._request_state.event = value

    @property  # type: ignore[override]
    def lambda_context(self) -> Any:
        return getattr(self._request_state, "lambda_context", None)

    @lambda_context.setter
    def lambda_context(self, value: Any) -> None:
        self._request_state.lambda_context = value

    @property  # type: ignore[override]
    def context(self) -> dict[str, Any]:
        state = self._request_state
        if not hasattr(state, "context"):
            state.context = {}
        return state.context

    @context.setter
    def context(self, value: dict[str, Any]) -> None:
        self._request_state.context = value

    def resolve(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        self.current_event = self._to_proxy_event(event)
        self.lambda_context = context
        try:
            return self._build_response(self._resolve())
        finally:
            self.clear_context()
            self.current_event = None


_app: ThreadSafeRestResolver | None = None
_app_lock = threading.Lock()
IdPath = Annotated[str, Path(min_length=1, max_length=64, pattern=ID_PATTERN)]


def _errors(*codes: int) -> dict[int, Any]:
    descriptions = {
        400: "Invalid input",
        401: "Missing or invalid credentials",
        403: "The caller lacks the role",
        404: "Unknown id (or one the caller may not see)",
        409: "Conflicts with the decision set's state",
        413: "The body is too large",
        415: "Not a text file",
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


def application(cors_origin: str = "*") -> ThreadSafeRestResolver:
    """The REST application (built once per process, on first use)."""
    global _app
    with _app_lock:
        if _app is None:
            _app = _build(cors_origin)
        return _app


def _build(cors_origin: str) -> ThreadSafeRestResolver:
    app = ThreadSafeRestResolver(
        enable_validation=True,
        # The single-page app calls from its own origin with a bearer token (no cookies).
        cors=CORSConfig(
            allow_origin=cors_origin,
            allow_headers=["Authorization", "Content-Type"],
            max_age=600,
        ),
        json_body_deserializer=read_json,
    )
    app.configure_openapi(
        title=TITLE,
        version=VERSION,
        description="Describe an ML workload, get an approved, validated MLOps repository.",
        security_schemes={"bearerAuth": HTTPBearer(bearerFormat="JWT")},
        security=[{"bearerAuth": []}],
    )
    _register(app)
    return app


def _register(app: ThreadSafeRestResolver) -> None:  # noqa: C901 - one route per block
    def caller() -> Identity:
        platform = _platform()
        return authenticate(
            app.current_event.raw_event,
            mode=platform.settings.auth.mode,
            secret=platform.token_secret,
        )

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
        return error_response(
            422, "invalid_request", "the request does not match the schema", details
        )

    @app.exception_handler(PlatformError)
    def _platform_error(exc: PlatformError) -> Response:
        status = next((s for kind, s in _STATUS if isinstance(exc, kind)), 500)
        if status == 500:
            logger.error("request failed: %s: %s", type(exc).__name__, exc)
            return error_response(500, exc.code, "the request failed; it has been logged")
        if isinstance(exc, StalePlan):
            return error_response(409, exc.code, str(exc), [{"plan_hash": exc.current_plan_hash}])
        return error_response(status, exc.code, str(exc))

    @app.not_found
    def _not_found(exc: NotFoundError) -> Response:
        path = str(app.current_event.path)[:200]
        return error_response(404, "route_not_found", f"no route {path}")

    @app.exception_handler(Exception)
    def _unexpected(exc: Exception) -> Response:
        logger.exception("unexpected error")
        return error_response(500, "internal_error", "the request failed; it has been logged")

    # the caller and projects ----------------------------------------------------------------

    @app.get(
        "/me",
        summary="Who the caller is, and their roles per project",
        responses={200: {"description": "The caller", "content": {JSON: {"model": MeOut}}}},
        tags=["projects"],
    )
    def me() -> MeOut:
        identity = caller()
        return MeOut(
            user=identity.user,
            roles={project: sorted(roles) for project, roles in identity.roles.items()},
        )

    @app.get(
        "/projects",
        summary="The projects the caller has a role on",
        responses={
            200: {"description": "The projects", "content": {JSON: {"model": ProjectsPage}}}
        },
        tags=["projects"],
    )
    def list_projects() -> ProjectsPage:
        return ProjectsPage(
            projects=[
                _project_view(project, roles) for project, roles in _service().projects(caller())
            ]
        )

    @app.post(
        "/projects",
        summary="Create a project",
        responses={
            201: {"description": "Created", "content": {JSON: {"model": ProjectOut}}},
            200: {
                "description": "A project with that name exists",
                "content": {JSON: {"model": ProjectOut}},
            },
            **_errors(400, 403, 413),
        },
        tags=["projects"],
    )
    def create_project(body: Annotated[NewProject, Body()]) -> Response[ProjectOut]:
        project, created = _service().create_project(caller(), body.name)
        out = ProjectOut(
            id=project.id,
            name=project.name,
            created_at=project.created_at.isoformat(),
            created=created,
        )
        return Response(status_code=201 if created else 200, content_type=JSON, body=out)

    @app.get(
        "/projects/<project_id>",
        summary="A project and the caller's roles on it",
        responses={
            200: {"description": "The project", "content": {JSON: {"model": ProjectView}}},
            **_errors(404),
        },
        tags=["projects"],
    )
    def get_project(project_id: IdPath) -> ProjectView:
        project, roles = _service().project(caller(), project_id)
        return _project_view(project, roles)

    @app.get(
        "/projects/<project_id>/decision-sets",
        summary="A project's decision sets, newest first",
        responses={
            200: {"description": "A page", "content": {JSON: {"model": SummariesPage}}},
            **_errors(400, 404),
        },
        tags=["decision sets"],
    )
    def list_decision_sets(
        project_id: IdPath,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        before: Annotated[str | None, Query(max_length=64, pattern=ID_PATTERN)] = None,
    ) -> SummariesPage:
        found = _service().decision_sets(caller(), project_id, limit=limit, before=before)
        return SummariesPage(decision_sets=[DecisionSetSummary(**s) for s in found])

    @app.post(
        "/projects/<project_id>/decision-sets",
        summary="Create a decision set from a request and start it",
        responses={
            202: {"description": "Started", "content": {JSON: {"model": DecisionSetView}}},
            **_errors(400, 403, 404, 413),
        },
        tags=["decision sets"],
    )
    def create_decision_set(
        project_id: IdPath, body: Annotated[NewDecisionSet, Body()]
    ) -> Response[DecisionSetView]:
        read = _service().start(caller(), project_id, body.request, answers_of(body.answers))
        return Response(202, JSON, view(read))

    # decision sets ----------------------------------------------------------------------------

    @app.get(
        "/decision-sets/<decision_set_id>",
        summary="A decision set: status, constraints, plan, cost, policy, pending wait, changes",
        responses={
            200: {
                "description": "The decision set",
                "content": {JSON: {"model": DecisionSetView}},
            },
            **_errors(404),
        },
        tags=["decision sets"],
    )
    def get_decision_set(decision_set_id: IdPath) -> DecisionSetView:
        service = _service()
        read = service.read(caller(), decision_set_id)
        changes = None
        if read.decision_set.parent_id and read.state_json:
            changes = service.summary_of(read.record).model_dump(mode="json")
        return view(read, changes)

    @app.get(
        "/decision-sets/<decision_set_id>/changes",
        summary="The Change Summary against the parent decision set",
        responses={
            200: {"description": "State changes and git diff"},
            **_errors(404, 409),
        },
        tags=["decision sets"],
    )
    def get_changes(decision_set_id: IdPath) -> dict[str, Any]:
        return _service().change_summary(caller(), decision_set_id).model_dump(mode="json")

    @app.get(
        "/decision-sets/<decision_set_id>/revisions",
        summary="The revisions of a decision set (its children), newest first",
        responses={
            200: {"description": "The children", "content": {JSON: {"model": SummariesPage}}},
            **_errors(404),
        },
        tags=["decision sets"],
    )
    def list_revisions(decision_set_id: IdPath) -> SummariesPage:
        found = _service().revisions(caller(), decision_set_id)
        return SummariesPage(decision_sets=[DecisionSetSummary(**s) for s in found])

    @app.get(
        "/decision-sets/<decision_set_id>/events",
        summary="The timeline, paginated",
        responses={
            200: {"description": "A page", "content": {JSON: {"model": EventsPage}}},
            **_errors(400, 404),
        },
        tags=["decision sets"],
    )
    def list_events(
        decision_set_id: IdPath,
        after: Annotated[int, Query(ge=0, le=MAX_SEQ)] = 0,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
        event_type: Annotated[
            str | None, Query(alias="type", max_length=64, pattern=EVENT_TYPE_PATTERN)
        ] = None,
    ) -> EventsPage:
        events = _service().events(
            caller(), decision_set_id, after=after, limit=limit, event_type=event_type
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
            **_errors(400, 403, 404, 409, 413),
        },
        tags=["decision sets"],
    )
    def answer(
        decision_set_id: IdPath, body: Annotated[AnswersIn, Body()]
    ) -> Response[DecisionSetView]:
        read = _service().answer(caller(), decision_set_id, answers_of(body.answers))
        return Response(202, JSON, view(read))

    @app.post(
        "/decision-sets/<decision_set_id>/approval",
        summary="Approve or reject the plan (idempotent; a conflicting decision gets 409)",
        responses={
            200: {
                "description": "The recorded decision",
                "content": {JSON: {"model": ApprovalOut}},
            },
            **_errors(400, 403, 404, 409, 413),
        },
        tags=["approvals"],
    )
    def decide(decision_set_id: IdPath, body: Annotated[ApprovalIn, Body()]) -> ApprovalOut:
        result = _service().decide(
            caller(), decision_set_id, body.decision, body.comment, plan_hash=body.plan_hash
        )
        return ApprovalOut(**dataclasses.asdict(result))

    @app.get(
        "/approvals",
        summary="The approvals waiting for the caller's decision, oldest first",
        responses={200: {"description": "The inbox", "content": {JSON: {"model": ApprovalsPage}}}},
        tags=["approvals"],
    )
    def list_approvals() -> ApprovalsPage:
        found = _service().approvals(caller())
        return ApprovalsPage(approvals=[ApprovalSummary(**a) for a in found])

    @app.post(
        "/decision-sets/<decision_set_id>/revisions",
        summary="Create a revision (a child decision set) carrying a change, or fork from an event",
        responses={
            202: {
                "description": "The child decision set",
                "content": {JSON: {"model": DecisionSetView}},
            },
            **_errors(400, 403, 404, 409, 413),
        },
        tags=["decision sets"],
    )
    def revise(
        decision_set_id: IdPath, body: Annotated[RevisionIn, Body()]
    ) -> Response[DecisionSetView]:
        read = _service().revise(
            caller(), decision_set_id, body.change, answers_of(body.answers), from_seq=body.from_seq
        )
        return Response(202, JSON, view(read))

    @app.get(
        "/decision-sets/<decision_set_id>/bundle",
        summary="A download link for the generated repository",
        responses={
            200: {"description": "The link", "content": {JSON: {"model": BundleOut}}},
            **_errors(404, 409),
        },
        tags=["delivery"],
    )
    def bundle(decision_set_id: IdPath) -> BundleOut:
        return BundleOut(**_service().bundle(caller(), decision_set_id))

    @app.get(
        "/decision-sets/<decision_set_id>/files",
        summary="The files of the generated repository (sources and reports/)",
        responses={
            200: {"description": "The files", "content": {JSON: {"model": FilesPage}}},
            **_errors(404, 409),
        },
        tags=["delivery"],
    )
    def list_files(decision_set_id: IdPath) -> FilesPage:
        return FilesPage.model_validate({"files": _service().files(caller(), decision_set_id)})

    @app.get(
        "/decision-sets/<decision_set_id>/file",
        summary="One text file of the generated repository (?path=infra/terraform/main.tf)",
        responses={
            200: {"description": "The file", "content": {JSON: {"model": FileOut}}},
            **_errors(404, 409, 415),
        },
        tags=["delivery"],
    )
    def get_file(
        decision_set_id: IdPath,
        path: Annotated[str, Query(min_length=1, max_length=1024, pattern=REQUIRED_TEXT_PATTERN)],
    ) -> Any:
        try:
            found = _service().file(caller(), decision_set_id, path)
        except InvalidInput as exc:
            if "not a text file" in str(exc):
                return error_response(415, "not_text", str(exc))
            raise
        return FileOut(**found)

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
        from agentic_mlops.slack import handle_function_event

        answer = handle_function_event(app.current_event.raw_event, function="api")
        body = answer.get("body") or "{}"
        return Response(int(answer["statusCode"]), JSON, json.loads(body))

    @app.get("/openapi.json", include_in_schema=False)
    def openapi_document() -> Response[str]:
        return Response(200, JSON, openapi_json())


def openapi_json() -> str:
    """The OpenAPI document of this API."""
    return application().get_openapi_json_schema(title=TITLE, version=VERSION)


def _platform() -> Platform:
    from agentic_mlops.composition.container import platform

    return platform("api")


def _service() -> PlatformService:
    return _platform().service


# views --------------------------------------------------------------------------------------


def _project_view(project: Any, roles: list[str]) -> ProjectView:
    return ProjectView(
        id=project.id, name=project.name, created_at=project.created_at.isoformat(), roles=roles
    )


def view(read: DecisionSetRead, changes: dict[str, Any] | None = None) -> DecisionSetView:
    """The JSON view of a decision set (state parts, pending wait, change summary)."""
    ds = read.decision_set
    state = read.state_json
    pending = read.pending
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
        stream_abandoned=read.stream_abandoned,
        links={
            "self": base,
            "events": f"{base}/events",
            "bundle": f"{base}/bundle",
            "files": f"{base}/files",
            "revisions": f"{base}/revisions",
        },
        **{k: state[k] for k in _VIEW_PARTS if isinstance(state.get(k), dict)},
    )


# the handler -----------------------------------------------------------------------------


def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Resolve one API Gateway REST proxy event.

    The body is checked first (size, UTF-8, nesting, numbers, text); the request's
    deadline is the Lambda context's remaining time.
    """
    from agentic_mlops.observability import log_context
    from agentic_mlops.service.deadline import request_deadline

    started = time.perf_counter()
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    request_id = getattr(context, "aws_request_id", None)
    with log_context(request_id=request_id):
        response = _refuse_body(event)
        if response is None:
            try:
                cors_origin = _platform().settings.api.cors_origin
            except PlatformError as exc:  # not configured or the schema is behind: say so
                logger.error("the API cannot serve: %s", exc)
                response = _proxy_error(503, exc.code, str(exc))
            else:
                with request_deadline(remaining() / 1000 if callable(remaining) else None):
                    response = application(cors_origin).resolve(event, context)
        _log_request(event, response, started)
        return response


def _log_request(event: dict[str, Any], response: dict[str, Any], started: float) -> None:
    """One line per request: method, path (never the query string), status, duration."""
    status = int(response.get("statusCode") or 0)
    duration_ms = round((time.perf_counter() - started) * 1000, 1)
    log = logger.info if status < 500 else logger.error
    log(
        "%s %s %s in %.0f ms",
        event.get("httpMethod"),
        event.get("path"),
        status,
        duration_ms,
        extra={"http_status": status, "duration_ms": duration_ms},
    )


def _refuse_body(event: dict[str, Any]) -> dict[str, Any] | None:
    """An error answer for a body that cannot be taken, before any work."""
    import base64

    body = event.get("body")
    if body is None or body == "":
        return None
    if str(event.get("path", "")).startswith("/slack/"):
        return None  # form-encoded and signed: the Slack handler checks its own body
    try:
        raw = base64.b64decode(body) if event.get("isBase64Encoded") else body
        read_json(raw)
    except PayloadTooLarge as exc:
        return _proxy_error(413, exc.code, str(exc))
    except InvalidInput as exc:
        return _proxy_error(400, exc.code, str(exc))
    except ValueError:
        return _proxy_error(400, "invalid_input", "the body is not valid base64")
    return None


def _proxy_error(status: int, code: str, message: str) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": JSON},
        "body": json.dumps({"error": {"code": code, "message": message}}),
        "isBase64Encoded": False,
    }


__all__ = ["HTTPStatus", "application", "handle", "openapi_json", "view"]
