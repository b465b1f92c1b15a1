"""Bayesian surrogates (BoTorch / GPyTorch) that guide the planner through its Estimator seam."""
