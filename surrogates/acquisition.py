"""Acquisition functions that rank candidate formulations, in log space where it matters.

[LogEI] Ament et al., "Unexpected improvements to expected improvement for Bayesian optimization",
        NeurIPS 2023 (qLogNoisyExpectedImprovement: log-space, noisy, batch).
[UCB]   Srinivas et al., "Gaussian process optimization in the bandit setting", ICML 2010.
[EIpu]  Snoek, Larochelle, Adams, "Practical Bayesian optimization of machine learning
        algorithms", NeurIPS 2012 (EI per second).

Every kind returns, for ``b x q x d`` inputs, a ``b`` tensor of scores to maximise:

* ``logei``: log qNEI [LogEI], with pending evaluations as fantasies (``X_pending``);
* ``logei-cost``: log qNEI minus the predicted log seconds (EI per second [EIpu]);
* ``ucb``: qUCB with beta = 2 [UCB].

The probability of feasibility multiplies in: its log is added (for UCB this is a soft penalty,
not a product, since UCB is not a positive quantity). Before two formulations were feasible there
is no value model, and the score is the log-probability of feasibility alone: the search looks for
the feasible region first, as constrained BO does [cBO].

[cBO]   Gardner, Kusner, Xu, Weinberger, Cunningham, "Bayesian optimization with inequality
        constraints", ICML 2014.
"""

from __future__ import annotations

from typing import Callable

import torch
from botorch.acquisition import AcquisitionFunction, qUpperConfidenceBound
from botorch.acquisition.analytic import LogExpectedImprovement, UpperConfidenceBound
from botorch.acquisition.logei import qLogNoisyExpectedImprovement
from botorch.models.model import Model
from botorch.sampling import SobolQMCNormalSampler


LogProbability = Callable[[torch.Tensor], torch.Tensor]  # log P(feasible) of ``... x q x d`` inputs, ``... x q``
KINDS = ("logei", "logei-cost", "ucb")


class GuidedAcquisition(AcquisitionFunction):
    """A base acquisition with the cost and feasibility models folded in (see module docstring)."""

    def __init__(self, base: AcquisitionFunction | None, *, model: Model, cost: Model | None = None,
                 feasibility: LogProbability | None = None) -> None:
        super().__init__(model=model)
        self.base = base
        self.cost = cost
        self.feasibility = feasibility

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        score = self.base(X) if self.base is not None else torch.zeros(X.shape[:-2], dtype=X.dtype)
        if self.cost is not None:
            score = score - self.cost.posterior(X).mean.squeeze(-1).sum(-1)
        if self.feasibility is not None:
            score = score + self.feasibility(X).sum(-1)
        return score


def feasibility_search(model: Model, feasibility: LogProbability) -> GuidedAcquisition:
    """log P(feasible) alone: the score before any value model exists (see the module docstring)."""
    return GuidedAcquisition(None, model=model, feasibility=feasibility)


def build_acquisition(kind: str, model: Model, *, X_baseline: torch.Tensor, X_pending: torch.Tensor | None,
                      cost: Model | None = None, feasibility: LogProbability | None = None,
                      seed: int = 0, mc_samples: int = 128) -> GuidedAcquisition:
    """The acquisition ``kind`` over ``model``, pending points as fantasies."""
    if kind not in KINDS:
        raise ValueError(f"unknown acquisition {kind!r}; choose one of {', '.join(KINDS)}")
    sampler = SobolQMCNormalSampler(sample_shape=torch.Size([mc_samples]), seed=seed)
    if kind == "ucb":
        base: AcquisitionFunction = qUpperConfidenceBound(model, beta=2.0, sampler=sampler, X_pending=X_pending)
    else:
        base = qLogNoisyExpectedImprovement(model, X_baseline=X_baseline, sampler=sampler, X_pending=X_pending,
                                            prune_baseline=True, cache_root=False)
    return GuidedAcquisition(base, model=model, cost=cost if kind == "logei-cost" else None, feasibility=feasibility)


def analytic_acquisition(kind: str, model: Model, *, best_f: float, cost: Model | None = None,
                         feasibility: LogProbability | None = None) -> GuidedAcquisition:
    """The closed-form, single-point twin of ``kind`` (log EI over the best value observed, or UCB),
    without pending points: an order of magnitude cheaper to evaluate and differentiate than the
    Monte Carlo one, so gradient steps use it; candidates are still ranked by the full acquisition."""
    if kind == "ucb":
        base: AcquisitionFunction = UpperConfidenceBound(model, beta=2.0)
    else:
        base = LogExpectedImprovement(model, best_f=best_f)
    return GuidedAcquisition(base, model=model, cost=cost if kind == "logei-cost" else None, feasibility=feasibility)
