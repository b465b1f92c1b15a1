"""The seam between the tree and whatever predicts how good an unfinished formulation is.

The planner asks an :class:`Estimator` for every move it does not take from the tree's statistics:
prior probabilities of the moves at a node (for PUCT), the value of a new continuous move
(progressive widening), and which complete formulation to evaluate below a leaf; and it tells the
estimator every finished evaluation. Each question comes with ``history``, the moves from the
initial state to the node, so an estimator can model the decisions along the path. An
estimator's ``version`` changes when the planner should recompute the priors of the nodes it passes
through (the GP's: every 2% more observations). An estimator may say it is ``designing``
(a true attribute while it places its initial design): under guided selection
the planner then lets it pick every move, finite ones too. The default, :class:`RolloutEstimator`, is
classic MCTS: uniform priors and a uniformly random completion. The BoTorch surrogate plugs in here
(``surrogates`` package).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence, runtime_checkable

import numpy as np

from discover.game import Game, sample_action
from discover.types import Action, Outcome, Sampler, State


@dataclass(frozen=True)
class Priors:
    """Prior probabilities of moves with the reasons behind them, which the store keeps per edge so
    a tree can say why the search went where it did: the best acquisition value found below each
    move, and the probability that evaluation succeeds (P(ok)) there."""

    probabilities: Sequence[float]
    acquisition: Sequence[float] | None = None
    feasibility: Sequence[float] | None = None


@runtime_checkable
class Estimator(Protocol):
    version: int

    def priors(self, game: Game, state: State, actions: Sequence[Action],
               history: Sequence[Action]) -> Sequence[float] | Priors | None:
        """Prior probabilities of ``actions`` at ``state`` (with their reasons: :class:`Priors`),
        or None for uniform."""

    def widen(self, game: Game, state: State, moves: Sequence[Action] | Sampler, rng: np.random.Generator,
              pending: Sequence[State], history: Sequence[Action]) -> Action:
        """A move at ``state`` chosen within ``moves`` (continuous, or a very wide finite set)."""

    def complete(self, game: Game, state: State, rng: np.random.Generator,
                 pending: Sequence[State], history: Sequence[Action]) -> State:
        """A terminal state below ``state`` worth evaluating (``pending`` are already in flight)."""

    def observe(self, game: Game, state: State, outcome: Outcome) -> None:
        """Learn from a finished evaluation of terminal ``state``."""


class RolloutEstimator:
    """Classic MCTS: uniform priors, uniformly random moves and completions, nothing to learn."""

    version = 0

    def priors(self, game: Game, state: State, actions: Sequence[Action],
               history: Sequence[Action]) -> Sequence[float] | None:
        return None

    def widen(self, game: Game, state: State, moves: Sequence[Action] | Sampler, rng: np.random.Generator,
              pending: Sequence[State], history: Sequence[Action]) -> Action:
        return sample_action(moves, rng)

    def complete(self, game: Game, state: State, rng: np.random.Generator,
                 pending: Sequence[State], history: Sequence[Action]) -> State:
        return game.random_completion(state, rng)

    def observe(self, game: Game, state: State, outcome: Outcome) -> None:
        return None
