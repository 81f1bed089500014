"""Runs one request and kills its own process (SIGKILL) right after a node's Reason Card.

Used by the crash tests: ``python crash_runner.py DATABASE_URL PROJECT NODE REQUEST``.
Prints each streamed event as ``seq type node decision_set_id``.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]))  # tests/: the harness

from harness import Harness

from agentic_mlops.persistence import open_database
from agentic_mlops.providers.offline import OfflineProvider


def main() -> None:
    url, project, kill_after, request = sys.argv[1:5]
    database = open_database(url)

    def on_event(message: dict) -> None:
        print(
            message["seq"], message["type"], message["node"], message["decision_set_id"], flush=True
        )
        if message["type"] == "reason-card" and message["payload"]["node"] == kill_after:
            os.kill(os.getpid(), signal.SIGKILL)

    Harness(database, OfflineProvider(), on_event=on_event).start(project, request)


if __name__ == "__main__":
    main()
