"""Canonical JSON and content hashes, the basis of idempotency keys and digests."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def canonical_json(value: Any) -> str:
    """Serialise JSON-compatible data with sorted keys and no insignificant whitespace."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256_hex(text: str | bytes) -> str:
    """Return the hex sha256 of text (UTF-8) or bytes."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    return hashlib.sha256(data).hexdigest()


def canonical_json_hash(value: Any) -> str:
    """Return the sha256 of the canonical JSON of ``value``."""
    return sha256_hex(canonical_json(value))


def node_run_key(thread_id: str, node_name: str, input_state: Any) -> str:
    """Return ``sha256(thread_id | node_name | canonical_json_hash(input_state))``."""
    return sha256_hex(f"{thread_id}|{node_name}|{canonical_json_hash(input_state)}")
