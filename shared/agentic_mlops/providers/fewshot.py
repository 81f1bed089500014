"""The few-shot pack registry: versioned prompt packs, one folder per provider method.

A pack is ``packs/<method>/v<N>.json`` (in this package, or under the folder named by
``AGENTIC_MLOPS_PACK_DIR``): the instructions for the model and worked examples (an input
and the structured answer expected for it). Its id is the sha256 of its canonical JSON, so
reformatting a file (whitespace, key order) keeps the id and any change of content gives a
new one. The request sent to a model is built from the pack and the inputs alone, so the
same pack and the same inputs give the same request, byte for byte; the pack id is
recorded on every Reason Card.
"""

from __future__ import annotations

import json
import re
from functools import cached_property
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agentic_mlops.canonical import canonical_json, canonical_json_hash
from agentic_mlops.errors import InvalidInput

_VERSION_FILE = re.compile(r"^v(?P<version>[1-9][0-9]{0,3})\.json$")


class FewShotExample(BaseModel):
    """One worked example: the input a model sees and the tool input it should answer."""

    model_config = ConfigDict(extra="forbid")

    title: str
    input: dict[str, Any]
    output: dict[str, Any]


class FewShotPack(BaseModel):
    """A versioned prompt pack for one provider method."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    version: int = Field(ge=1)
    tool_description: str = Field(min_length=1)
    instructions: list[str] = Field(min_length=1, description="Paragraphs of the system prompt.")
    examples: list[FewShotExample] = Field(default_factory=list)

    @cached_property
    def id(self) -> str:
        """sha256 of the pack's canonical JSON: its identity on Reason Cards."""
        return canonical_json_hash(self.model_dump(mode="json"))

    @property
    def ref(self) -> str:
        """``name@vN``, the human-readable reference."""
        return f"{self.name}@v{self.version}"

    @cached_property
    def prompt(self) -> str:
        """The system prompt (computed once per loaded pack)."""
        return self.system_prompt()

    def system_prompt(self) -> str:
        """The system prompt: the instructions, then each example as canonical JSON."""
        parts = ["\n\n".join(self.instructions)]
        for number, example in enumerate(self.examples, start=1):
            parts.append(
                f'<example number="{number}" title="{example.title}">\n'
                f"<input>{canonical_json(example.input)}</input>\n"
                f"<answer>{canonical_json(example.output)}</answer>\n"
                "</example>"
            )
        return "\n\n".join(parts)


class PackRegistry:
    """Loads the latest version of each method's pack from a folder tree.

    Args:
        root: the folder holding ``<method>/v<N>.json``; the packaged packs when None.
    """

    def __init__(self, root: Path | None = None) -> None:
        self.root: Traversable = (
            Path(root).expanduser()
            if root is not None
            else resources.files("agentic_mlops.providers") / "packs"
        )
        self._cache: dict[str, FewShotPack] = {}

    def names(self) -> list[str]:
        """The methods that have a pack, sorted."""
        if not self.root.is_dir():
            return []
        return sorted(entry.name for entry in self.root.iterdir() if entry.is_dir())

    def get(self, name: str) -> FewShotPack:
        """Return the highest version of the pack for ``name`` (cached per registry).

        Raises:
            InvalidInput: if there is no pack for ``name`` or its file is not a valid pack.
        """
        if name not in self._cache:
            self._cache[name] = self._load(name)
        return self._cache[name]

    def manifest_hash(self) -> str:
        """sha256 over every pack's name and id: changes when any pack changes."""
        return canonical_json_hash({name: self.get(name).id for name in self.names()})

    def _load(self, name: str) -> FewShotPack:
        folder = self.root / name
        versions = (
            sorted(
                (int(match.group("version")), entry)
                for entry in folder.iterdir()
                if (match := _VERSION_FILE.match(entry.name))
            )
            if folder.is_dir()
            else []
        )
        if not versions:
            raise InvalidInput(f"no few-shot pack for {name!r} under {self.root}")
        version, entry = versions[-1]
        try:
            document = json.loads(entry.read_text(encoding="utf-8"))
            pack = FewShotPack.model_validate(document)
        except (json.JSONDecodeError, UnicodeDecodeError, ValidationError) as exc:
            raise InvalidInput(f"few-shot pack {name}/v{version}.json is not valid: {exc}") from exc
        if (pack.name, pack.version) != (name, version):
            raise InvalidInput(
                f"few-shot pack {name}/v{version}.json declares {pack.ref}; name and version"
                " must match the file's place"
            )
        return pack
