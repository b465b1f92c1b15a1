"""Small-Gain Nash certificates of the built-in examples, and the game's search against its full grid.

    python benchmarks/small_gain_nash.py [--examples NAME ...] [--grid NAME:OBJECTIVE ...] [--budget 25]

Part 1: for every example, geometry and partition, at the example's natural radius: whether it is
certified (proven constants), only estimated (sampled constants: the entropic geometry) or neither, the margin found by the convex search and by BO (relative gap, seconds of each), the
gain, the Euclidean test, the Euler and RK4 steps with their certified factors, and the worst
per-step ratio measured by simulating 64 random starts for 60 steps (it must not exceed the factor).
Part 2: every formulation of the game (the grid) against a GP-guided campaign with a smaller budget.
Writes benchmarks/results/small_gain_nash_certificates.json and small_gain_nash_grid.json (each part
only when it runs, so the other's results are kept).
"""

from __future__ import annotations

import argparse
import json
import time

from grid import RESULTS, grid_versus_campaign

from games.small_gain_nash import EXAMPLES, SmallGainNashGame, certify, simulate
from games.small_gain_nash.geometry import charts


def certificates(names: list[str]) -> list[dict]:
    rows = []
    print(f"{'example':<24} {'geometry':<9} {'blocks':<11} {'status':<13} {'margin (convex)':>15} {'BO rel. gap':>11} "
          f"{'cvx s':>6} {'BO s':>5} {'gain':>6} {'eucl.':>5} {'Euler step/factor/worst':>26} "
          f"{'RK4 step/factor/worst':>26}")
    for name in names:
        example = EXAMPLES[name]
        game = example.build()
        for geometry, chart in charts(game).items():
            for partition in chart.partitions():
                radius = example.scale if geometry == "entropic" or name != "entropic-matrix" else example.scale / 4
                try:
                    start = time.perf_counter()
                    convex = certify(game, radius, geometry, partition, samples=512)
                    convex_s = time.perf_counter() - start
                    start = time.perf_counter()
                    bo = certify(game, radius, geometry, partition, samples=512, weights="bo")
                    bo_s = time.perf_counter() - start
                except ValueError as error:
                    print(f"{name:<24} {geometry:<9} {partition:<11} error: {error}")
                    continue
                row = {"example": name, "geometry": geometry, "partition": partition, "radius": radius,
                       "status": convex.status, "certified": convex.certified, "reason": convex.reason,
                       "constants": convex.constants.describe(), "margin_convex": convex.margin,
                       "margin_bo": bo.margin, "bo_relative_gap": (convex.margin - bo.margin) / abs(convex.margin),
                       "convex_seconds": round(convex_s, 3), "bo_seconds": round(bo_s, 2), "gain": convex.gain,
                       "euclidean_monotone": convex.euclidean_monotone,
                       "equal_weights_margin": convex.equal_weights_margin, "band": convex.band,
                       "weights": None if convex.weights is None else convex.weights.tolist(),
                       "lipschitz": convex.lipschitz}
                cells = {}
                for method, rule in (("euler", convex.euler), ("rk4", convex.rk4)):
                    cells[method] = "-"
                    if rule is None:
                        continue
                    row[f"{method}_step"], row[f"{method}_factor"] = rule.step, rule.factor
                    row[f"{method}_max_step"] = rule.max_step
                    try:
                        run = simulate(game, convex, method, starts=64, steps=60)
                        row[f"{method}_worst_ratio"], row[f"{method}_contracts"] = run.worst_ratio, run.contracts
                        cells[method] = f"{rule.step:.3g}/{rule.factor:.5f}/{run.worst_ratio:.5f}"
                    except ValueError as error:
                        row[f"{method}_simulation"] = str(error)
                        cells[method] = f"{rule.step:.3g}/{rule.factor:.5f}/-"
                rows.append(row)
                print(f"{name:<24} {geometry:<9} {partition:<11} {convex.status:<13} "
                      f"{convex.margin:>15.6g} {row['bo_relative_gap']:>11.2e} {convex_s:>6.2f} {bo_s:>5.1f} "
                      f"{convex.gain:>6.3f} {'yes' if convex.euclidean_monotone else 'no':>5} "
                      f"{cells['euler']:>26} {cells['rk4']:>26}", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", nargs="*", default=list(EXAMPLES))
    parser.add_argument("--grid", nargs="*", default=["tanh-coupled:region", "entropic-matrix:margin"],
                        help="EXAMPLE:OBJECTIVE pairs for part 2 (none to skip)")
    parser.add_argument("--budget", type=int, default=25)
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    parts = {"certificates": lambda: certificates(args.examples),
             "grid": lambda: [grid_versus_campaign(SmallGainNashGame(name, objective), f"sgn_{name}_{objective}",
                                                   args.budget, args.timeout)
                              for name, objective in (pair.split(":") for pair in args.grid)]}
    for part, run in parts.items():
        if (args.examples if part == "certificates" else args.grid):
            path = RESULTS / f"small_gain_nash_{part}.json"
            path.write_text(json.dumps(run(), indent=1, default=str))
            print(f"wrote {path}")


if __name__ == "__main__":
    main()
