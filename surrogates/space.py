"""A surrogate's inputs, derived from the decisions along a formulation's path in the game tree.

A **site** is a decision point: where in the tree a move is made and what could be played there.
By default its identity is the depth and the signature of the legal move set (an ``Interval``'s
bounds, or the tuple of finite moves), which is how define-by-run samplers (Optuna, Ax's
hierarchical spaces) name a conditional parameter; a game that declares ``features()`` uses them
instead, one always-active site per feature. A formulation's **trace** lists the sites it passed
and the move made at each; sites it never reached are *inactive* for it.

Inactive sites are not given placeholder values that the model would read as real ones. Each
site is embedded so that "inactive" sits at the same distance from every active value:

* real and ordinal sites (a value u in [0, 1] after scaling): the arc embedding of Swersky et al.,
  u -> (sin(pi u / 2), cos(pi u / 2)) on the unit quarter circle, and (0, 0) when inactive, at
  distance 1 from every point of the arc [Arc]; the kernel's two length scales per site stay learnt;
* categorical sites: the choice's index for the mixed GP's categorical kernel, with one extra
  category, "inactive", that matches no choice (the kernel of [Tree] for a disjoint branch).

[Arc]  Swersky, Duvenaud, Snoek, Hutter, Osborne, "Raiders of the lost architecture: kernels for
       Bayesian optimization in conditional parameter spaces", NeurIPS BayesOpt workshop 2013.
[Tree] Jenatton, Archambeau, Gonzalez, Seeger, "Bayesian optimization with tree-structured
       dependencies", ICML 2017; Ma & Blaschko, "Additive tree-structured covariance functions for
       conditional parameter spaces in Bayesian optimization", AISTATS 2020.
"""

from __future__ import annotations

import functools
import hashlib
import math
from dataclasses import dataclass, field
from typing import Any, Hashable, Protocol, Sequence

import numpy as np
import torch

from discover.errors import GameError
from discover.game import Feature, Game, pick_index
from discover.types import Action, Interval, Player, Sampler, State, is_sampler

DTYPE = torch.double


@dataclass
class Site:
    """One decision point, with what the model needs to scale its moves."""

    key: Hashable
    kind: str  # "real" (an interval or a numeric sampler), "ordinal" (finite numbers), "categorical"
    choices: tuple[Any, ...] = ()
    low: float = 0.0  # real sites: bounds in the modelled scale (log for log intervals)
    high: float = 1.0
    log: bool = False
    interval: Interval | None = None  # the game's interval: acquisition maximisers are drawn inside it

    @functools.cached_property
    def ordinal_range(self) -> tuple[float, float]:
        """The smallest and largest choice of an ordinal site (computed once: the embedding and
        every nudge ask)."""
        return min(self.choices), max(self.choices)

    def unit(self, action: Action) -> float:
        """A move as u in [0, 1] (real and ordinal sites) or a choice index (categorical)."""
        if self.kind == "categorical":
            return float(self.choices.index(action))
        x = math.log(action) if self.log else float(action)
        if self.kind == "ordinal":
            low, high = self.ordinal_range
            return 0.5 if high == low else (x - low) / (high - low)
        if x < self.low or x > self.high:  # a sampler without bounds: its range grows as values arrive
            self.low, self.high = min(self.low, x), max(self.high, x)
        return 0.5 if self.high == self.low else (x - self.low) / (self.high - self.low)

    def action(self, u: float) -> Action:
        """The move at u: inside a real site's interval, so always legal; an ordinal site's choice
        nearest u (the lower on a tie)."""
        if self.kind == "ordinal":  # unit() is increasing and affine in the choice: compare choices
            low, high = self.ordinal_range
            x = low + u * (high - low)
            return min(self.choices, key=lambda c: (abs(c - x), c))
        if self.kind == "categorical":
            raise ValueError(f"site {self.key!r} is categorical: no move lies at a position")
        x = self.low + min(max(float(u), 0.0), 1.0) * (self.high - self.low)
        value = math.exp(x) if self.log else x
        if self.interval is not None:
            value = min(max(value, self.interval.low), self.interval.high)
        return float(value)

    @property
    def width(self) -> int:
        """Model columns: two for the arc embedding, one for a categorical index."""
        return 1 if self.kind == "categorical" else 2


def site_of(depth: int, moves: Sequence[Action] | Sampler) -> Site:
    """The default site of a decision: its depth and the signature of its legal moves."""
    if isinstance(moves, Interval):
        low, high = (math.log(moves.low), math.log(moves.high)) if moves.log else (moves.low, moves.high)
        return Site((depth, "interval", moves.low, moves.high, moves.log), "real", low=low, high=high,
                    log=moves.log, interval=moves)
    if is_sampler(moves):
        return Site((depth, "sampler", type(moves).__name__), "real", low=math.inf, high=-math.inf)
    moves = tuple(moves)
    digest = hashlib.sha1(repr(moves).encode()).hexdigest()[:12]
    numeric = all(isinstance(m, (int, float)) and not isinstance(m, bool) for m in moves)
    return Site((depth, "finite", digest), "ordinal" if numeric else "categorical", choices=moves)


class Chooser(Protocol):
    def __call__(self, moves: Any, depth: int, chance: bool = False) -> Action: ...


@dataclass(frozen=True)
class Step:
    """One move of a trace: at ``site``, from the state with key ``before``."""

    site: Hashable
    action: Action
    before: str  # state key where the move was made (so traces through a tree node can be found)
    player: Player


@dataclass(frozen=True)
class Trace:
    """A complete formulation and the decisions that built it."""

    state: State
    key: str
    steps: tuple[Step, ...]

    def passes(self, node_key: str) -> bool:
        return any(step.before == node_key for step in self.steps) or self.key == node_key


@dataclass
class Space:
    """The sites seen so far and how a trace becomes a model input (``embed``).

    With ``features`` (a game that declares them) every feature is a site that is always active,
    and ``encode(state)`` gives the values; otherwise sites are discovered as traces are built.
    """

    features: tuple[Feature, ...] = ()
    sites: dict[Hashable, Site] = field(default_factory=dict)  # the model's columns
    decisions: dict[Hashable, Site] = field(default_factory=dict)  # every decision site met

    @classmethod
    def of(cls, game: Game) -> Space:
        space = cls(tuple(game.features()))
        for f in space.features:
            if f.kind == "categorical":
                space.sites[f.name] = Site(f.name, "categorical", choices=tuple(f.choices))
            else:
                space.sites[f.name] = Site(f.name, "real", low=f.low, high=f.high)
        return space

    @property
    def from_features(self) -> bool:
        return bool(self.features)

    # -- traces ------------------------------------------------------------------------------
    def site(self, depth: int, moves: Sequence[Action] | Sampler) -> Site:
        """The decision site of ``moves`` at ``depth`` (registered the first time it is met)."""
        candidate = site_of(depth, moves)
        site = self.decisions.setdefault(candidate.key, candidate)
        if not self.from_features:
            self.sites.setdefault(site.key, site)
        return site

    def walk(self, game: Game, state: State, choose: Chooser, prefix: Sequence[Step] = ()) -> Trace:
        """Play from ``state`` (reached by the moves ``prefix``) to a terminal state,
        ``choose(moves, depth, chance)`` picking every move; at a chance state ``moves`` are the
        ``(action, probability)`` pairs."""
        steps, depth = list(prefix), len(prefix)
        while (player := game.to_move(state)) is not Player.TERMINAL:
            key = game.state_key(state)
            if player is Player.CHANCE:
                moves: Any = list(game.chance_outcomes(state))
                site = self.site(depth, [a for a, _ in moves])
            else:
                moves = game.actions(state)
                if not is_sampler(moves) and len(moves) == 0:
                    raise GameError(f"game {game.name!r}: non-terminal state {state!r} has no moves")
                site = self.site(depth, moves)
            action = choose(moves, depth, player is Player.CHANCE)
            steps.append(Step(site.key, action, key, player))
            state = game.apply(state, action)
            depth += 1
        return Trace(state, game.state_key(state), tuple(steps))

    def replay(self, game: Game, trace: Trace, values: dict[int, Action]) -> Trace | None:
        """``trace`` with the moves at step indices ``values`` replaced; None when the new moves
        lead to other decisions (a game whose later sites depend on a continuous value). States
        along the way differ from the trace's (they hold the new moves); the sites must not."""
        state, steps = game.initial_state(), []
        for i, step in enumerate(trace.steps):
            player = game.to_move(state)
            if player is Player.TERMINAL:
                return None
            moves = [a for a, _ in game.chance_outcomes(state)] if player is Player.CHANCE else game.actions(state)
            if self.site(i, moves).key != step.site:
                return None
            action = values.get(i, step.action)
            steps.append(Step(step.site, action, game.state_key(state), player))
            state = game.apply(state, action)
        if game.to_move(state) is not Player.TERMINAL:
            return None
        return Trace(state, game.state_key(state), tuple(steps))

    def prefix(self, game: Game, history: Sequence[Action]) -> tuple[State, list[Step]]:
        """Replay the moves ``history`` from the initial state: the state reached and its steps."""
        state, steps = game.initial_state(), []
        for depth, action in enumerate(history):
            player = game.to_move(state)
            if player is Player.TERMINAL:
                raise GameError(f"game {game.name!r}: moves continue past a terminal state")
            moves = [a for a, _ in game.chance_outcomes(state)] if player is Player.CHANCE else game.actions(state)
            site = self.site(depth, moves)
            steps.append(Step(site.key, action, game.state_key(state), player))
            state = game.apply(state, action)
        return state, steps

    def trace_of(self, game: Game, state: State) -> Trace | None:
        """The trace of a terminal state built elsewhere (a baseline, a resumed run), when the game
        can tell its moves (``Game.moves_of``); None otherwise."""
        moves = game.moves_of(state)
        if moves is None:
            return None
        _, steps = self.prefix(game, moves)
        return Trace(state, game.state_key(state), tuple(steps))

    # -- model inputs ------------------------------------------------------------------------
    def raw(self, game: Game, trace: Trace) -> dict[Hashable, float] | None:
        """Site -> u (or a choice index) for the sites this formulation reached."""
        if self.from_features:
            row = game.checked_encoding(trace.state)
            if row is None:
                return None
            out = {}
            for f, x in zip(self.features, row):
                site = self.sites[f.name]
                out[f.name] = x if site.kind == "categorical" else (
                    0.5 if site.high == site.low else (x - site.low) / (site.high - site.low))
            return out
        out = {}
        for step in trace.steps:
            site = self.decisions[step.site]
            try:
                out[step.site] = site.unit(step.action)
            except (TypeError, ValueError):  # a move the site cannot place (not in its choices)
                return None
        return out

    def columns(self) -> list[Hashable]:
        return list(self.sites)

    def matrix(self, raws: Sequence[dict[Hashable, float]], columns: Sequence[Hashable]) -> tuple[torch.Tensor, torch.Tensor]:
        """Values and activity, both ``n x s`` (s = len(columns) sites)."""
        U = torch.zeros(len(raws), len(columns), dtype=DTYPE)
        A = torch.zeros(len(raws), len(columns), dtype=DTYPE)
        for i, raw in enumerate(raws):
            for j, key in enumerate(columns):
                if key in raw:
                    U[i, j], A[i, j] = raw[key], 1.0
        return U, A

    def embed(self, U: torch.Tensor, A: torch.Tensor, columns: Sequence[Hashable]) -> torch.Tensor:
        """``... x s`` values and activity to ``... x d`` model inputs (see the module docstring);
        differentiable in U. ``columns`` are the sites a model was fitted on: a site met later is
        inactive in every training row, so the model leaves it out."""
        cols = []
        for j, key in enumerate(columns):
            site = self.sites[key]
            u, a = U[..., j], A[..., j]
            if site.kind == "categorical":
                cols.append(torch.where(a > 0, u, torch.full_like(u, float(len(site.choices)))))
            else:
                angle = 0.5 * math.pi * u.clamp(0.0, 1.0)
                cols += [a * torch.sin(angle), a * torch.cos(angle)]
        return torch.stack(cols, -1)

    def cat_dims(self, columns: Sequence[Hashable]) -> list[int]:
        """Indices of the categorical model inputs of ``columns``."""
        dims, at = [], 0
        for key in columns:
            site = self.sites[key]
            if site.kind == "categorical":
                dims.append(at)
            at += site.width
        return dims


class Walker:
    """Chooses the move at each depth from coordinate ``depth`` of a point in [0, 1)^n: a Sobol
    point of the initial design, or uniform draws (``point=None``: a random completion). Chance
    moves go by inverse CDF, so they keep their probabilities."""

    def __init__(self, point: np.ndarray | None, rng: np.random.Generator) -> None:
        self.point, self.rng = point, rng

    def u(self, depth: int) -> float:
        if self.point is not None and depth < len(self.point):
            return float(self.point[depth])
        return float(self.rng.random())

    def __call__(self, moves: Any, depth: int, chance: bool = False) -> Action:
        u = self.u(depth)
        if chance:
            return moves[pick_index([p for _, p in moves], u)][0]
        if isinstance(moves, Interval):
            if moves.log:
                return float(math.exp(math.log(moves.low) + u * (math.log(moves.high) - math.log(moves.low))))
            return float(moves.low + u * (moves.high - moves.low))
        if is_sampler(moves):
            return moves.sample(self.rng)
        return moves[min(int(u * len(moves)), len(moves) - 1)]


def unit_sobol(n: int, dim: int, seed: int) -> np.ndarray:
    """``n x dim`` scrambled Sobol points in [0, 1) (the space-filling initial design)."""
    from scipy.stats import qmc

    # the first 2^m points of a scrambled Sobol sequence are balanced; any prefix of them fills space
    return qmc.Sobol(d=dim, scramble=True, seed=seed).random_base2(max(1, math.ceil(math.log2(n))))[:n]
