"""LipSDP formulations: channels, segments, and the block-tridiagonal matrix inequality.

A hidden layer computes v = T y_prev (T its weight, after the encoding below) and y = phi(v)
channelwise. Each channel contributes a quadratic constraint (QC) on differences (dv, dy) that holds
for every pair of inputs, written a dv^2 + b dv dy + c dy^2 >= 0 with a multiplier inside a, b, c:

* slope-restricted in [alpha, beta] (ReLU, Tanh, ...): (dy - alpha dv)(beta dv - dy) >= 0, multiplier
  lambda >= 0: a = -alpha beta lambda, b = (alpha + beta) lambda, c = -lambda;
* identity (dy = dv): every form with a + b + c = 0 vanishes there, so two free multipliers:
  (dy - dv)^2 = 0 (a = mu, b = -2 mu, c = mu) and dv^2 - dy^2 = 0 (a = nu, b = 0, c = -nu);
* group norm: ||dv_G||^2 - ||dy_G||^2 >= 0 for a group G of channels, one lambda_G >= 0 per group:
  a = lambda_G, b = 0, c = -lambda_G.

GroupSort / MaxMin (``sum-preserving`` encoding). Sorting a group commutes with adding a constant to
all its entries and is non-expansive, and it preserves the sum. Rotate each group by an orthogonal
Helmert matrix H whose first row is 1/sqrt(g): the first channel (the scaled sum) passes unchanged
(identity), and the remaining g - 1 channels depend only on the remaining ones and are jointly
non-expansive (group norm). The layer becomes T = H W, and the next layer's weight W' H^T. Because H
is orthogonal, nothing about the network's Lipschitz constant changes. The ``residual-relu`` encoding
writes MaxMin(a, b) = (b + relu(a - b), a - relu(a - b)) as identity channels a, b and a ReLU channel
a - b; it is valid but loses the joint constraint, so it cannot prove that MaxMin is 1-Lipschitz.

With z = (x, y_1, ..., y_H) and output o = T_out y_H, the certificate is: for all z,
sum_h QC_h + ||T_out y_H||^2 - rho ||x||^2 <= 0, i.e. the matrix M(rho, multipliers) <= 0, which gives
||f(x) - f(x')|| <= sqrt(rho) ||x - x'||. M is block tridiagonal: block (h-1, h-1) gets T_h^T diag(a_h)
T_h, block (h-1, h) gets T_h^T diag(b_h) / 2, block (h, h) gets diag(c_h), the last block T_out^T T_out
and the first -rho I.

Multiplier structures: ``layer`` (one multiplier per layer and channel kind, LipSDP-Layer) and
``neuron`` (one per channel, one per group; LipSDP-Neuron). The coupled multipliers of LipSDP-Network
are not offered: the fully coupled QC of the original paper is invalid for some activations (Pauli et
al., arXiv 2005.02929), and no coupled form is implemented whose validity is proven here.

Exact reduction: only W_1 x enters the network, so x can be replaced by its component in W_1's row
space. With Q an orthonormal basis of that space, T_1 <- T_1 Q leaves the optimum unchanged and
shrinks the first block from the input width to rank(W_1).

Scaling: the QCs are homogeneous in (dv, dy) layer by layer, so scaling T_h by c_h scales the
optimal rho by c_h^2 (substitute y_h -> (c_1 ... c_h) y_h). Each segment's maps are divided by their
spectral norms before solving, which keeps the solver's numbers near 1, and the bound multiplied back.

Splitting: a network cut into consecutive segments f = g_S o ... o g_1 has Lip(f) <= prod Lip(g_s). A
segment that ends inside the network outputs its last layer's true activations (T_out = the layer's
decoding, e.g. H^T).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import helmert

from games.lipsdp.network import Activation, Network

STRUCTURES = ("layer", "neuron")
ENCODINGS = ("sum-preserving", "residual-relu")
SLOPE, IDENTITY, GROUP = 0, 1, 2


@dataclass(frozen=True)
class Channels:
    """One hidden layer after encoding: v_enc = pre v, y = post y_enc, and what each channel satisfies."""

    pre: np.ndarray
    post: np.ndarray
    kind: np.ndarray  # SLOPE, IDENTITY or GROUP per encoded channel
    alpha: np.ndarray
    beta: np.ndarray
    group: np.ndarray  # group index for GROUP channels, -1 otherwise

    @property
    def width(self) -> int:
        return len(self.kind)


def encode(activation: Activation, width: int, encoding: str = "sum-preserving") -> Channels:
    if encoding not in ENCODINGS:
        raise ValueError(f"unknown encoding {encoding!r}; choose one of {', '.join(ENCODINGS)}")
    if not activation.group_size:
        eye = np.eye(width)
        return Channels(eye, eye, np.full(width, SLOPE), np.full(width, activation.alpha),
                        np.full(width, activation.beta), np.full(width, -1))
    g = activation.group_size
    groups = width // g
    if encoding == "residual-relu":
        if g != 2:
            raise ValueError(f"the residual-relu encoding exists for MaxMin only, not {activation.name}")
        pre = np.kron(np.eye(groups), np.array([[1.0, 0.0], [0.0, 1.0], [1.0, -1.0]]))
        post = np.kron(np.eye(groups), np.array([[0.0, 1.0, 1.0], [1.0, 0.0, -1.0]]))
        kind = np.tile([IDENTITY, IDENTITY, SLOPE], groups)
        return Channels(pre, post, kind, np.zeros(3 * groups), np.ones(3 * groups), np.full(3 * groups, -1))
    H = np.kron(np.eye(groups), helmert(g, full=True))  # first row 1/sqrt(g), the others sum to zero
    kind = np.tile([IDENTITY] + [GROUP] * (g - 1), groups)
    group = np.where(kind == GROUP, np.repeat(np.arange(groups), g), -1)
    return Channels(H, H.T, kind, np.zeros(width), np.ones(width), group)


@dataclass(frozen=True)
class Segment:
    """Consecutive hidden layers: maps T_1..T_H (T_1 acts on the input), their channels, and T_out."""

    maps: tuple[np.ndarray, ...]
    channels: tuple[Channels, ...]
    out: np.ndarray
    layers: tuple[int, int]  # hidden layers [start, stop) of the network
    input_width: int  # before the row-space reduction
    scale: float = 1.0  # the maps are divided by their spectral norms; the bound is multiplied back by this

    @property
    def sizes(self) -> tuple[int, ...]:
        return (self.maps[0].shape[1], *(c.width for c in self.channels))


def row_space_reduction(T: np.ndarray, rtol: float = 1e-12) -> np.ndarray:
    """T Q with Q an orthonormal basis of T's row space: the same norms of T dx, fewer columns when wide."""
    if T.shape[1] <= T.shape[0]:
        return T
    _, s, vh = np.linalg.svd(T, full_matrices=False)
    rank = int(np.sum(s > rtol * s[0])) if s.size and s[0] > 0 else 1
    return T @ vh[:max(rank, 1)].T


def segments(network: Network, cuts: tuple[int, ...] = (), encoding: str = "sum-preserving",
             reduce: bool = True) -> list[Segment]:
    """The network cut before each hidden layer index in ``cuts`` (1 .. depth-1), encoded."""
    depth = network.depth
    if depth == 0:
        raise ValueError("the network has no hidden layer: it is linear, and its Lipschitz constant is the spectral "
                         "norm of its weight (no SDP needed)")
    bad = [c for c in cuts if not 0 < c < depth]
    if bad:
        raise ValueError(f"cuts must lie between hidden layers 1 and {depth - 1}; got {bad}")
    channels = [encode(a, W.shape[0], encoding) for a, W in zip(network.activations, network.weights)]
    bounds = [0, *sorted(set(cuts)), depth]
    out = []
    for start, stop in zip(bounds[:-1], bounds[1:]):
        maps = []
        for h in range(start, stop):
            T = channels[h].pre @ network.weights[h]
            if h > start:
                T = T @ channels[h - 1].post
            maps.append(T)
        tail = network.weights[depth] @ channels[depth - 1].post if stop == depth else channels[stop - 1].post
        width = maps[0].shape[1]
        if reduce:
            maps[0] = row_space_reduction(maps[0])
        norms = [float(np.linalg.norm(T, 2)) or 1.0 for T in (*maps, tail)]
        maps = [T / n for T, n in zip(maps, norms)]
        out.append(Segment(tuple(maps), tuple(channels[start:stop]), tail / norms[-1], (start, stop), width,
                           float(np.prod(norms))))
    return out


@dataclass(frozen=True)
class Multipliers:
    """How one layer's multiplier vector theta maps to the QC coefficients: a = Ka theta, and so on.

    The first ``signed`` entries of theta must be non-negative (slope and group multipliers); the
    rest (identity channels) are free.
    """

    Ka: np.ndarray
    Kb: np.ndarray
    Kc: np.ndarray
    signed: int

    @property
    def size(self) -> int:
        return self.Ka.shape[1]


def multipliers(channels: Channels, structure: str) -> Multipliers:
    if structure not in STRUCTURES:
        raise ValueError(f"unknown multiplier structure {structure!r}; choose one of {', '.join(STRUCTURES)}")
    m = channels.width
    columns: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # (a, b, c) coefficient columns
    slope = np.flatnonzero(channels.kind == SLOPE)
    groups = np.unique(channels.group[channels.kind == GROUP])
    identity = np.flatnonzero(channels.kind == IDENTITY)

    def column(idx: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray) -> None:
        ca, cb, cc = np.zeros(m), np.zeros(m), np.zeros(m)
        ca[idx], cb[idx], cc[idx] = a, b, c
        columns.append((ca, cb, cc))

    al, be = channels.alpha, channels.beta
    per_neuron = structure == "neuron"
    for idx in ([np.array([j]) for j in slope] if per_neuron else [slope] if slope.size else []):
        column(idx, -al[idx] * be[idx], al[idx] + be[idx], -np.ones(idx.size))
    for idx in ([np.flatnonzero(channels.group == g) for g in groups] if per_neuron else
                [np.flatnonzero(channels.kind == GROUP)] if groups.size else []):
        column(idx, np.ones(idx.size), np.zeros(idx.size), -np.ones(idx.size))
    signed = len(columns)
    for idx in ([np.array([j]) for j in identity] if per_neuron else [identity] if identity.size else []):
        column(idx, np.ones(idx.size), -2 * np.ones(idx.size), np.ones(idx.size))
        column(idx, np.ones(idx.size), np.zeros(idx.size), -np.ones(idx.size))
    if not columns:
        raise ValueError("a layer without channels")
    Ka, Kb, Kc = (np.stack([col[i] for col in columns], axis=1) for i in range(3))
    return Multipliers(Ka, Kb, Kc, signed)


def blocks(segment: Segment, coefficients: list[tuple], diag, quad, cross) -> dict[tuple[int, int], object]:
    """The nonzero blocks of M without the -rho I term, for numpy values or cvxpy expressions.

    ``coefficients[h] = (a, b, c)``, ``a`` None when identically zero (slopes [0, beta], the common
    case: then the dense T^T diag(a) T term, with rank-one coefficient matrices, never exists);
    ``diag(v)``, ``quad(T, a) = T^T diag(a) T`` and ``cross(T, b) = T^T diag(b) / 2`` are supplied by
    the caller (numpy or cvxpy).
    """
    out: dict[tuple[int, int], object] = {}
    for h, (T, (a, b, c)) in enumerate(zip(segment.maps, coefficients)):
        out[(h, h)] = out.get((h, h), 0) + (quad(T, a) if a is not None else 0)
        out[(h, h + 1)] = cross(T, b)
        out[(h + 1, h + 1)] = diag(c)
    last = len(segment.maps)
    out[(last, last)] = out[(last, last)] + segment.out.T @ segment.out
    return out
