"""The one settings model: the only reader of the environment, validated once, documented."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from agentic_mlops.errors import InvalidInput
from agentic_mlops.settings import (
    FUNCTION_GROUPS,
    FUNCTION_VARIABLES,
    configuration_table,
    load_settings,
    variables,
)

ROOT = Path(__file__).parents[2]
# The process environment is read elsewhere only to hand the sandboxed tools a PATH.
ENVIRONMENT_READERS = {
    "shared/agentic_mlops/settings.py",
    # PATH for the sandboxed programs, and the driver that runs inside the sandbox
    "shared/agentic_mlops/validation/sandbox.py",
    "shared/agentic_mlops/validation/drivers/deploy_pipeline.py",
}


def test_the_readme_table_is_the_one_the_model_generates() -> None:
    readme = (ROOT / "README.md").read_text()
    found = re.search(
        r"<!-- configuration:begin -->\n(.*?)\n<!-- configuration:end -->", readme, re.S
    )
    assert found, "the README lost its configuration table markers"
    assert found.group(1).strip() == configuration_table().strip(), (
        "README.md's configuration table differs from the settings model: regenerate it with"
        " `python -m agentic_mlops.settings`"
    )


def test_every_variable_is_documented_once() -> None:
    names = [name for _, name, _, _ in variables()]
    assert len(names) == len(set(names))
    assert all(description for *_, description in variables())


def test_a_bad_value_is_one_error_naming_each_variable_and_hiding_secrets() -> None:
    with pytest.raises(InvalidInput) as caught:
        load_settings(
            environ={
                "AGENTIC_MLOPS_ENGINE": "airflow",
                "AGENTIC_MLOPS_WORKERS": "0",
                "SLACK_BOT_TOKEN": "xoxp-SeCrEt-user-token",
                "AGENTIC_MLOPS_SLACK_CHANNEL": "C0123456789",
            }
        )
    message = str(caught.value)
    assert message.startswith("invalid configuration: ")
    assert "AGENTIC_MLOPS_ENGINE='airflow'" in message
    assert "AGENTIC_MLOPS_WORKERS='0'" in message
    assert "SLACK_BOT_TOKEN: must be a bot token" in message
    assert "SeCrEt" not in message
    assert caught.value.__cause__ is None


def test_blank_values_are_unset_and_a_function_reads_only_its_groups() -> None:
    assert load_settings(environ={"AGENTIC_MLOPS_ENGINE": "  "}).engine.engine == "local"
    # the websocket function never reads the engine group: a bad engine does not stop it
    settings = load_settings(FUNCTION_GROUPS["websocket"], environ={"AGENTIC_MLOPS_ENGINE": "x"})
    assert settings.engine.engine == "local"


def test_each_function_gets_variables_of_its_own_groups_only() -> None:
    known = {name for _, name, _, _ in variables()}
    for function, names in FUNCTION_VARIABLES.items():
        assert names <= known, function
        assert "AGENTIC_MLOPS_LOG_LEVEL" in names
    assert "AGENTIC_MLOPS_ANTHROPIC_SECRET" not in FUNCTION_VARIABLES["websocket"]
    assert "AGENTIC_MLOPS_DB_SECRET_ARN" not in FUNCTION_VARIABLES["validator"]
    assert "AGENTIC_MLOPS_VALIDATOR_FUNCTION" in FUNCTION_VARIABLES["node_runner"]


def test_only_the_settings_model_reads_the_environment() -> None:
    readers = {
        str(path.relative_to(ROOT))
        for path in (ROOT / "shared" / "agentic_mlops").rglob("*.py")
        if "os.environ" in path.read_text() or "getenv(" in path.read_text()
    }
    assert readers <= ENVIRONMENT_READERS, readers - ENVIRONMENT_READERS


def test_nothing_reads_the_environment_at_import_time() -> None:
    # Given a fresh interpreter whose environment records every read made by the library
    code = """
import os, pkgutil, importlib, sys, traceback
reads = []
original_getitem = os._Environ.__getitem__
def getitem(self, key):
    caller = traceback.extract_stack()[-2]  # who asked (libraries read their own variables)
    if "/agentic_mlops/" in caller.filename:
        reads.append((key, caller.filename, caller.lineno))
    return original_getitem(self, key)
os._Environ.__getitem__ = getitem
import agentic_mlops
for module in pkgutil.walk_packages(agentic_mlops.__path__, "agentic_mlops."):
    if module.name.endswith("__main__"):
        continue
    importlib.import_module(module.name)
print(sorted(set(reads)))
"""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    # Then no module of the library read a variable while being imported
    assert done.stdout.strip() == "[]", done.stdout
