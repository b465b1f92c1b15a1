"""Baselines behind the campaign's proposer interface, to measure the guided planner against.

* ``random``: uniformly random complete formulations;
* ``flat-bo``: BO over the flattened formulation space, no tree (the GP estimator's completion
  choice, asked at the root every time);
* ``tpe``: Optuna's TPE, multivariate and grouped (for conditional spaces), walking the game
  define-by-run (one suggestion per move); an evaluation's reported constraint values, and a
  failure they do not explain, are told to it as constraint values (``Trial.set_constraint``) the
  way Optuna users report infeasible points, not as a failed trial, which TPE would ignore;
* ``ax``: Ax (BoTorch's own service) over the game's decision sites, as its hierarchical search
  space where they form a tree;
* ``smac``: SMAC3's random-forest BO over the decision sites as a conditional space;
* plain UCT with random rollouts is ``method="mcts", surrogate="none"``.

They propose whole formulations, keep no tree, and never propose an evaluated or in-flight one
twice (a collision is retried, then given up for this ask).
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from discover.errors import SettingsError
from discover.game import Game, illegal_moves, sample_action, sample_chance
from discover.planner import Estimator, Proposal
from discover.types import EvaluationRecord, Interval, Outcome, Player, State, Status, is_sampler
from surrogates.estimator import GPEstimator, GPSettings
from surrogates.space import Space, Trace, Walker

RETRIES = 64


class Exhausted(Exception):
    """Raised by ``draw`` when the method has nothing new left to propose."""


class FlatProposer:
    """Shared bookkeeping of the tree-less baselines; subclasses say how to draw a formulation."""

    def __init__(self, game: Game, *, seed: int = 0) -> None:
        self.game = game
        self.rng = np.random.default_rng(seed)
        self.evaluated: dict[str, float | None] = {}
        self.pending: dict[str, Proposal] = {}
        self._trials: dict[str, Any] = {}  # by state key: the method's own trial, until told (Optuna, Ax, SMAC)
        self._next_id = 0
        self._exhausted = False

    # subclasses ------------------------------------------------------------------------------
    def draw(self) -> State:
        """A complete formulation (or raise :class:`Exhausted`)."""
        raise NotImplementedError

    def observe(self, state: State, outcome: Outcome) -> None:
        return None

    def discard(self, state: State) -> None:
        """A drawn formulation that will not be evaluated (a collision)."""
        return None

    def attach(self, state: State) -> Any | None:
        """A trial of the method's own for an evaluation it did not propose (an earlier run's after
        a resume, or a starting formulation), which ``observe`` then tells it, so that it learns
        the evaluation as if it had proposed it; None where it cannot (its moves are unknown)."""
        return None

    # Proposer protocol -----------------------------------------------------------------------
    @property
    def exhausted(self) -> bool:
        return self._exhausted

    def ask(self, n: int = 1) -> list[Proposal]:
        proposals: list[Proposal] = []
        for _ in range(n if not self._exhausted else 0):
            for _ in range(RETRIES):
                try:
                    state = self.draw()
                except Exhausted:
                    self._exhausted = True
                    return proposals
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
            if record.state is not None and record.state_key not in self._trials:
                if (trial := self.attach(record.state)) is not None:
                    self._trials[record.state_key] = trial
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
    """GP-based BO over complete formulations: the acquisition's best of many random completions,
    over the whole space (the classic global BO loop, no trust region: that is GP-MCTS's)."""

    def __init__(self, game: Game, *, estimator: Estimator | None = None, seed: int = 0) -> None:
        super().__init__(game, seed=seed)
        settings = estimator.settings if isinstance(estimator, GPEstimator) else GPSettings()
        self.gp = GPEstimator(game, settings=replace(settings, trust_region=False), seed=seed)

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
        self._outcomes: dict[str, Outcome] = {}  # by state key, for repeats

    def _name(self, depth: int, moves: Any) -> str:
        return f"move{depth}_{hashlib.sha1(repr(moves).encode()).hexdigest()[:6]}"

    def draw(self) -> State:
        trial = self.study.ask()
        state = self._walk(trial)
        self._trials[self.game.state_key(state)] = trial
        return state

    def _walk(self, trial: Any, known: Sequence[Any] | None = None) -> State:
        """Suggest the moves from the initial state to a terminal one through ``trial``; ``known``:
        the moves of an evaluation TPE did not propose, whose chance and sampled moves are replayed
        (the trial was enqueued with its other moves, so the suggestions return those)."""
        state = self.game.initial_state()
        depth = 0
        while (player := self.game.to_move(state)) is not Player.TERMINAL:
            if player is Player.CHANCE:
                outcomes = self.game.chance_outcomes(state)
                action = known[depth] if known is not None else sample_chance(outcomes, self.rng)
            else:
                moves = self.game.actions(state)
                if isinstance(moves, Interval):
                    action = trial.suggest_float(self._name(depth, moves), moves.low, moves.high, log=moves.log)
                elif is_sampler(moves):
                    action = known[depth] if known is not None else moves.sample(self.rng)
                else:
                    moves = list(moves)
                    index = trial.suggest_categorical(self._name(depth, moves), list(range(len(moves))))
                    action = moves[index]
            state = self.game.apply(state, action)
            depth += 1
        return state

    def attach(self, state: State) -> Any | None:
        """An enqueued trial holding ``state``'s moves (the trial's suggestions return them)."""
        moves = self.game.moves_of(state)
        if moves is None or illegal_moves(self.game, state, moves) is not None:  # e.g. a move since dropped
            return None
        params, current = {}, self.game.initial_state()
        for depth, action in enumerate(moves):
            if self.game.to_move(current) is not Player.CHANCE:
                offered = self.game.actions(current)
                if isinstance(offered, Interval):
                    params[self._name(depth, offered)] = float(action)
                elif not is_sampler(offered):
                    offered = list(offered)
                    params[self._name(depth, offered)] = offered.index(action)
            current = self.game.apply(current, action)
        self.study.enqueue_trial(params)
        trial = self.study.ask()
        try:
            same = self.game.state_key(self._walk(trial, moves)) == self.game.state_key(state)
        except Exception:  # a game that cannot replay it: TPE learns nothing, and keeps no trial running
            same = False
        if not same:
            self.study.tell(trial, state=self._optuna.trial.TrialState.FAIL)
            return None
        return trial

    def _trial(self, state: State) -> Any:
        return self._trials.pop(self.game.state_key(state), None)

    def observe(self, state: State, outcome: Outcome) -> None:
        trial = self._trial(state)
        if trial is None:  # a state whose moves cannot be told (see replay)
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


class SiteParameters:
    """The game's decision sites as named parameters, for the baselines that need every
    parameter before the first trial (Ax, SMAC). Sites are collected from ``walks`` random
    completions; a site met later takes a random move, and so does a site a proposal leaves
    inactive. Chance decisions are no parameters: they are drawn with their probabilities.

    ``parents`` says, per site, under which choices of the nearest finite decision before it the
    discovery walks reached it (None: reached with no finite decision before it), which is how
    SMAC's conditional space says when the site is active."""

    def __init__(self, game: Game, rng: np.random.Generator, walks: int = 64) -> None:
        self.space = Space()
        self.parents: dict[Any, dict[Any, set[int]] | None] = {}
        walker = Walker(None, rng)
        for _ in range(walks):
            parent = None  # (site key, choice index) of the nearest finite decision so far
            for step in self.space.walk(game, game.initial_state(), walker).steps:
                if step.player is Player.CHANCE:
                    continue
                site = self.space.decisions[step.site]
                if parent is None:
                    self.parents[step.site] = None
                elif self.parents.setdefault(step.site, {}) is not None:
                    self.parents[step.site].setdefault(parent[0], set()).add(parent[1])  # type: ignore[union-attr]
                if site.kind != "real":
                    parent = (step.site, site.choices.index(step.action))
        self.names = {key: f"site{i}" for i, key in enumerate(self.parents)}
        self.sites = {self.names[key]: self.space.decisions[key] for key in self.parents}

    def tree(self) -> dict[str, dict[int, list[str]]] | None:
        """Per finite site, the sites that exactly one of its choices leads to (Ax's hierarchical
        search space: every site under at most one choice). A site reached under every choice of
        the decision before it is active whenever that decision is, so it hangs where that one
        does. None when some site is reached under several choices but not all of them, or under
        several decisions: the sites then form no tree."""
        anchors: dict[Any, tuple[Any, int] | None] = {}

        def anchor(key: Any) -> tuple[Any, int] | None:
            if key not in anchors:
                parents = self.parents[key]
                if not parents:
                    anchors[key] = None
                elif len(parents) > 1:
                    raise LookupError(key)
                else:
                    ((parent, choices),) = parents.items()
                    if len(choices) == len(self.space.decisions[parent].choices):
                        anchors[key] = anchor(parent)
                    elif len(choices) == 1:
                        anchors[key] = (parent, next(iter(choices)))
                    else:
                        raise LookupError(key)
            return anchors[key]

        out: dict[str, dict[int, list[str]]] = {}
        try:
            for key in self.parents:
                if (at := anchor(key)) is not None:
                    out.setdefault(self.names[at[0]], {}).setdefault(at[1], []).append(self.names[key])
        except LookupError:
            return None
        return out

    def walk(self, game: Game, params: dict[str, Any], rng: np.random.Generator) -> Trace:
        """The formulation that ``params`` (a value in [0, 1] for a real site, a choice index
        otherwise; missing or None when inactive) describes."""

        def choose(moves: Any, depth: int, chance: bool = False) -> Any:
            if chance:
                return sample_chance(moves, rng)
            site = self.space.site(depth, moves)
            value = params.get(self.names.get(site.key, ""))
            if value is None or site.interval is None and site.kind == "real":
                return sample_action(moves, rng)
            if site.kind == "real":
                return site.action(float(value))
            return site.choices[int(value)]

        return self.space.walk(game, game.initial_state(), choose)

    def params_of(self, game: Game, state: State) -> dict[str, Any] | None:
        """The parameters of the sites ``state``'s moves pass (the inverse of :meth:`walk`; a
        sampler's site, whose move ``walk`` draws, at 0.5), for an evaluation the method did not
        propose; None when the game cannot tell its moves, or they pass a site the parameters lack."""
        moves = game.moves_of(state)
        if moves is None or illegal_moves(game, state, moves) is not None:
            return None
        params: dict[str, Any] = {}
        for step in self.space.prefix(game, moves)[1]:
            if step.player is Player.CHANCE:
                continue
            if (name := self.names.get(step.site)) is None:
                return None
            site = self.space.decisions[step.site]
            if site.kind != "real":
                params[name] = site.choices.index(step.action)
            else:
                params[name] = 0.5 if site.interval is None else site.unit(step.action)
        return params


class AxSearch(FlatProposer):
    """Ax's default generation strategy (Sobol, then BoTorch's modular BO) over the game's decision
    sites (:class:`SiteParameters`); feasibility is the outcome constraint ``violation <= 0``,
    where violation is the largest reported constraint value (0 for an OK evaluation that reported
    none, 1 for a failure that none explains): Ax needs its metrics before the first trial, so the
    game's constraints, whose number is unknown then, come as one. Where the sites form a tree
    (each under at most one decision) they are Ax's hierarchical search space, a choice's
    dependent parameters being the sites it leads to; otherwise a flat space, whose inactive
    parameters are proposed and ignored."""

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
        self.sites = SiteParameters(game, self.rng)
        tree = self.sites.tree() or {}
        parameters: list[Any] = []
        for name, site in self.sites.sites.items():
            if site.kind == "real":
                parameters.append(RangeParameterConfig(name=name, parameter_type="float", bounds=(0.0, 1.0)))
            else:
                parameters.append(ChoiceParameterConfig(name=name, parameter_type="int",
                                                        values=list(range(len(site.choices))),
                                                        is_ordered=site.kind == "ordinal",
                                                        dependent_parameters=tree.get(name)))
        self.client = Client(random_seed=seed)
        self.client.configure_experiment(parameters=parameters, name=f"discover-{game.name}")
        self.client.configure_optimization(objective="value", outcome_constraints=["violation <= 0"])
        self._hierarchical = bool(tree)
        self._violations: dict[str, float] = {}  # by state key, for repeats

    def draw(self) -> State:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ((index, params),) = self.client.get_next_trials(max_trials=1).items()
        trace = self.sites.walk(self.game, dict(params), self.rng)
        self._trials[trace.key] = index
        return trace.state

    def attach(self, state: State) -> int | None:
        """A trial attached with ``state``'s parameters: in a hierarchical space exactly those of
        the sites it passed; in a flat one every parameter, those it left inactive at their middle
        (as ignored as the inactive ones of Ax's own proposals)."""
        params = self.sites.params_of(self.game, state)
        if params is None:
            return None
        if not self._hierarchical:
            params = {name: params.get(name, 0.5 if site.kind == "real" else len(site.choices) // 2)
                      for name, site in self.sites.sites.items()}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return self.client.attach_trial(params)

    def observe(self, state: State, outcome: Outcome) -> None:
        key = self.game.state_key(state)
        self._violations[key] = violation(outcome)
        index = self._trials.pop(key, None)
        if index is None:
            return
        self._complete(index, outcome.value if outcome.succeeded else None, self._violations[key])

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


def violation(outcome: Outcome) -> float:
    """One number for how infeasible an outcome is: the largest reported constraint value (<= 0
    when all hold), 0 for an OK evaluation that reported none, 1 for a failure that none explains."""
    g = outcome.constraints
    if g and (outcome.succeeded or outcome.violates):
        return max(g)
    return 0.0 if outcome.succeeded else 1.0


def _never_called(config: Any, seed: int = 0) -> float:
    raise RuntimeError("SMACSearch drives SMAC by ask and tell; its target function is never run")


class SMACSearch(FlatProposer):
    """SMAC3's hyperparameter-optimisation facade (a random forest, expected improvement on
    log-scaled costs, local and random search of it) over the game's decision sites as a
    *conditional* ConfigSpace: a site is active only under the choices of the finite decision
    before it that lead there (:class:`SiteParameters`), so inactive parameters are neither
    proposed nor modelled, as SMAC is used on conditional spaces [SMAC3].

    Settings SMAC leaves to its user: costs are minus the value; a failed or infeasible evaluation
    is a CRASHED trial at the worst cost seen (SMAC has no constraints; imputing the worst cost is
    its usual crash handling); the model is refitted after every trial (the facade's default of 8
    suits cheap targets, not expensive ones); the initial Sobol design has the facade's size for a
    60-trial run (10 per parameter, at most 15).

    [SMAC3] Lindauer et al., "SMAC3: A versatile Bayesian optimization package for hyperparameter
            optimization", JMLR 23(54), 2022."""

    def __init__(self, game: Game, *, estimator: Estimator | None = None, seed: int = 0) -> None:
        super().__init__(game, seed=seed)
        try:
            from ConfigSpace import (
                CategoricalHyperparameter, ConfigurationSpace, InCondition, OrConjunction, OrdinalHyperparameter,
                UniformFloatHyperparameter,
            )
            from smac import HyperparameterOptimizationFacade, Scenario
            from ConfigSpace.util import deactivate_inactive_hyperparameters
            from smac.runhistory.dataclasses import TrialInfo, TrialValue
            from smac.main.exceptions import ConfigurationSpaceExhaustedException
            from smac.runhistory.enumerations import StatusType
        except ImportError:
            raise SettingsError("method 'smac' needs SMAC3: pip install smac") from None
        self._value, self._status, self._space_exhausted = TrialValue, StatusType, ConfigurationSpaceExhaustedException
        self._info, self._deactivate = TrialInfo, deactivate_inactive_hyperparameters
        self.sites = SiteParameters(game, self.rng)
        hyper: dict[str, Any] = {}
        for name, site in self.sites.sites.items():
            if site.kind == "real":
                hyper[name] = UniformFloatHyperparameter(name, 0.0, 1.0)
            elif site.kind == "ordinal":
                hyper[name] = OrdinalHyperparameter(name, list(range(len(site.choices))))
            else:
                hyper[name] = CategoricalHyperparameter(name, list(range(len(site.choices))))
        space = ConfigurationSpace(seed=seed)
        space.add(list(hyper.values()))
        for key, parents in self.sites.parents.items():
            if not parents:
                continue
            child = hyper[self.sites.names[key]]
            conditions = [InCondition(child, hyper[self.sites.names[p]], sorted(choices))
                          for p, choices in parents.items()]
            space.add(conditions[0] if len(conditions) == 1 else OrConjunction(*conditions))
        self._output = tempfile.TemporaryDirectory(prefix="discover-smac-")
        scenario = Scenario(space, deterministic=True, n_trials=10**9, seed=seed,
                            output_directory=Path(self._output.name))
        facade = HyperparameterOptimizationFacade
        self.smac = facade(scenario, _never_called, overwrite=True, logging_level=logging.ERROR,
                           initial_design=facade.get_initial_design(scenario, n_configs=min(10 * len(hyper), 15)),
                           config_selector=facade.get_config_selector(scenario, retrain_after=1))
        self._costs: dict[str, tuple[float, bool]] = {}  # by state key, for repeats: (cost, crashed)

    def draw(self) -> State:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                info = self.smac.ask()
            except self._space_exhausted:  # a finite space SMAC has no new configuration of
                raise Exhausted from None
        trace = self.sites.walk(self.game, dict(info.config), self.rng)
        self._trials[trace.key] = info
        return trace.state

    def attach(self, state: State) -> Any | None:
        """A trial holding ``state``'s parameters, at the instance and seed SMAC's own trials use;
        sites the conditions make active but the state did not pass at their defaults (as ignored
        as SMAC's proposals' values are where the walk goes elsewhere); None where the conditions
        reject the parameters."""
        params = self.sites.params_of(self.game, state)
        if params is None:
            return None
        space = self.smac.scenario.configspace
        defaults = {name: hyper.default_value for name, hyper in space.items()}
        try:
            config = self._deactivate({**defaults, **params}, space)
        except (ValueError, TypeError):  # ConfigSpace's errors for a forbidden or inactive value
            return None
        if not params.keys() <= dict(config).keys():
            return None  # the conditions switch off a site the state passed
        intensifier = self.smac.intensifier
        intensifier.__post_init__()  # what its first ask runs: it learns the seeds and instances in use
        (where, *_) = intensifier.get_instance_seed_keys_of_interest()
        return self._info(config, instance=where.instance, seed=where.seed)

    def observe(self, state: State, outcome: Outcome) -> None:
        key = self.game.state_key(state)
        ok = outcome.succeeded
        self._costs[key] = (-self.stand_in(outcome.value if ok else None), not ok)
        info = self._trials.pop(key, None)
        if info is not None:
            self._tell(info, *self._costs[key])

    def _tell(self, info: Any, cost: float, crashed: bool) -> None:
        status = self._status.CRASHED if crashed else self._status.SUCCESS
        self.smac.tell(info, self._value(cost=cost, status=status), save=False)

    def discard(self, state: State) -> None:
        key = self.game.state_key(state)
        info = self._trials.pop(key, None)
        if info is None or key not in self.evaluated:  # cancelled or in flight: nothing learnt yet
            return
        known = self._costs.get(key)
        if known is None:  # evaluated before a resume: only its value is known
            value = self.evaluated[key]
            known = (-self.stand_in(value), value is None)
        self._tell(info, *known)
