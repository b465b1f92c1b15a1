"""Certified numbers printed the safe way: an upper bound rounded up, a lower bound rounded down
(summary lines of the games, and every value the engine prints: :meth:`discover.types.Objective.text`).

A summary line is read, copied and quoted, so a bound printed to a few digits must still be a bound:
``f"{x:.6g}"`` rounds to nearest and may print a number on the wrong side of what was proven.
"""

from __future__ import annotations

import math
from decimal import ROUND_CEILING, Decimal


def decimal_up(x: float, digits: int = 6) -> str:
    """x with ``digits`` significant digits, rounded up (towards +infinity)."""
    if not math.isfinite(x) or x == 0:
        return str(x) if x else "0"
    exact = Decimal(x)  # a float converts exactly
    quantum = Decimal(1).scaleb(exact.adjusted() - digits + 1)
    rounded = exact.quantize(quantum, rounding=ROUND_CEILING).normalize()
    if 0 < rounded.as_tuple().exponent and rounded.adjusted() < digits:  # 1E+1 would print as "1e+1"
        rounded = rounded.quantize(Decimal(1))
    return f"{rounded:g}"


def decimal_down(x: float, digits: int = 6) -> str:
    """x with ``digits`` significant digits, rounded down (towards -infinity)."""
    text = decimal_up(-x, digits)
    return text[1:] if text.startswith("-") else ("-" + text if text != "0" else text)
