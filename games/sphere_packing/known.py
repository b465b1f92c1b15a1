"""Reference values: ball volumes and the densest packings known (Conway & Sloane, SPLAG, Table 1.2).

A verified upper bound below the density of a known packing would be a bug, so tests compare
every bound with these. Center densities are exact; density = center density * vol(unit ball).
"""

from __future__ import annotations

import math

# dimension -> (center density of the best packing known, its name)
BEST_KNOWN_CENTER_DENSITY: dict[int, tuple[float, str]] = {
    1: (1 / 2, "Z"),
    2: (1 / (2 * math.sqrt(3)), "A2 (hexagonal)"),
    3: (1 / (4 * math.sqrt(2)), "A3 = D3 (fcc)"),
    4: (1 / 8, "D4"),
    5: (1 / (8 * math.sqrt(2)), "D5"),
    6: (1 / (8 * math.sqrt(3)), "E6"),
    7: (1 / 16, "E7"),
    8: (1 / 16, "E8"),
    9: (1 / (16 * math.sqrt(2)), "Lambda9"),
    10: (5 / 128, "P10c (not a lattice)"),
    11: (9 / 256, "best known (Conway & Sloane)"),
    12: (1 / 27, "Coxeter-Todd K12"),
    13: (9 / 256, "best known (Conway & Sloane)"),
    14: (1 / (16 * math.sqrt(3)), "Lambda14"),
    15: (1 / (16 * math.sqrt(2)), "Lambda15"),
    16: (1 / 16, "Barnes-Wall Lambda16"),
    24: (1.0, "Leech Lambda24"),
}

# Published Cohn–Elkies linear-programming bounds (density), for side-by-side comparison.
PUBLISHED_BOUND: dict[int, float] = {
    4: 0.647742,  # Cohn & Elkies, Annals 2003, Appendix C, Table 3
    8: math.pi ** 4 / 384,  # sharp: Viazovska 2017
    24: math.pi ** 12 / math.factorial(12),  # sharp: Cohn, Kumar, Miller, Radchenko, Viazovska 2017
}


def ball_volume(dimension: int, radius: float = 1.0) -> float:
    """Volume of the n-ball of the given radius."""
    return math.pi ** (dimension / 2) / math.gamma(dimension / 2 + 1) * radius ** dimension


def best_known_density(dimension: int) -> float | None:
    """Density of the densest packing known in this dimension (None where the table has no entry)."""
    if dimension not in BEST_KNOWN_CENTER_DENSITY:
        return None
    return BEST_KNOWN_CENTER_DENSITY[dimension][0] * ball_volume(dimension)
