"""Small-Gain Nash certificates: certified contraction to the equilibrium of a non-monotone game in a region.

What is proven is local: z*, the unique stationary point of the game in the region, is a Nash
equilibrium of the game restricted to the region (each player's loss is strongly convex in its own
variables there), not necessarily of the whole game, whose losses may be lower outside the region.

``certify(game, region)`` bounds each block's curvature and the cross-block couplings on a
region (exactly, by interval branch and bound, or, labelled as an estimate, from samples), chooses block weights that make the pseudo-gradient strongly monotone in a weighted metric,
and returns that metric, the contraction rate, safe Euler and RK4 steps and, for two players, the
timescale band; ``simulate(game, certificate)`` runs the certified dynamics and measures them.
:class:`SmallGainNashGame` lets the engine search over regions, partitions, geometries and
estimators.
"""

from games.small_gain_nash.certificate import Certificate, certify
from games.small_gain_nash.constants import Constants, Region, region_constants
from games.small_gain_nash.examples import EXAMPLES
from games.small_gain_nash.game import SmallGainNashGame
from games.small_gain_nash.geometry import Chart
from games.small_gain_nash.model import DifferentiableGame, entropic_matrix_game, quadratic_game
from games.small_gain_nash.sets import Ball, Box, Reals, Simplex
from games.small_gain_nash.simulate import Simulation, simulate
from games.small_gain_nash.steps import StepRule
from games.small_gain_nash.weights import bo_weights, convex_weights, gain_radius, margin, timescale_band

__all__ = [
    "Ball", "Box", "Certificate", "Chart", "Constants", "DifferentiableGame", "EXAMPLES", "Reals", "Region",
    "Simplex", "Simulation", "SmallGainNashGame", "StepRule", "bo_weights", "certify", "convex_weights", "entropic_matrix_game",
    "gain_radius", "margin", "quadratic_game", "region_constants", "simulate", "timescale_band",
]
