"""Slack settings: one validated group of the platform's settings.

Two capabilities, each complete on its own so that a function holds only the secret it
needs: *posting* approval requests (``SLACK_BOT_TOKEN`` + ``AGENTIC_MLOPS_SLACK_CHANNEL``)
and *answering* button clicks (``SLACK_SIGNING_SECRET`` + ``AGENTIC_MLOPS_SLACK_USERS``).
In AWS both secrets come from one Secrets Manager secret
(``AGENTIC_MLOPS_SLACK_SECRET_ARN``: a JSON object with ``bot_token`` and
``signing_secret``), read when the configuration is resolved.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from agentic_mlops.configfield import SettingsGroup, env_field
from agentic_mlops.domain.identity import ALL_PROJECTS, Identity, parse_grants
from agentic_mlops.errors import InvalidInput

BOT_TOKEN_ENV = "SLACK_BOT_TOKEN"
SIGNING_SECRET_ENV = "SLACK_SIGNING_SECRET"
CHANNEL_ENV = "AGENTIC_MLOPS_SLACK_CHANNEL"
USERS_ENV = "AGENTIC_MLOPS_SLACK_USERS"
API_URL_ENV = "SLACK_API_URL"
LINK_ENV = "AGENTIC_MLOPS_SLACK_APPROVAL_LINK"
SECRET_ARN_ENV = "AGENTIC_MLOPS_SLACK_SECRET_ARN"
SECRET_MAX_AGE_S = 300
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


class SlackConfig(SettingsGroup):
    """Validated Slack settings. Secrets are ``SecretStr``: never in ``repr``, logs or dumps.

    Slack is off when none of its switches (bot token, signing secret, channel, users,
    secret) is set; :attr:`enabled` tells.
    """

    bot_token: SecretStr | None = env_field(
        BOT_TOKEN_ENV, description="Slack bot token (`xoxb-…`) posting approval requests"
    )
    signing_secret: SecretStr | None = env_field(
        SIGNING_SECRET_ENV, description="Slack signing secret checking button clicks"
    )
    secret_arn: str | None = env_field(
        SECRET_ARN_ENV,
        description="AWS: a Secrets Manager secret holding `bot_token` and `signing_secret`",
        aws=True,
    )
    channel: str | None = env_field(
        CHANNEL_ENV, description="the channel id approval requests go to", aws=True
    )
    users: dict[str, SlackApprover] = env_field(
        USERS_ENV,
        description="Slack user id → platform user and the projects they approve (JSON, or"
        " `@file`)",
        factory=dict,
        aws=True,
    )
    api_url: str | None = env_field(
        API_URL_ENV, description="Slack Web API base URL", default_text="`https://slack.com/api/`"
    )
    approval_link: str | None = env_field(
        LINK_ENV,
        description="web-app link template of an approval (`{approval_id}`, `{decision_set_id}`)",
    )

    @field_validator("users", mode="before")
    @classmethod
    def _users_text(cls, value: Any) -> Any:
        return _load_users(value) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _capabilities_complete(self) -> SlackConfig:
        if self.secret_arn is None:
            pairs = (
                (self.bot_token, BOT_TOKEN_ENV, self.channel, CHANNEL_ENV),
                (self.signing_secret, SIGNING_SECRET_ENV, self.users, USERS_ENV),
            )
            for first, first_name, second, second_name in pairs:
                if first and not second:
                    raise ValueError(
                        f"Slack is half configured: {second_name} is required when"
                        f" {first_name} is set"
                    )
                if second and not first:
                    raise ValueError(
                        f"Slack is half configured: {first_name} is required when"
                        f" {second_name} is set"
                    )
        return self

    @property
    def enabled(self) -> bool:
        """Whether any Slack capability is configured."""
        return any((self.bot_token, self.signing_secret, self.secret_arn, self.channel, self.users))

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

    def with_secrets(self) -> SlackConfig:
        """Fill the bot token and signing secret from ``AGENTIC_MLOPS_SLACK_SECRET_ARN``.

        The secret is read with Powertools Parameters (cached for five minutes); values
        set directly in the environment win.

        Raises:
            InvalidInput: the secret is not a JSON object with those entries.
        """
        if self.secret_arn is None:
            return self
        from aws_lambda_powertools.utilities import parameters

        raw = parameters.get_secret(self.secret_arn, max_age=SECRET_MAX_AGE_S)
        text = raw.decode("utf-8") if isinstance(raw, bytes) else str(raw)
        try:
            document = json.loads(text)
        except json.JSONDecodeError:
            raise InvalidInput(f"{SECRET_ARN_ENV}: the secret is not a JSON object") from None
        if not isinstance(document, dict):
            raise InvalidInput(f"{SECRET_ARN_ENV}: the secret is not a JSON object")
        updates: dict[str, Any] = {}
        for name in ("bot_token", "signing_secret"):
            if getattr(self, name) is None and isinstance(document.get(name), str):
                updates[name] = SecretStr(document[name])
        return self.model_copy(update=updates)


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
            raise ValueError(f"cannot read the {source}: {reason}") from None
    try:
        users = json.loads(value)
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"{source} is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno});"
            ' expected {"U0123ABCD": {"user": "alice", "projects": ["prj-…" or "*"]}}'
        ) from None
    if not isinstance(users, dict) or not users:
        raise ValueError(
            f"{source} must be a non-empty JSON object mapping Slack user ids to"
            ' {"user": ..., "projects": [...]}'
        )
    return users
