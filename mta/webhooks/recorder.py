"""Outcomes of webhook POSTs waiting to be written: gathered as the POSTs are answered, and
written in sets by the sender's claim loop, in the same transaction as its next claim, so one
short transaction a round records many POSTs and claims the next ones."""

from __future__ import annotations

from mta.webhooks.outbox import Outcome


class PendingOutcomes:
    def __init__(self) -> None:
        self._outcomes: list[Outcome] = []

    def __len__(self) -> int:
        return len(self._outcomes)

    def add(self, outcomes: list[Outcome]) -> None:
        self._outcomes.extend(outcomes)

    def take(self) -> list[Outcome]:
        """All that is waiting; the taker writes them, or gives them back if it cannot."""
        taken, self._outcomes = self._outcomes, []
        return taken

    def give_back(self, outcomes: list[Outcome]) -> None:
        self._outcomes[:0] = outcomes
