"""Sphere-packing density bounds: Cohn–Elkies linear-programming bounds, assembled and verified.

``cohn_elkies_bound(dimension, degree)`` solves one formulation and returns a bound that has been
checked exactly; :class:`SpherePackingGame` lets the engine search over formulations.
"""

from games.sphere_packing.bound import BoundResult, Formulation, cohn_elkies_bound
from games.sphere_packing.game import SpherePackingGame
from games.sphere_packing.known import ball_volume, best_known_density
from games.sphere_packing.verify import Verification, verify_certificate

__all__ = [
           "BoundResult",
           "Formulation",
           "SpherePackingGame",
           "Verification",
           "ball_volume",
           "best_known_density",
           "cohn_elkies_bound",
           "verify_certificate",
]
