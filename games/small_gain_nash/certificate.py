"""The Small-Gain Nash certificate: a weighted metric, a contraction rate and safe step sizes.

Derivation. Write the field G (the pseudo-gradient in the chart, see :mod:`.geometry`), blocks
z = (z_1, ..., z_N), and for two points x, y of a convex region R let d = x - y and
z_i = ||d_i||. Then G(x) - G(y) = Jbar d with Jbar = int_0^1 J(y + s d) ds, an average of Jacobians
on R, so its blocks inherit the bounds of :mod:`.constants`: the symmetric part of Jbar_ii is at
least mu_i and ||Jbar_ij|| <= L_ij. With W the block-diagonal matrix carrying w_i on block i,

    <G(x) - G(y), W d> = sum_i w_i d_i^T Jbar_ii d_i + sum_{i != j} w_i d_i^T Jbar_ij d_j
                       >= sum_i w_i mu_i z_i^2 - sum_{i != j} w_i L_ij z_i z_j = z^T S(w) z,

S(w) as in :mod:`.weights`. If S(w) >= m diag(w) (m the margin) then z^T S(w) z >= m sum_i w_i z_i^2
= m ||d||_w^2: the field is m-strongly monotone in the metric ||.||_w on R.

* Flow. For two solutions of z' = -G(z) in R, d/dt (1/2)||x - y||_w^2 = -<G(x) - G(y), W(x - y)>
  <= -m ||x - y||_w^2, so ||x(t) - y(t)||_w <= exp(-m t) ||x(0) - y(0)||_w: contraction at rate m.
* Lipschitz constant. ||(G(x) - G(y))_i|| <= sum_j L_ij z_j (L_ii the own-block norm), so
  ||G(x) - G(y)||_w <= ||W^1/2 L W^-1/2||_2 ||d||_w =: L_w ||d||_w; with a constant Jacobian J the
  exact ||W^1/2 J W^-1/2||_2 is used instead.
* Projected Euler, z <- P(z - eta G(z)). The projection onto a product of convex sets is blockwise,
  hence non-expansive in any block-weighted metric, and
  ||d - eta (G(x) - G(y))||_w^2 <= (1 - 2 eta m + eta^2 L_w^2) ||d||_w^2. Every step eta < 2 m / L_w^2
  contracts; eta* = m / L_w^2 gives the factor q = sqrt(1 - m^2 / L_w^2) per step.
* Projected RK4, z <- P(z - eta (k1 + 2 k2 + 2 k3 + k4) / 6), stages k_j = G(z - c_j eta k_{j-1}),
  c = (0, 1/2, 1/2, 1). With Delta_j the difference of stage j between x and y and e_j the difference of
  its arguments: ||Delta_j|| <= a_j ||d|| with a_1 = L_w, a_j = L_w (1 + c_j eta a_{j-1}); and
  <d, W Delta_j> = <e_j, W Delta_j> + <d - e_j, W Delta_j> >= m ||e_j||^2 - c_j eta a_{j-1} a_j ||d||^2
  >= b_j ||d||^2, b_j = m (1 - c_j eta a_{j-1})^2 - c_j eta a_{j-1} a_j (while c_j eta a_{j-1} < 1).
  With beta = (1, 2, 2, 1)/6, b = sum beta_j b_j and a = sum beta_j a_j the step contracts by
  q(eta) = sqrt(1 - 2 eta b + eta^2 a^2). Only m and L_w enter; the bound is conservative but exact
  to first order (q ~ 1 - eta m). Its fixed point is the equilibrium only when G vanishes there
  (an interior equilibrium), so an RK4 step is certified only then, and only with a basin (below).
* Where it holds. The bounds need both points, and for RK4 the stage points, in R. Comparing with the
  equilibrium z* itself: if the w-ball B of radius rho around z* lies in the box R, an Euler step from
  B stays in B, so every Euler trajectory from B converges to z* at factor q; the stages of RK4 from
  a point at distance r stay within (1 + eta a_3) r, so RK4 is certified on the ball of radius
  rho / (1 + eta a_3).

What is claimed. z* is the unique solution in R of the variational inequality of the game (the
unique stationary point of gradient play there), so a Nash equilibrium of the game restricted to R,
since the margin makes each player's loss strongly convex in its own variables on R. It is not
claimed to be a Nash equilibrium of the whole game: l1 = x^2/2 - x^4/100 + 0.1 x y, l2 = y^2/2 -
0.1 x y on R^2 certifies around the origin with a basin of about 1, yet l1(10, 0) = -50 < l1(0, 0), and
that game has no Nash equilibrium at all.

Rigour. ``certified`` is True only on proven constants (:mod:`.constants`: exact or interval). The
margin of the chosen weights, L_w, the step factors and the largest safe steps are then proven in
exact rationals (:mod:`.rational`, :mod:`.steps`); the equilibrium is located to an a posteriori bound
(:func:`equilibrium_error`) that is subtracted from the basin. On sampled constants every number is
computed the same way but the certificate is ``estimated``, never ``certified``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from flint import fmpq
from scipy.optimize import root as scipy_root

from discover.decimals import decimal_down, decimal_up
from games.outward import down, up
from games.small_gain_nash.bounds import field_enclosure
from games.small_gain_nash.constants import Constants, Region, region_constants
from games.small_gain_nash.enclosure import Interval, NotEnclosable
from games.small_gain_nash.geometry import Chart, block_norms, coordinate_weights
from games.small_gain_nash.model import DifferentiableGame
from games.small_gain_nash.rational import fraction, margin_lower, sqrt_upper, weighted_norm_upper
from games.small_gain_nash.sets import Ball, Box, Simplex
from games.small_gain_nash.steps import StepRule, euler_rule, rk4_rule
from games.small_gain_nash.weights import (WeightSearch, bo_weights, convex_weights, gain_radius, margin,
                                           timescale_band)

WEIGHT_METHODS = ("convex", "bo")


def _rule_text(name: str, rule: StepRule) -> str:
    """A step, its contraction factor (an upper bound: rounded up) and the largest safe step (rounded down)."""
    return (f"{name} step {rule.step!r} (factor {decimal_up(rule.factor)}, safe below "
            f"{decimal_down(rule.max_step, 4)})")


@dataclass(frozen=True)
class Certificate:
    """What :func:`certify` proves (``certified``), estimates (``estimated``) or why neither (``reason``).

    ``certified`` is True only when the constants are proven bounds (exact or interval) and every
    number derived from them is proven too (:mod:`.rational`, :mod:`.steps`). On sampled constants the
    same numbers are computed but ``certified`` is False and ``estimated`` True: they are what the
    certificate would be if the samples had seen the worst of the Jacobian, which nothing guarantees.
    Without either, the metric, rate and steps are ``None``; ``margin`` then holds the best
    (non-positive) margin found, for diagnosis.
    """

    certified: bool
    estimated: bool
    reason: str
    geometry: str
    blocks: tuple[tuple[int, ...], ...]
    region: Region
    constants: Constants
    margin: float
    gain: float  # spectral radius of the gain matrix; certifiable iff < 1
    weight_search: str
    euclidean_monotone: bool  # the symmetrised Jacobian is positive definite on the region (proven if certified)
    equal_weights_margin: float  # the small-gain margin with all weights equal
    band: tuple[float, float] | None = None  # two blocks: the ratios w_2 / w_1 that certify
    weights: np.ndarray | None = None
    rate: float | None = None  # flow contraction rate, exp(-rate t)
    lipschitz: float | None = None  # L_w
    euler: StepRule | None = None
    rk4: StepRule | None = None
    equilibrium: np.ndarray | None = None  # in the chart's coordinates
    basin: float | None = None  # w-radius around the equilibrium where Euler is certified
    rk4_basin: float | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def status(self) -> str:
        return "certified" if self.certified else "estimated" if self.estimated else "not certified"

    def summary(self) -> str:
        if not (self.certified or self.estimated):
            return f"not certified: {self.reason}"
        w = ", ".join(f"{v:.4g}" for v in self.weights)
        head = "certified" if self.certified else "ESTIMATED (sampled constants, not a proof)"
        # proven lower bounds are printed rounded down, upper bounds rounded up (discover.decimals)
        parts = [(f"{head}: margin {decimal_down(self.margin)} (flow contracts like exp(-{decimal_down(self.rate, 4)} t)) "
                  f"in the {self.geometry} metric with weights [{w}]"),
                 _rule_text("Euler", self.euler)]
        if self.rk4 is not None:
            parts.append(_rule_text("RK4", self.rk4))
        if self.band is not None:
            parts.append(f"timescale band w2/w1 in ({decimal_up(self.band[0], 4)}, {decimal_down(self.band[1], 4)})")
        parts.append(f"region radius {self.region.radius:g}, gain {decimal_up(self.gain, 4)}, Euclidean-monotone: "
                     f"{'yes' if self.euclidean_monotone else 'no'}, constants {self.constants.describe()}")
        return "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: what a third party needs to re-check the margin and the steps."""
        def rule(r: StepRule | None) -> dict | None:
            return None if r is None else {"step": r.step, "factor": r.factor, "max_step": r.max_step}
        return {
            "status": self.status, "certified": self.certified, "estimated": self.estimated, "reason": self.reason,
            "geometry": self.geometry, "blocks": [list(b) for b in self.blocks],
            "region": {"centre": list(self.region.centre), "radius": self.region.radius},
            "constants": self.constants.to_dict(), "margin": self.margin, "gain": self.gain,
            "weight_search": self.weight_search, "euclidean_monotone": self.euclidean_monotone,
            "equal_weights_margin": self.equal_weights_margin, "band": None if self.band is None else list(self.band),
            "weights": None if self.weights is None else self.weights.tolist(), "rate": self.rate,
            "lipschitz": self.lipschitz, "euler": rule(self.euler), "rk4": rule(self.rk4),
            "equilibrium": None if self.equilibrium is None else self.equilibrium.tolist(),
            "basin": self.basin, "rk4_basin": self.rk4_basin, "notes": list(self.notes), "summary": self.summary(),
        }


def weighted_lipschitz(w: np.ndarray, constants: Constants, blocks: tuple[tuple[int, ...], ...]) -> float:
    """A proven L_w >= ||W^1/2 J W^-1/2|| for a constant Jacobian, else >= the block bound ||W^1/2 L W^-1/2||."""
    if constants.jacobian is not None:
        return weighted_norm_upper(constants.jacobian, coordinate_weights(w, blocks))
    return weighted_norm_upper(constants.L, np.asarray(w, dtype=float))


def _euler_residual(chart: Chart, z: torch.Tensor, step: float) -> Interval | None:
    """Intervals containing T(z) - z for the Euler step T, or None where G or the projection cannot be enclosed.

    Logits (entropic players) are not projected. Boxes project by clamping, which is monotone; another
    set is bounded by non-expansiveness, ||P(y) - z|| <= ||P(y) - P(z)|| + ||P(z) - z|| <= ||y - z|| +
    dist(z, set), i.e. by eta ||G_i(z)|| + dist(z, set) (a box centred at 0 of that radius). The distance
    term matters: without it a stored equilibrium outside its player's set (a forged artifact, or a
    float projection a few ulps out) had its residual bounded as if it were inside.
    """
    try:
        G = field_enclosure(chart, z.numpy())
    except (NotEnclosable, ValueError):
        return None
    moved = G.scale(np.array(-step))  # y - z = -eta G(z)
    lo, hi = moved.lo.copy(), moved.hi.copy()
    for s, U, (a, b) in zip(chart.game.sets, chart.bases, zip(chart.offsets[:-1], chart.offsets[1:])):
        zi = z.numpy()[a:b]
        if U is not None:  # logits are unconstrained: no projection
            continue
        if isinstance(s, Box):  # clamp(z + d) - z is increasing in d; the clamp itself is exact
            y = Interval(zi) + moved[a:b]
            lo[a:b] = (Interval(np.clip(y.lo, s.lower, s.upper)) - Interval(zi)).lo
            hi[a:b] = (Interval(np.clip(y.hi, s.lower, s.upper)) - Interval(zi)).hi
        else:
            radius = up(moved[a:b].power(2).sum(0).root().hi + distance_up(s, zi))
            lo[a:b], hi[a:b] = -radius, radius
    return Interval(lo, hi)


def distance_up(s: Any, z: np.ndarray) -> float:
    """An upper bound of dist(z, s) for a ball or a simplex, from exact rationals: the squared distance
    to a member of ``s`` (the ball's radial projection; for the simplex z's positive part scaled to sum
    1, or a vertex) is exact, and only its square root is rounded, upward."""
    x = [fraction(v) for v in z]
    zero = fmpq(0)
    if isinstance(s, Ball):
        c = [fraction(v) for v in (s.center or (0.0,) * len(x))]
        squared = sum(((xi - ci) ** 2 for xi, ci in zip(x, c)), zero)
        radius = fraction(s.radius)
        if squared <= radius ** 2:
            return 0.0
        return float(up(np.array(sqrt_upper(squared) - float(radius))))
    if not isinstance(s, Simplex):
        return math.inf  # a set this bound does not know: nothing is claimed
    positive = [xi if xi > 0 else zero for xi in x]
    total = sum(positive, zero)
    member = [p / total for p in positive] if total > 0 else [fmpq(1)] + [zero] * (len(x) - 1)
    return sqrt_upper(sum(((xi - mi) ** 2 for xi, mi in zip(x, member)), zero))


def _float_error(chart: Chart, z: torch.Tensor, rule: StepRule, w: np.ndarray,
                 blocks: tuple[tuple[int, ...], ...]) -> float:
    """||T(z) - z||_w / (1 - q) in floating point, doubled, with 1e-12 (1 + ||z||_w) added for rounding."""
    moved = chart.project(z - rule.step * chart.field(z)) - z
    scale = 1 + float(block_norms(z, w, blocks))
    return 2 * float(block_norms(moved, w, blocks)) / (1 - rule.factor) + 1e-12 * scale


def equilibrium_error(chart: Chart, z: torch.Tensor, rule: StepRule, w: np.ndarray,
                      blocks: tuple[tuple[int, ...], ...], proven: bool = True) -> float:
    """A bound on ||z - z*||_w, z* the fixed point of the Euler step T: ||T(z) - z||_w / (1 - q).

    That bound holds because T contracts by q on the region. ``proven``: ||T(z) - z||_w is enclosed by
    interval arithmetic, and where the losses do not allow it the answer is inf (nothing is claimed);
    otherwise (estimates) the floating-point value of :func:`_float_error` is accepted there. inf when q >= 1.
    """
    if not rule.factor < 1:
        return math.inf
    residual = _euler_residual(chart, z, rule.step)
    if residual is None:
        return math.inf if proven else _float_error(chart, z, rule, w, blocks)
    gap = np.nextafter(1 - rule.factor, 0.0)  # 1 - q rounded down
    weighted = residual.power(2).scale(coordinate_weights(w, blocks)).sum(0)
    return float(np.nextafter(weighted.root().hi / gap, np.inf))


def find_equilibrium(chart: Chart, start: torch.Tensor, rule: StepRule, w: np.ndarray,
                     blocks: tuple[tuple[int, ...], ...], tol: float = 1e-11,
                     max_steps: int = 100_000) -> torch.Tensor | None:
    """A point z whose distance to the fixed point z* of the certified Euler step is below ``tol``
    (relative) by the floating-point a posteriori bound; ``None`` if none was reached within ``max_steps``.
    The caller then bounds ||z - z*||_w with :func:`equilibrium_error`.

    A Newton solve of G(z) = 0 is tried first (an interior equilibrium, found in a few steps however
    slowly T contracts); then T is iterated, which also finds equilibria held by the constraints.
    """
    def accurate(z: torch.Tensor) -> bool:
        return _float_error(chart, z, rule, w, blocks) <= tol * (1 + float(block_norms(z, w, blocks)))

    if not rule.factor < 1:
        return None
    jacobian = torch.func.jacrev(chart.field)
    root = scipy_root(lambda v: chart.field(torch.as_tensor(v)).numpy(), start.numpy(),
                      jac=lambda v: jacobian(torch.as_tensor(v)).numpy())
    if root.success and np.all(np.isfinite(root.x)) and accurate(torch.as_tensor(root.x)):
        return torch.as_tensor(root.x)
    z = chart.project(start.clone())
    for _ in range(max_steps):
        z = chart.project(z - rule.step * chart.field(z))
        if accurate(z):
            return z
    return None


def rk4_basin_radius(basin: float, rule: StepRule, lipschitz: float) -> float:
    """RK4's stages from distance r stay within (1 + eta a_3) r: the basin shrunk so that they stay in the region."""
    eta, lw = fraction(rule.step), fraction(lipschitz)
    a3 = lw * (1 + eta * lw / 2 * (1 + eta * lw / 2))
    return float(np.nextafter(float(fraction(basin) / (1 + eta * a3)), 0.0))  # exact quotient, rounded down


def interior(chart: Chart, z: torch.Tensor, error: float, w: np.ndarray, blocks: tuple[tuple[int, ...], ...]) -> bool:
    """Every point within w-distance ``error`` of z is interior to the players' sets (Euclidean coordinates).

    Then the fixed point z* of the projected Euler step is interior, the projection is inactive there,
    and z* = z* - eta G(z*) forces G(z*) = 0, which RK4 needs. Coordinates move by at most
    error / sqrt(w_b) in block b. Mirrored (entropic) players are unconstrained; a simplex in the
    Euclidean geometry has no interior.
    """
    # rounded up (sqrt is correctly rounded, then stepped down; the quotient stepped up): a box test
    # zi - r > lower in floats is then exact, since rounding to nearest is monotone
    reach = up(error / down(np.sqrt(coordinate_weights(w, blocks))))
    for s, U, (a, b) in zip(chart.game.sets, chart.bases, zip(chart.offsets[:-1], chart.offsets[1:])):
        zi, r = z.numpy()[a:b], reach[a:b]
        if U is not None:
            continue
        if isinstance(s, Box):
            if not (np.all(zi - r > s.lower) and np.all(zi + r < s.upper)):
                return False
        elif isinstance(s, Ball):
            if not np.linalg.norm(zi - s.centre().numpy()) + np.linalg.norm(r) < s.radius * (1 - 1e-12):
                return False
        else:
            return False
    return True


def basin_radius(region: Region, z: torch.Tensor, w: np.ndarray, blocks: tuple[tuple[int, ...], ...],
                 error: float = 0.0) -> float:
    """A lower bound on the largest w-ball around any point within w-distance ``error`` of z inside the
    region's box (non-positive when there is none), rounded outward throughout."""
    offset = Interval(z.numpy()) - Interval(np.asarray(region.centre))
    slack = (Interval(np.full(len(offset.lo), region.radius)) - Interval(offset.magnitude())).lo
    scale = Interval(np.asarray(w, dtype=float)).root().lo
    radius = min(float((Interval(slack[list(idx)]) * Interval(sb)).lo.min()) for sb, idx in zip(scale, blocks))
    return float((Interval(radius) - Interval(error)).lo)


def _failure(found: Constants, gain: float, best: float, blocks: int) -> str:
    """Why no weights certify, worded for what the constants are: exact values, proven bounds or samples."""
    mu = found.mu
    if np.any(mu <= 0):
        i = int(np.argmin(mu))
        what = {"exact": f"block {i + 1}'s curvature mu = {mu[i]:.4g} is not positive on the region",
                "interval": f"the proven lower bound on block {i + 1}'s curvature, mu >= {mu[i]:.4g}, is not positive "
                            "on the region (the enclosure finds a dip, or is loose: a smaller region or a larger box "
                            "budget may tighten it)",
                "sampled": f"block {i + 1}'s sampled curvature mu = {mu[i]:.4g} is not positive"}[found.method]
        return f"{what}: no weights can make S(w) positive definite"
    on = {"exact": "", "interval": " on the proven bounds", "sampled": " on sampled constants"}[found.method]
    if blocks == 2:
        return (f"small-gain product L12 L21 / (mu1 mu2) = {gain ** 2:.4g} >= 1{on}: no block weights make S(w) "
                f"positive definite (best margin {best:.4g})")
    return (f"gain matrix spectral radius {gain:.4g} >= 1{on}: no block weights make S(w) positive definite "
            f"(best margin {best:.4g})")


def certify(game: DifferentiableGame, region: Region | float | None = None, geometry: str = "euclidean",
            partition: str = "players", constants: str = "auto", samples: int = 256, safety: float = 0.1,
            weights: str = "convex", seed: int = 0, bo_budget: int = 30, tol: float = 0.01,
            max_boxes: int = 4096) -> Certificate:
    """Certify contraction of the game's learning dynamics to its equilibrium in a region (a Nash
    equilibrium of the game restricted to the region: see the module docstring for what is claimed).

    ``region``: a :class:`Region` in the geometry's coordinates, or a radius around the game's
    equilibrium (or its sets' centres), default 1. ``constants``: ``auto`` (exact when the Jacobian is
    constant, else interval enclosures, else sampled when the losses cannot be enclosed), ``exact``,
    ``interval`` (``tol``, ``max_boxes``) or ``sampled`` (``samples``, ``safety``: an estimate, never
    certified). ``weights``: ``convex`` (bisection on a generalised-eigenvalue SDP) or ``bo`` (BoTorch
    over log-weights, ``bo_budget`` margin evaluations before a local polish).
    """
    if weights not in WEIGHT_METHODS:
        raise ValueError(f"unknown weight search {weights!r}; choose one of {', '.join(WEIGHT_METHODS)}")
    chart = Chart(game, geometry)
    blocks = chart.blocks(partition)
    if region is None or isinstance(region, (int, float)):
        region = Region.around(chart, game.start(), 1.0 if region is None else float(region))
    found = region_constants(chart, region, blocks, constants, samples, safety, seed, tol, max_boxes)
    mu, L = found.mu, found.L
    search: WeightSearch = convex_weights(mu, L) if weights == "convex" else bo_weights(mu, L, bo_budget, seed=seed)
    gain = gain_radius(mu, L)
    common = dict(geometry=geometry, blocks=blocks, region=region, constants=found, gain=gain,
                  weight_search=f"{search.method} ({search.evaluations} evaluations)",
                  euclidean_monotone=found.euclidean_modulus > 0,
                  equal_weights_margin=margin(np.ones(len(blocks)), mu, L),
                  band=timescale_band(mu, L) if len(blocks) == 2 else None)
    m = margin_lower(search.weights, mu, L) if search.margin > 0 else search.margin
    if m <= 0:
        reason = _failure(found, gain, search.margin, len(blocks))
        return Certificate(False, False, reason, margin=search.margin, **common)
    w = search.weights
    lipschitz = weighted_lipschitz(w, found, blocks)
    euler = euler_rule(m, lipschitz)
    notes = [] if found.rigorous else [f"constants are sampled estimates ({found.describe()}): nothing here is proven"]
    known = None if game.equilibrium is None else chart.from_primal(game.equilibrium)
    start = known if known is not None and basin_radius(region, known, w, blocks) > 0 else \
        torch.tensor(region.centre, dtype=torch.float64)
    equilibrium = find_equilibrium(chart, start, euler, w, blocks)
    basin = rk4 = rk4_basin = None
    if equilibrium is None:
        notes.append("the certified Euler iteration did not reach its fixed point within the step limit")
    else:
        error = equilibrium_error(chart, equilibrium, euler, w, blocks, proven=found.rigorous)
        basin = None if math.isinf(error) else basin_radius(region, equilibrium, w, blocks, error)  # around z*
        if basin is None:
            notes.append("the equilibrium's location could not be enclosed (losses without an interval enclosure): "
                         "no basin is certified")
            basin = None
        elif basin <= 0:
            notes.append("the equilibrium lies outside the region: the region is monotone, but no trajectory is "
                         "certified to reach the equilibrium")
            basin = None
        if basin is None:  # RK4's factor needs its stage points in R, which only a basin around z* gives
            notes.append("no RK4 step is certified: its factor holds only where the stages stay in the region, "
                         "and without a basin around the equilibrium no such region is known")
        elif interior(chart, equilibrium, error, w, blocks):
            rk4 = rk4_rule(m, lipschitz)
            if rk4 is None:
                notes.append("no RK4 step contracts by the stage bound")
            else:
                rk4_basin = rk4_basin_radius(basin, rk4, lipschitz)
        else:
            notes.append("the equilibrium is not shown to be interior to the players' sets, so the field need not "
                         "vanish there: projected RK4 does not fix such a point, so no RK4 step is certified")
    return Certificate(found.rigorous, not found.rigorous, "" if found.rigorous else "constants are sampled estimates",
                       margin=m, weights=w, rate=m, lipschitz=lipschitz, euler=euler, rk4=rk4,
                       equilibrium=None if equilibrium is None else equilibrium.numpy(), basin=basin,
                       rk4_basin=rk4_basin, notes=tuple(notes), **common)
