"""Certify learning dynamics that Euclidean monotonicity cannot: three examples.

1. An entropy-regularised 3x3 bimatrix game on simplices, in the mirror (entropic) geometry, where a
   step of the dynamics is one multiplicative-weights update; certified with interval constants and
   simulated.
2. A user's own game from torch losses: two players in boxes with a cubic coupling. Its Jacobian is
   enclosed by interval arithmetic, so the certificate is a proof; simulated too.
3. Why estimates are labelled: a game with a second equilibrium hidden in a narrow bump. Samples miss
   the bump; the interval enclosure finds it and refuses.

Run: python examples/small_gain_nash.py
"""

import numpy as np
import torch

from games.small_gain_nash import Box, DifferentiableGame, certify, entropic_matrix_game, simulate
from games.small_gain_nash.examples import two_equilibria

# 1. Row player: a cyclic payoff of strength 4; column player: a weak payoff; entropy weight 1 each.
A = np.array([[0.0, 4.0, -2.0], [-2.0, 0.0, 4.0], [4.0, -2.0, 0.0]])
B = np.array([[0.0, 0.4, 0.1], [0.1, 0.0, 0.3], [0.3, 0.1, 0.0]])
matrix_game = entropic_matrix_game(A, B, tau=(1.0, 1.0))
certificate = certify(matrix_game, region=0.5, geometry="entropic")
print("entropic matrix game:", certificate.summary())
for method in ("euler", "rk4"):
    print("  simulated:", simulate(matrix_game, certificate, method, starts=64, steps=60).summary())


# 2. Your own game: losses take the tuple of all players' blocks and return a scalar.
def leader(blocks):
    x, y = blocks
    return 0.5 * x @ x + 2.5 * x @ y + 0.1 * torch.sum(x * y ** 3)


def follower(blocks):
    x, y = blocks
    return 0.5 * y @ y + 0.2 * x @ y


own = DifferentiableGame([leader, follower], [Box(2, -1.0, 1.0), Box(2, -1.0, 1.0)], ("leader", "follower"),
                         equilibrium=np.zeros(4))
certificate = certify(own, region=0.5)
print("own game:", certificate.summary())
print("  simulated:", simulate(own, certificate, "euler").summary())

# 3. Two Nash equilibria, (0, 0) and (0.5, 0.25), the second inside a bump of width 0.003.
hidden = two_equilibria()
print("two equilibria, sampled:", certify(hidden, region=1.0, constants="sampled").summary())
print("two equilibria, proven: ", certify(hidden, region=1.0).summary())
