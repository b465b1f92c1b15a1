"""The sphere-packing bound game: pick a bound family, assemble its formulation, solve it, verify it.

The first move picks the family; the family's own components follow (the game's slots, see
:mod:`games.slots`, one list per family: :meth:`SpherePackingGame.slots_of`):

* ``cohn-elkies``: the degree, the basis the (sampled, exchange) LP sees, the LP solver, and the
  margin by which the sign conditions are imposed. The radius search gets two thirds of the
  evaluation's time limit (45 s by default) and the exact check the rest. A campaign starts with
  the formulation of ``cohn_elkies_bound(n, d)`` at the largest degree d allowed (its starting
  state), so it never ends above that one library call unless the call fails or times out;
* ``three-point`` (:mod:`.three_point_family`): the truncated three-point bound of Cohn, de Laat and
  Salmon, its f2 degree, kernel degree, truncation R / r, SDP solver, margin, radius scale and
  block shape (600 s by default); its campaigns start with the formulation of the library call
  ``three_point_bound(n)`` (degree 7, kernel degree 6: n = 4 verified 0.6448690 in 24 s).

``FAMILIES`` maps each family to its :class:`~games.sphere_packing.family.Family`; the ``families``
parameter says which ones a campaign searches (one by default, so its states encode as fixed-length
features; with several, the surrogates encode the conditional space from the tree's decisions).

Value: minus the verified density bound (maximised by the searcher). A solve that fails, or whose
certificate does not survive the exact check of :mod:`.verify`, is recorded as failed with the reason.
``verify`` re-derives every claim in a stored outcome from its exact coefficients: a claimed density,
centre density or radius below the recomputed one, by any amount, is refused.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from fractions import Fraction
from typing import Any, Sequence

from discover.decimals import decimal_up
from discover.game import Param
from discover.types import EvalContext, Objective, Outcome
from games.slots import Slot, SlotGame
from games.sphere_packing.bases import BASES
from games.sphere_packing.bound import BoundResult, Formulation, solve_formulation
from games.sphere_packing.family import Family, bound_outcome
from games.sphere_packing.solve import DEFAULT_MARGIN, LP_SOLVERS
from games.sphere_packing.three_point_family import (
    DEFAULT_MAX_DEGREE,
    KERNEL_DEGREES,
    THREE_POINT,
)
from games.sphere_packing.three_point_family import DEGREES as F2_DEGREES
from games.sphere_packing.verify import verify_certificate

DEGREES = (7, 11, 15, 19, 23, 27, 31, 35, 39, 43, 47, 51, 55, 59, 63)
MARGINS = (1e-6, 1e-7, 1e-8)  # 1e-10 (HiGHS tolerance 1e-11) failed in dimensions 8 and 24: beyond what HiGHS meets
SOLVERS = tuple(LP_SOLVERS)
SEARCH_SHARE = 2 / 3  # of the evaluation's time limit for the radius search; the exact check uses the rest


def describe_bound(result: BoundResult) -> str:
    """One line a researcher reads: the bound, the radius and the function."""
    if not result.verified:
        return f"not verified: {result.reason}"
    n = result.formulation.dimension
    head = ", ".join(f"{float(a):.6g}" for a in result.coefficients[:4])
    more = ", ..." if len(result.coefficients) > 4 else ""
    # each printed number rounded up: a bound still, and f <= 0 beyond the printed radius too
    return (f"density <= {decimal_up(result.density, 9)} (center density <= {decimal_up(result.center_density, 9)}), "
            f"r = {decimal_up(result.radius)}; "
            f"f(x) = sum_k a_k L_k^({n}/2-1)(2 pi |x|^2) exp(-pi |x|^2), a = [{head}{more}] "
            f"({len(result.coefficients)} exact rationals in the artifacts)")


def lp_formulation(dimension: int, components: tuple) -> Formulation:
    degree, basis, solver, margin = components
    return Formulation(dimension, degree, basis, solver, margin, tolerance=margin / 10)


def _lp_slots(game: Any) -> tuple[Slot, ...]:
    return (Slot("degree", tuple(d for d in DEGREES if d <= game.max_degree)), Slot("basis", BASES),
            Slot("solver", SOLVERS), Slot("margin", MARGINS, log=True))


def _lp_start(game: Any) -> tuple[tuple, ...]:
    """The formulation of the library call ``cohn_elkies_bound(n, d)`` at the largest degree d the
    game allows (its basis, solver and margin), so that a campaign never ends above that one call."""
    return ((_lp_slots(game)[0].choices[-1], "laguerre", "highs", DEFAULT_MARGIN),)


def _lp_evaluate(game: Any, components: tuple, context: EvalContext) -> Outcome:
    start = time.perf_counter()
    result = solve_formulation(lp_formulation(game.dimension, components), time_limit=context.time_for(SEARCH_SHARE))
    cost = time.perf_counter() - start
    artifacts = {**result.artifacts(), "summary": describe_bound(result)}
    return bound_outcome(game.dimension, result, cost, artifacts)


def _lp_verify(game: Any, components: tuple, outcome: Outcome) -> str | None:
    """Re-derive every claim of a stored outcome from its exact coefficients (one-sided: a claim may
    be weaker than the recomputed bound, never stronger by any amount)."""
    art = outcome.artifacts
    try:
        coefficients = [Fraction(a) for a in art["coefficients"]]
        stored = {field: art[field] for field in ("verified", "density", "center_density", "radius", "summary")}
        stored_formulation = art["formulation"]
    except (KeyError, TypeError, ValueError) as exc:
        return f"the artifacts lack a readable certificate field: {exc}"
    formulation = lp_formulation(game.dimension, components)
    if stored_formulation != asdict(formulation):
        return f"the stored formulation {stored_formulation} is not the one this state and game describe"
    if len(coefficients) != components[0] + 1:
        return f"{len(coefficients)} coefficients stored for degree {components[0]}"
    check = verify_certificate(game.dimension, coefficients)
    if not check.verified:
        return check.reason
    if stored["verified"] is not True:
        return "the stored result is not marked verified"
    claims = {"value (minus the density)": (-outcome.value, check.density),
              "density": (stored["density"], check.density),
              "center_density": (stored["center_density"], check.center_density),
              "radius": (stored["radius"], check.radius)}
    for name, (claimed, proven) in claims.items():
        if isinstance(claimed, bool) or not isinstance(claimed, (int, float)) or not claimed >= proven:
            return f"the stored {name} {claimed!r} is below the re-verified {proven!r}"
    shown = BoundResult(formulation, True, stored["density"], stored["center_density"], stored["radius"],
                        tuple(coefficients))
    if stored["summary"] != describe_bound(shown):
        return "the stored summary does not describe the stored certificate"
    return None


FAMILIES: dict[str, Family] = {
    "cohn-elkies": Family(_lp_slots, _lp_evaluate, _lp_verify, timeout=45.0, start=_lp_start),
    "three-point": THREE_POINT,
}


class SpherePackingGame(SlotGame):
    """Upper bounds on the sphere-packing density of R^n from the chosen families, assembled and verified."""

    name = "sphere-packing"
    quantity = Objective("density bound", "min")
    expensive = True
    params = (
        Param("dimension", "int", 4, "dimension n of the packing problem"),
        Param("max_degree", "int", DEGREES[-1], "largest polynomial degree of the cohn-elkies family"),
        Param("max_kernel_degree", "int", KERNEL_DEGREES[-1], "largest kernel degree D of the three-point family"),
        Param("max_f2_degree", "int", DEFAULT_MAX_DEGREE,
              f"largest f2 degree of the three-point family (of {', '.join(map(str, F2_DEGREES))})"),
        Param("families", "str", "cohn-elkies", f"comma-separated bound families to search: {', '.join(FAMILIES)}"),
    )

    def __init__(self, dimension: int = 4, max_degree: int = DEGREES[-1],
                 max_kernel_degree: int = KERNEL_DEGREES[-1], families: str = "cohn-elkies",
                 max_f2_degree: int = DEFAULT_MAX_DEGREE) -> None:
        if dimension < 1 or ("three-point" in families and dimension < 2):
            raise ValueError(f"dimension must be a positive integer (>= 2 for three-point), got {dimension}")
        if max_degree < DEGREES[0]:
            raise ValueError(f"max_degree must be at least {DEGREES[0]}, got {max_degree}")
        if max_kernel_degree < KERNEL_DEGREES[0]:
            raise ValueError(f"max_kernel_degree must be at least {KERNEL_DEGREES[0]}, got {max_kernel_degree}")
        if max_f2_degree < F2_DEGREES[0]:
            raise ValueError(f"max_f2_degree must be at least {F2_DEGREES[0]}, got {max_f2_degree}")
        chosen = tuple(dict.fromkeys(f.strip() for f in families.split(",") if f.strip()))
        unknown = [f for f in chosen if f not in FAMILIES]
        if unknown or not chosen:
            raise ValueError(f"families must be a comma-separated list of {', '.join(FAMILIES)}, got {families!r}")
        self.dimension, self.max_degree, self.max_kernel_degree = dimension, max_degree, max_kernel_degree
        self.max_f2_degree = max_f2_degree
        self.families = ",".join(chosen)
        self.family_slot = Slot("family", chosen)
        self._slots = {f: (self.family_slot, *FAMILIES[f].slots(self)) for f in chosen}
        # one family: fixed slots (and features); several: conditional slots, encoded from the tree
        self.slots = self._slots[chosen[0]] if len(chosen) == 1 else ()
        self.default_timeout = max(FAMILIES[f].timeout for f in chosen)

    def slots_of(self, state: tuple) -> Sequence[Slot]:
        return self._slots[state[0]] if state else (self.family_slot,)

    def evaluate(self, state: tuple, context: EvalContext) -> Outcome:
        return FAMILIES[state[0]].evaluate(self, state[1:], context)

    def starting_states(self) -> Sequence[tuple]:
        return [(f, *components) for f in self.families.split(",") for components in FAMILIES[f].start(self)]

    def upgrade_state(self, state: tuple) -> tuple:
        family = FAMILIES.get(state[0]) if state else None
        return state if family is None else (state[0], *family.upgrade(state[1:]))

    def verify(self, state: tuple, outcome: Outcome) -> str | None:
        if outcome.value is None:
            return "the outcome carries no bound"
        return FAMILIES[state[0]].verify(self, state[1:], outcome)


class ThreePointGame(SpherePackingGame):
    """Truncated three-point upper bounds (Cohn, de Laat & Salmon) alone: the three-point family."""

    name = "sphere-packing-3pt"
    params = (
        Param("dimension", "int", 4, "dimension n of the packing problem (>= 2)"),
        Param("max_kernel_degree", "int", KERNEL_DEGREES[-1], "largest kernel degree D the search may choose"),
        Param("max_f2_degree", "int", DEFAULT_MAX_DEGREE,
              f"largest f2 degree the search may choose (of {', '.join(map(str, F2_DEGREES))}; n >= 12 needs 23-31)"),
    )

    def __init__(self, dimension: int = 4, max_kernel_degree: int = KERNEL_DEGREES[-1],
                 max_f2_degree: int = DEFAULT_MAX_DEGREE) -> None:
        super().__init__(dimension, max_kernel_degree=max_kernel_degree, families="three-point",
                         max_f2_degree=max_f2_degree)
