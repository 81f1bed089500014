"""Slack settings, read from the environment when a function first needs them.

Two capabilities, each complete on its own so that a function holds only the secret it
needs: *posting* approval requests (``SLACK_BOT_TOKEN`` + ``AGENTIC_MLOPS_SLACK_CHANNEL``)
and *answering* button clicks (``SLACK_SIGNING_SECRET`` + ``AGENTIC_MLOPS_SLACK_USERS``).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from agentic_mlops.api.auth import ALL_PROJECTS, Identity, parse_grants
from agentic_mlops.errors import InvalidInput

BOT_TOKEN_ENV = "SLACK_BOT_TOKEN"
SIGNING_SECRET_ENV = "SLACK_SIGNING_SECRET"
CHANNEL_ENV = "AGENTIC_MLOPS_SLACK_CHANNEL"
USERS_ENV = "AGENTIC_MLOPS_SLACK_USERS"
API_URL_ENV = "SLACK_API_URL"
LINK_ENV = "AGENTIC_MLOPS_SLACK_APPROVAL_LINK"

# The variables whose presence means "Slack is meant to be on" (the others only tune it).
_SWITCHES = (BOT_TOKEN_ENV, SIGNING_SECRET_ENV, CHANNEL_ENV, USERS_ENV)
_FIELD_ENV = {
    "bot_token": BOT_TOKEN_ENV,
    "signing_secret": SIGNING_SECRET_ENV,
    "channel": CHANNEL_ENV,
    "users": USERS_ENV,
    "api_url": API_URL_ENV,
    "approval_link": LINK_ENV,
}
SLACK_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,31}$")
_LINK_FIELDS = {"approval_id", "decision_set_id"}


class SlackApprover(BaseModel):
    """The platform user a Slack user acts as, and the projects where they approve."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    user: str = Field(min_length=1, max_length=200)
    projects: tuple[str, ...] = Field(min_length=1)

    @field_validator("user")
    @classmethod
    def _user_is_trimmed(cls, value: str) -> str:
        if value != value.strip() or not value:
            raise ValueError("the platform user name must not be blank or padded")
        return value

    @field_validator("projects")
    @classmethod
    def _projects_are_ids(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for project in value:
            if not project.strip() or project != project.strip() or ":" in project:
                raise ValueError(f"{project!r} is not a project id (or '{ALL_PROJECTS}')")
        return value

    def identity(self) -> Identity:
        """The approver role on each listed project (``*`` = every project)."""
        return Identity(user=self.user, roles=parse_grants(f"{p}:approver" for p in self.projects))


class SlackConfig(BaseModel):
    """Validated Slack settings. Secrets are ``SecretStr``: never in ``repr``, logs or dumps."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    bot_token: SecretStr | None = None
    signing_secret: SecretStr | None = None
    channel: str | None = None
    users: dict[str, SlackApprover] = Field(default_factory=dict)
    api_url: str | None = None
    approval_link: str | None = None

    @field_validator("bot_token")
    @classmethod
    def _bot_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith("xoxb-"):
            raise ValueError("must be a bot token (it starts with xoxb-)")
        return value

    @field_validator("signing_secret")
    @classmethod
    def _signing_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and re.search(r"\s", value.get_secret_value()):
            raise ValueError("must be the app's signing secret (no spaces)")
        return value

    @field_validator("channel")
    @classmethod
    def _channel(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Z0-9]{2,40}", value):
            raise ValueError("must be a channel id such as C0123456789")
        return value

    @field_validator("users")
    @classmethod
    def _user_ids(cls, value: dict[str, SlackApprover]) -> dict[str, SlackApprover]:
        for slack_id in value:
            if not SLACK_USER_ID.fullmatch(slack_id):
                raise ValueError(f"{slack_id!r} is not a Slack user id (such as U0123ABCD)")
        return value

    @field_validator("api_url")
    @classmethod
    def _api_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not re.match(r"https?://[^/\s]+", value):
            raise ValueError("must be an http(s) URL such as https://slack.com/api/")
        return value if value.endswith("/") else value + "/"

    @field_validator("approval_link")
    @classmethod
    def _approval_link(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL template")
        try:
            value.format(**dict.fromkeys(_LINK_FIELDS, "x"))
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(
                "may only use the placeholders {approval_id} and {decision_set_id}"
            ) from exc
        return value

    # capabilities ----------------------------------------------------------------------

    @property
    def can_post(self) -> bool:
        """Whether approval requests can be posted (bot token and channel)."""
        return self.bot_token is not None and self.channel is not None

    @property
    def can_verify(self) -> bool:
        """Whether button clicks can be answered (signing secret and user mapping)."""
        return self.signing_secret is not None and bool(self.users)

    def identity_for(self, slack_user_id: str) -> Identity | None:
        """The platform identity of a Slack user, or None for a user nobody mapped."""
        approver = self.users.get(slack_user_id)
        return approver.identity() if approver else None

    def link_for(self, approval_id: str, decision_set_id: str) -> str | None:
        """The web-app link of an approval (from the link template), if configured."""
        if self.approval_link is None:
            return None
        return self.approval_link.format(approval_id=approval_id, decision_set_id=decision_set_id)

    # loading ---------------------------------------------------------------------------

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SlackConfig | None:
        """Read the Slack variables; None when none of them is set (Slack is off).

        Raises:
            InvalidInput: a variable is malformed, or a capability is half configured
                (for example a bot token without a channel). The message names the
                variable and never contains a secret.
        """
        env = os.environ if env is None else env
        values = {name: env.get(name, "").strip() for name in (*_SWITCHES, API_URL_ENV, LINK_ENV)}
        if not any(values[name] for name in _SWITCHES):
            return None
        _require_pair(values, BOT_TOKEN_ENV, CHANNEL_ENV)
        _require_pair(values, SIGNING_SECRET_ENV, USERS_ENV)
        raw: dict[str, Any] = {
            field: values[name] for field, name in _FIELD_ENV.items() if values[name]
        }
        if values[USERS_ENV]:
            raw["users"] = _load_users(values[USERS_ENV])
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            raise InvalidInput(_describe(exc)) from None


def _require_pair(values: Mapping[str, str], first: str, second: str) -> None:
    for present, missing in ((first, second), (second, first)):
        if values[present] and not values[missing]:
            raise InvalidInput(
                f"Slack is half configured: {missing} is required when {present} is set"
            )


def _load_users(value: str) -> Any:
    """The user mapping: inline JSON, or ``@path`` to a JSON file."""
    source = USERS_ENV
    if value.startswith("@"):
        path = Path(value[1:]).expanduser()
        source = f"{USERS_ENV} file {path}"
        try:
            value = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = (
                exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
            )
            raise InvalidInput(f"cannot read the {source}: {reason}") from None
    try:
        users = json.loads(value)
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            f"{source} is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno});"
            ' expected {"U0123ABCD": {"user": "alice", "projects": ["prj-…" or "*"]}}'
        ) from None
    if not isinstance(users, dict) or not users:
        raise InvalidInput(
            f"{source} must be a non-empty JSON object mapping Slack user ids to"
            ' {"user": ..., "projects": [...]}'
        )
    return users


def _describe(exc: ValidationError) -> str:
    """One readable line per problem: the variable and what is wrong (never the value)."""
    problems = []
    for error in exc.errors(include_input=False, include_url=False):
        field, *rest = [str(part) for part in error["loc"]] or ["?"]
        where = _FIELD_ENV.get(field, field) + "".join(f"[{part}]" for part in rest)
        message = error["msg"].removeprefix("Value error, ")
        problems.append(f"{where}: {message}")
    return "invalid Slack configuration: " + "; ".join(problems)
