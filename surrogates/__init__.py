"""Bayesian surrogates (BoTorch / GPyTorch) that guide the planner, and the baselines to beat.

``surrogate="gp"`` (CLI ``--surrogate gp``) plugs :class:`GPEstimator` into the planner's Estimator
seam; ``method="random" | "flat-bo" | "tpe" | "ax"`` runs a baseline in the same campaign loop.
"""

from surrogates.baselines import AxSearch, FlatBO, RandomSearch, TPESearch
from surrogates.estimator import GPEstimator, GPSettings

__all__ = ["AxSearch", "FlatBO", "GPEstimator", "GPSettings", "RandomSearch", "TPESearch"]
