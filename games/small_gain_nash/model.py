"""Differentiable games: players, their losses and sets, and the pseudo-gradient F(x) = (grad_{x_i} l_i(x))_i.

A user's game is a list of torch loss functions, one per player, each taking the tuple of all
players' blocks and returning a scalar, and one convex set per player. Gradients come from
``torch.func`` so that the same code is batched with ``vmap`` and differentiated again with
``jacrev`` when the constants of the certificate are estimated.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import torch

from games.small_gain_nash.sets import Box, ConvexSet, Simplex

Loss = Callable[[tuple[torch.Tensor, ...]], torch.Tensor]


class DifferentiableGame:
    """Players i = 1..N with losses l_i(x_1, ..., x_N) + tau_i sum_k x_ik log x_ik and convex sets X_i.

    ``entropy`` holds the weights tau_i (default 0) of an entropy term added to each loss, kept apart
    from the loss so that its curvature is known exactly: tau_i diag(1/x_i) in the players' coordinates,
    tau_i I in the entropic chart's logits (interval arithmetic would lose that cancellation).
    ``jacobian`` is the constant Jacobian of an affine pseudo-gradient, and it is set only by
    :func:`quadratic_game`, whose losses are built from that very matrix (the certificate then uses
    exact constants): a declaration by hand could not be checked against the losses, so a user's game
    gets its constants from the losses themselves. ``equilibrium`` is a known or candidate Nash
    equilibrium (a flat vector), used to place regions and measure distances.
    """

    def __init__(self, losses: Sequence[Loss], sets: Sequence[ConvexSet], names: Sequence[str] | None = None, *,
                 equilibrium: Sequence[float] | None = None,
                 entropy: Sequence[float] | None = None, name: str = "custom") -> None:
        if len(losses) < 1 or len(losses) != len(sets):
            raise ValueError(f"a game needs one loss per player and one set per player; got {len(losses)} losses "
                             f"and {len(sets)} sets")
        for i, s in enumerate(sets):
            if not isinstance(s, ConvexSet):
                raise TypeError(f"player {i}'s set must be a Box, Ball or Simplex, got {type(s).__name__}")
        self.losses = tuple(losses)
        self.sets = tuple(sets)
        self.names = tuple(names) if names is not None else tuple(f"player{i + 1}" for i in range(len(losses)))
        if len(self.names) != len(self.losses) or len(set(self.names)) != len(self.names):
            raise ValueError(f"player names must be unique, one per player; got {list(self.names)}")
        self.name = name
        self.entropy = tuple(float(t) for t in entropy) if entropy is not None else (0.0,) * len(self.losses)
        if len(self.entropy) != len(self.losses) or min(self.entropy) < 0:
            raise ValueError(f"entropy needs one non-negative weight per player, got {entropy}")
        self.dims = tuple(s.dim for s in self.sets)
        self.offsets = tuple(int(o) for o in np.cumsum((0, *self.dims)))
        self.dim = self.offsets[-1]
        self.jacobian: np.ndarray | None = None  # set by quadratic_game only
        self.equilibrium = None if equilibrium is None else torch.as_tensor(equilibrium, dtype=torch.float64)
        if self.equilibrium is not None and self.equilibrium.shape != (self.dim,):
            raise ValueError(f"equilibrium must have {self.dim} coordinates, got {tuple(self.equilibrium.shape)}")

    @property
    def players(self) -> int:
        return len(self.losses)

    def split(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(x[..., a:b] for a, b in zip(self.offsets[:-1], self.offsets[1:]))

    def pseudo_gradient(self, x: torch.Tensor) -> torch.Tensor:
        """F(x): each player's gradient of its own loss in its own block (vmap- and jacrev-safe)."""
        blocks = self.split(x)
        parts = []
        for i, (loss, tau) in enumerate(zip(self.losses, self.entropy)):
            def own(xi: torch.Tensor, i: int = i, loss: Loss = loss) -> torch.Tensor:
                return loss(blocks[:i] + (xi,) + blocks[i + 1:])
            gradient = torch.func.grad(own)(blocks[i])
            parts.append(gradient + tau * (torch.log(blocks[i]) + 1) if tau else gradient)
        return torch.cat(parts, dim=-1)

    def project(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([s.project(b) for s, b in zip(self.sets, self.split(x))], dim=-1)

    def start(self) -> torch.Tensor:
        """The equilibrium if known, else the centre of every set."""
        if self.equilibrium is not None:
            return self.equilibrium.clone()
        return torch.cat([s.centre() for s in self.sets])


def quadratic_game(Q: np.ndarray, q: np.ndarray | None = None, dims: Sequence[int] | None = None,
                   sets: Sequence[ConvexSet] | None = None, *, names: Sequence[str] | None = None,
                   name: str = "quadratic") -> DifferentiableGame:
    """Player i's loss is 1/2 x_i^T Q_ii x_i + x_i^T (sum_{j != i} Q_ij x_j + q_i), so F(x) = Q x + q.

    The diagonal blocks must be symmetric (a loss only sees the symmetric part of its own Hessian).
    With every set unconstrained, or when the solution of Q x = -q lies in the sets, that solution is
    recorded as the equilibrium.
    """
    Q = np.asarray(Q, dtype=float)
    n = Q.shape[0]
    if Q.ndim != 2 or Q.shape != (n, n):
        raise ValueError(f"Q must be a square matrix, got shape {Q.shape}")
    dims = tuple(dims) if dims is not None else (1,) * n if sets is None else tuple(s.dim for s in sets)
    if sum(dims) != n:
        raise ValueError(f"block sizes {dims} do not add up to Q's size {n}")
    sets = tuple(sets) if sets is not None else tuple(Box(d) for d in dims)
    if tuple(s.dim for s in sets) != dims:
        raise ValueError(f"set dimensions {[s.dim for s in sets]} do not match the block sizes {list(dims)}")
    q = np.zeros(n) if q is None else np.asarray(q, dtype=float)
    if q.shape != (n,):
        raise ValueError(f"q must have {n} entries, got shape {q.shape}")
    offsets = np.cumsum((0, *dims))
    for i, (a, b) in enumerate(zip(offsets[:-1], offsets[1:])):
        if not np.array_equal(Q[a:b, a:b], Q[a:b, a:b].T):  # exactly: Q is then the losses' exact Jacobian
            raise ValueError(f"Q's diagonal block {i} is not exactly symmetric: player {i}'s loss only sees its "
                             "symmetric part; pass (Q_ii + Q_ii^T)/2")
    Qt, qt = torch.as_tensor(Q), torch.as_tensor(q)

    def make_loss(i: int) -> Loss:
        a, b = int(offsets[i]), int(offsets[i + 1])

        def loss(blocks: tuple[torch.Tensor, ...]) -> torch.Tensor:
            x = torch.cat(blocks, dim=-1)
            xi = blocks[i]
            own = Qt[a:b, a:b] @ xi
            rest = Qt[a:b] @ x - own
            return 0.5 * xi @ own + xi @ (rest + qt[a:b])
        return loss

    equilibrium = None
    if np.linalg.matrix_rank(Q) == n:
        x = np.linalg.solve(Q, -q)
        xt = torch.as_tensor(x)
        if all(s.contains(b) for s, b in zip(sets, (xt[a:b] for a, b in zip(offsets[:-1], offsets[1:])))):
            equilibrium = x
    game = DifferentiableGame([make_loss(i) for i in range(len(dims))], sets, names, equilibrium=equilibrium,
                              name=name)
    game.jacobian = np.asarray(Q, dtype=float)  # the losses above are built from Q: their Jacobian is Q
    return game


def entropic_matrix_game(A: np.ndarray, B: np.ndarray, tau: tuple[float, float] = (1.0, 1.0), *,
                         name: str = "entropic-matrix") -> DifferentiableGame:
    """A bimatrix game with entropy regularisation, both players on simplices.

    Costs x^T A y + tau_1 sum_k x_k log x_k for the row player and x^T B y + tau_2 sum_k y_k log y_k for
    the column player (B = -A is the zero-sum case). The regularised equilibrium is interior; it is
    found here by a damped logit (soft best-response) iteration and stored as the candidate when that
    iteration converges.
    """
    A, B = np.asarray(A, dtype=float), np.asarray(B, dtype=float)
    if A.ndim != 2 or A.shape != B.shape:
        raise ValueError(f"A and B must be matrices of the same shape, got {A.shape} and {B.shape}")
    if min(tau) <= 0:
        raise ValueError(f"the entropy weights tau must be positive, got {tau}")
    At, Bt = torch.as_tensor(A), torch.as_tensor(B)
    t1, t2 = float(tau[0]), float(tau[1])

    def row(blocks: tuple[torch.Tensor, ...]) -> torch.Tensor:  # the entropy terms are the game's ``entropy``
        x, y = blocks
        return x @ At @ y

    def col(blocks: tuple[torch.Tensor, ...]) -> torch.Tensor:
        x, y = blocks
        return x @ Bt @ y

    m, n = A.shape
    x, y = np.full(m, 1.0 / m), np.full(n, 1.0 / n)
    equilibrium = None
    for _ in range(20_000):  # damped soft best responses: a fixed point is the regularised equilibrium
        x_new = 0.5 * x + 0.5 * _softmax(-(A @ y) / t1)
        y_new = 0.5 * y + 0.5 * _softmax(-(B.T @ x) / t2)
        if max(np.abs(x_new - x).max(), np.abs(y_new - y).max()) < 1e-14:
            equilibrium = np.concatenate([x_new, y_new])
            break
        x, y = x_new, y_new
    return DifferentiableGame([row, col], [Simplex(m), Simplex(n)], ("row", "column"),
                              equilibrium=equilibrium, entropy=(t1, t2), name=name)


def _softmax(v: np.ndarray) -> np.ndarray:
    e = np.exp(v - v.max())
    return e / e.sum()
