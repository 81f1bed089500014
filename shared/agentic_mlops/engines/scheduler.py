"""Background workers for the in-process engine (``serve``): fair across decision sets.

Each decision set has its own queue of jobs and runs at most one at a time; decision sets
with work take turns (round robin), so a decision set with many queued jobs never holds
the workers against the others, and no worker ever waits on another decision set's lock.
Stopping cancels what is queued (it stays resumable from its checkpoint) and waits a
bounded time for what is running.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

logger = logging.getLogger(__name__)

Work = Callable[[], Any]


class Scheduler:
    """Runs jobs on ``workers`` threads: one job per decision set at a time, in turns."""

    def __init__(self, workers: int = 2) -> None:
        self._guard = threading.Condition()
        self._jobs: dict[str, deque[tuple[Work, Future[Any]]]] = {}
        self._ready: deque[str] = deque()
        self._running: set[str] = set()
        self._latest: dict[str, Future[Any]] = {}
        self._stopping = False
        self._threads = [
            threading.Thread(target=self._work, name=f"engine-{n}", daemon=True)
            for n in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, decision_set_id: str, work: Work) -> Future[Any]:
        """Queue ``work`` for a decision set; its failure is logged (the run records it)."""
        future: Future[Any] = Future()
        with self._guard:
            if self._stopping:
                future.cancel()
                return future
            queue = self._jobs.setdefault(decision_set_id, deque())
            queue.append((work, future))
            self._latest[decision_set_id] = future
            if decision_set_id not in self._running and decision_set_id not in self._ready:
                self._ready.append(decision_set_id)
                self._guard.notify()
        return future

    def settle(self, decision_set_id: str, timeout_s: float) -> bool:
        """Wait (bounded) until the decision set's queued work is done; False on timeout."""
        with self._guard:
            future = self._latest.get(decision_set_id)
        if future is None:
            return True
        try:
            future.result(timeout=timeout_s)
        except TimeoutError:
            return False
        except Exception:  # the job's own failure is recorded by the run; settled anyway
            logger.debug("settled %s after a failed job", decision_set_id)
        return True

    def busy(self) -> int:
        """How many jobs are queued or running."""
        with self._guard:
            return sum(len(queue) for queue in self._jobs.values()) + len(self._running)

    def shutdown(self, timeout_s: float = 5.0) -> list[str]:
        """Stop: cancel queued jobs, wait up to ``timeout_s`` for running ones.

        Returns:
            The decision sets still running when the time was up (their threads are
            daemons: the process may exit; the runs resume from their checkpoints).
        """
        with self._guard:
            self._stopping = True
            for queue in self._jobs.values():
                for _work, future in queue:
                    future.cancel()
            self._jobs.clear()
            self._ready.clear()
            self._guard.notify_all()
        for thread in self._threads:
            thread.join(timeout_s)
            timeout_s = 0.01  # the first join used the budget up
        with self._guard:
            return sorted(self._running)

    def _next(self) -> tuple[str, Work, Future[Any]] | None:
        with self._guard:
            while not self._ready and not self._stopping:
                self._guard.wait()
            if self._stopping:
                return None
            decision_set_id = self._ready.popleft()
            work, future = self._jobs[decision_set_id].popleft()
            self._running.add(decision_set_id)
            return decision_set_id, work, future

    def _done(self, decision_set_id: str, future: Future[Any]) -> None:
        with self._guard:
            self._running.discard(decision_set_id)
            queue = self._jobs.get(decision_set_id)
            if queue:
                self._ready.append(decision_set_id)  # its turn comes after the others'
                self._guard.notify()
            else:
                self._jobs.pop(decision_set_id, None)
                if self._latest.get(decision_set_id) is future:
                    del self._latest[decision_set_id]

    def _work(self) -> None:
        while (job := self._next()) is not None:
            decision_set_id, work, future = job
            if not future.set_running_or_notify_cancel():
                self._done(decision_set_id, future)
                continue
            try:
                future.set_result(work())
            except BaseException as exc:
                # The run already recorded its failure (status failed, run-complete).
                logger.warning("background run of %s ended: %s", decision_set_id, exc)
                future.set_exception(exc)
            finally:
                self._done(decision_set_id, future)
