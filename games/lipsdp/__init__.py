"""LipSDP: verified l2 Lipschitz bounds of feed-forward networks, assembled formulation by formulation.

``lipschitz_bound(model)`` solves one formulation and verifies it; ``lower_bound(model)`` samples the
network's slopes (an estimate from below, not a proof); ``certified_radius(network, x, bound)`` turns a bound into a proven
robustness radius at x; :class:`LipSDPGame` lets the engine search over formulations.
"""

from games.lipsdp.api import LipschitzResult, lipschitz_bound, lower_bound
from games.lipsdp.bounds import naive_bound
from games.lipsdp.game import LipSDPGame
from games.lipsdp.network import GroupSort, MaxMin, Network, load_network, random_network
from games.lipsdp.robustness import Robustness, certified_radius

__all__ = ["GroupSort", "LipSDPGame", "LipschitzResult", "MaxMin", "Network", "Robustness", "certified_radius",
           "lipschitz_bound", "load_network", "lower_bound", "naive_bound", "random_network"]
