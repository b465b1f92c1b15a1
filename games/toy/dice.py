"""A game with chance: the searcher stakes, a loaded die is thrown, the searcher keeps or hedges.

Its value is an expectation over the die (expectimax), computable exactly by enumeration. With many
faces the chance node is sampled rather than enumerated, which is what the planner must handle.
"""

from __future__ import annotations

from discover.game import Game, Param
from discover.types import EvalContext, Outcome, Player

STAKES = (1, 2, 3)
RESPONSES = ("keep", "hedge")

State = tuple  # (stake, face, response) as far as played


class DiceGame(Game):
    """Stake 1-3, throw a die loaded towards high faces, then keep the throw or hedge."""

    name = "toy-dice"
    params = (Param("faces", "int", 6, "faces of the die (face k has probability proportional to k)"),)

    def __init__(self, faces: int = 6) -> None:
        if faces < 2:
            raise ValueError("a die needs at least 2 faces")
        self.faces = faces

    def initial_state(self) -> State:
        return ()

    def to_move(self, state: State) -> Player:
        return (Player.SEARCHER, Player.CHANCE, Player.SEARCHER, Player.TERMINAL)[len(state)]

    def actions(self, state: State):
        return STAKES if len(state) == 0 else RESPONSES

    def chance_outcomes(self, state: State):
        total = self.faces * (self.faces + 1) / 2
        return [(k, k / total) for k in range(1, self.faces + 1)]

    def apply(self, state: State, action) -> State:
        return (*state, action)

    def payoff(self, stake: int, face: int, response: str) -> float:
        throw = (face - 0.5) / self.faces  # in (0, 1)
        if response == "keep":
            return stake * (throw - 0.6)
        return 0.15 * stake - 0.06 * stake**2

    def evaluate(self, state: State, context: EvalContext) -> Outcome:
        return Outcome.ok(self.payoff(*state))
