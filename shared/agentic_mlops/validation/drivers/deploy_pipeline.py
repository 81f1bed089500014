"""Run a generated repository's pipeline upserts against a moto server (validators' tools only).

Usage: python deploy_pipeline.py REPO [--pytest]

With ``--pytest`` the repository's tests run first, in this process, as its CI runs them
(``python -m pytest -q``): the SDK that they and the upsert need is imported once.

Run by the ``pipeline`` validator with the validators' Python (boto3, moto, the SageMaker
SDK), inside the sandbox: the network namespace's loopback is brought up, a moto server
listens on it, and each ``python -m pipelines.pipeline ... --upsert`` line of the deploy
workflow runs as written there, after writing the Terraform outputs it reads and
creating the buckets ``terraform apply`` would have created. The outputs come from the
repository's ``tests/infra_outputs.py`` (``infra_outputs(environment)``, shaped like
``terraform output -json``). Prints one JSON line: the commands, their outcome and the
pipelines' steps. Imports nothing of the platform.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shlex
import socket
import struct
import sys
from pathlib import Path

WORKFLOW = ".github/workflows/deploy.yml"
UPSERT = "pipelines.pipeline"
_SIOCGIFFLAGS, _SIOCSIFFLAGS, _IFF_UP = 0x8913, 0x8914, 0x1


def loopback_up() -> None:
    """Bring ``lo`` up (in a fresh network namespace it starts down); no-op when it is up."""
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        request = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(s.fileno(), _SIOCGIFFLAGS, request))[1]
        if not flags & _IFF_UP:
            fcntl.ioctl(s.fileno(), _SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | _IFF_UP))


def upsert_commands(repo: Path) -> list[dict]:
    """Return the deploy workflow's pipeline upsert lines with their job and line number."""
    import yaml

    text = (repo / WORKFLOW).read_text(encoding="utf-8")
    workflow = yaml.safe_load(text)
    found = []
    for job_name, job in (workflow.get("jobs") or {}).items():
        for step in job.get("steps") or []:
            for line in str(step.get("run") or "").splitlines():
                if UPSERT not in line:
                    continue
                try:
                    argv = shlex.split(line)
                except ValueError as exc:  # a command the platform cannot read: a failure
                    argv = ["python", "-m", UPSERT, "--upsert", f"<unreadable: {exc}>"]
                if len(argv) > 2 and argv[1:3] == ["-m", UPSERT] and "--upsert" in argv:
                    number = next(
                        (i for i, ln in enumerate(text.splitlines(), 1) if line.strip() in ln),
                        None,
                    )
                    found.append({"job": job_name, "argv": argv, "line": number})
    return found


def option(argv: list[str], name: str, default: str) -> str:
    """Return the value of ``--name VALUE`` in ``argv``."""
    return argv[argv.index(name) + 1] if name in argv[:-1] else default


def example_outputs(repo: Path, environment: str) -> dict:
    """Return ``tests/infra_outputs.py``'s ``infra_outputs(environment)`` of the repository."""
    import runpy

    module = runpy.run_path(str(repo / "tests" / "infra_outputs.py"))
    return module["infra_outputs"](environment)


def run_module(repo: Path, argv: list[str]) -> str | None:
    """Run ``python -m MODULE ARGS`` (``argv``) in this process, in the repository.

    The same as the workflow's command, without starting a second interpreter (the SDK is
    imported once). Returns None on success, else the error's last line.
    """
    import runpy
    import traceback

    saved_argv, saved_cwd = sys.argv, os.getcwd()
    sys.argv = [argv[2], *argv[3:]]
    os.chdir(repo)
    sys.path.insert(0, str(repo))
    try:
        runpy.run_module(argv[2], run_name="__main__", alter_sys=True)
    except SystemExit as exc:
        if exc.code not in (None, 0):
            return f"exited with {exc.code}"
    except Exception as exc:  # the generated code failed: report it, as the workflow would
        last = traceback.format_exception_only(type(exc), exc)[-1].strip()
        return last
    finally:
        sys.argv = saved_argv
        os.chdir(saved_cwd)
        sys.path.remove(str(repo))
    return None


def run_command(repo: Path, command: dict, endpoint: str) -> dict:
    """Write the outputs the command reads, create its buckets, run it, read the pipeline."""
    import boto3

    argv = command["argv"]
    environment = option(argv, "--env", "staging")
    outputs_path = repo / option(argv, "--outputs", "infra-outputs.json")
    result = {
        "command": shlex.join(argv),
        "environment": environment,
        "file": WORKFLOW,
        "line": command["line"],
    }
    try:
        outputs = example_outputs(repo, environment)
    except Exception as exc:  # the repository's own example outputs are broken: a failure
        return {**result, "returncode": 1, "error": f"tests/infra_outputs.py: {exc!r}"}
    outputs_path.write_text(json.dumps(outputs), encoding="utf-8")
    values = {name: item.get("value") for name, item in outputs.items()}
    region = str(values.get("region") or "us-east-1")
    session = boto3.session.Session(region_name=region)
    s3 = session.client("s3", endpoint_url=endpoint)
    for name, value in values.items():
        if name.endswith("bucket") and isinstance(value, str) and value:
            with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
                kwargs = {}
                if region != "us-east-1":
                    kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
                s3.create_bucket(Bucket=value, **kwargs)
    os.environ.update(AWS_DEFAULT_REGION=region, AWS_REGION=region)
    error = run_module(repo, argv)
    if error:
        return {**result, "returncode": 1, "error": error}
    name = str(values.get("pipeline_name") or "")
    sagemaker = session.client("sagemaker", endpoint_url=endpoint)
    try:
        described = sagemaker.describe_pipeline(PipelineName=name)
    except Exception as exc:  # the upsert "succeeded" but left no pipeline: a failure
        return {**result, "returncode": 1, "error": f"pipeline {name!r} not found: {exc}"}
    definition = json.loads(described["PipelineDefinition"])
    steps = [step["Name"] for step in definition.get("Steps", [])]
    return {**result, "returncode": 0, "pipeline": name, "steps": steps}


def run_pytest(repo: Path) -> dict:
    """Run the repository's tests (``pytest -q``) here; return the exit code and the output."""
    import io
    import time

    import pytest

    started = time.perf_counter()
    saved_cwd, out = os.getcwd(), io.StringIO()
    os.chdir(repo)
    try:
        with contextlib.redirect_stdout(out):
            code = pytest.main(["-q", "-p", "no:cacheprovider", "tests"])
    finally:
        os.chdir(saved_cwd)
    for name in [m for m in sys.modules if m == "pipelines" or m.startswith("pipelines.")]:
        del sys.modules[name]  # the upsert imports the repository's modules afresh
    duration_ms = (time.perf_counter() - started) * 1000.0
    return {"returncode": int(code), "stdout": out.getvalue()[-20000:], "duration_ms": duration_ms}


def main() -> None:
    """Run the tests when asked, start the moto server, run every upsert, print the report."""
    repo = Path(sys.argv[1]).resolve()
    report: dict = {}
    if "--pytest" in sys.argv[2:]:
        report["tests"] = run_pytest(repo)
    loopback_up()
    from importlib.metadata import version

    from moto.server import ThreadedMotoServer

    commands = upsert_commands(repo)
    if not commands:
        report["error"] = f"{WORKFLOW} has no `python -m {UPSERT} ... --upsert` step"
        print(json.dumps(report))
        return
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        os.environ.update(
            AWS_ENDPOINT_URL=endpoint,
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_SESSION_TOKEN="testing",
        )
        report["commands"] = [run_command(repo, command, endpoint) for command in commands]
    finally:
        server.stop()
    report["sdk"] = version("sagemaker")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
