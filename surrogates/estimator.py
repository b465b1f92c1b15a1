"""The GP surrogate as the planner's estimator: it decides every searcher move the planner asks of it.

Everything the planner asks reduces to one question, *which completion below this node does the
acquisition favour?* (the path so far fixed):

* ``complete``: the acquisition maximiser among the completions below a leaf;
* ``widen``: a new continuous move at a node is the move of that maximiser, so progressive
  widening adds children at acquisition maxima, not uniform draws;
* ``priors``: each move is worth the best acquisition value found below it (random completions
  and neighbours per move, the best of them refined and polished as when choosing one); a softmax
  of those (mixed with a uniform share, so a young model rules nothing out) is the node's prior.
  Priors are the costliest question (at 200 observations the priors of the five nodes on a
  path took ~80% of a decision's time outside the refits), and one more observation among
  hundreds barely moves them: ``version``, which tells the planner to recompute them, changes
  once the observations grew by ``prior_refresh_share`` (2%: after every observation below 100,
  every 4th at 200, every 20th at 1000), while the models themselves (``model_version``), and so
  every completion chosen, use every observation.

Trust region (:mod:`surrogates.trust_region`, TuRBO's rule): the completions chosen below a node that
make the same discrete choices as the best one observed through it keep their continuous moves in a
box around that one's; other branches, and the priors that compare a node's moves, are searched over
the whole space. Flat BO, the baseline, has no trust region.

The maximiser is searched over three kinds of candidate completions, scored in one batch with the
evaluations in flight as fantasies: random completions below the node; neighbours of the best
completions observed below it (their *local* moves nudged, or one decision re-drawn and the rest
completed at random: a local, trust-region-like search as in TuRBO [TuRBO]); and a few rounds in
which the local moves of the best candidates are perturbed with a shrinking step. Local moves are
the continuous ones and the ordinal ones (finite numbers, moved in their unit scale and rounded to
the nearest choice, as TuRBO treats integers): on the pressure vessel, whose plate thicknesses come
in 99 steps of 1/16 in, re-drawing a thickness uniformly was the only way to change it, and both
GP-MCTS and flat BO ended on shells 2-5 steps thicker than the optimum's (0.9375-1.125 in against
0.8125; median cost 7201 and 6946 after 60 evaluations, 3 seeds, optimum 6059.7); with ordinal
nudges, 6120 and 6159. The model is
a GP over the tree-derived encoding of :mod:`surrogates.space` (or the game's own ``features()``),
fitted on OK evaluations, with a feasibility model learnt from the failures and, where the game
reports constraint values (``Outcome.constraints``), one GP per constraint (log-probability of
feasibility added to the acquisition), and an optional cost model.

Cold start: the first ``initial_design`` completions are a scrambled Sobol design, each decision
of a completion taking the next coordinate of a Sobol point (so the design fills the conditional
space branch by branch); after that the model decides, as soon as two evaluations succeeded or
two reported constraint values (until two succeed it seeks the feasible region alone).

[TuRBO] Eriksson, Pearce, Gardner, Turner, Poloczek, "Scalable global optimization via local
        Bayesian optimization", NeurIPS 2019.
"""

from __future__ import annotations

import functools
import logging
import math
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Hashable, Iterator, Sequence, TypeVar

import numpy as np
import torch
from linear_operator.utils.warnings import NumericalWarning

from discover.game import Game
from discover.planner.estimator import Priors
from discover.types import Action, Outcome, Player, Sampler, State, violated
from surrogates.acquisition import (
    KINDS, GuidedAcquisition, analytic_acquisition, build_acquisition, feasibility_search,
)
from surrogates.models import ConstraintModel, FeasibilityModel, WarmGP, leave_one_out, log_cost_floor
from surrogates.space import Space, Step, Trace, Walker, unit_sobol
from surrogates.trust_region import TrustRegion

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])
SOBOL_DEPTH = 64  # decisions per completion that the initial design fills (deeper ones are random)


def _without_jitter_warnings(method: F) -> F:
    """GPyTorch warns each time it adds jitter to a nearly singular covariance, which is routine
    with few or clustered observations; the warnings printed over a campaign's progress lines."""
    @functools.wraps(method)
    def quiet(*args: Any, **kwargs: Any) -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NumericalWarning)
            return method(*args, **kwargs)

    return quiet  # type: ignore[return-value]


@dataclass(frozen=True)
class BranchBox:
    """The trust region below a node: the best completion observed through it (``anchor``), the
    node's depth, and the unit bounds of the anchor's continuous moves below it, by step index."""

    anchor: Trace
    depth: int
    bounds: dict[int, tuple[float, float]]


@dataclass(frozen=True)
class GPSettings:
    """Knobs of the GP surrogate: one default serves every game (none is tuned to one problem)."""

    acquisition: str = "logei"  # one of surrogates.acquisition.KINDS
    initial_design: int = 6  # Sobol completions before the model decides
    candidates: int = 96  # random completions scored below a node
    neighbours: int = 48  # completions near the best observed below a node
    refine_rounds: int = 3  # rounds of continuous moves perturbed around the best candidates
    refine_width: int = 24  # perturbations per round
    polish_starts: int = 4  # best candidates whose continuous moves L-BFGS-B then optimises
    polish_iterations: int = 40  # L-BFGS-B steps per polish
    prior_samples: int = 6  # completions per move when scoring priors
    prior_temperature: float = 1.0  # softmax temperature on log-acquisition scores
    prior_uniform_share: float = 0.25  # of the prior spread uniformly over the moves
    refit_every: int = 5  # observations between full hyper-parameter fits
    max_points: int = 500  # training rows of the exact GP (subsampled beyond)
    prior_refresh_share: float = 0.02  # priors are recomputed once the observations grew by this share (see version)
    trust_region: bool = True  # TuRBO's box for the incumbent branch's continuous moves (surrogates.trust_region)
    output_warping: bool = False  # the value GP learns Yeo-Johnson-warped values (surrogates.warping; off: see there)

    def __post_init__(self) -> None:
        if self.acquisition not in KINDS:
            raise ValueError(f"unknown acquisition {self.acquisition!r}; choose one of {', '.join(KINDS)}")
        if self.initial_design < 1:
            raise ValueError("initial_design must be at least 1")
        if not 0 <= self.prior_refresh_share < 1:
            raise ValueError(f"prior_refresh_share must be in [0, 1), got {self.prior_refresh_share!r}")


class GPEstimator:
    """BoTorch guidance for :class:`~discover.planner.Planner` (``surrogate="gp"``)."""

    def __init__(self, game: Game, settings: GPSettings | None = None, seed: int = 0) -> None:
        self.space = Space.of(game)
        self.settings = settings or GPSettings()
        self.seed = seed
        self.version = 0  # the priors' version: the planner recomputes a node's priors when it changes
        self.model_version = 0  # the models': every refit with new observations
        self._priors_rows = 0  # observations when ``version`` last changed
        self._rng = np.random.default_rng([seed, 1])
        self._design = unit_sobol(max(self.settings.initial_design, 2), SOBOL_DEPTH, seed)
        self._designed = 0
        self._traces: dict[str, Trace] = {}  # completions built here, by state key
        self._raws: list[dict[Hashable, float]] = []
        self._observed: list[Trace | None] = []
        self._values: list[float | None] = []
        self._costs: list[float] = []
        self._constraints: list[tuple[float, ...]] = []  # per observation, () when none were reported
        self._seen: set[str] = set()
        self._chosen: dict[tuple[str, int], Trace] = {}  # (node key, model version) -> its maximiser
        s = self.settings
        self.value_model = WarmGP(refit_every=s.refit_every, max_points=s.max_points, seed=seed, warp=s.output_warping)
        self.cost_model = WarmGP(refit_every=s.refit_every, max_points=s.max_points, seed=seed + 1, keep="none")
        self.feasibility = FeasibilityModel(refit_every=s.refit_every, max_points=s.max_points, seed=seed)
        self.constraints = ConstraintModel(refit_every=s.refit_every, max_points=s.max_points, seed=seed)
        self._value_fitted = False
        self._columns: list[Hashable] = []  # the sites the models were fitted on
        self._fitted_rows = 0
        self._X_ok: torch.Tensor | None = None
        self._plain: GuidedAcquisition | None = None
        self._cost_fitted = False
        self.trust_region = TrustRegion()

    # -- Estimator protocol ------------------------------------------------------------------
    def observe(self, game: Game, state: State, outcome: Outcome) -> None:
        key = game.state_key(state)
        self._seen.add(key)
        trace = self._traces.pop(key, None) or self.space.trace_of(game, state)
        if trace is None and self.space.from_features:
            trace = Trace(state, key, ())
        raw = self.space.raw(game, trace) if trace is not None else None
        if raw is None:  # an unencodable state teaches nothing
            return
        self._raws.append(raw)
        self._observed.append(trace)
        self._values.append(float(outcome.value) if outcome.succeeded else None)  # type: ignore[arg-type]
        self._costs.append(float(outcome.cost_seconds or 0.0))
        self._constraints.append(tuple(outcome.constraints))
        if self.settings.trust_region:
            self.trust_region.observe(self._values[-1], sum(self._is_real(step) for step in trace.steps),
                                counted=len(self._raws) > self.settings.initial_design)

    @property
    def ready(self) -> bool:
        """The model decides once the initial design is done and two evaluations succeeded or
        reported constraint values."""
        if len(self._raws) < self.settings.initial_design:
            return False
        return sum(v is not None for v in self._values) >= 2 or len(ConstraintModel.usable(self._constraints)) >= 2

    @property
    def designing(self) -> bool:
        """Still placing the initial design (the planner lets it pick finite moves too). Past it the
        planner's rule decides even while no model is ready, so branches where everything failed
        are left."""
        return len(self._raws) < self.settings.initial_design

    @_without_jitter_warnings
    def priors(self, game: Game, state: State, actions: Sequence[Action],
               history: Sequence[Action] = ()) -> Sequence[float] | None:
        if not self.ready or len(actions) < 2:
            return None
        self._refresh()
        _, prefix = self.space.prefix(game, history)
        key = game.state_key(state)
        player = game.to_move(state)
        site = prefix_site(self.space, prefix, game, state)
        traces: list[Trace] = []
        for action in actions:
            child = game.apply(state, action)
            step = [*prefix, Step(site, action, key, player)]
            traces += [self.space.walk(game, child, Walker(None, self._rng), step)
                       for _ in range(self.settings.prior_samples)]
            traces += self._neighbours(game, child, game.state_key(child), len(step), 2)
        if self._plain is None:  # the acquisition without pending points, built once per model
            with self._seeded():
                self._plain = self._acquisition(None)
        below = len(prefix) + 1  # the moves under each of this node's moves
        with self._seeded():  # the best completions' continuous moves optimised, as when choosing one
            scores = self._score(game, traces, self._plain)
            traces, scores = self._refine(game, traces, scores, self._plain, below, self._seen, None)
            traces, scores = self._polish(game, traces, scores, self._plain, below, self._seen, None)
        index = {action: i for i, action in enumerate(actions)}
        owner = [index[trace.steps[len(prefix)].action] for trace in traces]
        best = torch.full((len(actions),), -math.inf, dtype=scores.dtype)
        best = best.scatter_reduce(0, torch.tensor(owner), scores, reduce="amax")
        best = torch.nan_to_num(best, nan=-1e9, neginf=-1e9)
        p = torch.softmax(best / self.settings.prior_temperature, 0).numpy()
        share = self.settings.prior_uniform_share
        return Priors(((1 - share) * p + share / len(actions)).tolist(), acquisition=best.tolist(),
                      feasibility=self._feasibility(game, traces, owner, scores, len(actions)))

    def _feasibility(self, game: Game, traces: Sequence[Trace], owner: list[int], scores: torch.Tensor,
                     moves: int) -> list[float] | None:
        """P(ok) of the completion with the best acquisition below each move (None: no failures seen)."""
        if self.feasibility.model is None and not self.constraints.fitted:
            return None
        owners = torch.tensor(owner)
        chosen = [int(torch.argmax(torch.where(owners == i, scores, -math.inf))) for i in range(moves)]
        raws = [self.space.raw(game, traces[i]) for i in chosen]
        if any(r is None for r in raws):
            return None
        with torch.no_grad():
            return self._log_feasible(self._inputs(raws)).exp().tolist()

    def _log_feasible(self, X: torch.Tensor) -> torch.Tensor:
        """log P(feasible) of ``... x q x d`` inputs: the failure classifier's and the constraints'."""
        return self.feasibility.log_probability(X) + self.constraints.log_probability(X)

    @_without_jitter_warnings
    def complete(self, game: Game, state: State, rng: np.random.Generator, pending: Sequence[State],
                 history: Sequence[Action] = ()) -> State:
        busy = self._seen | {game.state_key(p) for p in pending}
        trace = self._handed_down(game, state, busy) or self._choose(game, state, history, pending, busy)
        self._traces[trace.key] = trace
        return trace.state

    @_without_jitter_warnings
    def widen(self, game: Game, state: State, moves: Sequence[Action] | Sampler, rng: np.random.Generator,
              pending: Sequence[State], history: Sequence[Action] = ()) -> Action:
        busy = self._seen | {game.state_key(p) for p in pending}
        trace = self._handed_down(game, state, busy) or self._choose(game, state, history, pending, busy)
        action = trace.steps[len(history)].action
        child = game.state_key(game.apply(state, action))
        self._chosen[(child, self.model_version)] = trace  # its completion is what the child evaluates first
        return action

    def _handed_down(self, game: Game, state: State, busy: set[str]) -> Trace | None:
        """The completion a parent widened in this descent chose through ``state`` (None when there
        is none for this model, or it is taken): it already maximised the acquisition with the path
        so far fixed, so the nodes below follow it rather than optimise again per level."""
        trace = self._chosen.pop((game.state_key(state), self.model_version), None)
        return trace if trace is not None and trace.key not in busy else None

    # -- choosing a completion ---------------------------------------------------------------
    def _choose(self, game: Game, state: State, history: Sequence[Action], pending: Sequence[State],
                busy: set[str]) -> Trace:
        _, prefix = self.space.prefix(game, history)
        if not self.ready:
            return self._design_point(game, state, prefix, busy)
        self._refresh()
        key = game.state_key(state)
        s = self.settings
        region = self._branch_box(key, len(prefix))
        walks = [self.space.walk(game, state, Walker(None, self._rng), prefix) for _ in range(s.candidates)]
        candidates: dict[str, Trace] = {}
        for trace in [*(self._confined(game, t, region, stretch=True) for t in walks),
                      *(self._confined(game, t, region) for t in self._neighbours(game, state, key, len(prefix),
                                                                                  s.neighbours))]:
            if trace is not None and trace.key not in busy:
                candidates.setdefault(trace.key, trace)
        if not candidates:
            return self.space.walk(game, state, Walker(None, self._rng), prefix)
        pending_raws = [r for r in (self._raw_of(game, p) for p in pending) if r is not None]
        with self._seeded():
            acquisition = self._acquisition(self._inputs(pending_raws) if pending_raws else None)
            pool = list(candidates.values())
            scores = self._score(game, pool, acquisition)
            pool, scores = self._refine(game, pool, scores, acquisition, len(prefix), busy, region)
            pool, scores = self._polish(game, pool, scores, acquisition, len(prefix), busy, region)
        return pool[int(torch.argmax(scores))]

    def _design_point(self, game: Game, state: State, prefix: list[Step], busy: set[str]) -> Trace:
        """The next point of the Sobol design, below ``state``; random once the design repeats."""
        trace = None
        for _ in range(8):
            point = self._design[self._designed % len(self._design)] if self._designed < len(self._design) else None
            self._designed += 1
            trace = self.space.walk(game, state, Walker(point, self._rng), prefix)
            if trace.key not in busy:
                return trace
        assert trace is not None
        return trace

    def _anchors(self, key: str, depth: int) -> list[Trace]:
        """The (up to 3) best completions observed through node ``key`` with a move below it (``depth``
        moves fixed); before any is feasible, those that violated their constraints least."""
        order = sorted((i for i, v in enumerate(self._values) if v is not None), key=lambda i: -self._values[i])
        if not order:
            order = sorted((i for i, g in enumerate(self._constraints) if g), key=lambda i: max(self._constraints[i]))
        return [t for i in order if (t := self._observed[i]) is not None and t.passes(key)
                and len(t.steps) > depth][:3]

    def _branch_box(self, key: str, depth: int) -> BranchBox | None:
        """The trust region below node ``key``: the best completion through it, and the box of each of
        its continuous moves below the node (step index -> unit bounds). None when it is switched off or
        nothing was observed through the node."""
        anchors = self._anchors(key, depth) if self.settings.trust_region and self.trust_region.active else []
        if not anchors:
            return None
        anchor = anchors[0]
        bounds = {i: self.trust_region.bounds(self.space.decisions[anchor.steps[i].site].unit(anchor.steps[i].action))
                  for i in range(depth, len(anchor.steps)) if self._is_real(anchor.steps[i])}
        return BranchBox(anchor, depth, bounds) if bounds else None

    def _in_branch(self, trace: Trace, region: BranchBox) -> bool:
        """``trace`` makes the anchor's decisions below the node, continuous moves aside (the same
        sites, and the same action at every site that is not a searcher's continuous move)."""
        anchor = region.anchor.steps
        return len(trace.steps) == len(anchor) and all(
            t.site == a.site and (self._is_real(a) or t.action == a.action)
            for t, a in zip(trace.steps[region.depth:], anchor[region.depth:]))

    def _confined(self, game: Game, trace: Trace, region: BranchBox | None, stretch: bool = False) -> Trace | None:
        """``trace`` with its continuous moves brought into the trust region, if it makes the anchor's
        discrete choices (other branches are searched globally): a uniform draw is mapped affinely
        onto the box (``stretch``: it stays uniform there), a local move is clipped to it."""
        if region is None or not self._in_branch(trace, region):
            return trace
        values = {}
        for i, (low, high) in region.bounds.items():
            site = self.space.decisions[trace.steps[i].site]
            u = site.unit(trace.steps[i].action)
            values[i] = site.action(low + u * (high - low) if stretch else min(max(u, low), high))
        return self.space.replay(game, trace, values)

    def _neighbours(self, game: Game, state: State, key: str, depth: int, count: int) -> list[Trace]:
        """Completions near the best ones observed through node ``key`` (``depth`` moves fixed)."""
        anchors = self._anchors(key, depth)
        out: list[Trace] = []
        for n in range(count if anchors else 0):
            anchor = anchors[n % len(anchors)]
            local = self._local_steps(anchor, depth)
            if local and self._rng.random() < 0.5:
                trace = self._nudge(game, anchor, local, 0.1)
            else:  # re-draw one decision below the node and complete at random
                trace = self._redraw(game, anchor, int(self._rng.integers(depth, len(anchor.steps))))
            if trace is not None:
                out.append(trace)
        return out

    def _redraw(self, game: Game, anchor: Trace, j: int) -> Trace:
        """``anchor``'s first ``j`` moves, then a random completion."""
        state = game.initial_state()
        for step in anchor.steps[:j]:
            state = game.apply(state, step.action)
        return self.space.walk(game, state, Walker(None, self._rng), list(anchor.steps[:j]))

    def _is_real(self, step: Step) -> bool:
        """A searcher's continuous move (the polish differentiates through these)."""
        site = self.space.decisions[step.site]
        return site.kind == "real" and site.interval is not None and step.player is Player.SEARCHER

    def _is_local(self, step: Step) -> bool:
        """A searcher's move with a notion of nearness: continuous, or ordinal (finite numbers, moved
        in their unit scale and rounded to the nearest choice, as TuRBO treats integer variables):
        what nudges and refinement perturb. The trust region boxes only the continuous ones (see
        :mod:`surrogates.trust_region`)."""
        site = self.space.decisions[step.site]
        return step.player is Player.SEARCHER and (site.kind == "ordinal" or self._is_real(step))

    def _local_steps(self, trace: Trace, depth: int) -> list[int]:
        """Indices of ``trace``'s local moves below the first ``depth`` (those a nudge may move)."""
        return [i for i in range(depth, len(trace.steps)) if self._is_local(trace.steps[i])]

    def _nudge(self, game: Game, trace: Trace, local: list[int], sigma: float) -> Trace | None:
        """``trace`` with its local moves at step indices ``local`` moved by N(0, sigma^2) in u (an
        ordinal one to the nearest choice), each with probability min(1, 20 / len(local)) (TuRBO's
        perturbation mask: all of them in low dimension, a random subspace in high), at least one."""
        chosen = [i for i in local if self._rng.random() < min(1.0, 20 / len(local))] or \
            [local[int(self._rng.integers(len(local)))]]
        values = {}
        for i in chosen:
            site = self.space.decisions[trace.steps[i].site]
            values[i] = site.action(site.unit(trace.steps[i].action) + sigma * self._rng.standard_normal())
        return self.space.replay(game, trace, values)

    def _refine(self, game: Game, pool: list[Trace], scores: torch.Tensor, acquisition: GuidedAcquisition,
                depth: int, busy: set[str], region: BranchBox | None) -> tuple[list[Trace], torch.Tensor]:
        """Rounds of perturbations of the best candidates' local moves, the step shrinking."""
        s = self.settings
        for sigma in (0.08 / 3**r for r in range(s.refine_rounds)):
            top = torch.topk(scores, min(4, len(pool))).indices.tolist()
            new: list[Trace] = []
            for n in range(s.refine_width):
                anchor = pool[top[n % len(top)]]
                local = self._local_steps(anchor, depth)
                if not local:
                    continue
                trace = self._nudge(game, anchor, local, sigma)
                trace = self._confined(game, trace, region) if trace is not None else None
                if trace is not None and trace.key not in busy:
                    new.append(trace)
            if not new:
                break
            pool = pool + new
            scores = torch.cat([scores, self._score(game, new, acquisition)])
        return pool, scores

    def _polish(self, game: Game, pool: list[Trace], scores: torch.Tensor, acquisition: GuidedAcquisition,
                depth: int, busy: set[str], region: BranchBox | None) -> tuple[list[Trace], torch.Tensor]:
        """The best candidates with their continuous moves below the node optimised by L-BFGS-B
        (gradients through the embedding), every other move fixed: what BoTorch's ``optimize_acqf``
        does from its best raw samples, per completion. Random and perturbed candidates find the
        basin; this finds its top, bounds included (an optimum on a bound is reached exactly, which
        perturbations almost never do). The steps follow the closed-form twin of the acquisition
        (:func:`analytic_acquisition`; the Monte Carlo one cost 50 ms a call); the polished
        candidates then join the pool ranked by the full one."""
        from scipy.optimize import minimize

        s = self.settings
        index = {key: j for j, key in enumerate(self._columns)}
        starts: list[tuple[Trace, list[int]]] = []  # a candidate and the indices of its free real steps
        for i in torch.topk(scores, min(s.polish_starts, len(pool))).indices.tolist():
            steps = [j for j in range(depth, len(pool[i].steps))
                     if self._is_real(pool[i].steps[j]) and pool[i].steps[j].site in index]
            if steps and math.isfinite(float(scores[i])):
                starts.append((pool[i], steps))
        if not starts:
            return pool, scores
        raws = [self.space.raw(game, trace) for trace, _ in starts]
        U0, A = self.space.matrix(raws, self._columns)
        rows = torch.tensor([r for r, (_, steps) in enumerate(starts) for _ in steps])
        cols = torch.tensor([index[trace.steps[j].site] for trace, steps in starts for j in steps])
        box = [region.bounds[j] if region is not None and self._in_branch(trace, region) else (0.0, 1.0)
               for trace, steps in starts for j in steps]
        x0 = np.clip(U0[rows, cols].numpy(), [b[0] for b in box], [b[1] for b in box])
        steer = self._steering(acquisition)

        def loss(x: np.ndarray) -> tuple[float, np.ndarray]:
            u = torch.tensor(x, dtype=U0.dtype, requires_grad=True)
            U = U0.index_put((rows, cols), u)
            value = -torch.nan_to_num(steer(self.space.embed(U, A, self._columns).unsqueeze(-2)),
                                      nan=-1e9, neginf=-1e9).sum()
            value.backward()
            return float(value.detach()), u.grad.numpy().astype(np.float64)

        found = minimize(loss, x0, jac=True, method="L-BFGS-B", bounds=box,
                         options={"maxiter": s.polish_iterations})
        new: list[Trace] = []
        at = 0
        for trace, steps in starts:
            values = {j: self.space.decisions[trace.steps[j].site].action(found.x[at + n]) for n, j in enumerate(steps)}
            at += len(steps)
            polished = self.space.replay(game, trace, values)
            if polished is not None and polished.key not in busy:
                new.append(polished)
        if not new:
            return pool, scores
        return pool + new, torch.cat([scores, self._score(game, new, acquisition)])

    def _steering(self, acquisition: GuidedAcquisition) -> GuidedAcquisition:
        """What the polish climbs: the closed-form twin of ``acquisition`` (itself before a value
        model exists: log P(feasible) is already closed-form)."""
        if not self._value_fitted:
            return acquisition
        assert self.value_model.model is not None
        best = float(self.value_model.warped(max(v for v in self._values if v is not None)))
        return analytic_acquisition(self.settings.acquisition, self.value_model.model, best_f=best,
                                    cost=acquisition.cost, feasibility=acquisition.feasibility)

    # -- the model ---------------------------------------------------------------------------
    def _raw_of(self, game: Game, state: State) -> dict[Hashable, float] | None:
        key = game.state_key(state)
        trace = self._traces.get(key) or self.space.trace_of(game, state)
        if trace is None and self.space.from_features:
            trace = Trace(state, key, ())
        return None if trace is None else self.space.raw(game, trace)

    def _inputs(self, raws: Sequence[dict[Hashable, float]]) -> torch.Tensor:
        return self.space.embed(*self.space.matrix(raws, self._columns), self._columns)

    def _score(self, game: Game, traces: Sequence[Trace], acquisition: GuidedAcquisition) -> torch.Tensor:
        """Acquisition values of ``traces`` (-inf for one that cannot be encoded)."""
        raws = [self.space.raw(game, t) for t in traces]
        keep = [i for i, r in enumerate(raws) if r is not None]
        scores = torch.full((len(traces),), -math.inf, dtype=torch.double)
        if keep:
            with torch.no_grad():
                values = acquisition(self._inputs([raws[i] for i in keep]).unsqueeze(-2))
            scores[keep] = torch.nan_to_num(values.to(torch.double), nan=-math.inf)
        return scores

    @contextmanager
    def _seeded(self) -> Iterator[None]:
        """Torch randomness (restarts, MC samples) fixed by the seed and the data seen so far."""
        with torch.random.fork_rng():
            torch.manual_seed(self.seed * 1_000_003 + len(self._raws))
            yield

    def calibration(self, game: Game, z: float = 1.959964) -> list[tuple[float, float, float, float]]:
        """How well the value model predicts what was observed: per evaluation it trains on,
        (predicted, low, high, observed) in the game's words, from exact leave-one-out predictions
        with a central interval of +-z standard deviations (95% by default); [] before the model
        decides."""
        if not self.ready:
            return []
        self._refresh()
        if not self._value_fitted:
            return []
        observed, mean, std = leave_one_out(self.value_model.model)
        back = self.value_model.unwarped  # increasing: the interval's ends map to the ends, the median to the median
        q = game.quantity
        points = []
        for o, m, ends in zip(back(observed).tolist(), back(mean).tolist(),
                              zip(back(mean - z * std).tolist(), back(mean + z * std).tolist())):
            low, high = sorted((q.shown(ends[0]), q.shown(ends[1])))  # type: ignore[type-var]
            points.append((q.shown(m), low, high, q.shown(o)))
        return points  # type: ignore[return-value]

    def _refresh(self) -> None:
        """Refit the models if observations arrived since the last fit."""
        if len(self._raws) == self._fitted_rows:
            return
        self._columns = self.space.columns()
        cat_dims = self.space.cat_dims(self._columns)
        X = self._inputs(self._raws)
        ok = torch.tensor([v is not None for v in self._values])
        # a failure whose reported constraints say why is the constraint models' to learn
        explained = torch.tensor([violated(g) for g in self._constraints], dtype=torch.bool)
        y = torch.tensor([v for v in self._values if v is not None], dtype=X.dtype).unsqueeze(-1)
        with self._seeded():
            self._value_fitted = int(ok.sum()) >= 2
            if self._value_fitted:
                self.value_model.fit(X[ok], y, cat_dims)
            self.feasibility.fit(X, ok | explained, cat_dims)
            self.constraints.fit(X, self._constraints, cat_dims)
            costs = torch.tensor(log_cost_floor(self._costs), dtype=X.dtype).unsqueeze(-1)
            self._cost_fitted = self.settings.acquisition == "logei-cost" and float(costs.std()) > 1e-6
            if self._cost_fitted:
                self.cost_model.fit(X, costs, cat_dims)
        self._X_ok = X[ok]
        self._plain = None
        self._chosen.clear()
        self._fitted_rows = len(self._raws)
        self.model_version += 1
        if self._fitted_rows - self._priors_rows >= max(1, int(self.settings.prior_refresh_share * self._priors_rows)):
            self.version, self._priors_rows = self.version + 1, self._fitted_rows

    def _acquisition(self, X_pending: torch.Tensor | None) -> GuidedAcquisition:
        if not self._value_fitted:  # no two feasible formulations yet: find the feasible region
            assert self.constraints.model is not None
            return feasibility_search(self.constraints.model, self._log_feasible)
        assert self.value_model.model is not None and self._X_ok is not None
        constrained = self.feasibility.model is not None or self.constraints.fitted
        return build_acquisition(
            self.settings.acquisition, self.value_model.model, X_baseline=self._X_ok, X_pending=X_pending,
            cost=self.cost_model.model if self._cost_fitted else None,
            feasibility=self._log_feasible if constrained else None,
            seed=self.seed + self.model_version,
        )


def prefix_site(space: Space, prefix: list[Step], game: Game, state: State) -> Hashable:
    """The site of the decision at ``state`` (the node after ``prefix``)."""
    player = game.to_move(state)
    moves = [a for a, _ in game.chance_outcomes(state)] if player is Player.CHANCE else game.actions(state)
    return space.site(len(prefix), moves).key


def gp_surrogate(game: Game, *, seed: int = 0) -> GPEstimator:
    """Entry point of ``surrogate="gp"``."""
    return GPEstimator(game, seed=seed)
