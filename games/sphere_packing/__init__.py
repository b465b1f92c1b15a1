"""Sphere-packing density bounds: Cohn–Elkies linear-programming bounds and truncated three-point
bounds (Cohn, de Laat & Salmon), assembled and verified.

``cohn_elkies_bound(dimension, degree)`` and ``three_point_bound(dimension, degree, kernel_degree)``
solve one formulation each and return a bound that has been checked rigorously;
:class:`SpherePackingGame` lets the engine search over formulations of the ``FAMILIES`` it is given
(``cohn-elkies``, ``three-point``); :class:`ThreePointGame` is it with the three-point family alone.
"""

from games.sphere_packing.bound import BoundResult, Formulation, cohn_elkies_bound
from games.sphere_packing.game import FAMILIES, SpherePackingGame, ThreePointGame
from games.sphere_packing.known import ball_volume, best_known_density
from games.sphere_packing.three_point import ThreePointFormulation
from games.sphere_packing.three_point_bound import ThreePointResult, three_point_bound
from games.sphere_packing.three_point_verify import (
           ThreePointCertificate,
           verify_three_point,
)
from games.sphere_packing.verify import Verification, verify_certificate

__all__ = [
           "FAMILIES",
           "BoundResult",
           "Formulation",
           "SpherePackingGame",
           "ThreePointCertificate",
           "ThreePointFormulation",
           "ThreePointGame",
           "ThreePointResult",
           "Verification",
           "ball_volume",
           "best_known_density",
           "cohn_elkies_bound",
           "three_point_bound",
           "verify_certificate",
           "verify_three_point",
]
