"""Errors the platform reports to its users, each with a stable code."""

from __future__ import annotations


class PlatformError(Exception):
    """Base of every error a user may see; the message is one readable line."""

    code = "platform_error"


class InvalidInput(PlatformError):
    """The request, an answer, a file or an argument is not acceptable."""

    code = "invalid_input"


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


class NodeFailed(PlatformError):
    """A workflow node raised; the decision set is marked failed."""

    code = "node_failed"


class ProviderUnavailable(PlatformError):
    """Every provider is unavailable for now; the engine retries the node later.

    The class name is the error name the state machine's ``Retry`` matches.
    """

    code = "provider_unavailable"
