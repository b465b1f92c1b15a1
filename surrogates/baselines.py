"""Baselines behind the campaign's proposer interface, to measure the guided planner against.

* ``random``: uniformly random complete formulations;
* ``flat-bo``: BO over the flattened formulation space, no tree (the GP estimator's completion
  choice, asked at the root every time);
* ``tpe``: Optuna's TPE, walking the game define-by-run (one suggestion per move);
* plain UCT with random rollouts is ``method="mcts", surrogate="none"``.

They propose whole formulations, keep no tree, and never propose an evaluated or in-flight one
twice (a collision is retried, then given up for this ask).
"""

from __future__ import annotations

import hashlib
import math
from typing import Any, Sequence

import numpy as np

from discover.errors import SettingsError
from discover.game import Game, sample_chance
from discover.planner import Estimator, Proposal
from discover.types import EvaluationRecord, Interval, Outcome, Player, Sampler, State, Status
from surrogates.estimator import GPEstimator

RETRIES = 64


class FlatProposer:
    """Shared bookkeeping of the tree-less baselines; subclasses say how to draw a formulation."""

    def __init__(self, game: Game, *, seed: int = 0) -> None:
        self.game = game
        self.rng = np.random.default_rng(seed)
        self.evaluated: dict[str, float | None] = {}
        self.pending: dict[str, Proposal] = {}
        self._next_id = 0

    # subclasses ------------------------------------------------------------------------------
    def draw(self) -> State:
        raise NotImplementedError

    def observe(self, state: State, outcome: Outcome) -> None:
        return None

    def discard(self, state: State) -> None:
        """A drawn formulation that will not be evaluated (a collision)."""
        return None

    # Proposer protocol -----------------------------------------------------------------------
    @property
    def exhausted(self) -> bool:
        return False

    def ask(self, n: int = 1) -> list[Proposal]:
        proposals: list[Proposal] = []
        for _ in range(n):
            for _ in range(RETRIES):
                state = self.draw()
                key = self.game.state_key(state)
                if key not in self.evaluated and key not in self.pending:
                    proposal = Proposal(self._next_id, state, key, (), ())
                    self._next_id += 1
                    self.pending[key] = proposal
                    proposals.append(proposal)
                    break
                self.discard(state)
            else:
                break
        return proposals

    def tell(self, proposal: Proposal, outcome: Outcome) -> None:
        self.pending.pop(proposal.key, None)
        self.evaluated[proposal.key] = outcome.value if outcome.status is Status.OK else None
        self.observe(proposal.state, outcome)

    def forget(self, proposal: Proposal) -> None:
        self.pending.pop(proposal.key, None)
        self.discard(proposal.state)

    def root_value(self) -> float | None:
        return max((v for v in self.evaluated.values() if v is not None), default=None)

    def replay(self, history: Sequence[EvaluationRecord]) -> None:
        for record in history:
            outcome = record.outcome()
            self.evaluated[record.state_key] = outcome.value if outcome.status is Status.OK else None
            self.observe(record.state, outcome)


class RandomSearch(FlatProposer):
    """Uniformly random complete formulations."""

    def __init__(self, game: Game, *, estimator: Estimator | None = None, seed: int = 0) -> None:
        super().__init__(game, seed=seed)

    def draw(self) -> State:
        return self.game.random_completion(self.game.initial_state(), self.rng)


class FlatBO(FlatProposer):
    """GP-based BO over complete formulations: the acquisition's best of many random completions."""

    def __init__(self, game: Game, *, estimator: Estimator | None = None, seed: int = 0) -> None:
        super().__init__(game, seed=seed)
        self.gp = estimator if isinstance(estimator, GPEstimator) else GPEstimator(game, seed=seed)

    def draw(self) -> State:
        pending = [p.state for p in self.pending.values()]
        return self.gp.complete(self.game, self.game.initial_state(), self.rng, pending)

    def observe(self, state: State, outcome: Outcome) -> None:
        self.gp.observe(self.game, state, outcome)


class TPESearch(FlatProposer):
    """Optuna's TPE over the game's moves, suggested one by one (define-by-run)."""

    def __init__(self, game: Game, *, estimator: Estimator | None = None, seed: int = 0) -> None:
        super().__init__(game, seed=seed)
        try:
            import optuna
        except ImportError:
            raise SettingsError("method 'tpe' needs optuna: pip install optuna") from None
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self._optuna = optuna
        self.study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
        self._trials: dict[str, Any] = {}

    def _name(self, depth: int, moves: Any) -> str:
        return f"move{depth}_{hashlib.sha1(repr(moves).encode()).hexdigest()[:6]}"

    def draw(self) -> State:
        trial = self.study.ask()
        state = self.game.initial_state()
        depth = 0
        while (player := self.game.to_move(state)) is not Player.TERMINAL:
            if player is Player.CHANCE:
                action = sample_chance(self.game.chance_outcomes(state), self.rng)
            else:
                moves = self.game.actions(state)
                if isinstance(moves, Interval):
                    action = trial.suggest_float(self._name(depth, moves), moves.low, moves.high, log=moves.log)
                elif isinstance(moves, Sampler):
                    action = moves.sample(self.rng)
                else:
                    moves = list(moves)
                    index = trial.suggest_categorical(self._name(depth, moves), list(range(len(moves))))
                    action = moves[index]
            state = self.game.apply(state, action)
            depth += 1
        self._trials[self.game.state_key(state)] = trial
        return state

    def _trial(self, state: State) -> Any:
        return self._trials.pop(self.game.state_key(state), None)

    def observe(self, state: State, outcome: Outcome) -> None:
        trial = self._trial(state)
        if trial is None:  # evaluated before a resume: TPE restarts its model, the store still dedupes
            return
        ok = outcome.status is Status.OK and outcome.value is not None and math.isfinite(outcome.value)
        if ok:
            self.study.tell(trial, outcome.value)
        else:
            self.study.tell(trial, state=self._optuna.trial.TrialState.FAIL)

    def discard(self, state: State) -> None:
        trial = self._trial(state)
        if trial is None:
            return
        value = self.evaluated.get(self.game.state_key(state))
        if value is not None:  # a repeat of an evaluated formulation: TPE learns its known value
            self.study.tell(trial, value)
        else:
            self.study.tell(trial, state=self._optuna.trial.TrialState.FAIL)
