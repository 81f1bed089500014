"""The embedded engine: the workflow runner in this process.

Inline (the CLI), a call returns once the run paused or ended and errors propagate; with
a :class:`~agentic_mlops.engines.scheduler.Scheduler` (``serve``), runs continue in
background workers and calls return at once. Every run holds the decision set's *run
lease* (an advisory lock in PostgreSQL), so two processes never run one decision set at
once, and a run whose process died is found (its lease is free) and resumed by
:meth:`LocalEngine.recover`. A wait decided while another process holds the lease is
picked up by that process when its current work ends.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from agentic_mlops.domain.state import PAUSED_STATUSES
from agentic_mlops.engines.base import Engine

if TYPE_CHECKING:
    from agentic_mlops.engines.scheduler import Scheduler
    from agentic_mlops.persistence.interfaces import PlatformStore
    from agentic_mlops.persistence.models import Wait
    from agentic_mlops.workflow.runner import WorkflowRunner

logger = logging.getLogger(__name__)


class LocalEngine(Engine):
    """Runs decision sets with the workflow runner, inline or in background workers.

    Args:
        runner: the workflow runner.
        scheduler: background workers; None runs inline.
    """

    name = "local"

    def __init__(self, runner: WorkflowRunner, scheduler: Scheduler | None = None) -> None:
        self.runner = runner
        self.scheduler = scheduler
        self.inline = scheduler is None

    def launch(self, decision_set_id: str, action: str) -> None:
        self._run(decision_set_id, action)

    def continue_wait(self, wait: Wait) -> None:
        self._run(wait.decision_set_id, f"resume-{wait.kind}")

    def recover(self) -> list[str]:
        """Resume every decision set whose run was interrupted (its lease is free)."""
        store = self.runner.store
        found = [
            decision_set.id
            for decision_set in store.unsettled_decision_sets()
            if not store.run_is_live(decision_set.id)
        ]
        for decision_set_id in found:
            logger.info("resuming the interrupted run of %s", decision_set_id)
            self._run(decision_set_id, "recover")
        return found

    def close(self, timeout_s: float = 5.0) -> None:
        if self.scheduler is not None:
            still = self.scheduler.shutdown(timeout_s)
            if still:
                logger.warning("stopped while running %s; they resume on the next start", still)

    def _run(self, decision_set_id: str, action: str) -> None:
        if self.scheduler is None:
            self._leased(decision_set_id, action)
            return
        # Said at once, so that the answer to the request already reads "running".
        self.runner.store.set_status(decision_set_id, "running")
        self.scheduler.submit(decision_set_id, lambda: self._leased(decision_set_id, action))

    def _leased(self, decision_set_id: str, action: str) -> None:
        store = self.runner.store
        with store.run_lease(decision_set_id) as held:
            if not held:
                logger.info("%s runs in another process; it picks up new work", decision_set_id)
                return
            outcome = self.runner.resume(decision_set_id, action)
            # Waits decided while this run was busy (by another process or request); a
            # question and an approval at most, so the loop is short.
            for _ in range(_MAX_CATCH_UP):
                if outcome.status not in PAUSED_STATUSES or not _decided(store, decision_set_id):
                    break
                outcome = self.runner.resume(decision_set_id, "resume")


_MAX_CATCH_UP = 8


def _decided(store: PlatformStore, decision_set_id: str) -> bool:
    wait = store.latest_wait(decision_set_id)
    return wait is not None and wait.status == "decided"
