"""Built-in games, selectable by name (``discover run small-gain-nash --param game=NAME``).

Each is chosen to show one thing; the first four are non-monotone in the Euclidean sense,
``uncertifiable-quadratic`` fails the small-gain test, and ``two-equilibria`` defeats sampled constants.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from games.small_gain_nash.model import DifferentiableGame, entropic_matrix_game, quadratic_game
from games.small_gain_nash.sets import Box, Reals


@dataclass(frozen=True)
class Example:
    build: Callable[[], DifferentiableGame]
    scale: float  # a natural region radius; the game's ladder of radii is built around it
    about: str


def coupled_quadratic() -> DifferentiableGame:
    """Two players, two coordinates each; one strong and one weak cross-coupling (product 0.6 < 1)."""
    Q = np.array([[1.0, 0.0, 3.0, 0.0],
                  [0.0, 1.5, 0.0, 2.0],
                  [0.2, 0.0, 1.0, 0.0],
                  [0.0, 0.1, 0.0, 1.2]])
    return quadratic_game(Q, q=np.array([1.0, -1.0, 0.5, 0.0]), dims=(2, 2), names=("leader", "follower"),
                          name="coupled-quadratic")


def cyclic_quadratic() -> DifferentiableGame:
    """Three scalar players in a cycle of couplings 2, 2, 0.1: gain radius (0.4)^(1/3) = 0.74 < 1."""
    Q = np.array([[1.0, 2.0, 0.0],
                  [0.0, 1.0, 2.0],
                  [0.1, 0.0, 1.0]])
    return quadratic_game(Q, q=np.array([0.5, -0.5, 0.2]), name="cyclic-quadratic")


def tanh_coupled(beta: float = 0.5, a: tuple[float, float] = (3.0, 1.0), b: tuple[float, float] = (0.2, 0.5)) -> DifferentiableGame:
    """Softening own curvature 1 - beta x^2 and saturating couplings a_k tanh, b_k tanh, coordinatewise.

    Player 1: l_1 = |x_1|^2/2 - beta sum x_1^4 / 12 + sum_k a_k x_1k tanh(x_2k); player 2 alike with b.
    The constants depend on the region (curvature falls as it grows), so there is a largest certified
    region. Per player the product max(a) max(b) = 1.5 exceeds 1, but coordinate pairs are coupled only
    to each other (products 0.6 and 0.5): weighting coordinates separately certifies what weighting
    players cannot.
    """
    at, bt = torch.tensor(a, dtype=torch.float64), torch.tensor(b, dtype=torch.float64)

    def first(blocks: tuple[torch.Tensor, ...]) -> torch.Tensor:
        x, y = blocks
        return 0.5 * x @ x - beta * torch.sum(x ** 4) / 12 + torch.sum(at * x * torch.tanh(y))

    def second(blocks: tuple[torch.Tensor, ...]) -> torch.Tensor:
        x, y = blocks
        return 0.5 * y @ y - beta * torch.sum(y ** 4) / 12 + torch.sum(bt * y * torch.tanh(x))

    return DifferentiableGame([first, second], [Reals(2), Reals(2)], ("first", "second"),
                              equilibrium=np.zeros(4), name="tanh-coupled")


def entropic_matrix() -> DifferentiableGame:
    """A general-sum 3x3 bimatrix game with entropy 1: a cyclic row payoff of strength 4, a weak column one."""
    A = np.array([[0.0, 4.0, -2.0], [-2.0, 0.0, 4.0], [4.0, -2.0, 0.0]])
    B = np.array([[0.0, 0.4, 0.1], [0.1, 0.0, 0.3], [0.3, 0.1, 0.0]])
    return entropic_matrix_game(A, B, tau=(1.0, 1.0), name="entropic-matrix")


def uncertifiable_quadratic() -> DifferentiableGame:
    """Two scalar players with couplings 3 and 0.5 against unit curvature: product 1.5 > 1."""
    return quadratic_game(np.array([[1.0, 3.0], [0.5, 1.0]]), q=np.array([1.0, 0.0]),
                          sets=(Box(1, -5.0, 5.0), Box(1, -5.0, 5.0)), name="uncertifiable-quadratic")


def two_equilibria(c: float = 0.5, t: float = 0.5, width: float = 0.003) -> DifferentiableGame:
    """Looks contracting everywhere but in a narrow bump that holds a second equilibrium p = (t, c t).

    l_1 = x^2/2 + x y (c + B g(x, y)), l_2 = y^2/2 - c x y, with g(z) = exp(-|z - p|^2 / (2 width^2)) and
    B = -1/c - c. Then F_2 = y - c x vanishes on y = c x, and F_1 = x + y (c + B g) + x y B dg/dx is 0
    at the origin and at p (where g = 1 and dg/dx = 0): two Nash equilibria. Away from the bump the
    game is the quadratic one with couplings c, so samples that miss the bump see product c^2 < 1;
    inside it J_11 dips to about -B c t^2 / width^2. A referee's construction against sampled constants.
    """
    B, p = -1 / c - c, (t, c * t)

    def first(blocks: tuple[torch.Tensor, ...]) -> torch.Tensor:
        x, y = blocks[0][0], blocks[1][0]
        bump = torch.exp(-((x - p[0]) ** 2 + (y - p[1]) ** 2) / (2 * width ** 2))
        return 0.5 * x ** 2 + x * y * (c + B * bump)

    def second(blocks: tuple[torch.Tensor, ...]) -> torch.Tensor:
        x, y = blocks[0][0], blocks[1][0]
        return 0.5 * y ** 2 - c * x * y

    return DifferentiableGame([first, second], [Reals(1), Reals(1)], ("first", "second"), equilibrium=np.zeros(2),
                              name="two-equilibria")


EXAMPLES: dict[str, Example] = {
    "coupled-quadratic": Example(coupled_quadratic, 1.0, coupled_quadratic.__doc__),
    "cyclic-quadratic": Example(cyclic_quadratic, 1.0, cyclic_quadratic.__doc__),
    "tanh-coupled": Example(tanh_coupled, 0.25, tanh_coupled.__doc__.splitlines()[0]),
    "entropic-matrix": Example(entropic_matrix, 0.5, entropic_matrix.__doc__),
    "uncertifiable-quadratic": Example(uncertifiable_quadratic, 1.0, uncertifiable_quadratic.__doc__),
    "two-equilibria": Example(two_equilibria, 1.0, two_equilibria.__doc__.splitlines()[0]),
}


def load_example(name: str) -> tuple[DifferentiableGame, Example]:
    if name not in EXAMPLES:
        raise ValueError(f"unknown example game {name!r}; choose one of {', '.join(EXAMPLES)}")
    example = EXAMPLES[name]
    return example.build(), example
