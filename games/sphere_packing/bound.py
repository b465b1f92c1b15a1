"""``cohn_elkies_bound``: one formulation solved, its radius optimised, its certificate verified."""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import asdict, dataclass
from fractions import Fraction
from typing import Any

import numpy as np
from scipy import optimize

from games.sphere_packing.solve import (
    DEFAULT_MARGIN,
    DEFAULT_TOLERANCE,
    LP_SOLVERS,
    Candidate,
    SolveError,
    make_solver,
)
from games.sphere_packing.verify import verify_certificate

SCAN_POINTS = 9
UNSOLVED = 1e30  # objective of a radius where the formulation failed
DEFAULT_DEGREE = 39  # within 0.3% of Leech's density in dimension 24, in under a minute on one core
RADIUS_TOLERANCE = 1e-4  # relative; the bound is flat in R at its optimum, so this costs ~1e-8


@dataclass(frozen=True)
class Formulation:
    """The components of a Cohn–Elkies formulation; every field is a choice the game can make."""

    dimension: int
    degree: int
    basis: str = "laguerre"  # "laguerre", "chebyshev" or "monomial"
    solver: str = "highs"  # the LP solver: highs, clarabel or scs
    margin: float = DEFAULT_MARGIN  # how strictly the sign conditions are imposed (scaled units)
    tolerance: float = DEFAULT_TOLERANCE  # the solver's feasibility/gap tolerance

    def __post_init__(self) -> None:
        if not isinstance(self.dimension, int) or self.dimension < 1:
            raise ValueError(f"dimension must be a positive integer, got {self.dimension!r}")
        if not isinstance(self.degree, int) or self.degree < 1 or self.degree % 2 == 0:
            raise ValueError(f"degree must be a positive odd integer (f must be <= 0 at infinity and "
                             f"f^ >= 0 there), got {self.degree!r}")
        if self.solver not in LP_SOLVERS:
            raise ValueError(f"unknown LP solver {self.solver!r}; choose one of {', '.join(LP_SOLVERS)}")
        if not 0 < self.margin < 1 or not 0 < self.tolerance < 1:
            raise ValueError("margin and tolerance must lie in (0, 1)")


@dataclass(frozen=True)
class BoundResult:
    """A Cohn–Elkies bound: verified, or the reason it is not."""

    formulation: Formulation
    verified: bool
    density: float | None  # rigorous upper bound on the sphere-packing density of R^n
    center_density: float | None  # density / vol(unit ball)
    radius: float | None  # r: f <= 0 for |x| >= r (certified)
    coefficients: tuple[Fraction, ...] = ()  # f = sum a_k L_k^(n/2-1)(2 pi |x|^2) exp(-pi |x|^2)
    seconds: float = 0.0
    solves: int = 0
    reason: str = ""
    numerical_density: float | None = None  # what the solver claimed, before verification

    def artifacts(self) -> dict[str, Any]:
        """JSON-ready certificate: exact coefficients as strings, so it can be re-checked later."""
        out = asdict(self)
        out["formulation"] = asdict(self.formulation)
        out["coefficients"] = [str(a) for a in self.coefficients]
        return out


def _density_of(dimension: int, radius_t: float, objective: float) -> float:
    return (radius_t / 8) ** (dimension / 2) / math.gamma(dimension / 2 + 1) * objective


def cohn_elkies_bound(dimension: int, degree: int = DEFAULT_DEGREE, radius: float | None = None, *,
                      basis: str = "laguerre", solver: str = "highs",
                      margin: float = DEFAULT_MARGIN, tolerance: float = DEFAULT_TOLERANCE,
                      time_limit: float | None = None) -> BoundResult:
    """The Cohn–Elkies upper bound on the sphere-packing density of R^``dimension``.

    ``radius`` is r (f <= 0 for |x| >= r); None optimises it (a scan, then Brent's method). The
    other keywords choose the formulation (see :class:`Formulation`). A solver failure or a
    certificate that does not verify is returned with ``verified=False`` and the reason, never raised.
    """
    form = Formulation(dimension, degree, basis, solver, margin, tolerance)
    if radius is not None and not radius > 0:
        raise ValueError(f"radius must be positive, got {radius!r}")
    return solve_formulation(form, None if radius is None else 2 * math.pi * radius ** 2, time_limit)


def solve_formulation(form: Formulation, radius_t: float | None = None,
                      time_limit: float | None = None) -> BoundResult:
    """Solve, optimise R = 2 pi r^2 when not given, then verify the best candidate exactly.

    Past ``time_limit`` seconds no new radius is tried: the best candidate so far is verified and
    reported (still a sound bound, just a less optimised radius).
    """
    start = time.perf_counter()
    with warnings.catch_warnings():  # solvers warn about inaccuracy; verification is the judge
        warnings.simplefilter("ignore")
        return _solve(form, radius_t, start, math.inf if time_limit is None else start + time_limit)


def _solve(form: Formulation, radius_t: float | None, start: float, deadline: float) -> BoundResult:
    solver = make_solver(form.dimension, form.degree, basis=form.basis, solver=form.solver, margin=form.margin,
                         tolerance=form.tolerance)
    claims: dict[Candidate, float] = {}  # density each candidate claims, before verification
    errors: list[str] = []

    def objective(t: float) -> float:
        if time.perf_counter() > deadline:  # out of time: try no further radius
            return UNSOLVED
        try:
            candidate = solver.solve(t)
        except SolveError as exc:
            errors.append(str(exc))
            return UNSOLVED  # finite, so Brent's method stays well defined
        claims[candidate] = _density_of(form.dimension, t, candidate.objective)
        return claims[candidate]

    if radius_t is None:
        _optimise_radius(form.dimension, objective)
    else:
        objective(radius_t)
    seconds = time.perf_counter() - start
    if not claims:
        return BoundResult(form, False, None, None, None, seconds=seconds, solves=len(errors),
                           reason=errors[0] if errors else "the time limit ran out before any solve")
    best = min(claims, key=claims.get)
    claimed = claims[best]
    check = verify_certificate(form.dimension, best.coefficients, best.radius_t)
    seconds = time.perf_counter() - start
    solves = len(claims) + len(errors)
    if not check.verified:
        return BoundResult(form, False, None, None, None, best.coefficients, seconds, solves,
                           f"the solution does not verify: {check.reason}", claimed)
    return BoundResult(form, True, check.density, check.center_density, check.radius, best.coefficients, seconds,
                       solves, numerical_density=claimed)


def _optimise_radius(dimension: int, objective) -> None:
    """Scan R = 2 pi r^2 over a bracket that holds the optimum in every dimension, then refine."""
    grid = np.geomspace(0.5 * (dimension + 4), 2.5 * (dimension + 4), SCAN_POINTS)
    values = [objective(t) for t in grid]
    i = int(np.argmin(values))
    if values[i] >= UNSOLVED:
        return
    lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]
    optimize.minimize_scalar(objective, bounds=(lo, hi), method="bounded", options={"xatol": RADIUS_TOLERANCE * hi})
