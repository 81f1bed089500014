"""What the functions that never build a platform do: the validator (generated code, in
its sandboxed image) and the migration (once per deploy).

Each reads only its settings groups and imports only what its job needs, so their packages
stay small (see ``infra/packaging.py``): no engine, no provider, no Slack.
"""

from __future__ import annotations

from typing import Any


def validate(event: dict[str, Any]) -> dict[str, Any]:
    """Validate the stored sources the event names (the validator function): its settings
    say where the artifacts and the image's tools are; it holds no database, no secret."""
    from agentic_mlops.composition.parts import (
        create_artifact_store_for,
        function_settings,
        validation_tools,
    )
    from agentic_mlops.validation.remote import handle_validation_request

    settings = _cached("validator", function_settings)
    return handle_validation_request(
        event, store=create_artifact_store_for(settings), tools=validation_tools(settings)
    )


def migrate(event: dict[str, Any]) -> dict[str, Any]:
    """Apply the pending schema migrations (the migration function, once per deploy)."""
    from agentic_mlops.composition.parts import function_settings
    from agentic_mlops.composition.parts import migrate as apply_migrations
    from agentic_mlops.persistence.migrations import latest_version

    applied = apply_migrations(_cached("migrator", function_settings))
    return {"applied": applied, "schema_version": latest_version()}


_settings: dict[str, Any] = {}


def _cached(function: str, load: Any) -> Any:
    """The function's settings, read on its first invocation and kept while warm."""
    if function not in _settings:
        _settings[function] = load(function)
    return _settings[function]
