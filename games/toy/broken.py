"""A game that breaks the protocol on purpose, so tests can check the engine says so in one line.

``flaw`` picks the fault: ``float-value`` (evaluate returns a bare float instead of an Outcome),
``no-moves`` (a non-terminal state with no legal moves), ``unhashable`` (states are lists),
``bad-chance`` (chance probabilities that do not sum to 1), or ``none`` (a sound game).
"""

from __future__ import annotations

from discover.game import Game, Param
from discover.types import EvalContext, Outcome, Player

FLAWS = ("none", "float-value", "no-moves", "unhashable", "bad-chance", "batch-limit")


class BrokenGame(Game):
    """Two moves of three options, then a chance throw; ``flaw`` breaks one rule of the protocol."""

    name = "toy-broken"
    params = (Param("flaw", "str", "float-value", "which rule to break", choices=FLAWS),)

    def __init__(self, flaw: str = "float-value") -> None:
        self.flaw = flaw
        if flaw == "batch-limit":
            self.batch_limit = 0

    def initial_state(self):
        return [] if self.flaw == "unhashable" else ()

    def to_move(self, state) -> Player:
        return (Player.SEARCHER, Player.SEARCHER, Player.CHANCE, Player.TERMINAL)[len(state)]

    def actions(self, state):
        return () if self.flaw == "no-moves" and len(state) == 1 else (0, 1, 2)

    def chance_outcomes(self, state):
        return [(0, 0.5), (1, 0.7 if self.flaw == "bad-chance" else 0.5)]

    def apply(self, state, action):
        return [*state, action] if self.flaw == "unhashable" else (*state, action)

    def evaluate(self, state, context: EvalContext):
        value = float(sum(state))
        return value if self.flaw == "float-value" else Outcome.ok(value)
