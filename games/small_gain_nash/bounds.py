"""Proven curvatures mu_i and couplings L_ij on a box region: branch and bound over interval Jacobians.

Each sub-box gets an enclosure of the Jacobian (:mod:`.enclosure`), and from it proven per-box bounds:

* mu_i >= Gershgorin's lower bound of the symmetrised interval block (J_ii + J_ii^T)/2: every
  eigenvalue of every symmetric matrix in it is at least min_k (lo S_kk - sum_{l != k} max |S_kl|);
  for two-coordinate blocks also the closed-form eigenvalue of the 2 x 2 interval matrix, if better;
* ||J_ij||_2 <= ||M||_2 <= min(sqrt(||M||_1 ||M||_inf), ||M||_F) for M_kl = max |J_ij,kl| over the box
  (|A| <= M entrywise gives ||A||_2 <= ||M||_2), or, when a side has at most 2 coordinates, the square
  root of the closed-form largest eigenvalue of the interval Gram matrix, if better;

all with outward rounding. The region's constants are the worst of the per-box bounds, which is a
proof whatever the boxes are. Branch and bound only makes them tight: the Jacobian is also evaluated
(autograd) at every box's centre, which gives attained values; a box whose bound is worse than the
attained extreme by more than ``tol`` times that extreme (plus 5% of the largest constant, for
constants near 0) is bisected along its widest side,
until every box is within tolerance or the box budget is spent (then the bound is simply looser).
A narrow feature that samples miss, such as a bump of the Jacobian, shows up in the enclosure of the
box that contains it, so it is found, not averaged away.
"""

from __future__ import annotations

import numpy as np
import torch

from games.outward import down as _down
from games.outward import up as _up
from games.small_gain_nash.enclosure import Interval, Jet, OutsideDomain, concatenate, hessian_rows, loss_jet
from games.small_gain_nash.geometry import Chart
from games.small_gain_nash.model import DifferentiableGame


def block_statistics(J: torch.Tensor, blocks: tuple[tuple[int, ...], ...]) -> tuple[np.ndarray, np.ndarray, float]:
    """Attained values over a batch of Jacobians: worst mu_i, largest ||J_ij||, worst full symmetrised eigenvalue."""
    n = len(blocks)
    mu, L = np.empty(n), np.empty((n, n))
    for i, bi in enumerate(blocks):
        Jii = J[:, list(bi)][:, :, list(bi)]
        mu[i] = torch.linalg.eigvalsh((Jii + Jii.transpose(1, 2)) / 2)[:, 0].min()
        for j, bj in enumerate(blocks):
            L[i, j] = torch.linalg.matrix_norm(J[:, list(bi)][:, :, list(bj)], ord=2).max()
    modulus = float(torch.linalg.eigvalsh((J + J.transpose(1, 2)) / 2)[:, 0].min())
    return mu, L, modulus


def _stack(parts: list[Interval], axis: int) -> Interval:
    return Interval(np.concatenate([p.lo * np.ones(p.shape) for p in parts], axis=axis),
                    np.concatenate([p.hi * np.ones(p.shape) for p in parts], axis=axis))


def primal_jacobian_enclosure(game: DifferentiableGame, lo: np.ndarray, hi: np.ndarray,
                              entropy: tuple[bool, ...] | None = None) -> Interval:
    """(B, n, n) intervals containing dF/dx on each box [lo_b, hi_b] of the players' coordinates.

    ``entropy[i]``: include player i's entropy term, whose Hessian is tau_i diag(1/x_i) (all by default).
    """
    entropy = entropy if entropy is not None else (True,) * game.players
    J = _stack([hessian_rows(loss, game.split, lo, hi, slice(a, b))
                for loss, a, b in zip(game.losses, game.offsets[:-1], game.offsets[1:])], axis=1)
    lo_, hi_ = J.lo * np.ones(J.shape), J.hi * np.ones(J.shape)
    for tau, use, a, b in zip(game.entropy, entropy, game.offsets[:-1], game.offsets[1:]):
        if tau and use:
            diagonal = Interval(lo[:, a:b], hi[:, a:b]).reciprocal().scale(np.array(tau))
            k = np.arange(a, b)
            own = Interval(lo_[:, k, k], hi_[:, k, k]) + diagonal
            lo_[:, k, k], hi_[:, k, k] = own.lo, own.hi
    return Interval(lo_, hi_)


def _softmax(U: np.ndarray, z: Jet) -> Jet:
    """x = softmax(U z) as x_k = 1 / sum_l exp((u_l - u_k) . z): each z enters every term once (tighter)."""
    return concatenate([(torch.as_tensor(U - U[k]) @ z).exp().sum().reciprocal()[None] for k in range(len(U))], dim=0)


def _primal(chart: Chart, z: Jet) -> Jet:
    """The players' coordinates x as a jet of the chart's z (softmax for entropic players, z itself otherwise)."""
    return concatenate([zi if U is None else _softmax(U.numpy(), zi) for zi, U in zip(chart.split(z), chart.bases)],
                       dim=0)


def _matmul(A: Interval, B: Interval) -> Interval:
    """(..., p, k) x (..., k, q) with outward rounding."""
    return (Interval(A.lo[..., :, :, None], A.hi[..., :, :, None])
            * Interval(B.lo[..., None, :, :], B.hi[..., None, :, :])).sum(-2)


def jacobian_enclosure(chart: Chart, lo: np.ndarray, hi: np.ndarray) -> Interval:
    """(B, n, n) intervals containing the Jacobian of the chart's field G on each box [lo_b, hi_b] of z.

    Euclidean players: G_i = F_i, dx_i/dz_i = I. Entropic players: G_i = U_i^T F_i(x), x_i = softmax(U_i z_i),
    so dG/dz = P^T (dF/dx) (dx/dz), P = diag(U_i or I): dF/dx is enclosed over a box enclosing x, dx/dz
    by a jet of the softmax. The entropy term of a mirrored player is left out of that product and
    added as exactly tau_i I (U_i^T (log softmax(U_i z_i) + 1) = z_i, as U_i^T 1 = 0 and U_i^T U_i = I).
    """
    game = chart.game
    if not any(chart.mirrored):
        return primal_jacobian_enclosure(game, lo, hi)
    z = Jet.variables(lo, hi)
    x = _primal(chart, z)
    H = primal_jacobian_enclosure(game, x.v.lo, x.v.hi, tuple(not m for m in chart.mirrored))
    P = np.zeros((game.dim, chart.dim))
    for (a, b), (c, d), U in zip(zip(game.offsets[:-1], game.offsets[1:]), zip(chart.offsets[:-1], chart.offsets[1:]),
                                 chart.bases):
        P[a:b, c:d] = np.eye(b - a) if U is None else U.numpy()
    J = _matmul(Interval(P.T[None]), _matmul(H, x.g))
    lo_, hi_ = J.lo.copy(), J.hi.copy()
    for tau, mirrored, c, d in zip(game.entropy, chart.mirrored, chart.offsets[:-1], chart.offsets[1:]):
        if tau and mirrored:
            k = np.arange(c, d)
            own = Interval(lo_[:, k, k], hi_[:, k, k]) + Interval(np.array(tau))
            lo_[:, k, k], hi_[:, k, k] = own.lo, own.hi
    return Interval(lo_, hi_)


def field_enclosure(chart: Chart, z: np.ndarray) -> Interval:
    """(n,) intervals containing the field G at the point z.

    G_i = F_i(x) for Euclidean players, U_i^T F_i(x) for entropic ones, with x enclosed by the softmax
    jet; an entropy term adds tau_i (log x_i + 1), which is exactly tau_i z_i in the entropic chart.
    """
    game, point = chart.game, np.asarray(z, dtype=float)[None]
    x = _primal(chart, Jet.variables(point, point)).v
    parts = []
    for loss, tau, U, a, b, c, d in zip(game.losses, game.entropy, chart.bases, game.offsets[:-1], game.offsets[1:],
                                        chart.offsets[:-1], chart.offsets[1:]):
        part = loss_jet(loss, game.split, x.lo, x.hi).g[0, a:b]
        if U is not None:
            part = _matmul(Interval(U.numpy().T), Interval(part.lo[:, None], part.hi[:, None]))[:, 0]
            if tau:
                part = part + Interval(point[0, c:d]).scale(np.array(tau))
        elif tau:
            xi = x[0, a:b]
            if np.any(xi.lo <= 0):
                raise OutsideDomain("log of a non-positive coordinate in an entropy term")
            part = part + (xi.monotone("log") + Interval(np.ones(b - a))).scale(np.array(tau))
        parts.append(part)
    return _stack(parts, axis=0)


def gershgorin_lower(S: Interval) -> np.ndarray:
    """(B, k, k) symmetric intervals -> (B,) proven lower bounds on lambda_min."""
    k = S.shape[-1]
    off = S.magnitude() * (1 - np.eye(k))
    radius = Interval(off).sum(-1).hi  # outward-rounded row sums
    diag = Interval(np.diagonal(S.lo, axis1=-2, axis2=-1))
    return (diag - Interval(radius)).lo.min(-1)


def symmetric2_eigenvalues(a: Interval, b: Interval, c: Interval) -> tuple[np.ndarray, np.ndarray]:
    """Proven (lower bound of lambda_min, upper bound of lambda_max) of [[a, b], [b, c]] over the intervals:
    (a + c)/2 -+ sqrt(((a - c)/2)^2 + b^2)."""
    half = np.array(0.5)
    mean, spread = (a + c).scale(half), (a - c).scale(half)
    root = (spread.power(2) + b.power(2)).root()
    return (mean - root).lo, (mean + root).hi


def _gram(A: Interval) -> Interval:
    """A^T A or A A^T, whichever is smaller ((B, k, k), k = min(p, q)): the same largest eigenvalue."""
    if A.shape[-1] > A.shape[-2]:
        A = Interval(np.swapaxes(A.lo, -1, -2), np.swapaxes(A.hi, -1, -2))
    k = A.shape[-1]
    rows = [[A[..., :, i].power(2).sum(-1) if i == j else (A[..., :, i] * A[..., :, j]).sum(-1) for j in range(k)]
            for i in range(k)]
    return Interval(np.stack([np.stack([g.lo for g in row], -1) for row in rows], -2),
                    np.stack([np.stack([g.hi for g in row], -1) for row in rows], -2))


def norm_upper(A: Interval) -> np.ndarray:
    """(B, p, q) intervals -> (B,) proven upper bounds on the spectral norm of every matrix inside.

    The best of sqrt(||M||_1 ||M||_inf) and ||M||_F for M = max |A| entrywise, and, when min(p, q) <= 2,
    the square root of the largest eigenvalue of the interval Gram matrix in closed form.
    """
    M = Interval(A.magnitude())
    rows, cols = M.sum(-1).hi.max(-1), M.sum(-2).hi.max(-1)
    best = np.minimum((Interval(rows) * Interval(cols)).root().hi, (M * M).sum(-1).sum(-1).root().hi)
    if min(A.shape[-2:]) <= 2:
        G = _gram(A)
        top = G[..., 0, 0].hi if G.shape[-1] == 1 else symmetric2_eigenvalues(G[..., 0, 0], G[..., 0, 1], G[..., 1, 1])[1]
        best = np.minimum(best, Interval(top).root().hi)
    return best


def box_bounds(J: Interval, blocks: tuple[tuple[int, ...], ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per box: proven mu (B, N), L (B, N, N) and the full symmetrised Jacobian's lambda_min lower bound (B,)."""
    sym = (J + Interval(np.swapaxes(J.lo, -1, -2), np.swapaxes(J.hi, -1, -2))).scale(np.array(0.5))
    n, B = len(blocks), J.shape[0]
    mu, L = np.empty((B, n)), np.empty((B, n, n))
    for i, bi in enumerate(blocks):
        rows = np.ix_(range(B), bi, bi)
        block = Interval(sym.lo[rows], sym.hi[rows])
        mu[:, i] = gershgorin_lower(block)
        if len(bi) == 2:
            mu[:, i] = np.maximum(mu[:, i], symmetric2_eigenvalues(block[:, 0, 0], block[:, 0, 1], block[:, 1, 1])[0])
        for j, bj in enumerate(blocks):
            part = np.ix_(range(B), bi, bj)
            L[:, i, j] = norm_upper(Interval(J.lo[part], J.hi[part]))
    return mu, L, gershgorin_lower(sym)


def enclosed_constants(chart: Chart, centre: np.ndarray, radius: float, blocks: tuple[tuple[int, ...], ...],
                       tol: float = 0.01, max_boxes: int = 4096) -> tuple[np.ndarray, np.ndarray, float, int]:
    """Proven (mu, L, euclidean modulus lower bound, boxes evaluated) on the box |z - centre| <= radius."""
    lo, hi = _down(centre - radius)[None], _up(centre + radius)[None]  # outward: the box covers the exact region
    n = len(blocks)
    mu, L, modulus = np.full(n, np.inf), np.zeros((n, n)), np.inf  # proven, over settled boxes
    mu_seen, L_seen = np.full(n, np.inf), np.zeros((n, n))  # attained at centres
    evaluated = 0
    while len(lo):
        J = jacobian_enclosure(chart, lo, hi)
        box_mu, box_L, box_modulus = box_bounds(J, blocks)
        centres = torch.as_tensor((lo + hi) / 2)
        seen_mu, seen_L, _ = block_statistics(chart.jacobians(centres), blocks)
        mu_seen, L_seen = np.minimum(mu_seen, seen_mu), np.maximum(L_seen, seen_L)
        evaluated += len(lo)
        floor = 0.05 * max(np.abs(mu_seen).max(), L_seen.max(), 1e-12)  # constants near 0 are judged at this scale
        mu_slack, L_slack = tol * (np.abs(mu_seen) + floor), tol * (L_seen + floor)
        excess = np.maximum(((mu_seen - mu_slack - box_mu) / mu_slack).max(1), ((box_L - L_seen - L_slack) / L_slack).max((1, 2)))
        order = np.argsort(-excess)
        room = max(0, (max_boxes - evaluated) // 2)
        split = np.zeros(len(lo), dtype=bool)
        split[order[:room]] = excess[order[:room]] > 0
        settled = ~split
        if settled.any():
            mu = np.minimum(mu, box_mu[settled].min(0))
            L = np.maximum(L, box_L[settled].max(0))
            modulus = min(modulus, float(box_modulus[settled].min()))
        lo, hi = _bisect(lo[split], hi[split])
    return mu, L, modulus, evaluated


def _bisect(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both halves of every box, cut across its widest side."""
    if not len(lo):
        return lo, hi
    axis = np.argmax(hi - lo, axis=1)
    rows = np.arange(len(lo))
    mid = (lo[rows, axis] + hi[rows, axis]) / 2
    left_hi, right_lo = hi.copy(), lo.copy()
    left_hi[rows, axis], right_lo[rows, axis] = mid, mid
    return np.concatenate([lo, right_lo]), np.concatenate([left_hi, hi])
