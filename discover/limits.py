"""Shorter time limits for kinds of formulation that keep failing.

A solver that does not converge on one formulation usually fails the same way on the next of the
same kind (the same solver on the same basis, say), and it often fails slowly, spending most of
the limit first. Once a kind (``Game.kind``) has failed ``FAILURES`` times and never succeeded,
its next evaluations get ``MULTIPLE`` times the median duration of the campaign's successful
evaluations (at least ``FLOOR_SECONDS``, never more than the campaign's limit): enough for an
evaluation like those that worked, not the minutes a hopeless one would take. Until something
succeeds nothing is shortened, and one success restores the kind's full limit. The feasibility
model learns the same failures; this bounds what they cost while it does.
"""

from __future__ import annotations

import statistics
from collections import Counter
from typing import Hashable

from discover.errors import GameError
from discover.game import Game
from discover.types import Outcome, State

FAILURES = 2  # failures of a kind, with no success, before its limit is shortened
MULTIPLE = 2.0  # the shortened limit, in median successful durations
FLOOR_SECONDS = 5.0  # the shortest limit given


class KindLimits:
    """Counts successes and failures per kind, and says the limit for a formulation's kind."""

    def __init__(self, game: Game) -> None:
        self.game = game
        self.ok: Counter[Hashable] = Counter()
        self.failed: Counter[Hashable] = Counter()
        self.ok_seconds: list[float] = []

    def _kind(self, state: State) -> Hashable | None:
        kind = self.game.kind(state)
        try:
            hash(kind)
        except TypeError:
            raise GameError(f"game {self.game.name!r}: kind({state!r}) returned the unhashable {kind!r}; "
                            "return a tuple, string or number") from None
        return kind

    def add(self, state: State, outcome: Outcome) -> None:
        kind = self._kind(state)
        if outcome.succeeded:
            self.ok_seconds.append(float(outcome.cost_seconds or 0.0))
            self.ok[kind] += 1
        else:
            self.failed[kind] += 1

    def limit(self, state: State, limit: float | None) -> tuple[float | None, str]:
        """The limit for ``state`` and, when it is shorter than ``limit``, why."""
        kind = self._kind(state)
        if limit is None or kind is None or self.ok[kind] or self.failed[kind] < FAILURES or not self.ok_seconds:
            return limit, ""
        short = max(FLOOR_SECONDS, MULTIPLE * statistics.median(self.ok_seconds))
        if short >= limit:
            return limit, ""
        return short, (f"limit shortened from {limit:g} s to {short:.3g} s: the {self.failed[kind]} "
                       f"evaluations of its kind {kind!r} all failed")
