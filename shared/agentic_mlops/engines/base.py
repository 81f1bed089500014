"""The engine interface: who runs a decision set's work (the service decides what)."""

from __future__ import annotations

from abc import ABC, abstractmethod

from agentic_mlops.persistence.models import Wait

__all__ = ["Engine", "ReadOnlyEngine"]


class Engine(ABC):
    """Runs the workflow of decision sets: in this process, or on Step Functions."""

    name: str
    inline = False
    """Whether :meth:`launch` returns only once the run paused or ended."""

    @abstractmethod
    def launch(self, decision_set_id: str, action: str) -> None:
        """Run a decision set that has work to do (new, revised, or interrupted)."""

    @abstractmethod
    def continue_wait(self, wait: Wait) -> None:
        """Continue a decision set whose wait was just decided (the decision is recorded)."""

    def resume(self, decision_set_id: str) -> None:
        """Continue a run that stopped without pausing (a crash), from its last checkpoint."""
        self.launch(decision_set_id, "resume")

    def recover(self) -> list[str]:
        """Resume the runs a crash interrupted; return their ids (engines that keep their
        own state, like Step Functions, have nothing to recover)."""
        return []

    def close(self, timeout_s: float = 5.0) -> None:  # noqa: B027 - nothing to stop by default
        """Stop running work (what is queued stays resumable)."""


class ReadOnlyEngine(Engine):
    """The engine of a process that only reads (the WebSocket function): it runs nothing."""

    name = "none"

    def launch(self, decision_set_id: str, action: str) -> None:
        from agentic_mlops.errors import Conflict

        raise Conflict("this process only reads decision sets; it cannot run them")

    def continue_wait(self, wait: Wait) -> None:
        self.launch(wait.decision_set_id, "resume")
