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

Row-space reduction: only W_1 x enters the network. With Q (n x r, computed) spanning the
right singular vectors of W_1 above 1e-12 of the largest, the LMI is posed for T_1 Q (r columns
instead of n) and W_1 = (T_1 Q) Q^T + D, where D holds the dropped directions and every rounding.
Then f(x) - f(x') = [rest(T_1Q z + D x) - rest(T_1Q z + D x')] + [rest(T_1Q z + D x') - rest(T_1Q z' + D x')]
with z = Q^T x, so Lip(f) <= sqrt(rho) ||Q||_2 + ||D||_2 Lip(rest), Lip(rest) bounded by the product of
the later maps' norms and the slope bounds (the QCs hold for every bias, so D x' is a harmless shift).
Both terms are computed as rigorous upper bounds (:mod:`games.lipsdp.rigorous`); when nothing but
rounding is dropped the second term is ~1e-16 of the first.

Exact data: every map is kept as an enclosure (float mid, entrywise radius) of the exact encoded
map, since Helmert entries are irrational and products round; the verification works on enclosures.

Scaling: the QCs are homogeneous in (dv, dy) layer by layer, so scaling T_h by c_h scales the
optimal rho by c_h^2 (substitute y_h -> (c_1 ... c_h) y_h). Each segment's maps are divided by the
power of two nearest their spectral norms (exact in floating point), which keeps the solver's
numbers near 1, and the bound multiplied back.

Splitting: a network cut into consecutive segments f = g_S o ... o g_1 has Lip(f) <= prod Lip(g_s). A
segment that ends inside the network outputs its last layer's true activations (T_out = the layer's
decoding, e.g. H^T).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from functools import cache
from itertools import pairwise

import numpy as np
from scipy.linalg import helmert

from games.lipsdp.network import Activation, Network
from games.lipsdp.rigorous import (
    TINY,
    U,
    add_up,
    frobenius_up,
    mul_up,
    product,
    spectral_norm_up,
    sqrt_up,
    up,
)

STRUCTURES = ("layer", "neuron")
ENCODINGS = ("sum-preserving", "residual-relu")
SLOPE, IDENTITY, GROUP = 0, 1, 2


@dataclass(frozen=True)
class Channels:
    """One hidden layer after encoding: v_enc = pre v, y = post y_enc, and what each channel satisfies.

    ``pre``/``post`` are enclosures (mid, radius) of the exact encoding matrices, None for the identity.
    """

    pre: tuple[np.ndarray, np.ndarray] | None
    post: tuple[np.ndarray, np.ndarray] | None
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
        return Channels(None, None, np.full(width, SLOPE), np.full(width, activation.alpha),
                        np.full(width, activation.beta), np.full(width, -1))
    g = activation.group_size
    groups = width // g
    if encoding == "residual-relu":
        if g != 2:
            raise ValueError(f"the residual-relu encoding exists for MaxMin only, not {activation.name}")
        pre = np.kron(np.eye(groups), np.array([[1.0, 0.0], [0.0, 1.0], [1.0, -1.0]]))
        post = np.kron(np.eye(groups), np.array([[0.0, 1.0, 1.0], [1.0, 0.0, -1.0]]))
        kind = np.tile([IDENTITY, IDENTITY, SLOPE], groups)
        return Channels((pre, np.zeros_like(pre)), (post, np.zeros_like(post)), kind, np.zeros(3 * groups),
                        np.ones(3 * groups), np.full(3 * groups, -1))
    h, r = helmert_enclosure(g)  # first row 1/sqrt(g), the others sum to zero
    H, rH = np.kron(np.eye(groups), h), np.kron(np.eye(groups), r)
    kind = np.tile([IDENTITY] + [GROUP] * (g - 1), groups)
    group = np.where(kind == GROUP, np.repeat(np.arange(groups), g), -1)
    return Channels((H, rH), (H.T, rH.T), kind, np.zeros(width), np.ones(width), group)


@cache
def helmert_enclosure(g: int) -> tuple[np.ndarray, np.ndarray]:
    """scipy's float Helmert matrix and a rigorous bound on its entrywise error.

    Each exact entry is +-sqrt(q) with q rational (1/g; 1/(k(k+1)) or k/(k+1) in row k), and for a
    float h of the same sign |h - sqrt(q)| = |h^2 - q| / (|h| + sqrt(q)) <= |h^2 - q| / |h|, exact in rationals.
    """
    H = helmert(g, full=True)
    rad = np.zeros_like(H)
    for i in range(g):
        for j in range(g):
            q = Fraction(1, g) if i == 0 else Fraction(1, i * (i + 1)) if j < i else Fraction(i, i + 1) if j == i else 0
            h = Fraction(float(H[i, j]))
            if (h == 0) != (q == 0):
                raise ArithmeticError(f"scipy's Helmert matrix of size {g} has an unexpected zero pattern")
            rad[i, j] = up(float(abs(h * h - q) / abs(h))) if h else 0.0
    return H, rad


@dataclass(frozen=True)
class Segment:
    """Consecutive hidden layers: maps T_1..T_H (T_1 acts on the input), their channels, and T_out."""

    maps: tuple[np.ndarray, ...]
    radii: tuple[np.ndarray, ...]  # |exact map - map| <= radius entrywise (the reduced first map is exact by definition)
    channels: tuple[Channels, ...]
    out: np.ndarray
    out_radius: np.ndarray
    layers: tuple[int, int]  # hidden layers [start, stop) of the network
    exponent: int = 0  # the maps are divided by powers of two; the bound is multiplied back by 2^exponent
    input_gain: float = 1.0  # upper bound of ||Q||_2 of the row-space reduction (1 without one)
    dropped: float = 0.0  # upper bound of ||D||_2 Lip(rest): what the reduction left out, added to the bound

    @property
    def scale(self) -> float:
        return float(np.ldexp(1.0, self.exponent))  # inf beyond the float range, never an exception

    def bound(self, rho: float) -> float:
        """The segment's certified bound from a certified rho: (sqrt(rho) ||Q|| + dropped) 2^exponent, rounded up."""
        with np.errstate(over="ignore"):
            return up(float(np.ldexp(add_up(mul_up(sqrt_up(rho), self.input_gain), self.dropped), self.exponent)))

    @property
    def sizes(self) -> tuple[int, ...]:
        return (self.maps[0].shape[1], *(c.width for c in self.channels))


def row_space_basis(T: np.ndarray, rtol: float = 1e-12) -> np.ndarray | None:
    """Q, an (approximately) orthonormal basis of T's row space above rtol of its largest singular value;
    None when T is not wider than tall (nothing to gain)."""
    if T.shape[1] <= T.shape[0]:
        return None
    _, s, vh = np.linalg.svd(T, full_matrices=False)
    rank = int(np.sum(s > rtol * s[0])) if s.size and s[0] > 0 else 1
    return vh[:max(rank, 1)].T


def encoded_map(W: np.ndarray, pre: tuple | None, post: tuple | None) -> tuple[np.ndarray, np.ndarray]:
    """Enclosure of pre W post (identity where None)."""
    T, rT = W, np.zeros_like(W)
    if post is not None:
        T, rT = product(T, rT, *post)
    if pre is not None:
        T, rT = product(*pre, T, rT)
    return T, rT


def power_of_two_scaled(T: np.ndarray, rT: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """T / 2^e with 2^e nearest ||T||_2: exact in floating point (TINY covers underflow); e returned."""
    norm = float(np.linalg.norm(T, 2))
    e = round(math.log2(norm)) if norm > 0 and math.isfinite(norm) else 0
    return np.ldexp(T, -e), np.ldexp(rT, -e) + TINY, e


def norm_up(T: np.ndarray, rT: np.ndarray) -> float:
    """Upper bound of the spectral norm of every matrix in the enclosure (T, rT)."""
    return add_up(spectral_norm_up(T), frobenius_up(rT))


def reduce_first_map(S: np.ndarray, rS: np.ndarray, rest: float) -> tuple[np.ndarray, float, float] | None:
    """(S Q, bound of ||Q||_2, bound of ||D||_2 rest) for S = (S Q) Q^T + D, or None if S is not wide.

    ``rest`` bounds the Lipschitz constant of the segment after its first map.
    """
    Q = row_space_basis(S)
    if Q is None:
        return None
    reduced = S @ Q  # the reduced map, exact by definition; D accounts for everything else
    P, rP = product(reduced, None, Q.T, None)
    D = S - P
    d_norm = frobenius_up(np.abs(D) * (1 + 2 * U) + rS + rP)
    G, rG = product(Q.T, None, Q, None)
    gain = sqrt_up(add_up(1.0, frobenius_up(G - np.eye(G.shape[0])) * (1 + 2 * U), frobenius_up(rG)))
    return reduced, gain, mul_up(d_norm, rest)


def segments(network: Network, cuts: tuple[int, ...] = (), encoding: str = "sum-preserving",
             reduce: bool = True) -> list[Segment]:
    """The network cut before each hidden layer index in ``cuts`` (1 .. depth-1), encoded and enclosed."""
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
    for start, stop in pairwise(bounds):
        enclosed = [encoded_map(network.weights[h], channels[h].pre, channels[h - 1].post if h > start else None)
                    for h in range(start, stop)]
        post = channels[stop - 1].post
        if stop == depth:
            enclosed.append(encoded_map(network.weights[depth], None, post))
        else:
            enclosed.append(post if post is not None else (np.eye(network.weights[stop - 1].shape[0]),
                                                           np.zeros((network.weights[stop - 1].shape[0],) * 2)))
        scaled = [power_of_two_scaled(T, rT) for T, rT in enclosed]
        maps, radii = [m for m, _, _ in scaled[:-1]], [r for _, r, _ in scaled[:-1]]
        (tail, tail_radius, _), exponent = scaled[-1], sum(e for _, _, e in scaled)
        gain, dropped = 1.0, 0.0
        if reduce and maps[0].shape[1] > maps[0].shape[0]:
            lips = [a.lipschitz for a in network.activations[start:stop]]
            rest = mul_up(*lips, *(norm_up(T, r) for T, r in zip(maps[1:], radii[1:])), norm_up(tail, tail_radius))
            maps[0], gain, dropped = reduce_first_map(maps[0], radii[0], rest)
            radii[0] = np.zeros_like(maps[0])
        out.append(Segment(tuple(maps), tuple(radii), tuple(channels[start:stop]), tail, tail_radius, (start, stop),
                           exponent, gain, dropped))
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


def blocks(count: int, coefficients: list[tuple], diag, quad, cross, gram) -> dict[tuple[int, int], object]:
    """The nonzero blocks of M without the -rho I term, for numpy enclosures or cvxpy expressions.

    ``count`` hidden layers; ``coefficients[h] = (a, b, c)``, ``a`` None when identically zero (slopes
    [0, beta], the common case: then the dense T^T diag(a) T term, with rank-one coefficient matrices,
    never exists); ``diag(v)``, ``quad(h, a) = T_h^T diag(a) T_h``, ``cross(h, b) = T_h^T diag(b) / 2`` and
    ``gram() = T_out^T T_out`` are supplied by the caller.
    """
    out: dict[tuple[int, int], object] = {}
    for h, (a, b, c) in enumerate(coefficients[:count]):
        out[(h, h)] = out.get((h, h), 0) + (quad(h, a) if a is not None else 0)
        out[(h, h + 1)] = cross(h, b)
        out[(h + 1, h + 1)] = diag(c)
    out[(count, count)] = out[(count, count)] + gram()
    return out
