"""The sphere-packing bound game: assemble a Cohn–Elkies formulation, solve it, verify it.

Moves, in order: the formulation family, the degree, the basis the (sampled, exchange) LP sees, the
LP solver, and the margin by which the sign conditions are imposed (the game's slots, see
:mod:`games.slots`). ``FAMILIES`` maps a family to the builder of its formulation, so a second
family (the three-point bound of Cohn, de Laat and Salmon) is a new entry there with its own
components; the engine and the other families do not change. The radius search gets two thirds of
the evaluation's time limit (``default_timeout`` 45 s) and the exact check the rest.

Value: minus the verified density bound (maximised by the searcher). A solve that fails, or whose
certificate does not survive the exact check of :mod:`.verify`, is recorded as failed with the reason.
``verify`` re-derives every claim in a stored outcome from its exact coefficients: a claimed density,
centre density or radius below the recomputed one, by any amount, is refused.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from fractions import Fraction
from typing import Any

from discover.game import Param
from discover.types import EvalContext, Objective, Outcome, Status
from games.slots import Slot, SlotGame
from games.decimals import decimal_up
from games.sphere_packing.bases import BASES
from games.sphere_packing.bound import BoundResult, Formulation, solve_formulation
from games.sphere_packing.known import best_known_density
from games.sphere_packing.solve import LP_SOLVERS
from games.sphere_packing.verify import verify_certificate

DEGREES = (7, 11, 15, 19, 23, 27, 31, 35, 39, 43, 47, 51, 55, 59, 63)
MARGINS = (1e-6, 1e-7, 1e-8)  # 1e-10 (HiGHS tolerance 1e-11) failed in dimensions 8 and 24: beyond what HiGHS meets
SOLVERS = tuple(LP_SOLVERS)
SEARCH_SHARE = 2 / 3  # of the evaluation's time limit for the radius search; the exact check uses the rest


def _cohn_elkies_formulation(state: tuple, dimension: int) -> Formulation:
    _, degree, basis, solver, margin = state
    return Formulation(dimension, degree, basis, solver, margin, tolerance=margin / 10)


FAMILIES = {
    # family -> formulation builder from a complete state (the slots after the family are its components)
    "cohn-elkies": _cohn_elkies_formulation,
}


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


class SpherePackingGame(SlotGame):
    """Cohn–Elkies upper bounds on the sphere-packing density of R^n, assembled and verified."""

    name = "sphere-packing"
    quantity = Objective("density bound", "min")
    expensive = True
    default_timeout = 45.0  # two thirds for the radius search; the best radius found by then is verified
    params = (
        Param("dimension", "int", 4, "dimension n of the packing problem"),
        Param("max_degree", "int", 31, "largest polynomial degree the search may choose"),
    )

    def __init__(self, dimension: int = 4, max_degree: int = 31) -> None:
        if dimension < 1:
            raise ValueError(f"dimension must be a positive integer, got {dimension}")
        if max_degree < DEGREES[0]:
            raise ValueError(f"max_degree must be at least {DEGREES[0]}, got {max_degree}")
        self.dimension, self.max_degree = dimension, max_degree
        self.slots = (Slot("family", tuple(FAMILIES)), Slot("degree", tuple(d for d in DEGREES if d <= max_degree)),
                      Slot("basis", BASES), Slot("solver", SOLVERS), Slot("margin", MARGINS, log=True))

    def formulation(self, state: tuple) -> Formulation:
        return FAMILIES[state[0]](state, self.dimension)

    def evaluate(self, state: tuple, context: EvalContext) -> Outcome:
        start = time.perf_counter()
        result = solve_formulation(self.formulation(state), time_limit=context.time_for(SEARCH_SHARE))
        cost = time.perf_counter() - start
        artifacts = {**result.artifacts(), "summary": describe_bound(result)}
        return bound_outcome(self.dimension, result, cost, artifacts)

    def verify(self, state: tuple, outcome: Outcome) -> str | None:
        """Re-derive every claim of a stored outcome from its exact coefficients (one-sided: a claim
        may be weaker than the recomputed bound, never stronger by any amount)."""
        if outcome.value is None:
            return "the outcome carries no bound"
        art = outcome.artifacts
        try:
            coefficients = [Fraction(a) for a in art["coefficients"]]
            stored = {field: art[field] for field in ("verified", "density", "center_density", "radius", "summary")}
            formulation = art["formulation"]
        except (KeyError, TypeError, ValueError) as exc:
            return f"the artifacts lack a readable certificate field: {exc}"
        if formulation != asdict(self.formulation(state)):
            return f"the stored formulation {formulation} is not the one this state and game describe"
        if len(coefficients) != state[1] + 1:
            return f"{len(coefficients)} coefficients stored for degree {state[1]}"
        check = verify_certificate(self.dimension, coefficients)
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
        shown = BoundResult(self.formulation(state), True, stored["density"], stored["center_density"],
                            stored["radius"], tuple(coefficients))
        if stored["summary"] != describe_bound(shown):
            return "the stored summary does not describe the stored certificate"
        return None
