"""Three-point bounds for sphere packing (Cohn, de Laat & Salmon, arXiv 2206.15373): the formulation
and its numerical solve at fixed radii r < R < 2r.

The theorem used (derived here; every step is what :mod:`.three_point_verify` checks)
--------------------------------------------------------------------------------------
Let X be a periodic packing, X = union of x_i + Lambda (i = 1..N), with minimal distance >= r.
Take

* f2: R^n -> R radial Schwartz, f2(x) = P(2 pi |x|^2) exp(-pi |x|^2) with P = sum_k a_k L_k^(n/2-1)
  (the Cohn–Elkies family of :mod:`.laguerre`; its Fourier transform is Q(2 pi |y|^2) exp(-pi |y|^2),
  Q = sum_k (-1)^k a_k L_k);
* f3: R^n x R^n -> R, f3(u, v) = 1[|u| <= R] 1[|v| <= R] p(|u|^2, |v|^2, <u, v>) exp(-pi (|u|^2 + |v|^2)),
  where p(a, b, c) = sum_k phi(a)^T Q_k phi(b) h_k(a, b, c), Q_k positive semidefinite, h_k the
  Gegenbauer zonal kernels of :mod:`.gegenbauer` and phi(a) = (phi_0(a), phi_1(a), ...) a basis of the
  polynomials in a / R^2 with phi_0 = 1: the shifted Legendre polynomials P_i(2 a / R^2 - 1)
  (``radial_basis`` "legendre", the default) or the monomials (1, a / R^2, (a / R^2)^2, ...) ("power").
  The same space, so the same bounds in exact arithmetic, but Legendre is better conditioned in the
  solver's double precision: in n = 4 at degree 15, D = 12, R = 1.55 r the numerical bound drops from
  0.636647 (monomials) to 0.636436.

f3 is a positive semidefinite kernel: h_k and phi(a)^T Q_k phi(b) are, so is their Schur product and
the sum over k, and multiplying a kernel K(u, v) by g(u) g(v) (here the Gaussian and the indicator of
the closed ball of radius R) keeps it one. Consider

    S2 = sum_{x in X/Lambda} sum_{y in X} f2(y - x),   S3 = sum_{x in X/Lambda} sum_{y, z in X} f3(y - x, z - x).

Poisson summation with f2^ >= 0 gives S2 >= N^2 f2^(0) / vol(R^n / Lambda) (Cohn & Elkies); every
inner sum of S3 is finite (the truncation) and >= 0 (f3 is positive semidefinite, all weights 1), so
S3 >= 0. Now split S2 + S3 by which of x, y, z coincide (f3 is O(n)-invariant and symmetric):

* x = y = z: f2(0) + f3(0, 0) = P(0) + p(0, 0, 0) per x;
* two distinct points at distance w = |y - x| >= r, as (x, y), (x, x, y), (x, y, x), (x, y, y):
  f2(w) + 2 f3(0, w) + f3(w, w), which is f2(w) alone for |w| > R;
* three distinct points: a triangle with squared sides A = |y - z|^2, B = |x - z|^2, C = |x - y|^2, all
  >= r^2; each of its 6 orderings occurs, and only the vertices whose two adjacent sides are <= R
  contribute. Per vertex: x contributes p(C, B, (B + C - A)/2) exp(-pi (B + C)), and cyclically.

So if (i) f2^ >= 0 and f2^(0) > 0, (ii) f2(w) + 2 f3(0, w) + f3(w, w) <= 0 for r <= |w| <= R,
(iii) f2(w) <= 0 for |w| >= R, (iv) the sum of the three vertex terms is <= 0 for every triangle with
all sides in [r, R], and (v) p(a, b, c) <= 0 for every triangle with the two sides at the vertex in
[r, R] and the third side > R (the other two vertices then contribute nothing), then
N^2 f2^(0) / vol <= S2 + S3 <= N (P(0) + p(0, 0, 0)), and the packing density is at most

    vol(B(r/2)) (P(0) + p(0, 0, 0)) / Q(0).

The 6 orderings of a triangle are what makes (iv) a *three*-point condition: with the vertices
summed, f3 may be positive at one vertex if the others compensate. With f3 = 0 this is the
Cohn–Elkies bound. Periodic packings approximate every packing's density (Cohn & Elkies, Appendix A).

Against Cohn, de Laat & Salmon's Theorem 1.1 (arXiv 2206.15373; read from a summary of the paper,
its full text was not at hand, so take the details below as that summary's): their conditions are f2^ >= 0,
f2 <= 0 for |x| >= R, f3 a positive semidefinite kernel vanishing when |x| > R or |y| > R, the pair
condition (ii) in the form f2(x) + f3(x, 0) + f3(0, x) + f3(x, x) <= 0 for r <= |x| <= R (the same as
(ii) here for symmetric f3), and f3(x, y) <= 0 pointwise wherever |x|, |y|, |x - y| >= r. Their
pointwise condition implies (iv) and (v) (it is (v) on the wedge region, and on the triangle region
each of the three vertex terms is <= 0), so the conditions here are weaker, never stronger: every f
feasible for theirs is feasible here, and the bound here, at the same parametrisation, is at most
theirs. Their numerics (Table 6.1) use r = 1, f2 of degree 24, f3 of "degree 9" and a Taylor
truncation of degree 24 of the exponential, SOS certificates, SDPA-GMP, and a truncation R chosen
per dimension.

The exponentials of (iv) (a different Gaussian weight per vertex) are not polynomial, so instead of
sum-of-squares certificates on the semialgebraic regions (which would need the Taylor truncation
of the exponential), conditions (ii), (iv) and (v) are checked by interval arithmetic over boxes that
cover each region exactly (see :mod:`.three_point_verify`); (i) and (iii) are univariate polynomial
sign conditions, decided exactly as for the Cohn–Elkies family.

Numerical solve (here)
----------------------
An SDP in (a, Q_0, .., Q_D): minimise P(0) + p(0, 0, 0) subject to Q(0) = 1, Q_k >= 0, and conditions
(i)-(v) imposed with a margin at sample points (``margin`` for the univariate conditions (i)-(iii),
``margin3`` for the 3-d conditions (iv), (v): the univariate margin is what costs: in n = 3 at
degree 15, D = 8, R = 1.6 r the numerical bound is 0.77684 with 1e-4 on all conditions and 0.77565
with 1e-6 (or 1e-7) / 1e-4, while the 3-d margin of 1e-4 costs ~1e-5 against 1e-7 and keeps the
interval check short; rows scaled to unit size; an exchange adds the worst
points of a dense grid, polished towards the local maxima between grid points, until none is
violated; the points where the verifier found a violation are sampled and searched from too),
solved by Clarabel or SCS through cvxpy in double precision (SDPA-GMP is not wired in: at the
sizes used here double precision verifies). It does not trust itself: only the check of
:mod:`.three_point_verify` makes a bound.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cvxpy as cp
import numpy as np

from games.sphere_packing import gegenbauer
from games.sphere_packing.bases import make_basis
from games.sphere_packing.solve import SolveError, sample_range

SDP_SOLVERS = {"clarabel": "CLARABEL", "scs": "SCS"}
RADIAL_BASES = ("power", "legendre")  # phi_i(a) = u^i or P_i(2 u - 1), u = a / R^2 (module docstring)
# which phi_i go with h_k in p: 2 i + k <= D ("triangular", p of degree <= D in each vector) or i <= D // 2
# for every k ("rectangular": the same radial degree at every Gegenbauer degree; more variables)
BLOCK_SHAPES = ("triangular", "rectangular")
EXCHANGE_ROUNDS = 24  # n = 10 at R = 1.4 r converged in 13 rounds, n = 8 at 1.45 r in 17 (D = 12, f2 degree 15)
INITIAL_GRID = 10  # per axis of each 3-d region's parameter cube
CHECK_GRID = 36  # per axis, for the exchange's search for violations
ADD_PER_ROUND = 150  # worst dense-grid points per region and round, polished and added if they violate


@dataclass(frozen=True)
class ThreePointFormulation:
    """The components of a truncated three-point formulation; every field is a choice the game can make."""

    dimension: int
    degree: int  # Laguerre degree of f2 (odd)
    kernel_degree: int  # D: Gegenbauer degrees 0..D (the radial degrees follow ``blocks``)
    solver: str = "clarabel"
    margin: float = 1e-4  # scaled units: how strictly the sampled conditions are imposed
    margin3: float | None = None  # the same for the 3-d conditions (iv), (v); None: ``margin``
    radial_basis: str = "legendre"  # phi of the kernel: "legendre" (the default) or "power" (monomials; RADIAL_BASES)
    blocks: str = "triangular"  # the sizes of Q_0..Q_D (BLOCK_SHAPES; see block_sizes)

    def __post_init__(self) -> None:
        if not isinstance(self.dimension, int) or self.dimension < 2:
            raise ValueError(f"dimension must be an integer >= 2, got {self.dimension!r}")
        if not isinstance(self.degree, int) or self.degree < 1 or self.degree % 2 == 0:
            raise ValueError(f"degree must be a positive odd integer, got {self.degree!r}")
        if not isinstance(self.kernel_degree, int) or not 0 <= self.kernel_degree <= 16:
            raise ValueError(f"kernel_degree must be an integer in [0, 16], got {self.kernel_degree!r}")
        if self.solver not in SDP_SOLVERS:
            raise ValueError(f"unknown SDP solver {self.solver!r}; choose one of {', '.join(SDP_SOLVERS)}")
        if not 0 < self.margin < 1:
            raise ValueError("margin must lie in (0, 1)")
        if self.margin3 is not None and not 0 < self.margin3 < 1:
            raise ValueError("margin3 must lie in (0, 1)")
        if self.radial_basis not in RADIAL_BASES:
            raise ValueError(f"unknown radial_basis {self.radial_basis!r}; choose one of {', '.join(RADIAL_BASES)}")
        if self.blocks not in BLOCK_SHAPES:
            raise ValueError(f"unknown blocks {self.blocks!r}; choose one of {', '.join(BLOCK_SHAPES)}")

    def margin_of(self, condition: str) -> float:
        """The margin of one sampled condition: ``margin3`` for the 3-d ones, ``margin`` otherwise."""
        if condition in ("triangle", "wedge") and self.margin3 is not None:
            return self.margin3
        return self.margin

    def block_sizes(self) -> tuple[int, ...]:
        """Size of Q_k for k = 0..D: the radial functions phi_i (degree i in a / R^2) that go with h_k:
        2 i + k <= D ("triangular": p has degree <= D in each vector), or i <= D // 2 for every k
        ("rectangular": h_k of high degree gets as many radial functions as h_0). Any sizes give a
        positive semidefinite f3 (module docstring); rectangular is the larger space: in n = 4 at f2
        degree 15, D = 12, r = 1.03 r_LP, R = 1.6 r it moves the verified bound from 0.636329080 to
        0.634990371, below CdLS's 0.636107333, at several times the solve and verification time
        (the verifier needs Taylor models there: its conditions are within ~1e-4 of 0 over whole
        regions, see :mod:`.three_point_verify`)."""
        if self.blocks == "rectangular":
            return (self.kernel_degree // 2 + 1,) * (self.kernel_degree + 1)
        return tuple((self.kernel_degree - k) // 2 + 1 for k in range(self.kernel_degree + 1))


@dataclass(frozen=True)
class Radii:
    """r and R (floats here; the verifier uses the exact binary rationals these floats are)."""

    r: float
    big: float

    def __post_init__(self) -> None:
        if not (self.r > 0 and self.r < self.big < 2 * self.r):
            raise ValueError(f"need 0 < r < R < 2r, got r = {self.r}, R = {self.big}")

    @property
    def r2(self) -> float:
        return self.r * self.r

    @property
    def big2(self) -> float:
        return self.big * self.big


@dataclass(frozen=True)
class NumericalSolution:
    """What the SDP returned: f2's Laguerre-basis coordinates (as :mod:`.bases` defines them) and Q_k."""

    f2: np.ndarray
    blocks: tuple[np.ndarray, ...]
    objective: float


# ---- the regions, as images of the unit cube (so a box cover of the cube covers them exactly) ----
# Polynomial maps in the side lengths (r, R exact), so interval and mean-value forms apply directly.

def triangle_lengths(x, y, z, r, big):
    """(iv): all sides in [r, R]; as R < 2r, every such triple of lengths is a triangle. Side lengths."""
    span = big - r
    return r + span * x, r + span * y, r + span * z


def triangle_sides(x, y, z, r, big):
    """The squared sides of :func:`triangle_lengths`."""
    return tuple(side ** 2 for side in triangle_lengths(x, y, z, r, big))


def wedge_lengths(x, y, z, r, big):
    """(v): the sides at the vertex in [r, R] (lengths) and the opposite side, squared, in [R^2, (sum of the two)^2]."""
    span = big - r
    ra, rb = r + span * x, r + span * y
    return ra, rb, big ** 2 + z * ((ra + rb) ** 2 - big ** 2)


def wedge_point(x, y, z, r, big):
    """(v) as the kernel's arguments (a, b, c) = (|u|^2, |v|^2, <u, v>) at the vertex."""
    ra, rb, opposite = wedge_lengths(x, y, z, r, big)
    a, b = ra ** 2, rb ** 2
    return a, b, (a + b - opposite) / 2


def vertex_terms(a_side, b_side, c_side):
    """The three vertices of a triangle with squared sides (A, B, C) as (|u|^2, |v|^2, <u, v>, weight exponent)."""
    return ((c_side, b_side, (b_side + c_side - a_side) / 2, b_side + c_side),
            (c_side, a_side, (a_side + c_side - b_side) / 2, a_side + c_side),
            (b_side, a_side, (a_side + b_side - c_side) / 2, a_side + b_side))


class ThreePointSDP:
    """The sampled SDP at fixed radii, with an exchange over dense grids."""

    def __init__(self, form: ThreePointFormulation, radii: Radii) -> None:
        self.form, self.radii = form, radii
        n, d = form.dimension, form.degree
        self.top = sample_range(n, d)
        self.basis = make_basis("laguerre", d, n, self.top)
        self.sizes = form.block_sizes()
        self.n_f2 = d + 1
        self.n_vars = self.n_f2 + sum(m * m for m in self.sizes)

    # rows: each returns (points, n_vars); a condition reads rows @ z <= 0
    def kernel_rows(self, a, b, c) -> np.ndarray:
        """Coefficients of p(a, b, c) in the flattened Q_k (symmetrised outer products)."""
        a, b, c = (np.atleast_1d(np.asarray(v, dtype=float)) for v in (a, b, c))
        h = gegenbauer.zonal_values(self.form.kernel_degree, self.form.dimension, a, b, c)
        scale = self.radii.big2
        width = max(self.sizes)
        pa = radial_values(self.form.radial_basis, a / scale, width)
        pb = radial_values(self.form.radial_basis, b / scale, width)
        cols = [np.zeros((a.size, self.n_f2))]
        for k, m in enumerate(self.sizes):
            outer = 0.5 * (pa[:, :m, None] * pb[:, None, :m] + pb[:, :m, None] * pa[:, None, :m])
            cols.append((outer * h[:, k, None, None]).reshape(a.size, m * m))
        return np.hstack(cols)

    def f2_rows(self, s: np.ndarray, fourier: bool = False) -> np.ndarray:
        """P(2 pi s) (or Q) in f2's coordinates, padded with zeros for the kernel."""
        t = 2 * math.pi * np.atleast_1d(np.asarray(s, dtype=float))
        rows = self.basis.evaluate(t)
        if fourier:
            rows = rows @ self.basis.fourier
        return np.hstack([rows, np.zeros((t.size, self.n_vars - self.n_f2))])

    def pair_rows(self, s: np.ndarray) -> np.ndarray:
        """(ii) times exp(pi s): P(2 pi s) + 2 p(0, s, 0) + p(s, s, s) exp(-pi s), for r^2 <= s <= R^2."""
        s = np.atleast_1d(np.asarray(s, dtype=float))
        zero = np.zeros_like(s)
        return (self.f2_rows(s) + 2 * self.kernel_rows(zero, s, zero)
                + self.kernel_rows(s, s, s) * np.exp(-math.pi * s)[:, None])

    def triangle_rows(self, x, y, z) -> np.ndarray:
        """(iv): the sum over the three vertices, each with its Gaussian weight."""
        sides = triangle_sides(x, y, z, self.radii.r, self.radii.big)
        total = 0.0
        for a, b, c, weight in vertex_terms(*sides):
            total = total + self.kernel_rows(a, b, c) * np.exp(-math.pi * weight)[:, None]
        return total

    def wedge_rows(self, x, y, z) -> np.ndarray:
        """(v): p at the vertex (the Gaussian factor is positive and dropped)."""
        return self.kernel_rows(*wedge_point(x, y, z, self.radii.r, self.radii.big))

    # ---- sample sets ----
    def _grids(self, per_axis: int) -> np.ndarray:
        g = (np.arange(per_axis) + 0.5) / per_axis
        g = np.concatenate([[0.0], g, [1.0]])
        return np.array(np.meshgrid(g, g, g, indexing="ij")).reshape(3, -1)

    def rows(self, name: str, points: np.ndarray) -> np.ndarray:
        """Scaled rows of one sampled condition (a condition reads rows @ z <= -margin)."""
        if name == "fourier":
            rows = -self.f2_rows(points, fourier=True)
        elif name == "tail":
            rows = self.f2_rows(points)
        elif name == "pair":
            rows = self.pair_rows(points)
        else:
            rows = (self.triangle_rows if name == "triangle" else self.wedge_rows)(*points)
        return _scaled(rows)

    def _refine(self, name: str, start: np.ndarray, z: np.ndarray, step: float) -> tuple[np.ndarray, np.ndarray]:
        """Zoom towards the local maxima of a condition near ``start`` (a dense grid misses narrow peaks):
        4 levels of a 5-point (per axis) pattern, shrinking by 3."""
        points = np.atleast_2d(start)  # (dims, k)
        dims, low, high = points.shape[0], *self._span(name)
        offsets = np.array(np.meshgrid(*[np.linspace(-1, 1, 5)] * dims, indexing="ij")).reshape(dims, -1)
        for _ in range(4):
            trial = np.clip(points[:, :, None] + step * offsets[:, None, :], low, high)  # (dims, k, 5^dims)
            flat = trial.reshape(dims, -1)
            values = (self.rows(name, flat if dims > 1 else flat[0]) @ z).reshape(points.shape[1], -1)
            points = trial[:, np.arange(points.shape[1]), values.argmax(axis=1)]
            step /= 3
        final = self.rows(name, points if dims > 1 else points[0]) @ z
        return (points if dims > 1 else points[0]), final

    def _span(self, name: str) -> tuple[float, float]:
        top_s = self.top / (2 * math.pi)
        return {"fourier": (0.0, top_s), "tail": (self.radii.big2, top_s),
                "pair": (self.radii.r2, self.radii.big2)}.get(name, (0.0, 1.0))

    def _initial_points(self) -> dict:
        r2, big2 = self.radii.r2, self.radii.big2
        count = 4 * (self.form.degree + 1)
        top_s = self.top / (2 * math.pi)
        grid = self._grids(INITIAL_GRID)
        return {"fourier": _nodes(0.0, top_s, count), "tail": _nodes(big2, top_s, count),
                "pair": _nodes(r2, big2, 2 * count), "triangle": grid.copy(), "wedge": grid.copy()}

    def _dense(self) -> dict:
        r2, big2 = self.radii.r2, self.radii.big2
        top_s = self.top / (2 * math.pi)
        grid = self._grids(CHECK_GRID)
        return {"fourier": np.linspace(0, top_s, 4000), "tail": np.linspace(big2, top_s, 4000),
                "pair": np.linspace(r2, big2, 2000), "triangle": grid, "wedge": grid}

    def solve(self, extra: dict | None = None, lead_floor: float = 0.0) -> NumericalSolution:
        """Exchange: solve on the samples; add the dense-grid points, polished towards local maxima,
        that violate (by more than half the margin), until none do. ``extra``: points per region
        to sample from the start (the verifier's violations), also searched from in every round."""
        points = self._initial_points()
        for key, value in (extra or {}).items():
            points[key] = np.concatenate([points[key], value], axis=-1)
        dense = self._dense()
        dense_rows = {name: self.rows(name, grid) for name, grid in dense.items()}
        for _ in range(EXCHANGE_ROUNDS):
            z = self._solve_once(points, lead_floor)
            added = 0
            for name, grid in dense.items():
                values = dense_rows[name] @ z
                top = np.argsort(values)[-ADD_PER_ROUND:]
                low, high = self._span(name)
                step = (high - low) / (CHECK_GRID if grid.ndim > 1 else len(values) / 4)
                starts = grid[..., top]
                if extra and name in extra:  # where the verifier once found a violation, a narrow peak
                    # the grid misses may have moved a little with the new solution: search there too
                    starts = np.concatenate([starts, extra[name]], axis=-1)
                found, found_values = self._refine(name, starts, z, step)
                bad = found_values > -0.5 * self.form.margin_of(name)
                if bad.any():
                    points[name] = np.concatenate([points[name], found[..., bad]], axis=-1)
                    added += int(bad.sum())
            if not added:
                return self._unpack(z)
        raise SolveError(f"three-point exchange did not converge in {EXCHANGE_ROUNDS} rounds")

    def objective_row(self) -> np.ndarray:
        """P(0) + p(0, 0, 0) in the solver's coordinates, the quantity minimised: p(0, 0, 0) is
        phi(0)^T Q_0 phi(0), Q_0[0, 0] only for the monomials."""
        row = self.kernel_rows(0.0, 0.0, 0.0)[0]
        row[: self.n_f2] = self.basis.evaluate(np.zeros(1))[0]
        return row

    def _solve_once(self, points: dict, lead_floor: float) -> np.ndarray:
        blocks = [cp.Variable((m, m), PSD=True) for m in self.sizes]
        f2 = cp.Variable(self.n_f2)
        z = cp.hstack([f2] + [cp.vec(q, order="F") for q in blocks])
        used = [name for name, pts in points.items() if pts.shape[-1]]
        rows = np.vstack([self.rows(name, points[name]) for name in used])
        margins = np.concatenate([np.full(points[name].shape[-1], self.form.margin_of(name)) for name in used])
        cost = self.objective_row()
        normal = self.f2_rows(np.zeros(1), fourier=True)[0]
        lead = np.array([float(self.basis.to_laguerre[self.form.degree, j]) for j in range(self.n_f2)])
        lead /= np.abs(lead).max()  # a_d, the top Laguerre coefficient, in unit-size row: >= 0 makes
        # f2^ >= 0 and f2 <= 0 at infinity (d odd); ``lead_floor`` > 0 keeps it off 0, where the
        # solver's tolerance can leave it a hair negative and the exact check then fails
        constraints = [rows @ z <= -margins, normal @ z == 1, -lead @ f2 <= -lead_floor]
        problem = cp.Problem(cp.Minimize(cost @ z), constraints)
        solver = SDP_SOLVERS[self.form.solver]
        try:
            problem.solve(solver=solver, **_options(solver))
        except (cp.error.SolverError, ValueError, ArithmeticError) as exc:
            raise SolveError(f"{solver} failed: {exc}") from None
        if problem.status not in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE) or z.value is None:
            raise SolveError(f"{solver} reports {problem.status}")
        return np.asarray(z.value, dtype=float)

    def _unpack(self, z: np.ndarray) -> NumericalSolution:
        f2 = z[: self.n_f2]
        blocks, at = [], self.n_f2
        for m in self.sizes:
            q = z[at: at + m * m].reshape(m, m, order="F")
            blocks.append((q + q.T) / 2)
            at += m * m
        return NumericalSolution(f2, tuple(blocks), float(self.objective_row() @ z))


def radial_values(basis: str, u: np.ndarray, width: int) -> np.ndarray:
    """phi_0 .. phi_(width-1) at u = a / R^2, shape (len(u), width): the solver's (double precision)
    evaluation of the radial basis; the verifier and the re-check evaluate it independently (exactly,
    in intervals, in mpmath), so a slip here can cost a bound but never make a false one."""
    u = np.asarray(u, dtype=float)
    if basis == "power":
        return np.vander(u, width, increasing=True)
    if basis == "legendre":
        return np.polynomial.legendre.legvander(2 * u - 1, width - 1)
    raise ValueError(f"unknown radial basis {basis!r}")


def _options(solver: str) -> dict:
    if solver == "SCS":
        return {"eps_abs": 1e-9, "eps_rel": 1e-9, "max_iters": 20_000}
    return {"tol_gap_abs": 1e-10, "tol_gap_rel": 1e-10, "tol_feas": 1e-10}


def _scaled(rows: np.ndarray) -> np.ndarray:
    return rows / np.maximum(np.abs(rows).max(axis=1, keepdims=True), 1e-300)


def _nodes(low: float, high: float, count: int) -> np.ndarray:
    return low + (high - low) * (1 - np.cos(np.pi * np.arange(count) / (count - 1))) / 2
