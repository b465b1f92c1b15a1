"""Monte Carlo tree search over games: one ask/tell loop, selection rules passed in by name."""

from discover.planner.estimator import Estimator, Priors, RolloutEstimator
from discover.planner.search import Planner, Proposal
from discover.planner.selection import RULES, puct, uct
from discover.planner.tree import Node
from discover.types import PlannerConfig

__all__ = [
    "Estimator", "Node", "Planner", "PlannerConfig", "Priors", "Proposal", "RULES",
    "RolloutEstimator", "puct", "uct",
]
