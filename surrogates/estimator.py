"""The GP surrogate as the planner's estimator: priors for PUCT and which completion to evaluate.

Priors: for each move at a node, a few random completions below it are scored by the acquisition
and the move is worth the best of them; a softmax of those scores (mixed with a uniform share, so
nothing is ruled out on a young model) is the node's prior. Completion: many random completions
below a leaf are scored, with the evaluations in flight as fantasies, and the best is evaluated;
when the game can ``decode`` an encoding, the continuous slots of the best few are then optimised
directly with BoTorch's mixed optimiser (discrete slots held fixed).
"""

from __future__ import annotations

import functools
import logging
import math
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence, TypeVar

import numpy as np
import torch
from botorch.optim import optimize_acqf_mixed
from linear_operator.utils.warnings import NumericalWarning

from discover.game import Game
from discover.types import Action, Outcome, Player, State, Status
from surrogates.acquisition import KINDS, GuidedAcquisition, build_acquisition
from surrogates.encoding import Space
from surrogates.models import FeasibilityModel, WarmGP, log_cost_floor

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])


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
class GPSettings:
    """Knobs of the GP surrogate; the defaults keep one decision well under a second."""

    acquisition: str = "logei"  # one of surrogates.acquisition.KINDS
    candidates: int = 128  # random completions scored below a leaf
    prior_samples: int = 6  # completions per move when scoring priors
    prior_temperature: float = 1.0  # softmax temperature on log-acquisition scores
    prior_uniform_share: float = 0.25  # of the prior spread uniformly over the moves
    min_observations: int = 5  # OK evaluations before the GP is trusted
    refit_every: int = 5  # observations between full hyper-parameter fits
    max_points: int = 500  # training rows of the exact GP (subsampled beyond)
    optimize_continuous: bool = True

    def __post_init__(self) -> None:
        if self.acquisition not in KINDS:
            raise ValueError(f"unknown acquisition {self.acquisition!r}; choose one of {', '.join(KINDS)}")


class GPEstimator:
    """BoTorch guidance for :class:`~discover.planner.Planner` (``surrogate="gp"``)."""

    def __init__(self, game: Game, settings: GPSettings | None = None, seed: int = 0) -> None:
        self.space = Space.of(game)
        self.settings = settings or GPSettings()
        self.seed = seed
        self.version = 0
        self._rng = np.random.default_rng([seed, 1])
        self._rows: list[list[float]] = []
        self._values: list[float | None] = []
        self._costs: list[float] = []
        self._seen: set[str] = set()
        s = self.settings
        self.value_model = WarmGP(self.space, refit_every=s.refit_every, max_points=s.max_points, seed=seed)
        self.cost_model = WarmGP(self.space, refit_every=s.refit_every, max_points=s.max_points, seed=seed + 1)
        self.feasibility = FeasibilityModel(self.space, refit_every=s.refit_every, max_points=s.max_points, seed=seed)
        self._fitted_rows = 0
        self._X_ok: torch.Tensor | None = None
        self._plain: GuidedAcquisition | None = None
        self._cost_fitted = False

    # -- Estimator protocol ------------------------------------------------------------------
    def observe(self, game: Game, state: State, outcome: Outcome) -> None:
        self._seen.add(game.state_key(state))
        row = game.checked_encoding(state)  # an unencodable state teaches nothing
        if row is None:
            return
        ok = outcome.status is Status.OK and outcome.value is not None and math.isfinite(outcome.value)
        self._rows.append(row)
        self._values.append(float(outcome.value) if ok else None)
        self._costs.append(float(outcome.cost_seconds or 0.0))

    @property
    def ready(self) -> bool:
        return sum(v is not None for v in self._values) >= self.settings.min_observations

    @_without_jitter_warnings
    def priors(self, game: Game, state: State, actions: Sequence[Action]) -> Sequence[float] | None:
        if not self.ready or len(actions) < 2:
            return None
        self._refresh()
        rows, owner = [], []
        for i, action in enumerate(actions):
            child = game.apply(state, action)
            for _ in range(self.settings.prior_samples):
                rows.append(game.encode(game.random_completion(child, self._rng)))
                owner.append(i)
        if self._plain is None:  # the acquisition without pending points, built once per model
            with self._seeded():
                self._plain = self._acquisition(None)
        with torch.no_grad():
            scores = self._plain(self.space.tensor(rows).unsqueeze(-2))
        best = torch.full((len(actions),), -math.inf, dtype=scores.dtype)
        best = best.scatter_reduce(0, torch.tensor(owner), scores, reduce="amax")
        best = torch.nan_to_num(best, nan=-1e9, neginf=-1e9)
        p = torch.softmax(best / self.settings.prior_temperature, 0).numpy()
        share = self.settings.prior_uniform_share
        return ((1 - share) * p + share / len(actions)).tolist()

    @_without_jitter_warnings
    def complete(self, game: Game, state: State, rng: np.random.Generator, pending: Sequence[State]) -> State:
        if not self.ready:
            return game.random_completion(state, rng)
        self._refresh()
        busy = self._seen | {game.state_key(p) for p in pending}
        candidates: dict[str, State] = {}
        for _ in range(2 * self.settings.candidates):
            completion = game.random_completion(state, rng)
            key = game.state_key(completion)
            if key not in busy:
                candidates.setdefault(key, completion)
            if len(candidates) >= self.settings.candidates:
                break
        if not candidates:
            return game.random_completion(state, rng)
        states = list(candidates.values())
        X = self.space.tensor([game.encode(s) for s in states])
        X_pending = self.space.tensor([game.encode(p) for p in pending]) if pending else None
        with self._seeded():
            acquisition = self._acquisition(X_pending)
            with torch.no_grad():
                scores = acquisition(X.unsqueeze(-2))
            best = int(torch.argmax(torch.nan_to_num(scores, nan=-math.inf)))
            if self.settings.optimize_continuous and type(game).decode is not Game.decode:
                return self._refine(game, acquisition, X, scores, states[best])
        return states[best]

    # -- internals ---------------------------------------------------------------------------
    @contextmanager
    def _seeded(self) -> Iterator[None]:
        """Torch randomness (restarts, MC samples) fixed by the seed and the data seen so far."""
        with torch.random.fork_rng():
            torch.manual_seed(self.seed * 1_000_003 + len(self._rows))
            yield

    def _refresh(self) -> None:
        """Refit the models if observations arrived since the last fit."""
        if len(self._rows) == self._fitted_rows:
            return
        X = self.space.tensor(self._rows)
        ok = torch.tensor([v is not None for v in self._values])
        y = torch.tensor([v for v in self._values if v is not None], dtype=X.dtype).unsqueeze(-1)
        with self._seeded():
            self.value_model.fit(X[ok], y)
            self.feasibility.fit(X, ok)
            costs = torch.tensor(log_cost_floor(self._costs), dtype=X.dtype).unsqueeze(-1)
            self._cost_fitted = self.settings.acquisition == "logei-cost" and float(costs.std()) > 1e-6
            if self._cost_fitted:
                self.cost_model.fit(X, costs)
        self._X_ok = X[ok]
        self._plain = None
        self._fitted_rows = len(self._rows)
        self.version += 1

    def _acquisition(self, X_pending: torch.Tensor | None) -> GuidedAcquisition:
        assert self.value_model.model is not None and self._X_ok is not None
        return build_acquisition(
            self.settings.acquisition, self.value_model.model, X_baseline=self._X_ok, X_pending=X_pending,
            cost=self.cost_model.model if self._cost_fitted else None,
            feasibility=self.feasibility if self.feasibility.model is not None else None,
            seed=self.seed + self.version,
        )

    def _refine(self, game: Game, acquisition: GuidedAcquisition, X: torch.Tensor, scores: torch.Tensor,
                fallback: State) -> State:
        """Optimise the free continuous slots of the best candidates; keep the fallback if no better."""
        spread = X.max(0).values - X.min(0).values
        free = [i for i, f in enumerate(self.space.features) if f.kind == "numeric" and spread[i] > 1e-9]
        if not free:
            return fallback
        top = torch.topk(torch.nan_to_num(scores, nan=-math.inf), min(2, len(scores))).indices.tolist()
        fixed = [{j: float(X[t, j]) for j in range(self.space.dim) if j not in free} for t in top]
        bounds = torch.stack([X.min(0).values, X.max(0).values])  # stay inside the sampled ranges
        try:
            with warnings.catch_warnings():  # a failed local search is normal: the candidate stays
                warnings.simplefilter("ignore")
                x, value = optimize_acqf_mixed(acquisition, bounds, q=1, num_restarts=1, raw_samples=16,
                                               fixed_features_list=fixed, options={"maxiter": 30},
                                               retry_on_optimization_warning=False)
            if float(value) <= float(scores.max()):
                return fallback
            refined = game.decode(x.squeeze(0).tolist())
            if game.to_move(refined) is not Player.TERMINAL or game.state_key(refined) in self._seen:
                return fallback
            return refined
        except Exception as exc:  # a failed refinement costs nothing: the best candidate remains
            log.debug("continuous refinement failed: %s", exc)
            return fallback


def gp_surrogate(game: Game, *, seed: int = 0) -> GPEstimator:
    """Entry point of ``surrogate="gp"``."""
    return GPEstimator(game, seed=seed)
