"""discover: search over formulation games with MCTS, guided by Bayesian surrogates.

The public API lives here; everything else is an implementation module.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("discover")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0+unknown"

from discover.campaign import Campaign, CampaignResult, open  # noqa: E402
from discover.dispatch import Backend, InlineBackend, ProcessBackend  # noqa: E402
from discover.errors import (  # noqa: E402
    DiscoverError, GameError, ParameterError, PluginError, SettingsError, StoreError, UnknownGameError,
)
from discover.game import Feature, Game, Param, available_games, load_game, register_game  # noqa: E402
from discover.planner import Estimator, Planner, PlannerConfig, RolloutEstimator  # noqa: E402
from discover.check import check_game  # noqa: E402
from discover.store import Store  # noqa: E402
from discover.types import (  # noqa: E402
    CampaignSettings, EvalContext, EvaluationRecord, Event, EventKind, Interval, Job, JobResult, Objective, Outcome,
    Player, Resources, Sampler, Status,
)

__all__ = [
    "Backend", "Campaign", "CampaignResult", "CampaignSettings", "DiscoverError", "EvalContext",
    "EvaluationRecord", "Event", "EventKind", "Estimator", "Feature", "Game", "GameError", "InlineBackend",
    "Interval", "Job", "JobResult", "Objective", "Outcome", "Param", "ParameterError", "Planner", "PlannerConfig",
    "PluginError", "Player", "check_game",
    "ProcessBackend", "Resources", "RolloutEstimator", "Sampler", "SettingsError", "Status", "Store",
    "StoreError", "UnknownGameError", "__version__", "available_games", "load_game", "open",
    "register_game",
]
