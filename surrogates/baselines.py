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
twice (a collision is retried, then given up for this ask). Evaluations they did not propose (an
earlier run's after a resume, a game's starting formulations) are learnt as their own: TPE, Ax and
SMAC through trials attached with the formulation's moves (``attach``). Ax and SMAC model the
searcher's decisions only: in a game with chance moves they are exhausted once every combination
of those decisions was tried, however many chance outcomes remain.
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
log = logging.getLogger(__name__)


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
        self._outcomes: dict[str, Outcome] = {}  # by state key, certificates dropped: what a repeat is told
        self._next_id = 0
        self._exhausted = False

    # subclasses ------------------------------------------------------------------------------
    def draw(self) -> tuple[State, Any]:
        """A complete formulation and the method's trial for it (None for a method without trials),
        or raise :class:`Exhausted`."""
        raise NotImplementedError

    def observe(self, state: State, outcome: Outcome) -> None:
        return None

    def discard(self, key: str, trial: Any) -> None:
        """A trial whose formulation will not be evaluated by it: drawn again while evaluated or
        in flight (its own trial stays the one told), or cancelled."""
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
                    state, trial = self.draw()
                except Exhausted:
                    self._exhausted = True
                    return proposals
                key = self.game.state_key(state)
                if key not in self.evaluated and key not in self.pending:
                    proposal = Proposal(self._next_id, state, key, (), ())
                    self._next_id += 1
                    self.pending[key] = proposal
                    if trial is not None:
                        self._trials[key] = trial
                    proposals.append(proposal)
                    break
                if trial is not None:
                    self.discard(key, trial)
            else:
                break
        return proposals

    def tell(self, proposal: Proposal, outcome: Outcome) -> None:
        self.pending.pop(proposal.key, None)
        self._learn(proposal.key, proposal.state, outcome)

    def _learn(self, key: str, state: State, outcome: Outcome) -> None:
        self.evaluated[key] = outcome.value if outcome.status is Status.OK else None
        self._outcomes[key] = replace(outcome, artifacts={})
        self.observe(state, outcome)

    def forget(self, proposal: Proposal) -> None:
        self.pending.pop(proposal.key, None)
        if (trial := self._trials.pop(proposal.key, None)) is not None:
            self.discard(proposal.key, trial)

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
            new = record.state_key not in self.evaluated and record.state_key not in self._trials
            if record.state is not None and new:
                if (trial := self.attach(record.state)) is not None:
                    self._trials[record.state_key] = trial
            self._learn(record.state_key, record.state, record.outcome())


class RandomSearch(FlatProposer):
    """Uniformly random complete formulations."""

    def __init__(self, game: Game, *, estimator: Estimator | None = None, seed: int = 0) -> None:
        super().__init__(game, seed=seed)

    def draw(self) -> tuple[State, Any]:
        return self.game.random_completion(self.game.initial_state(), self.rng), None


class FlatBO(FlatProposer):
    """GP-based BO over complete formulations: the acquisition's best of many random completions,
    over the whole space (the classic global BO loop, no trust region: that is GP-MCTS's)."""

    def __init__(self, game: Game, *, estimator: Estimator | None = None, seed: int = 0) -> None:
        super().__init__(game, seed=seed)
        settings = estimator.settings if isinstance(estimator, GPEstimator) else GPSettings()
        self.gp = GPEstimator(game, settings=replace(settings, trust_region=False), seed=seed)

    def draw(self) -> tuple[State, Any]:
        pending = [p.state for p in self.pending.values()]
        return self.gp.complete(self.game, self.game.initial_state(), self.rng, pending), None

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

    def _name(self, depth: int, moves: Any) -> str:
        return f"move{depth}_{hashlib.sha1(repr(moves).encode()).hexdigest()[:6]}"

    def draw(self) -> tuple[State, Any]:
        trial = self.study.ask()
        return self._walk(trial), trial

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

    def observe(self, state: State, outcome: Outcome) -> None:
        trial = self._trials.pop(self.game.state_key(state), None)
        if trial is not None:  # None: a state whose moves cannot be told (see attach)
            self._tell(trial, outcome)

    def _tell(self, trial: Any, outcome: Outcome) -> None:
        """A value with the reported constraint values, and for a failure they do not explain a
        violation of 1: TPE ranks infeasible trials below every feasible one, by total violation."""
        for i, g in enumerate(outcome.constraints):
            trial.set_constraint(f"g{i}", g)
        trial.set_constraint("failed", 0.0 if outcome.succeeded or outcome.violates else 1.0)
        self.study.tell(trial, self.stand_in(outcome.value if outcome.succeeded else None))

    def discard(self, key: str, trial: Any) -> None:
        if key in self.evaluated:  # a repeat of an evaluated formulation: TPE learns its known outcome
            self._tell(trial, self._outcomes[key])
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
        self._tree = tree
        dependent = {c for choices in tree.values() for children in choices.values() for c in children}
        self._top_level = [name for name in self.sites.sites if name not in dependent]  # of Ax's tree

    def draw(self) -> tuple[State, Any]:
        from ax.exceptions.core import SearchSpaceExhausted

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                ((index, params),) = self.client.get_next_trials(max_trials=1).items()
            except SearchSpaceExhausted:  # a finite space Ax has no new arm of
                raise Exhausted from None
        return self.sites.walk(self.game, dict(params), self.rng).state, index

    def attach(self, state: State) -> int | None:
        """A trial attached with ``state``'s parameters. Ax wants exactly the parameters its search
        space makes active: the top-level ones, and those each choice's value leads to (in a flat
        space, every parameter); those the state did not pass go at their middle, as ignored as the
        inactive values of Ax's own proposals. None where the state passed a site Ax would not
        make active, or Ax refuses the arm."""
        params = self.sites.params_of(self.game, state)
        if params is None:
            return None
        arm: dict[str, Any] = {}
        queue = list(self._top_level)
        while queue:
            name = queue.pop()
            site = self.sites.sites[name]
            arm[name] = params.get(name, 0.5 if site.kind == "real" else len(site.choices) // 2)
            queue.extend(self._tree.get(name, {}).get(arm[name], []))
        if not params.keys() <= arm.keys():
            return None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                return self.client.attach_trial(arm)
            except Exception:  # Ax's refusal of an arm (its errors have no common base): it learns nothing
                log.debug("Ax refused to attach %s", arm, exc_info=True)
                return None

    def observe(self, state: State, outcome: Outcome) -> None:
        if (index := self._trials.pop(self.game.state_key(state), None)) is not None:
            self._complete(index, outcome)

    def _complete(self, index: int, outcome: Outcome) -> None:
        value = self.stand_in(outcome.value if outcome.succeeded else None)
        self.client.complete_trial(trial_index=index, raw_data={"value": value, "violation": violation(outcome)})

    def discard(self, key: str, index: Any) -> None:
        if key in self.evaluated:  # a repeat of an evaluated formulation: Ax learns its known outcome
            self._complete(index, self._outcomes[key])
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
    is a CRASHED trial at the worst cost seen, told again as that grows (SMAC has no constraints;
    imputing the worst cost is its usual crash handling); the model is refitted after every trial
    (the facade's default of 8 suits cheap targets, not expensive ones); the initial Sobol design
    has the facade's size for a 60-trial run (10 per parameter, at most 15), less the evaluations
    replayed before SMAC's first trial.

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
        self._scenario = Scenario(space, deterministic=True, n_trials=10**9, seed=seed,
                                  output_directory=Path(self._output.name))
        self._facade_class, self._facade = HyperparameterOptimizationFacade, None
        self._design = min(10 * len(hyper), 15)  # Sobol configurations before the forest decides
        self._where: Any = None  # the instance and seed of SMAC's trials
        self._crashes: list[Any] = []  # crashed trials, told again at the worst cost whenever it grows
        self._crash_cost = 0.0

    @property
    def smac(self) -> Any:
        """SMAC's facade, built when first needed: an earlier run's evaluations, replayed before
        that, count towards its initial design (see ``replay``)."""
        if self._facade is None:
            facade, scenario = self._facade_class, self._scenario
            self._facade = facade(scenario, _never_called, overwrite=True, logging_level=logging.ERROR,
                                  initial_design=facade.get_initial_design(scenario, n_configs=self._design),
                                  config_selector=facade.get_config_selector(scenario, retrain_after=1))
        return self._facade

    def replay(self, history: Sequence[EvaluationRecord]) -> None:
        """Before SMAC's first trial, the evaluations it learns here take the place of as many
        points of its initial design (a resumed run's new seed would otherwise give a new design
        that ignores them: 15 more space-filling points before the model decides)."""
        if self._facade is None:
            learnt = {r.state_key for r in history if r.state is not None and r.state_key not in self.evaluated
                      and self._config_of(r.state) is not None}
            self._design = max(self._design - len(learnt), 0)
        super().replay(history)

    def draw(self) -> tuple[State, Any]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                info = self.smac.ask()
            except self._space_exhausted:  # a finite space SMAC has no new configuration of
                raise Exhausted from None
        return self.sites.walk(self.game, dict(info.config), self.rng).state, info

    def _config_of(self, state: State) -> Any | None:
        """``state``'s parameters as a configuration: sites the conditions make active but the state
        did not pass at their defaults (as ignored as SMAC's proposals' values are where the walk
        goes elsewhere); None where the conditions reject the parameters."""
        params = self.sites.params_of(self.game, state)
        if params is None:
            return None
        space = self._scenario.configspace
        defaults = {name: hyper.default_value for name, hyper in space.items()}
        try:
            config = self._deactivate({**defaults, **params}, space)
        except (ValueError, TypeError):  # ConfigSpace's errors for a forbidden or inactive value
            return None
        return config if params.keys() <= dict(config).keys() else None  # else a site the state passed is off

    def attach(self, state: State) -> Any | None:
        """A trial holding ``state``'s configuration, at the instance and seed SMAC's own trials use."""
        if (config := self._config_of(state)) is None:
            return None
        if self._where is None:
            intensifier = self.smac.intensifier
            intensifier.__post_init__()  # what its first ask runs: it learns the seeds and instances in use
            (self._where, *_) = intensifier.get_instance_seed_keys_of_interest()
        return self._info(config, instance=self._where.instance, seed=self._where.seed)

    def observe(self, state: State, outcome: Outcome) -> None:
        if (info := self._trials.pop(self.game.state_key(state), None)) is not None:
            self._tell(info, outcome)

    def _tell(self, info: Any, outcome: Outcome) -> None:
        """A success at cost minus its value; a failure or infeasible evaluation, a crash at the
        worst value seen. Crashes told before that grew are told again (SMAC overwrites a trial's
        result): told at 0 before any success, a failed first evaluation in a game of negative values
        would stay SMAC's best."""
        if not outcome.succeeded:
            self._crashes.append(info)
            self.smac.tell(info, self._value(cost=self._crash_cost, status=self._status.CRASHED), save=False)
            return
        self.smac.tell(info, self._value(cost=-outcome.value, status=self._status.SUCCESS), save=False)
        if (worst := -self.stand_in(None)) != self._crash_cost:
            self._crash_cost = worst
            for crashed in self._crashes:
                self.smac.tell(crashed, self._value(cost=worst, status=self._status.CRASHED), save=False)

    def discard(self, key: str, info: Any) -> None:
        if key in self.evaluated:  # a repeat of an evaluated formulation: SMAC learns its known outcome
            self._tell(info, self._outcomes[key])
