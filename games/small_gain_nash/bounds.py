"""Proven curvatures mu_i and couplings L_ij on a box region: branch and bound over interval Jacobians.

Each sub-box gets an enclosure of the Jacobian (:mod:`.enclosure`), and from it proven per-box bounds:

* mu_i >= Gershgorin's lower bound of the symmetrised interval block (J_ii + J_ii^T)/2: every
  eigenvalue of every symmetric matrix in it is at least min_k (lo S_kk - sum_{l != k} max |S_kl|);
* ||J_ij||_2 <= ||M||_2 <= min(sqrt(||M||_1 ||M||_inf), ||M||_F) for M_kl = max |J_ij,kl| over the box
  (|A| <= M entrywise gives ||A||_2 <= ||M||_2);

all with outward rounding. The region's constants are the worst of the per-box bounds, which is a
proof whatever the boxes are. Branch and bound only makes them tight: the Jacobian is also evaluated
(autograd) at every box's centre, which gives attained values; a box whose bound is worse than the
attained extreme by more than ``tol`` times the constants' scale is bisected along its widest side,
until every box is within tolerance or the box budget is spent (then the bound is simply looser).
A narrow feature that samples miss, such as a bump of the Jacobian, shows up in the enclosure of the
box that contains it, so it is found, not averaged away.
"""

from __future__ import annotations

import numpy as np
import torch

from games.small_gain_nash.enclosure import Interval, NotEnclosable, hessian_rows
from games.small_gain_nash.geometry import Chart


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


def jacobian_enclosure(chart: Chart, lo: np.ndarray, hi: np.ndarray) -> Interval:
    """(B, n, n) intervals containing the pseudo-gradient's Jacobian on each box [lo_b, hi_b]."""
    if chart.geometry != "euclidean":
        raise NotEnclosable("interval constants are implemented in the euclidean geometry only (the entropic chart's "
                            "curvature tau appears only after a symbolic cancellation that intervals lose)")
    game = chart.game
    rows = [hessian_rows(loss, game.split, lo, hi, slice(a, b))
            for loss, a, b in zip(game.losses, game.offsets[:-1], game.offsets[1:])]
    return Interval(np.concatenate([r.lo * np.ones(r.shape) for r in rows], axis=1),
                    np.concatenate([r.hi * np.ones(r.shape) for r in rows], axis=1))


def _up(x: np.ndarray) -> np.ndarray:
    return np.nextafter(x, np.inf)


def gershgorin_lower(S: Interval) -> np.ndarray:
    """(B, k, k) symmetric intervals -> (B,) proven lower bounds on lambda_min."""
    k = S.shape[-1]
    off = S.magnitude() * (1 - np.eye(k))
    radius = Interval(off).sum(-1).hi  # outward-rounded row sums
    diag = Interval(np.diagonal(S.lo, axis1=-2, axis2=-1))
    return (diag - Interval(radius)).lo.min(-1)


def norm_upper(A: Interval) -> np.ndarray:
    """(B, p, q) intervals -> (B,) proven upper bounds on the spectral norm of every matrix inside."""
    M = Interval(A.magnitude())
    rows, cols = M.sum(-1).hi.max(-1), M.sum(-2).hi.max(-1)
    product = (Interval(rows) * Interval(cols)).hi
    frobenius = (M * M).sum(-1).sum(-1).hi
    return np.minimum(Interval(product).monotone("sqrt").hi, Interval(frobenius).monotone("sqrt").hi)


def box_bounds(J: Interval, blocks: tuple[tuple[int, ...], ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per box: proven mu (B, N), L (B, N, N) and the full symmetrised Jacobian's lambda_min lower bound (B,)."""
    sym = (J + Interval(np.swapaxes(J.lo, -1, -2), np.swapaxes(J.hi, -1, -2))).scale(np.array(0.5))
    n, B = len(blocks), J.shape[0]
    mu, L = np.empty((B, n)), np.empty((B, n, n))
    for i, bi in enumerate(blocks):
        rows = np.ix_(range(B), bi, bi)
        mu[:, i] = gershgorin_lower(Interval(sym.lo[rows], sym.hi[rows]))
        for j, bj in enumerate(blocks):
            part = np.ix_(range(B), bi, bj)
            L[:, i, j] = norm_upper(Interval(J.lo[part], J.hi[part]))
    return mu, L, gershgorin_lower(sym)


def enclosed_constants(chart: Chart, centre: np.ndarray, radius: float, blocks: tuple[tuple[int, ...], ...],
                       tol: float = 0.01, max_boxes: int = 4096) -> tuple[np.ndarray, np.ndarray, float, int]:
    """Proven (mu, L, euclidean modulus lower bound, boxes evaluated) on the box |z - centre| <= radius."""
    lo, hi = (centre - radius)[None], (centre + radius)[None]
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
        slack = tol * max(np.abs(mu_seen).max(), L_seen.max(), 1e-12)
        excess = np.maximum((mu_seen - slack - box_mu).max(1), (box_L - L_seen - slack).max((1, 2))) / slack
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
