"""Errors the platform reports to its users, each with a stable code."""

from __future__ import annotations

from typing import Any


class PlatformError(Exception):
    """Base of every error a user may see; the message is one readable line."""

    code = "platform_error"


class InvalidInput(PlatformError):
    """The request, an answer, a file or an argument is not acceptable."""

    code = "invalid_input"


class MalformedJson(InvalidInput):
    """A body or message that is not a JSON document the platform accepts."""

    code = "invalid_json"


class PayloadTooLarge(InvalidInput):
    """A body or message over its size limit (HTTP 413)."""

    code = "payload_too_large"


class NotFound(PlatformError):
    """An id that names nothing."""

    code = "not_found"


class Conflict(PlatformError):
    """The action does not fit the current state of the decision set."""

    code = "conflict"


class AlreadyDecided(Conflict):
    """A wait (question or approval) that was already answered."""

    code = "already_decided"


class VersionConflict(Conflict):
    """An optimistic-lock update lost a race; callers reload and retry."""

    code = "version_conflict"


class Unauthenticated(PlatformError):
    """No identity, or one that cannot be verified (HTTP 401)."""

    code = "unauthenticated"


class Forbidden(PlatformError):
    """A known identity without the role the action needs (HTTP 403)."""

    code = "forbidden"


class StalePlan(Conflict):
    """A decision names a plan that is no longer the one waiting for approval."""

    code = "stale_plan"

    def __init__(self, message: str, *, current_plan_hash: str | None) -> None:
        super().__init__(message)
        self.current_plan_hash = current_plan_hash


class DeadlineExceeded(PlatformError):
    """The request ran out of time before it could act; nothing was changed (HTTP 504)."""

    code = "deadline_exceeded"


class SchemaBehind(PlatformError):
    """The database schema is older than this code; migrations must run first."""

    code = "schema_behind"


class NodeFailed(PlatformError):
    """A workflow node raised; the decision set is marked failed."""

    code = "node_failed"

    def __init__(
        self, message: str, *, decision_set_id: str | None = None, cause_code: str | None = None
    ) -> None:
        super().__init__(message)
        self.decision_set_id = decision_set_id
        self.cause_code = cause_code


class ProviderUnavailable(PlatformError):
    """Every provider is unavailable for now; the engine retries the node later.

    The class name is the error name the state machine's ``Retry`` matches.
    """

    code = "provider_unavailable"


class DeterminismBudgetExceeded(PlatformError):
    """A model kept answering with output that does not validate against its schema.

    Raised after the last corrective turn of the determinism budget. The node that called
    the provider quarantines :attr:`invalid_payloads` with the prompt digest and its
    context, then lets the error end the run as failed. It is not
    :class:`ProviderUnavailable`: the state machine does not retry it.
    """

    code = "determinism_budget_exceeded"

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        model: str,
        method: str,
        prompt_digest: str,
        invalid_payloads: list[dict[str, Any]],
        few_shot_pack: str | None = None,
        few_shot_pack_hash: str | None = None,
        request: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.provider = provider
        self.model = model
        self.method = method
        self.prompt_digest = prompt_digest
        self.invalid_payloads = invalid_payloads
        self.few_shot_pack = few_shot_pack
        self.few_shot_pack_hash = few_shot_pack_hash
        self.request = request

    def quarantine_document(self, **context: Any) -> dict[str, Any]:
        """Return what is quarantined for triage: the payloads, the digest and the context."""
        return {
            "error": self.code,
            "message": str(self),
            **context,
            "provider": self.provider,
            "model": self.model,
            "method": self.method,
            "few_shot_pack": self.few_shot_pack,
            "few_shot_pack_hash": self.few_shot_pack_hash,
            "prompt_digest": self.prompt_digest,
            "attempts": len(self.invalid_payloads),
            "invalid_payloads": self.invalid_payloads,
            "request": self.request,
        }
