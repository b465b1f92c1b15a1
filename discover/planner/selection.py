"""Selection rules: how a node scores its children.

A rule gets, for one candidate, the mover's normalised value estimate ``q`` in [0, 1] (None for a
move not yet expanded), the candidate's visit count (virtual visits included), the parent's visit
count and the candidate's prior probability, and returns a score; the highest score is descended.

[UCT] Kocsis & Szepesvari, "Bandit based Monte-Carlo planning", ECML 2006.
[PUCT] Silver et al., "Mastering the game of Go without human knowledge", Nature 2017 (the
       AlphaZero form of Rosin's predictor + UCB).
"""

from __future__ import annotations

import math
from typing import Protocol


class SelectionRule(Protocol):
    def __call__(self, q: float | None, visits: int, parent_visits: int, prior: float,
                 exploration: float, first_play: float) -> float: ...


def uct(q: float | None, visits: int, parent_visits: int, prior: float,
        exploration: float, first_play: float) -> float:
    """[UCT]: q + c sqrt(ln N / n); an untried move scores infinity (everything is tried once)."""
    if q is None or visits == 0:
        return math.inf
    return q + exploration * math.sqrt(math.log(max(parent_visits, 1)) / visits)


def puct(q: float | None, visits: int, parent_visits: int, prior: float,
         exploration: float, first_play: float) -> float:
    """[PUCT]: q + c P sqrt(N) / (1 + n); an untried move takes ``first_play`` as its q."""
    value = first_play if q is None or visits == 0 else q
    return value + exploration * prior * math.sqrt(max(parent_visits, 1)) / (1 + visits)


RULES: dict[str, SelectionRule] = {"uct": uct, "puct": puct}
