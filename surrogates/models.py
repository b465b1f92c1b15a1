"""Gaussian-process models of a formulation's value, its cost and its feasibility.

* Value: BoTorch ``SingleTaskGP`` (real and ordinal sites) or ``MixedSingleTaskGP`` (categorical sites),
  outputs standardised (optionally warped first, :mod:`surrogates.warping`). Fitted on OK evaluations only: failures teach the feasibility model instead.
* Cost: the same kind of GP on log seconds, so cost-aware acquisition can divide by predicted time.
* Feasibility: least-squares GP classification of ok vs. not-ok (see :class:`FeasibilityModel`).
* Constraints: one GP per constraint value a game reports (``Outcome.constraints``, batched in one model), giving
  P(all g_i <= 0) (see :class:`ConstraintModel`).

Refits are bounded: hyper-parameters are re-optimised every ``refit_every`` observations (counted
in refits: one per batch of new observations), and only once the observations grew by
``refit_share`` (2%) since the last time, so a 1000-evaluation campaign refits every 20 (a rule
that changes nothing below 100 observations; 8 decisions at 1000 observations beside a busy worker
took 3.2 s on average instead of 5.4 s, one of them a full refit of 18.7 s) (at most
``fit_iterations`` L-BFGS steps, starting from the previous values; a wall-clock bound ``fit_seconds``
is available but off by default, because it makes fits, and so campaigns, depend on machine load) and reused (warm) in between, where
conditioning on new data costs one Cholesky factorisation. Past
``max_points`` observations the training set is subsampled (a quarter chosen for what the model is
for, the rest drawn at random: the best values for the value GP, the values nearest the threshold 0
for a constraint GP, none for the cost and feasibility GPs), so an exact GP never factors more than
``max_points`` rows: O(max_points^3) per refit however long the campaign. Beyond that, a sparse/variational value GP is the next step.

The value GP keeps BoTorch's likelihood: noise variance >= 1e-4 of the standardised values, prior
LogNormal(-4, 1), although every game here is deterministic. A lower floor was measured and is not
taken (GP-MCTS and flat BO, seeds 0-2, budget 60, two campaigns side by side; final values,
minimised). Floor 1e-6, same prior: tension spring GP-MCTS 0.013419, 0.012753, 0.013132 ->
0.012700, 0.012723, 0.013132, but flat BO 0.016118, 0.013638, 0.013311 -> 0.015995, 0.018595,
0.013311. Floor 1e-6 with prior LogNormal(-11.5, 2): spring GP-MCTS 0.012841, 0.012982, 0.012843,
flat BO 0.015470, 0.013079, 0.027060; pressure vessel seed 0 worse for both (GP-MCTS 6086 ->
6228, flat BO 6103 -> 6373), seed 1 unchanged (6247, 6093). Against the default flat BO's median
final on the spring (0.013638) GP-MCTS needed 44 evaluations by default, 37 and 42 with the floors.
"""

from __future__ import annotations

import logging
import math
import warnings

import numpy as np
import torch
from botorch.exceptions import ModelFittingError
from botorch.fit import fit_gpytorch_mll
from botorch.models import MixedSingleTaskGP, SingleTaskGP
from botorch.models.model import Model
from botorch.models.transforms.outcome import Standardize
from gpytorch.mlls import ExactMarginalLogLikelihood

from surrogates.warping import OutputWarp


log = logging.getLogger(__name__)


KEEP = ("largest", "near-zero", "none")


def subsample(X: torch.Tensor, y: torch.Tensor, max_points: int, rng: np.random.Generator,
              keep: str = "largest") -> tuple[torch.Tensor, torch.Tensor]:
    """At most ``max_points`` rows of ``n x d`` inputs and ``n x m`` targets: a quarter by ``keep``
    (the largest targets, the rows with a target nearest 0, or none), the others at random."""
    n = X.shape[0]
    if n <= max_points:
        return X, y
    priority = {"largest": y.amax(-1), "near-zero": -y.abs().amin(-1), "none": torch.zeros(n, dtype=y.dtype)}[keep]
    order = torch.argsort(priority, descending=True).numpy()
    kept = max_points // 4 if keep != "none" else 0
    rest = rng.choice(order[kept:], size=max_points - kept, replace=False)
    idx = torch.as_tensor(np.sort(np.concatenate([order[:kept], rest])))
    return X[idx], y[idx]


class WarmGP:
    """A value (or log-cost) GP refitted with warm-started hyper-parameters."""

    fit_iterations = 60  # L-BFGS steps per full refit; warm starts converge in fewer
    refit_share = 0.02  # full refits also wait until the observations grew by this share since the last
    fit_seconds: float | None = None  # optional wall-clock bound of one refit; breaks same-seed reproducibility

    def __init__(self, *, refit_every: int = 5, max_points: int = 500, seed: int = 0, keep: str = "largest",
                 warp: bool = False) -> None:
        if keep not in KEEP:
            raise ValueError(f"keep must be one of {', '.join(KEEP)}, got {keep!r}")
        self.refit_every = refit_every
        self.max_points = max_points
        self.keep = keep  # which rows a subsample favours (see subsample)
        self.warp = warp  # fit on Yeo-Johnson-warped targets (surrogates.warping)
        self.warping: OutputWarp | None = None  # the warp of the last fit
        self.rng = np.random.default_rng(seed)
        self._hypers: dict[str, torch.Tensor] | None = None
        self._dim = -1
        self._fits = 0
        self._last_full = 0  # the fit count at the last full refit
        self.model: Model | None = None

    def _build(self, X: torch.Tensor, y: torch.Tensor, cat_dims: list[int]) -> Model:
        # inputs are already in the unit cube (the space's embedding): no input transform
        # m > 1 target columns: BoTorch batches m independent GPs (own hyper-parameters) in one model
        standardize = Standardize(m=y.shape[-1])
        if cat_dims:
            return MixedSingleTaskGP(X, y, cat_dims=cat_dims, outcome_transform=standardize)
        return SingleTaskGP(X, y, outcome_transform=standardize)

    def fit(self, X: torch.Tensor, y: torch.Tensor, cat_dims: list[int]) -> Model:
        """Fit on ``n x d`` inputs (categorical columns ``cat_dims``) and ``n x m`` targets (warped first
        when ``warp``: the model, and every acquisition on it, then speak in :meth:`warped` values)."""
        rows = X.shape[0]
        X, y = subsample(X, y, self.max_points, self.rng, self.keep)
        if self.warp:
            self.warping = OutputWarp.fit(y)
            y = self.warping(y).to(y.dtype)
        model = self._build(X, y, cat_dims)
        if self._dim != X.shape[-1]:  # new decision sites appeared: hyper-parameters start afresh
            self._hypers, self._dim = None, X.shape[-1]
        full = self._hypers is None or (self._fits % self.refit_every == 0
                                        and self._fits - self._last_full >= int(self.refit_share * rows))
        if self._hypers is not None:
            model.load_state_dict(self._hypers, strict=False)
        if full:
            mll = ExactMarginalLogLikelihood(model.likelihood, model)
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    options = {"options": {"maxiter": self.fit_iterations}}
                    if self.fit_seconds is not None:
                        options["timeout_sec"] = self.fit_seconds
                    fit_gpytorch_mll(mll, optimizer_kwargs=options)
            except (ModelFittingError, RuntimeError, ValueError) as exc:  # keep the warm/prior hypers
                log.warning("GP hyper-parameter fit failed (%s); keeping previous values", exc)
            self._last_full = self._fits
        model.eval()
        self._hypers = {k: v.detach().clone() for k, v in model.state_dict().items()
                        if not k.startswith(("outcome_transform", "input_transform")) and "train" not in k}
        self._fits += 1
        self.model = model
        return model

    def warped(self, y: torch.Tensor | float) -> torch.Tensor:
        """Values in the model's scale (the identity without a warp)."""
        return self.warping(y) if self.warping is not None else torch.as_tensor(y, dtype=torch.float64)

    def unwarped(self, w: torch.Tensor | float) -> torch.Tensor:
        """The inverse of :meth:`warped`."""
        return self.warping.inverse(w) if self.warping is not None else torch.as_tensor(w, dtype=torch.float64)


class FeasibilityModel:
    """Probability that a formulation evaluates OK: least-squares GP classification, probit-squashed.

    A GP regression on labels +1 (ok) / -1 (not ok) with posterior mean m and variance v gives
    P(ok) = Phi(k m / sqrt(1 + k^2 v)) with k = 2 (Rasmussen & Williams, "Gaussian Processes for
    Machine Learning", 2006, sections 3.4 and 6.5): near 1 or 0 where the labels agree, and near
    1/2 where evidence is thin, so a few early failures do not condemn a whole region. It reuses the
    value GP's mixed-input machinery (categorical kernel) and costs one warm refit; a variational
    Bernoulli classifier cost half a second per refit here. 1 everywhere until something failed.
    """

    sharpness = 2.0

    def __init__(self, *, refit_every: int = 5, max_points: int = 500, seed: int = 0) -> None:
        self.gp = WarmGP(refit_every=refit_every, max_points=max_points, seed=seed, keep="none")
        self.model: Model | None = None

    def fit(self, X: torch.Tensor, ok: torch.Tensor, cat_dims: list[int]) -> None:
        if bool(ok.all()):
            self.model = None
            return
        self.model = self.gp.fit(X, (2.0 * ok.to(X.dtype) - 1.0).unsqueeze(-1), cat_dims)

    def log_probability(self, X: torch.Tensor) -> torch.Tensor:
        """log P(ok) for ``... x q x d`` inputs, shape ``... x q``; differentiable."""
        if self.model is None:
            return torch.zeros(X.shape[:-1], dtype=X.dtype)
        posterior = self.model.posterior(X)
        k = self.sharpness
        z = k * posterior.mean.squeeze(-1) / torch.sqrt(1.0 + k**2 * posterior.variance.squeeze(-1))
        return torch.special.log_ndtr(z)


def bilog(g: torch.Tensor) -> torch.Tensor:
    """sign(g) log(1 + |g|): keeps the threshold 0 and the sign, and compresses constraint values
    that span orders of magnitude so that a stationary GP fits them [SCBO]."""
    return torch.sign(g) * torch.log1p(g.abs())


class ConstraintModel:
    """P(all constraints hold) from GPs of the constraint values a game reports [cBO].

    Each reported g_i (satisfied when <= 0) gets its own GP on bilog(g_i) [SCBO], all m of them
    batched in one multi-output model (independent GPs with their own hyper-parameters, fitted and
    queried in one call each: in a 30-evaluation pressure-vessel campaign, four separate models took
    24.5 s of fits and 48 ms per log P(feasible) call, batched 19 s and 25 ms, the campaign 93 ->
    80 s). With posterior mean m_i and standard deviation s_i,
    P(g_i <= 0) = Phi(-m_i / s_i), and the constraints are modelled as independent, so P(feasible)
    is the product. Rows that reported no constraints (a solver crash) teach nothing here; the
    :class:`FeasibilityModel` learns those. Games report a fixed number of constraints; rows of
    another length are left out.

    [cBO]  Gardner, Kusner, Xu, Weinberger, Cunningham, "Bayesian optimization with inequality
           constraints", ICML 2014.
    [SCBO] Eriksson & Poloczek, "Scalable constrained Bayesian optimization", AISTATS 2021.
    """

    def __init__(self, *, refit_every: int = 5, max_points: int = 500, seed: int = 0) -> None:
        self._settings = dict(refit_every=refit_every, max_points=max_points, seed=seed + 7, keep="near-zero")
        self._gp: WarmGP | None = None
        self._outputs = 0
        self.model: Model | None = None  # m outputs, one per constraint

    @property
    def fitted(self) -> bool:
        return self.model is not None

    @staticmethod
    def usable(constraints: list[tuple[float, ...]]) -> list[int]:
        """The rows that reported the usual (most frequent) number of constraints."""
        lengths = [len(g) for g in constraints if g]
        if not lengths:
            return []
        m = max(set(lengths), key=lengths.count)
        return [i for i, g in enumerate(constraints) if len(g) == m]

    def fit(self, X: torch.Tensor, constraints: list[tuple[float, ...]], cat_dims: list[int]) -> None:
        """Fit on the rows of ``X`` whose ``constraints`` (one tuple per row, () when not reported)
        have the usual length; nothing is modelled while fewer than two rows reported them."""
        rows = self.usable(constraints)
        if len(rows) < 2:
            self.model = None
            return
        m = len(constraints[rows[0]])
        if self._gp is None or self._outputs != m:  # another number of outputs: hyper-parameters afresh
            self._gp, self._outputs = WarmGP(**self._settings), m
        G = bilog(torch.tensor([constraints[i] for i in rows], dtype=X.dtype))
        self.model = self._gp.fit(X[rows], G, cat_dims)

    def log_probability(self, X: torch.Tensor) -> torch.Tensor:
        """log P(all g_i <= 0) for ``... x q x d`` inputs, shape ``... x q``; differentiable, and
        exact far from the feasible region too (log Phi, not log of an underflowed Phi), so the
        search can climb towards feasibility before it has seen any."""
        if self.model is None:
            return torch.zeros(X.shape[:-1], dtype=X.dtype)
        posterior = self.model.posterior(X)
        mean, std = posterior.mean, posterior.variance.clamp_min(1e-12).sqrt()  # ... x q x m
        return torch.special.log_ndtr(-mean / std).sum(-1)


def log_cost_floor(costs: list[float]) -> list[float]:
    """Log seconds with a floor, so instant evaluations do not dominate the cost model."""
    return [math.log(max(c, 1e-3)) for c in costs]


def leave_one_out(model: Model) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Exact leave-one-out predictions of a fitted exact GP at its own training points, in the
    targets' units: (observed, mean, std), each of shape ``n``.

    With K = k(X, X) + noise I and alpha = K^-1 (y - m(X)), the prediction of y_i from the other
    n - 1 points has mean y_i - alpha_i / [K^-1]_ii and variance 1 / [K^-1]_ii (Rasmussen and
    Williams, eq. 5.12): one Cholesky factorisation instead of n refits, hyper-parameters fixed.
    """
    X, y = model.train_inputs[0], model.train_targets
    with torch.no_grad():
        noise = model.likelihood.noise.expand(X.shape[0])
        K = model.covar_module(X).to_dense() + torch.diag_embed(noise)
        inverse = torch.cholesky_inverse(torch.linalg.cholesky(K))
        diagonal = inverse.diagonal()
        mean = y - (inverse @ (y - model.mean_module(X))) / diagonal
        observed, _ = model.outcome_transform.untransform(y.unsqueeze(-1))
        mean, variance = model.outcome_transform.untransform(mean.unsqueeze(-1), (1 / diagonal).unsqueeze(-1))
    return observed.squeeze(-1), mean.squeeze(-1), variance.clamp_min(0).sqrt().squeeze(-1)
