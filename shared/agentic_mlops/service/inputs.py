"""The one validation layer for what users send, whatever the entry point.

REST, WebSocket, Slack and the CLI all pass their input through here before anything is
created: bounded sizes, bounded JSON nesting, finite numbers of sane size, and text without
NUL characters, other control characters or lone surrogates (PostgreSQL cannot store the
first, and the last cannot even be encoded). Every refusal is an
:class:`~agentic_mlops.errors.InvalidInput` naming the field; parsing is linear in the
size of the input, which is bounded.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

from agentic_mlops.domain.constraints import ANSWERABLE_FIELDS
from agentic_mlops.domain.state import MAX_REQUEST_CHARS
from agentic_mlops.errors import InvalidInput, MalformedJson, PayloadTooLarge

MAX_BODY_BYTES = 256 * 1024
"""A REST body (a request of 20,000 characters with its answers fits many times)."""
MAX_MESSAGE_BYTES = 32 * 1024
"""A WebSocket message (API Gateway's frame)."""
MAX_JSON_DEPTH = 32
MAX_INT_DIGITS = 30
MAX_ANSWER_CHARS = 500
MAX_COMMENT_CHARS = 4000
MAX_CHANGE_CHARS = 2000
MAX_NAME_CHARS = 200
MAX_USER_CHARS = 200
ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
EVENT_TYPE_PATTERN = r"^[a-z][a-z-]{0,63}$"
MAX_SEQ = 2**53
"""The largest sequence number or cursor accepted (exact in every JSON reader)."""

TEXT_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
"""Storable text (no NUL or other control characters; tab and newlines are fine), as the
API document states it; :func:`check_text` also refuses lone surrogates."""
REQUIRED_TEXT_PATTERN = (
    r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*[^\s\x00-\x1f\x7f][^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
)
"""Storable text with at least one visible character."""

_ID = re.compile(ID_PATTERN)
_FORBIDDEN_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|[\ud800-\udfff]")


def check_text(value: str, field: str) -> str:
    """Refuse NUL and other control characters (tab and newlines are fine) and lone
    surrogates in ``value``.

    Raises:
        InvalidInput: naming the field and what was found.
    """
    found = _FORBIDDEN_CHARS.search(value)
    if found is not None:
        char = found.group()
        what = "a lone surrogate" if 0xD800 <= ord(char) <= 0xDFFF else "a control character"
        raise InvalidInput(
            f"{field} contains {what} (U+{ord(char):04X}) at position {found.start()};"
            " send plain text"
        )
    return value


def clean_text(value: Any, field: str, *, max_chars: int, required: bool = True) -> str:
    """A trimmed, bounded, storable text.

    Raises:
        InvalidInput: not a string, empty (when ``required``), too long, or holding
            characters that cannot be stored.
    """
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be text")
    if len(value) > max_chars:
        raise InvalidInput(f"{field} is longer than {max_chars} characters ({len(value)})")
    text = check_text(value, field).strip()
    if required and not text:
        raise InvalidInput(f"{field} is empty")
    return text


def clean_request(value: Any) -> str:
    """The plain-words request of a decision set."""
    try:
        return clean_text(value, "the request", max_chars=MAX_REQUEST_CHARS)
    except InvalidInput as exc:
        if "is empty" in str(exc):
            raise InvalidInput(
                "the request is empty; describe the ML workload in plain words"
            ) from None
        raise


def clean_id(value: Any, what: str) -> str:
    """An id as the platform issues them (letters, digits, ``-`` and ``_``; 64 at most).

    Raises:
        InvalidInput: anything else.
    """
    if not isinstance(value, str) or not _ID.fullmatch(value):
        shown = repr(value[:64]) if isinstance(value, str) else type(value).__name__
        raise InvalidInput(f"{what} {shown} is not an id (such as ds-3f2a9c1b7d4e)")
    return value


def clean_answers(
    answers: Mapping[str, Any] | None, parse: Callable[[str, str], Any]
) -> dict[str, str]:
    """Check that every answer names a known field and reads as a valid value.

    Args:
        answers: field -> text.
        parse: the provider's answer parser (raises ``InvalidAnswer`` for a bad value).

    Raises:
        InvalidInput: naming the first bad field or value.
    """
    from agentic_mlops.providers import InvalidAnswer

    if answers is None:
        return {}
    if not isinstance(answers, Mapping):
        raise InvalidInput("answers must be an object of field: text")
    if len(answers) > len(ANSWERABLE_FIELDS):
        raise InvalidInput(f"too many answers ({len(answers)}); one per field at most")
    cleaned: dict[str, str] = {}
    for field, value in answers.items():
        if field not in ANSWERABLE_FIELDS:
            shown = check_text(str(field)[:64], "an answer's field")
            raise InvalidInput(
                f"unknown field {shown!r}; answerable fields: {', '.join(ANSWERABLE_FIELDS)}"
            )
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise InvalidInput(f"{field}: the answer must be text")
        text = clean_text(str(value), f"the answer to {field}", max_chars=MAX_ANSWER_CHARS)
        try:
            parsed = parse(field, text)
        except InvalidAnswer as exc:
            raise InvalidInput(str(exc)) from exc
        except (ValueError, OverflowError) as exc:
            raise InvalidInput(f"{field}: cannot read {text[:80]!r}") from exc
        if not _finite_everywhere(parsed):
            raise InvalidInput(f"{field}: {text[:80]!r} is out of range")
        cleaned[field] = text
    return cleaned


def _finite_everywhere(value: Any) -> bool:
    """Whether every number in a parsed answer (or the model it is) is finite."""
    if hasattr(value, "model_dump"):
        value = value.model_dump()
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return False
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return True


def clean_comment(value: Any) -> str | None:
    """An approver's optional comment."""
    if value is None:
        return None
    text = clean_text(value, "the comment", max_chars=MAX_COMMENT_CHARS, required=False)
    return text or None


def clean_user(value: Any) -> str:
    """A user name (who answers or decides)."""
    return clean_text(value, "the user name", max_chars=MAX_USER_CHARS)


# JSON --------------------------------------------------------------------------------------


def read_json(raw: bytes | str, *, max_bytes: int = MAX_BODY_BYTES, what: str = "the body") -> Any:
    """Parse a JSON document safely: bounded size and nesting, UTF-8, finite numbers of
    sane size, storable strings (keys included).

    Raises:
        PayloadTooLarge: over ``max_bytes``.
        InvalidInput: anything else wrong, said in one line.
    """
    size = len(raw.encode("utf-8", "surrogatepass")) if isinstance(raw, str) else len(raw)
    if size > max_bytes:
        raise PayloadTooLarge(f"{what} is larger than {max_bytes // 1024} KB ({size} bytes)")
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedJson(f"{what} is not UTF-8 text") from None
    else:
        text = raw
    depth = json_depth(text)
    if depth > MAX_JSON_DEPTH:
        raise MalformedJson(f"{what} nests JSON {depth} levels deep; {MAX_JSON_DEPTH} at most")
    try:
        document = json.loads(
            text, parse_constant=_no_constant, parse_float=_finite, parse_int=_bounded_int
        )
    except json.JSONDecodeError as exc:
        raise MalformedJson(f"{what} is not valid JSON ({exc.msg} at position {exc.pos})") from None
    _check_strings(document, what)
    return document


def json_depth(text: str) -> int:
    """The deepest nesting of arrays and objects in a JSON text (one linear pass)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _no_constant(name: str) -> Any:
    raise InvalidInput(f"the number {name} is not accepted")


def _finite(text: str) -> float:
    if len(text) > MAX_INT_DIGITS + 10:
        raise InvalidInput(f"the number {text[:20]}… is too long")
    value = float(text)
    if not math.isfinite(value):
        raise InvalidInput(f"the number {text[:20]} is out of range")
    return value


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise InvalidInput(f"a number has more than {MAX_INT_DIGITS} digits")
    return int(text)


def _check_strings(value: Any, what: str) -> None:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            check_text(item, f"a text in {what}")
        elif isinstance(item, dict):
            for key, child in item.items():
                check_text(key, f"a key in {what}")
                stack.append(child)
        elif isinstance(item, list):
            stack.extend(item)
