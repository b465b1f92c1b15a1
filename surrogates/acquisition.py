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
not a product, since UCB is not a positive quantity).
"""

from __future__ import annotations

import torch
from botorch.acquisition import AcquisitionFunction, qUpperConfidenceBound
from botorch.acquisition.logei import qLogNoisyExpectedImprovement
from botorch.models.model import Model
from botorch.sampling import SobolQMCNormalSampler

from surrogates.models import FeasibilityModel

KINDS = ("logei", "logei-cost", "ucb")


class GuidedAcquisition(AcquisitionFunction):
    """A base acquisition with the cost and feasibility models folded in (see module docstring)."""

    def __init__(self, base: AcquisitionFunction, *, cost: Model | None = None,
                 feasibility: FeasibilityModel | None = None) -> None:
        super().__init__(model=base.model)
        self.base = base
        self.cost = cost
        self.feasibility = feasibility

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        score = self.base(X)
        if self.cost is not None:
            score = score - self.cost.posterior(X).mean.squeeze(-1).sum(-1)
        if self.feasibility is not None:
            score = score + torch.log(self.feasibility.probability(X).clamp_min(1e-9)).sum(-1)
        return score


def build_acquisition(kind: str, model: Model, *, X_baseline: torch.Tensor, X_pending: torch.Tensor | None,
                      cost: Model | None = None, feasibility: FeasibilityModel | None = None,
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
    return GuidedAcquisition(base, cost=cost if kind == "logei-cost" else None, feasibility=feasibility)
