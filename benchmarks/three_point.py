"""Three-point bounds (Cohn, de Laat & Salmon) against the Cohn–Elkies LP bound at the same f2 degree.

    python benchmarks/three_point.py [--dimensions 3 4 5] [--degree 11] [--kernel-degrees 6 8 10]
                                     [--truncations 1.3]

For each dimension: the verified LP bound at ``--degree`` (its radius r is reused), then the verified
three-point bound for each kernel degree D and truncation R / r, with the solver's claim, the seconds
for solve + verification, the verification seconds and boxes, and the CdLS Table 6.1 value beside it.
Writes benchmarks/results/three_point.json (or --output).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from games.sphere_packing import best_known_density, cohn_elkies_bound
from games.sphere_packing.three_point_bound import three_point_bound

RESULTS = Path(__file__).resolve().parent / "results"
# Cohn, de Laat & Salmon, arXiv 2206.15373, Table 6.1 (their degree 9, rigorous)
CDLS = {3: 0.770270440, 4: 0.636107333, 5: 0.512645131, 6: 0.410303282, 7: 0.321147106}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dimensions", type=int, nargs="+", default=[3, 4, 5])
    parser.add_argument("--degree", type=int, default=11)
    parser.add_argument("--kernel-degrees", type=int, nargs="+", default=[6, 8, 10])
    parser.add_argument("--truncations", type=float, nargs="+", default=[1.3])
    parser.add_argument("--output", default="three_point.json")
    args = parser.parse_args()
    rows = []
    print(f"{'n':>2} {'deg':>3} {'D':>3} {'R/r':>5} {'verified bound':>15} {'LP (same deg)':>14} {'CdLS 6.1':>11} "
          f"{'best known':>10} {'solve+verify s':>14} {'verify s':>8} {'boxes':>8}")
    for n in args.dimensions:
        start = time.perf_counter()
        lp = cohn_elkies_bound(n, args.degree)
        lp_seconds = time.perf_counter() - start
        for kernel in args.kernel_degrees:
            for truncation in args.truncations:
                res = three_point_bound(n, args.degree, kernel, radius=lp.radius, truncation=truncation)
                row = {"dimension": n, "degree": args.degree, "kernel_degree": kernel, "truncation": truncation,
                       "verified": res.verified, "density": res.density, "numerical": res.numerical_density,
                       "reason": res.reason, "lp_density": lp.density, "lp_seconds": round(lp_seconds, 1),
                       "cdls": CDLS.get(n), "best_known": best_known_density(n), "radius": res.radius,
                       "seconds": round(res.seconds, 1), "verify_seconds": round(res.verify_seconds, 1),
                       "boxes": res.boxes,
                       "certificate": res.certificate.artifacts() if res.verified else None}
                rows.append(row)
                shown = f"{res.density:.9f}" if res.verified else "failed"
                cdls = f"{CDLS[n]:.9f}" if n in CDLS else "-"
                print(f"{n:>2} {args.degree:>3} {kernel:>3} {truncation:>5.2f} {shown:>15} {lp.density:>14.9f} "
                      f"{cdls:>11} {best_known_density(n):>10.7f} {res.seconds:>14.1f} {res.verify_seconds:>8.1f} "
                      f"{res.boxes:>8}" + ("" if res.verified else f"  ({res.reason[:80]})"), flush=True)
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / args.output
    path.write_text(json.dumps(rows, indent=1))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
