"""Baselines behind the campaign's proposer interface, to measure the guided planner against.

* ``random``: uniformly random complete formulations;
* ``flat-bo``: BO over the flattened formulation space, no tree (the GP estimator's completion
  choice, asked at the root every time);
* ``tpe``: Optuna's TPE, multivariate and grouped (for conditional spaces), walking the game
  define-by-run (one suggestion per move); an evaluation's reported constraint values, and a
  failure they do not explain, are told to it as constraint values (``Trial.set_constraint``) the
  way Optuna users report infeasible points, not as a failed trial, which TPE would ignore;
* ``ax``: Ax (BoTorch's own service) over the game's decision sites as a flat parameter set;
* plain UCT with random rollouts is ``method="mcts", surrogate="none"``.

They propose whole formulations, keep no tree, and never propose an evaluated or in-flight one
twice (a collision is retried, then given up for this ask).
"""

from __future__ import annotations

import hashlib
import logging
import warnings
from dataclasses import replace
from typing import Any, Sequence

import numpy as np

from discover.errors import SettingsError
from discover.game import Game, sample_action, sample_chance
from discover.planner import Estimator, Proposal
from discover.types import EvaluationRecord, Interval, Outcome, Player, Sampler, State, Status
from surrogates.estimator import GPEstimator
from surrogates.space import Space, Walker

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

    def stand_in(self, value: float | None) -> float:
        """``value``, or for a failed evaluation the worst value seen (0 before any): what a
        baseline that needs a number for every trial is told, beside a constraint violation."""
        if value is not None:
            return value
        return min((v for v in self.evaluated.values() if v is not None), default=0.0)

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
        with warnings.catch_warnings():  # multivariate/group are flagged experimental
            warnings.simplefilter("ignore")
            sampler = optuna.samplers.TPESampler(seed=seed, multivariate=True, group=True, constant_liar=True)
        self.study = optuna.create_study(direction="maximize", sampler=sampler)
        self._trials: dict[str, Any] = {}
        self._outcomes: dict[str, Outcome] = {}  # by state key, for repeats

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
        self._outcomes[self.game.state_key(state)] = replace(outcome, artifacts={})  # what TPE learns, not the certificate
        self._tell(trial, outcome)

    def _tell(self, trial: Any, outcome: Outcome) -> None:
        """A value with the reported constraint values, and for a failure they do not explain a
        violation of 1: TPE ranks infeasible trials below every feasible one, by total violation."""
        for i, g in enumerate(outcome.constraints):
            trial.set_constraint(f"g{i}", g)
        trial.set_constraint("failed", 0.0 if outcome.succeeded or outcome.violates else 1.0)
        self.study.tell(trial, self.stand_in(outcome.value if outcome.succeeded else None))

    def discard(self, state: State) -> None:
        trial = self._trial(state)
        if trial is None:
            return
        key = self.game.state_key(state)
        if key in self.evaluated:  # a repeat of an evaluated formulation: TPE learns its known outcome
            known = self._outcomes.get(key)
            if known is None:  # evaluated before a resume: only its value is known
                value = self.evaluated[key]
                known = Outcome.ok(value) if value is not None else Outcome.failure(Status.FAILED, "failed before")
            self._tell(trial, known)
        else:  # cancelled: nothing was learnt
            self.study.tell(trial, state=self._optuna.trial.TrialState.FAIL)


class AxSearch(FlatProposer):
    """Ax's default generation strategy (Sobol, then BoTorch's modular BO) over the game's decision
    sites, found by walking random completions; feasibility is the outcome constraint
    ``violation <= 0``, where violation is the largest reported constraint value (0 for an OK
    evaluation that reported none, 1 for a failure that none explains): Ax needs its metrics before
    the first trial, so the game's constraints, whose number is unknown then, come as one.

    Ax needs its parameters up front, so sites are collected from ``discovery`` random completions;
    a site met later takes a random move. Inactive parameters of a conditional space are proposed
    and ignored (a flat space, as most users give Ax)."""

    discovery = 64

    def __init__(self, game: Game, *, estimator: Estimator | None = None, seed: int = 0) -> None:
        super().__init__(game, seed=seed)
        try:
            from ax.api.client import Client
            from ax.api.configs import ChoiceParameterConfig, RangeParameterConfig
        except ImportError:
            raise SettingsError("method 'ax' needs Ax: pip install ax-platform") from None
        for name in ["ax", *logging.root.manager.loggerDict]:  # Ax sets INFO on each of its loggers
            if name == "ax" or name.startswith("ax."):
                logging.getLogger(name).setLevel(logging.ERROR)
        self.space = Space()
        walker = Walker(None, self.rng)
        for _ in range(self.discovery):
            self.space.walk(game, game.initial_state(), walker)
        self.names = {key: f"site{i}" for i, key in enumerate(self.space.decisions)}
        parameters: list[Any] = []
        for key, site in self.space.decisions.items():
            if site.kind == "real":
                parameters.append(RangeParameterConfig(name=self.names[key], parameter_type="float", bounds=(0.0, 1.0)))
            else:
                parameters.append(ChoiceParameterConfig(name=self.names[key], parameter_type="int",
                                                        values=list(range(len(site.choices))),
                                                        is_ordered=site.kind == "ordinal"))
        self.client = Client(random_seed=seed)
        self.client.configure_experiment(parameters=parameters, name=f"discover-{game.name}")
        self.client.configure_optimization(objective="value", outcome_constraints=["violation <= 0"])
        self._trials: dict[str, int] = {}
        self._violations: dict[str, float] = {}  # by state key, for repeats

    def draw(self) -> State:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ((index, params),) = self.client.get_next_trials(max_trials=1).items()
        space, names, rng = self.space, self.names, self.rng

        def choose(moves: Any, depth: int, chance: bool = False) -> Any:
            if chance:
                return sample_chance(moves, rng)
            site = space.site(depth, moves)
            name = names.get(site.key)
            if name is None or site.interval is None and site.kind == "real":
                return sample_action(moves, rng)
            if site.kind == "real":
                return site.action(float(params[name]))
            return site.choices[int(params[name])]

        trace = self.space.walk(self.game, self.game.initial_state(), choose)
        self._trials[trace.key] = index
        return trace.state

    def observe(self, state: State, outcome: Outcome) -> None:
        key = self.game.state_key(state)
        ok, g = outcome.succeeded, outcome.constraints
        self._violations[key] = max(g) if g and (ok or outcome.violates) else (0.0 if ok else 1.0)
        index = self._trials.pop(key, None)
        if index is None:
            return
        self._complete(index, outcome.value if ok else None, self._violations[key])

    def _complete(self, index: int, value: float | None, violation: float) -> None:
        self.client.complete_trial(trial_index=index, raw_data={"value": self.stand_in(value), "violation": violation})

    def discard(self, state: State) -> None:
        key = self.game.state_key(state)
        index = self._trials.pop(key, None)
        if index is None:
            return
        if key in self.evaluated:
            value = self.evaluated[key]
            self._complete(index, value, self._violations.get(key, 0.0 if value is not None else 1.0))
        else:
            self.client.mark_trial_failed(trial_index=index)
