"""The three-point family of the sphere-packing game: a truncated three-point formulation, solved, verified.

Its components (the slots after the family move): the f2 degree (up to the game's ``max_f2_degree``,
15 by default: n >= 12 needs 23-31), the kernel degree D of the
three-point polynomial (Gegenbauer degrees 0..D, radial functions in the formulation's default
radial basis, shifted Legendre), the continuous truncation ratio R / r (chosen by the surrogate),
the SDP solver, the margin of the sampled univariate conditions (the 3-d ones keep ``MARGIN3``), the
continuous radius scale s (also the surrogate's) and the block shape (the building blocks: radial
degree <= (D - k)/2 with Gegenbauer degree k, "triangular", or <= D/2 with every k, "rectangular").
r = s r_LP, where r_LP, the Cohn–Elkies optimum at the same f2 degree, is where the three-point
function starts. The seed paper (Tutunov et al., 2512.04829) chooses (r, R) by Bayesian
optimisation; here they are the moves (R / r, s). In n = 4 the best r is 3% above r_LP
(benchmarks/three_point.py). States stored before s and the block shape existed (one or two
components fewer) are read with s = 1 and triangular blocks, as they were solved (``_upgrade``).

Value: minus the verified density bound; unverified results are failures with the reason.
``verify`` re-checks the stored exact certificate from scratch (:mod:`.three_point_verify`). The
radial basis is not a component (it spans the same polynomials either way): a stored outcome in
either basis is accepted when its formulation and certificate name the same one; one stored before
the field existed is read as monomials ("power"), what it was solved in.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, replace
from fractions import Fraction
from functools import lru_cache
from typing import Any

from discover.types import EvalContext, Interval, Outcome
from games.slots import Slot
from games.sphere_packing.bound import cohn_elkies_bound
from games.sphere_packing.family import Family, bound_outcome
from games.sphere_packing.three_point import (
    BLOCK_SHAPES,
    RADIAL_BASES,
    SDP_SOLVERS,
    ThreePointFormulation,
)
from games.sphere_packing.three_point_bound import DEFAULT_TRUNCATION, three_point_bound
from games.sphere_packing.three_point_verify import (
    ThreePointCertificate,
    verify_three_point,
)

DEGREES = (7, 11, 15, 23, 31)  # f2's Laguerre degree; the game offers those up to its max_f2_degree
DEFAULT_MAX_DEGREE = 15  # the n = 4 campaigns' space (there degree 23 gains 3e-5); n >= 12 needs 23-31 (README)
KERNEL_DEGREES = (4, 6, 8, 10, 12)  # 12 gains 0.005-0.01 over 6 (benchmarks/three_point.py); 14 gains nothing more
MARGINS = (1e-6, 1e-5, 1e-4)  # of the univariate conditions: 1e-6 verified in n = 3..7 (benchmarks/three_point.py)
MARGIN3 = 1e-4  # of the 3-d conditions: costs ~1e-5 of the bound against 1e-7 in n = 3 (0.15% against 1e-6 in
# n = 12 at R / r 1.3, whose solve then took 4 times as long) and keeps the interval check short
TRUNCATION = Interval(1.1, 1.9)  # R / r; R < 2r keeps every triple of lengths in [r, R] a triangle
RADIUS_SCALE = Interval(0.95, 1.1)  # r / r_LP; n = 4 scan: 0.985..1.05 all solve, best at 1.03


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
                                 tuple(tuple(tuple(Fraction(v) for v in row) for row in q) for q in cert["blocks"]),
                                 str(cert.get("radial_basis", "power")))  # stored before the field: monomials


def _slots(game: Any) -> tuple[Slot, ...]:
    return (Slot("degree", tuple(d for d in DEGREES if d <= game.max_f2_degree)),
            Slot("kernel_degree", tuple(d for d in KERNEL_DEGREES if d <= game.max_kernel_degree)),
            Slot("truncation", interval=TRUNCATION), Slot("solver", tuple(SDP_SOLVERS)),
            Slot("margin", MARGINS, log=True), Slot("radius_scale", interval=RADIUS_SCALE),
            Slot("blocks", BLOCK_SHAPES))


def formulation(dimension: int, components: tuple) -> ThreePointFormulation:
    degree, kernel, _, solver, margin, _, blocks = components
    return ThreePointFormulation(dimension, degree, kernel, solver, margin, MARGIN3, blocks=blocks)


def _evaluate(game: Any, components: tuple, context: EvalContext) -> Outcome:
    start = time.perf_counter()
    degree, kernel, truncation, solver, margin, scale, blocks = components
    result = three_point_bound(game.dimension, degree, kernel, radius=scale * _lp_radius(game.dimension, degree),
                               truncation=truncation, solver=solver, margin=margin, margin3=MARGIN3, blocks=blocks)
    return bound_outcome(game.dimension, result, time.perf_counter() - start, result.artifacts())


def _verify(game: Any, components: tuple, outcome: Outcome) -> str | None:
    """Re-check the stored exact certificate; the claimed bound may not be below the re-verified one."""
    try:
        cert = certificate_of(outcome.artifacts)
        claimed = outcome.artifacts["density"]
        stored = {"radial_basis": "power", "blocks": "triangular",  # stored before the fields
                  **outcome.artifacts["formulation"]}
    except (KeyError, TypeError, ValueError) as exc:
        return f"the artifacts lack a readable certificate: {exc}"
    if stored["radial_basis"] not in RADIAL_BASES:
        return "the stored formulation is not the one this state and game describe"
    # the radial basis as stored (either proves the same state), all else as the state and game say
    form = replace(formulation(game.dimension, components), radial_basis=stored["radial_basis"])
    if stored != asdict(form) or cert.dimension != game.dimension or cert.radial_basis != form.radial_basis:
        return "the stored formulation is not the one this state and game describe"
    if len(cert.f2) != components[0] + 1 or tuple(len(q) for q in cert.blocks) != form.block_sizes():
        return "the certificate's sizes do not match the state's degrees and blocks"
    degree, _, truncation, _, _, scale, _ = components
    r = scale * _lp_radius(game.dimension, degree)  # cached: the evaluation just computed it
    if not (math.isclose(cert.r, r, rel_tol=1e-9) and math.isclose(cert.big, truncation * r, rel_tol=1e-9)):
        return f"the certificate's radii (r = {float(cert.r):.6g}, R = {float(cert.big):.6g}) are not the state's"
    check = verify_three_point(cert)
    if not check.verified:
        return check.reason
    for name, value in (("density", claimed), ("value (minus the density)", -outcome.value)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= check.density:
            return f"the stored {name} {value!r} is below the re-verified {check.density!r}"
    return None


def _start(game: Any) -> tuple[tuple, ...]:
    """The formulation of the library call ``three_point_bound(n)`` (its defaults, r = r_LP: scale 1),
    so that a campaign never ends above that one call; none where the game's kernel degrees stop
    below the call's."""
    components = (7, 6, DEFAULT_TRUNCATION, "clarabel", 1e-4, 1.0, "triangular")
    return (components,) if components[1] <= game.max_kernel_degree else ()


def _upgrade(components: tuple) -> tuple:
    """Components stored before the radius scale existed were solved at r = r_LP (s = 1), and before
    the block shape existed with triangular blocks."""
    if len(components) == 5:
        components = (*components, 1.0)
    if len(components) == 6:
        components = (*components, "triangular")
    return components


THREE_POINT = Family(_slots, _evaluate, _verify, timeout=600.0, upgrade=_upgrade, start=_start)
