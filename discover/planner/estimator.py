"""The seam between the tree and whatever predicts how good an unfinished formulation is.

The planner asks an :class:`Estimator` three things: prior probabilities of the moves at a node
(for PUCT), which complete formulation to evaluate below a leaf, and it tells the estimator every
finished evaluation. An estimator's ``version`` changes whenever its model does; the planner then
recomputes the priors of the nodes it passes through. The default, :class:`RolloutEstimator`, is
classic MCTS: uniform priors and a uniformly random completion. The BoTorch surrogate plugs in here
(``surrogates`` package).
"""

from __future__ import annotations

from typing import Protocol, Sequence, runtime_checkable

import numpy as np

from discover.game import Game
from discover.types import Action, Outcome, State


@runtime_checkable
class Estimator(Protocol):
    version: int

    def priors(self, game: Game, state: State, actions: Sequence[Action]) -> Sequence[float] | None:
        """Prior probabilities of ``actions`` at ``state``, or None for uniform."""

    def complete(self, game: Game, state: State, rng: np.random.Generator,
                 pending: Sequence[State]) -> State:
        """A terminal state below ``state`` worth evaluating (``pending`` are already in flight)."""

    def observe(self, game: Game, state: State, outcome: Outcome) -> None:
        """Learn from a finished evaluation of terminal ``state``."""


class RolloutEstimator:
    """Classic MCTS: uniform priors, uniformly random completions, nothing to learn."""

    version = 0

    def priors(self, game: Game, state: State, actions: Sequence[Action]) -> Sequence[float] | None:
        return None

    def complete(self, game: Game, state: State, rng: np.random.Generator,
                 pending: Sequence[State]) -> State:
        return game.random_completion(state, rng)

    def observe(self, game: Game, state: State, outcome: Outcome) -> None:
        return None
