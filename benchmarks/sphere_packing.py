"""Cohn–Elkies bounds in dimensions 3-16 and 24, and a campaign against a full grid of formulations.

    python benchmarks/sphere_packing.py [--dimensions 3 4 ... 24] [--start-degree 27] [--grid]

Part 1 (convergence): for each dimension, degrees 27, 31, 35, ... until converged: the verified bound of the default formulation
(sampled LP with exchange, Laguerre basis, HiGHS), its time, the best known packing density beside it,
the published Cohn–Elkies value where we have one, and the gap: bound / reference - 1, the reference
being the sharp value in dimensions 8 and 24 and the best known packing elsewhere. "converged" means two consecutive degrees agree
to 1e-5 relative (what matching the published tables to 4 significant digits needs).
Part 2 (``--grid``): every formulation of the game in one dimension is evaluated (the grid), and a
GP-guided campaign runs on the same game; reported: the grid's best, and how many evaluations the
campaign needed to reach it (or its best within its budget).
Writes benchmarks/results/sphere_packing.json (or --output).
"""

from __future__ import annotations

import argparse
import json

from grid import RESULTS, grid_versus_campaign

from discover.decimals import decimal_up
from games.sphere_packing import (
    SpherePackingGame,
    best_known_density,
    cohn_elkies_bound,
)
from games.sphere_packing.known import PUBLISHED_BOUND
from games.sphere_packing.solve import DEFAULT_MARGIN


def convergence(dimensions: list[int], start_degree: int, max_degree: int, margin: float,
                time_limit: float) -> list[dict]:
    """Raise the degree by 4 until the bound moves by less than 1e-5 relative (or time runs out)."""
    rows = []
    print(f"{'n':>3} {'degree':>6} {'verified bound':>16} {'seconds':>8} {'best known':>10} "
          f"{'published':>10} {'gap':>9} {'rel. change':>11} {'dim. total s':>12}")
    for n in dimensions:
        previous, spent, degree = None, 0.0, start_degree
        while degree <= max_degree and spent < time_limit:
            result = cohn_elkies_bound(n, degree, margin=margin, tolerance=margin / 10)
            spent += result.seconds
            change = (abs(result.density - previous) / result.density
                      if result.verified and previous is not None else None)
            row = {"dimension": n, "degree": degree, "verified": result.verified, "density": result.density,
                   "seconds": round(result.seconds, 2), "dimension_seconds": round(spent, 1),
                   "best_known": best_known_density(n), "published": PUBLISHED_BOUND.get(n),
                   "relative_change": change, "converged": change is not None and change < 1e-5,
                   "reason": result.reason, "radius": result.radius}
            reference = PUBLISHED_BOUND[n] if n in (8, 24) else row["best_known"]
            row["gap"] = result.density / reference - 1 if result.verified and reference else None
            rows.append(row)
            pub = f"{row['published']:.6g}" if row["published"] else "-"
            ch = f"{change:.2e}" if change is not None else "-"
            shown = decimal_up(result.density, 10) if result.verified else "failed"  # a bound: rounded up
            gap = f"{row['gap']:.2e}" if row["gap"] is not None else "-"
            print(f"{n:>3} {degree:>6} {shown:>16} {result.seconds:>8.1f} {row['best_known']:>10.6g} {pub:>10} "
                  f"{gap:>9} {ch:>11} {spent:>12.1f}", flush=True)
            if row["converged"]:
                break
            if result.verified:
                previous = result.density
            degree += 4
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dimensions", type=int, nargs="+", default=[*range(3, 17), 24])
    parser.add_argument("--start-degree", type=int, default=27)
    parser.add_argument("--max-degree", type=int, default=63)
    parser.add_argument("--output", default="sphere_packing.json", help="results file under benchmarks/results")
    parser.add_argument("--time-limit", type=float, default=300.0, help="seconds per dimension")
    parser.add_argument("--margin", type=float, default=DEFAULT_MARGIN)
    parser.add_argument("--grid", action="store_true", help="also run part 2 (grid against campaign)")
    parser.add_argument("--grid-dimension", type=int, default=4)
    parser.add_argument("--grid-max-degree", type=int, default=15)
    parser.add_argument("--budget", type=int, default=30)
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    report = {"convergence": convergence(args.dimensions, args.start_degree, args.max_degree, args.margin,
                                         args.time_limit) if args.dimensions else []}
    if args.grid:
        game = SpherePackingGame(dimension=args.grid_dimension, max_degree=args.grid_max_degree)
        report["grid_vs_campaign"] = grid_versus_campaign(game, f"sphere_n{args.grid_dimension}", args.budget,
                                                          args.timeout, seed=0)
    path = RESULTS / args.output
    path.write_text(json.dumps(report, indent=1))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
