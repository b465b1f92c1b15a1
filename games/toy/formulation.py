"""A formulation-assembly game with a known optimum, built like the real ones.

Moves, in order: a formulation family, a polynomial basis, a degree, a numeric precision, a solver,
and a continuous scale: 3 x 4 x 8 x 3 x 3 = 864 discrete formulations times a continuum. The value
has the traps real formulation spaces have:

* a deceptive branch: ``lp`` is feasible everywhere and decent on average, but capped at 0.6;
* interactions that make whole regions infeasible: double precision beyond degree 6, the monomial
  basis beyond degree 6 (ill-conditioned), multiple precision with any solver but SDPA;
* a continuous component whose best value depends on the basis chosen three moves earlier.

Optimum 1.0 at ("sdp", "laguerre", 12, "mpfr", "sdpa", 1.3), one discrete formulation in 864, and
the scale must be within 0.14 of 1.3 to score above 0.99.
"""

from __future__ import annotations

import math
import time

from discover.game import Param
from discover.types import EvalContext, Interval, Outcome, Status
from games.slots import Slot, SlotGame

FAMILIES = ("lp", "sdp", "hybrid")
BASES = ("monomial", "chebyshev", "legendre", "laguerre")
DEGREES = (2, 4, 6, 8, 10, 12, 14, 16)
PRECISIONS = ("double", "quad", "mpfr")
SOLVERS = ("scs", "clarabel", "sdpa")
SCALE = Interval(0.5, 2.0)
SLOTS = (Slot("family", FAMILIES), Slot("basis", BASES), Slot("degree", DEGREES), Slot("precision", PRECISIONS),
         Slot("solver", SOLVERS), Slot("scale", interval=SCALE))

BASIS_QUALITY = {"monomial": 0.7, "chebyshev": 0.93, "legendre": 0.9, "laguerre": 1.0}
BEST_SCALE = {"monomial": 0.8, "chebyshev": 1.0, "legendre": 1.6, "laguerre": 1.3}
SOLVER_QUALITY = {"scs": 0.95, "clarabel": 0.98, "sdpa": 1.0}
PRECISION_QUALITY = {"double": 1.0, "quad": 0.97, "mpfr": 1.0}

State = tuple  # (family, basis, degree, precision, solver, scale), a prefix while under construction


def formulation_value(family: str, basis: str, degree: int, precision: str, solver: str,
                      scale: float) -> float | None:
    """The known objective; None where the formulation is infeasible."""
    if family == "lp":  # always solvable, never very good
        return 0.6 - 0.3 * math.exp(-degree / 4) - 0.1 * (scale - 1.0) ** 2
    if precision == "double" and degree > 6:
        return None
    if basis == "monomial" and degree > 6:
        return None
    if precision == "mpfr" and solver != "sdpa":
        return None
    fit = 1.0 - ((degree - 12) / 10) ** 2
    quality = BASIS_QUALITY[basis] * SOLVER_QUALITY[solver] * PRECISION_QUALITY[precision] * fit
    if family == "hybrid":
        quality *= 0.75
    return quality - 0.5 * (scale - BEST_SCALE[basis]) ** 2


class FormulationGame(SlotGame):
    """Assemble (family, basis, degree, precision, solver, scale); known optimum 1.0."""

    name = "toy-formulation"
    params = (Param("delay", "float", 0.0, "seconds each evaluation sleeps, to mimic a solver"),)
    optimum = 1.0
    optimal_state = ("sdp", "laguerre", 12, "mpfr", "sdpa", 1.3)
    slots = SLOTS

    def __init__(self, delay: float = 0.0) -> None:
        if delay < 0:
            raise ValueError("delay must be >= 0")
        self.delay = delay

    def evaluate(self, state: State, context: EvalContext) -> Outcome:
        start = time.perf_counter()
        if self.delay:
            time.sleep(self.delay)
        value = formulation_value(*state)
        cost = time.perf_counter() - start
        if value is None:
            return Outcome.failure(Status.INFEASIBLE, "this combination of components does not solve", cost)
        return Outcome.ok(value, {"formulation": list(state)}, cost)
