"""How a campaign chooses what to evaluate: a :class:`Proposer`, found by name.

The MCTS planner is one proposer; baselines (random search, flat BO, TPE) are others, behind the
same ask/tell interface, so every method runs in the same campaign loop with the same store,
budgets and resume. A proposer that keeps a search tree also implements :class:`TreeProposer`, and
the campaign then persists its tree. Surrogates (what guides the planner's priors and completions)
are found the same way. ``discover`` knows only the built-in names ``mcts`` and ``none``; other
packages add theirs through the entry-point groups ``discover.methods`` and ``discover.surrogates``.
"""

from __future__ import annotations

from typing import Any, Iterable, Protocol, Sequence, runtime_checkable

from discover.errors import SettingsError
from discover.game import Game
from discover.planner import Estimator, Planner, Proposal, RolloutEstimator
from discover.plugins import load_plugin, plugins
from discover.types import EdgeRecord, EvaluationRecord, NodeRecord, Outcome, PlannerConfig

METHOD_GROUP = "discover.methods"
SURROGATE_GROUP = "discover.surrogates"


@runtime_checkable
class Proposer(Protocol):
    """Anything that proposes formulations by ask/tell, like :class:`~discover.planner.Planner`.

    Every proposal handed out by ``ask`` comes back exactly once, through ``tell`` (it finished) or
    ``forget`` (it was cancelled and may be proposed again).
    """

    @property
    def exhausted(self) -> bool: ...

    def ask(self, n: int = 1) -> list[Proposal]: ...

    def tell(self, proposal: Proposal, outcome: Outcome) -> None: ...

    def forget(self, proposal: Proposal) -> None: ...

    def root_value(self) -> float | None: ...

    def replay(self, history: Sequence[EvaluationRecord]) -> None:
        """Learn finished evaluations it did not propose, states loaded: an earlier run's (on resume)
        and the game's starting formulations (:meth:`~discover.game.Game.starting_states`)."""


@runtime_checkable
class TreeProposer(Proposer, Protocol):
    """A proposer whose search tree the store keeps, so that a resumed run continues it."""

    def take_dirty(self) -> tuple[list[NodeRecord], list[EdgeRecord]]: ...

    def restore_tree(self, nodes: Iterable[NodeRecord], edges: Iterable[EdgeRecord]) -> None: ...


def _require(name: str, known: Sequence[str], what: str) -> None:
    if name not in known:
        raise SettingsError(f"unknown {what} {name!r}; choose one of {', '.join(known)}")


def surrogate_names() -> list[str]:
    return sorted({"none", *plugins(SURROGATE_GROUP)})


def method_names() -> list[str]:
    return sorted({"mcts", *plugins(METHOD_GROUP)})


def check_names(surrogate: str | Estimator | None, method: str) -> None:
    """Refuse an unknown surrogate or method name up front, before a campaign creates its database."""
    if isinstance(surrogate, str):
        _require(surrogate, surrogate_names(), "surrogate")
    _require(method, method_names(), "method")


def default_surrogate(game: Game) -> str:
    """The game's own choice when it names an installed one, else ``gp`` for games whose evaluations
    are expensive (when installed), else ``none``."""
    installed = plugins(SURROGATE_GROUP)
    if game.surrogate is not None and game.surrogate in installed:
        return game.surrogate
    return "gp" if game.expensive and "gp" in installed else "none"


def surrogate_planner(surrogate: str | Estimator) -> PlannerConfig:
    """The planner settings a surrogate's priors suit: plain UCT for rollouts (``none``), what the
    surrogate declares (a ``planner`` attribute on its factory or object), else PUCT following its
    acquisition (:meth:`PlannerConfig.guided`)."""
    if surrogate == "none":
        return PlannerConfig()
    source = load_plugin(SURROGATE_GROUP, surrogate, "surrogate") if isinstance(surrogate, str) else surrogate
    declared = getattr(source, "planner", None)
    return declared if isinstance(declared, PlannerConfig) else PlannerConfig.guided()


def make_estimator(surrogate: str | Estimator | None, game: Game, seed: int) -> Estimator:
    """An estimator by name (``none``: random rollouts), or the one given."""
    if surrogate is None:
        surrogate = default_surrogate(game)
    if not isinstance(surrogate, str):
        return surrogate
    if surrogate == "none":
        return RolloutEstimator()
    _require(surrogate, surrogate_names(), "surrogate")
    return load_plugin(SURROGATE_GROUP, surrogate, "surrogate")(game, seed=seed)


def make_proposer(method: str, game: Game, *, estimator: Estimator, config: PlannerConfig, seed: int) -> Proposer:
    """The proposer for ``method``: ``mcts`` is the planner; others come from plugins."""
    if method == "mcts":
        return Planner(game, estimator=estimator, config=config, seed=seed)
    _require(method, method_names(), "method")
    factory: Any = load_plugin(METHOD_GROUP, method, "method")
    return factory(game, estimator=estimator, seed=seed)
