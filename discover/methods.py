"""How a campaign chooses what to evaluate: a :class:`Proposer`, found by name.

The MCTS planner is one proposer; baselines (random search, flat BO, TPE) are others, behind the
same ask/tell interface, so every method runs in the same campaign loop with the same store,
budgets and resume. Surrogates (what guides the planner's priors and completions) are found the
same way. ``discover`` knows only the built-in names ``mcts`` and ``none``; other packages add
theirs through the entry-point groups ``discover.methods`` and ``discover.surrogates``.
"""

from __future__ import annotations

import importlib.metadata
from typing import Any, Iterable, Protocol, Sequence, runtime_checkable

from discover.errors import PluginError, SettingsError
from discover.game import Game
from discover.planner import Estimator, NodeRecord, Node, Planner, PlannerConfig, Proposal, RolloutEstimator
from discover.types import Action, Outcome, State

METHOD_GROUP = "discover.methods"
SURROGATE_GROUP = "discover.surrogates"


@runtime_checkable
class Proposer(Protocol):
    """Anything that proposes formulations by ask/tell, like :class:`~discover.planner.Planner`."""

    @property
    def exhausted(self) -> bool: ...

    def ask(self, n: int = 1) -> list[Proposal]: ...

    def tell(self, proposal: Proposal, outcome: Outcome) -> None: ...

    def forget(self, proposal: Proposal) -> None: ...

    def root_value(self) -> float | None: ...

    def take_dirty(self) -> tuple[list[Node], list[tuple[str, str, Action]]]: ...

    def restore(self, nodes: Iterable[NodeRecord], edges: Iterable[tuple[str, str, Action]],
                evaluated: dict[str, float | None], history: Sequence[tuple[State, Outcome]] = ()) -> None: ...


def _plugins(group: str) -> dict[str, importlib.metadata.EntryPoint]:
    return {ep.name: ep for ep in importlib.metadata.entry_points(group=group)}


def _require(name: str, known: Sequence[str], what: str) -> None:
    if name not in known:
        raise SettingsError(f"unknown {what} {name!r}; choose one of {', '.join(known)}")


def _load(group: str, name: str, builtin: Sequence[str], what: str) -> Any:
    eps = _plugins(group)
    _require(name, sorted({*builtin, *eps}), what)
    try:
        return eps[name].load()
    except Exception as exc:  # a plugin may fail in any way; report it, never crash
        raise PluginError(f"{what} {name!r} ({eps[name].value}) failed to import: {type(exc).__name__}: {exc}") from None


def surrogate_names() -> list[str]:
    return sorted({"none", *_plugins(SURROGATE_GROUP)})


def method_names() -> list[str]:
    return sorted({"mcts", *_plugins(METHOD_GROUP)})


def check_names(surrogate: str | Estimator, method: str) -> None:
    """Refuse an unknown surrogate or method name up front, before a campaign creates its database."""
    if isinstance(surrogate, str):
        _require(surrogate, surrogate_names(), "surrogate")
    _require(method, method_names(), "method")


def default_surrogate(game: Game) -> str:
    """``gp`` for games whose evaluations are expensive (when installed), else ``none``."""
    return "gp" if game.expensive and "gp" in _plugins(SURROGATE_GROUP) else "none"


def make_estimator(surrogate: str | Estimator | None, game: Game, seed: int) -> Estimator:
    """An estimator by name (``none``: random rollouts), or the one given."""
    if surrogate is None:
        surrogate = default_surrogate(game)
    if not isinstance(surrogate, str):
        return surrogate
    if surrogate == "none":
        return RolloutEstimator()
    factory = _load(SURROGATE_GROUP, surrogate, ["none"], "surrogate")
    return factory(game, seed=seed)


def make_proposer(method: str, game: Game, *, estimator: Estimator, config: PlannerConfig, seed: int) -> Proposer:
    """The proposer for ``method``: ``mcts`` is the planner; others come from plugins."""
    if method == "mcts":
        return Planner(game, estimator=estimator, config=config, seed=seed)
    factory = _load(METHOD_GROUP, method, ["mcts"], "method")
    return factory(game, estimator=estimator, seed=seed)
