"""The three-point bound game: assemble a truncated three-point formulation, solve it, verify it.

Its moves differ from the Cohn–Elkies game's (:mod:`.game`): the f2 degree, the kernel degree D of
the three-point polynomial (the building blocks: Gegenbauer degrees 0..D with radial monomials of
degree <= (D - k)/2), the continuous truncation ratio R / r (chosen by the surrogate), the SDP
solver and the margin of the sampled conditions. So it is its own slot game rather than a
``FAMILIES`` entry (the slots of :class:`SlotGame` are one list for the whole game; per-family slot
lists would be an engine change).

Value: minus the verified density bound; unverified results are failures with the reason.
``verify`` re-checks the stored exact certificate from scratch (:mod:`.three_point_verify`).
"""

from __future__ import annotations

import time
from dataclasses import asdict
from fractions import Fraction
from functools import lru_cache

from discover.game import Param
from discover.types import EvalContext, Interval, Objective, Outcome
from games.slots import Slot, SlotGame
from games.sphere_packing.bound import cohn_elkies_bound
from games.sphere_packing.game import bound_outcome
from games.sphere_packing.three_point import SDP_SOLVERS, ThreePointFormulation
from games.sphere_packing.three_point_bound import three_point_bound
from games.sphere_packing.three_point_verify import (
    ThreePointCertificate,
    verify_three_point,
)

DEGREES = (7, 11, 15)
KERNEL_DEGREES = (4, 6, 8, 10)
MARGINS = (1e-4, 1e-3)
TRUNCATION = Interval(1.1, 1.9)  # R / r; R < 2r keeps every triple of lengths in [r, R] a triangle


@lru_cache(maxsize=32)
def _lp_radius(dimension: int, degree: int) -> float:
    """r of the Cohn–Elkies optimum at this degree (where the three-point function starts)."""
    lp = cohn_elkies_bound(dimension, degree)
    if not lp.verified:
        raise RuntimeError(f"no Cohn–Elkies radius in dimension {dimension}, degree {degree}: {lp.reason}")
    return lp.radius


def certificate_of(artifacts: dict) -> ThreePointCertificate:
    """The exact certificate stored in an outcome's artifacts."""
    cert = artifacts["certificate"]
    return ThreePointCertificate(int(cert["dimension"]), Fraction(cert["r"]), Fraction(cert["R"]),
                                 tuple(Fraction(a) for a in cert["f2"]),
                                 tuple(tuple(tuple(Fraction(v) for v in row) for row in q) for q in cert["blocks"]))


class ThreePointGame(SlotGame):
    """Truncated three-point upper bounds (Cohn, de Laat & Salmon) on the packing density of R^n."""

    name = "sphere-packing-3pt"
    quantity = Objective("density bound", "min")
    expensive = True
    default_timeout = 600.0
    params = (
        Param("dimension", "int", 4, "dimension n of the packing problem (>= 2)"),
        Param("max_kernel_degree", "int", 8, "largest kernel degree D the search may choose"),
    )

    def __init__(self, dimension: int = 4, max_kernel_degree: int = 8) -> None:
        if dimension < 2:
            raise ValueError(f"dimension must be an integer >= 2, got {dimension}")
        if max_kernel_degree < KERNEL_DEGREES[0]:
            raise ValueError(f"max_kernel_degree must be at least {KERNEL_DEGREES[0]}, got {max_kernel_degree}")
        self.dimension, self.max_kernel_degree = dimension, max_kernel_degree
        self.slots = (Slot("degree", DEGREES),
                      Slot("kernel_degree", tuple(d for d in KERNEL_DEGREES if d <= max_kernel_degree)),
                      Slot("truncation", interval=TRUNCATION), Slot("solver", tuple(SDP_SOLVERS)),
                      Slot("margin", MARGINS, log=True))

    def formulation(self, state: tuple) -> ThreePointFormulation:
        degree, kernel, _, solver, margin = state
        return ThreePointFormulation(self.dimension, degree, kernel, solver, margin)

    def evaluate(self, state: tuple, context: EvalContext) -> Outcome:
        start = time.perf_counter()
        degree, kernel, truncation, solver, margin = state
        result = three_point_bound(self.dimension, degree, kernel, radius=_lp_radius(self.dimension, degree),
                                   truncation=truncation, solver=solver, margin=margin)
        cost = time.perf_counter() - start
        return bound_outcome(self.dimension, result, cost, result.artifacts())

    def verify(self, state: tuple, outcome: Outcome) -> str | None:
        """Re-check the stored exact certificate; the claimed bound may not be below the re-verified one."""
        if outcome.value is None:
            return "the outcome carries no bound"
        try:
            cert = certificate_of(outcome.artifacts)
            claimed = outcome.artifacts["density"]
            stored = outcome.artifacts["formulation"]
        except (KeyError, TypeError, ValueError) as exc:
            return f"the artifacts lack a readable certificate: {exc}"
        if stored != asdict(self.formulation(state)) or cert.dimension != self.dimension:
            return "the stored formulation is not the one this state and game describe"
        if len(cert.f2) != state[0] + 1 or len(cert.blocks) != state[1] + 1:
            return "the certificate's sizes do not match the state's degrees"
        check = verify_three_point(cert)
        if not check.verified:
            return check.reason
        for name, value in (("density", claimed), ("value (minus the density)", -outcome.value)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= check.density:
                return f"the stored {name} {value!r} is below the re-verified {check.density!r}"
        return None
