"""A two-player game: searcher and opponent alternate; leaves carry fixed pseudo-random values.

The value of the game is its minimax value, which a brute-force recursion computes exactly, so the
planner's two-player backup can be checked against it.
"""

from __future__ import annotations

import hashlib

from discover.game import Game, Param
from discover.types import EvalContext, Outcome, Player

State = tuple  # the moves played so far


class MinimaxGame(Game):
    """Alternating moves over a uniform tree; terminal values are a fixed function of the moves."""

    name = "toy-minimax"
    params = (
        Param("depth", "int", 4, "number of moves (searcher moves first)"),
        Param("branching", "int", 3, "moves available at each turn"),
        Param("seed", "int", 0, "which leaf values"),
    )

    def __init__(self, depth: int = 4, branching: int = 3, seed: int = 0) -> None:
        if depth < 1 or branching < 1:
            raise ValueError("depth and branching must be at least 1")
        self.depth, self.branching, self.seed = depth, branching, seed

    def initial_state(self) -> State:
        return ()

    def to_move(self, state: State) -> Player:
        if len(state) == self.depth:
            return Player.TERMINAL
        return Player.SEARCHER if len(state) % 2 == 0 else Player.OPPONENT

    def actions(self, state: State):
        return tuple(range(self.branching))

    def apply(self, state: State, action) -> State:
        return (*state, action)

    def leaf_value(self, state: State) -> float:
        digest = hashlib.sha256(repr((self.seed, state)).encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64

    def evaluate(self, state: State, context: EvalContext) -> Outcome:
        return Outcome.ok(self.leaf_value(state), {"moves": list(state)})
