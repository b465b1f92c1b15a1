"""A family of density bounds, as the sphere-packing game sees it: its moves, evaluation and check.

The game's first move picks a family; the family's own slots follow (a Cohn–Elkies LP and a
three-point SDP are assembled from different components), then the complete state is evaluated by
the family and re-checked by it. Adding a family is one :class:`Family` value in
:data:`games.sphere_packing.game.FAMILIES`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from discover.types import EvalContext, Outcome, Status
from games.slots import Slot
from games.sphere_packing.known import best_known_density


@dataclass(frozen=True)
class Family:
    """``slots(game)``: the components after the family move (they may depend on the game's
    parameters); ``evaluate(game, components, context)`` and ``verify(game, components, outcome)``
    take the components only (the state without its family); ``timeout``: seconds one evaluation
    needs by default (the game's default is the largest of its families'); ``upgrade``: stored
    components of an earlier version of the family in today's form (:meth:`Game.upgrade_state`);
    ``start(game)``: the components a campaign evaluates first (:meth:`Game.starting_states`)."""

    slots: Callable[[Any], tuple[Slot, ...]]
    evaluate: Callable[[Any, tuple, EvalContext], Outcome]
    verify: Callable[[Any, tuple, Outcome], str | None]
    timeout: float
    upgrade: Callable[[tuple], tuple] = tuple
    start: Callable[[Any], tuple[tuple, ...]] = lambda game: ()


def bound_outcome(dimension: int, result: Any, cost: float, artifacts: dict) -> Outcome:
    """The outcome of a density bound (any result with ``verified``, ``reason`` and ``density``):
    minus the bound when verified; a failure when not, or when it is below the densest packing
    known, which no true upper bound can be (a bug)."""
    if not result.verified:
        return Outcome(None, Status.FAILED, cost, artifacts, result.reason)
    known = best_known_density(dimension)
    if known is not None and result.density < known:
        return Outcome(None, Status.FAILED, cost, artifacts,
                       f"bound {result.density} is below the known packing density {known}: a bug")
    return Outcome.ok(-result.density, artifacts, cost)
