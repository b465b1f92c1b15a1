"""Sample efficiency: best value against evaluations, surrogate-guided MCTS against the baselines.

    python benchmarks/sample_efficiency.py [--seeds 10] [--budget 100] [--problems toy-formulation]

For every benchmark problem and method, ``--seeds`` campaigns (inline backend, so each is exactly
reproducible) record the best value after each evaluation. Writes JSON and a PNG of median
best-so-far curves with quartile bands under benchmarks/results/, and prints the headline table:
the evaluations surrogate-guided MCTS needs to reach each baseline's final value (median over
seeds), as a fraction of the baseline's budget (target: at most 0.5 against the best baseline).
It also times one planner + surrogate decision with 200 and 1000 observations.
"""

from __future__ import annotations

import argparse
import json
import math
import time
import warnings
from pathlib import Path

import numpy as np

import discover
from discover.planner import Planner, PlannerConfig
from discover.types import EvalContext
from surrogates import GPEstimator

# each real game adds itself here with a cheap instance and a budget
PROBLEMS: dict[str, dict] = {
    "toy-formulation": {"params": {}, "budget": 120},
}
METHODS: dict[str, dict] = {
    "gp-mcts": {"method": "mcts", "surrogate": "gp"},
    "uct": {"method": "mcts", "surrogate": "none"},
    "random": {"method": "random", "surrogate": "none"},
    "flat-bo": {"method": "flat-bo", "surrogate": "none"},
    "tpe": {"method": "tpe", "surrogate": "none"},
}
GUIDED = "gp-mcts"


def best_so_far(history: list[discover.EvaluationRecord], budget: int) -> list[float]:
    curve, best = [], -math.inf
    for e in history:
        if e.value is not None:
            best = max(best, e.value)
        curve.append(best)
    return (curve + [best] * budget)[:budget]


def run_one(problem: str, method: str, seed: int, budget: int, db: Path) -> dict:
    spec = METHODS[method]
    tick = time.perf_counter()
    result = discover.Campaign(problem, params=PROBLEMS[problem]["params"], budget=budget, seed=seed, db=db,
                               backend="inline", method=spec["method"], surrogate=spec["surrogate"]).run()
    seconds = time.perf_counter() - tick
    return {"curve": best_so_far(result.history, budget), "seconds": seconds,
            "seconds_per_decision": seconds / max(len(result.history), 1)}


def evaluations_to_reach(curve: list[float], target: float) -> float:
    """1-based number of evaluations until ``curve`` reaches ``target`` (inf if never)."""
    for i, v in enumerate(curve):
        if v >= target - 1e-12:
            return i + 1
    return math.inf


def decision_time(observations: int, decisions: int = 8) -> dict:
    """Seconds per planner + GP decision once ``observations`` evaluations are known."""
    game = discover.load_game("toy-formulation")
    estimator = GPEstimator(game, seed=0)
    planner = Planner(game, estimator=estimator, config=PlannerConfig(rule="puct"), seed=0)
    rng = np.random.default_rng(0)
    for _ in range(observations):  # what a long campaign would have seen
        state = game.random_completion((), rng)
        estimator.observe(game, state, game.evaluate(state, EvalContext()).checked())
    times = []
    for _ in range(decisions):
        tick = time.perf_counter()
        (proposal,) = planner.ask(1)
        times.append(time.perf_counter() - tick)
        planner.tell(proposal, game.evaluate(proposal.state, EvalContext()).checked())
    return {"observations": observations, "median_seconds": float(np.median(times)),
            "max_seconds": float(np.max(times)), "decisions": decisions}


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(7 * len(results), 4.5), squeeze=False)
    for ax, (problem, by_method) in zip(axes[0], results.items()):
        for method, runs in by_method.items():
            curves = np.array([r["curve"] for r in runs])
            x = np.arange(1, curves.shape[1] + 1)
            q25, q50, q75 = np.percentile(curves, [25, 50, 75], axis=0)
            ax.plot(x, q50, label=method, lw=2.5 if method == GUIDED else 1.5)
            ax.fill_between(x, q25, q75, alpha=0.15)
        ax.set_title(f"{problem}: median best-so-far, quartile bands")
        ax.set_xlabel("evaluations")
        ax.set_ylabel("best value")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--budget", type=int, default=None, help="override each problem's budget")
    parser.add_argument("--problems", nargs="*", default=list(PROBLEMS))
    parser.add_argument("--methods", nargs="*", default=list(METHODS))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    args.out.mkdir(parents=True, exist_ok=True)
    import tempfile

    results: dict[str, dict[str, list[dict]]] = {}
    headline: dict[str, dict[str, dict]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for problem in args.problems:
            budget = args.budget or PROBLEMS[problem]["budget"]
            results[problem] = {}
            for method in args.methods:
                runs = []
                for seed in range(args.seeds):
                    runs.append(run_one(problem, method, seed, budget, Path(tmp) / f"{problem}-{method}-{seed}.db"))
                    print(f"  {problem:16} {method:8} seed {seed}: best {runs[-1]['curve'][-1]:.5f} "
                          f"({runs[-1]['seconds']:.1f} s)", flush=True)
                results[problem][method] = runs
            guided = results[problem].get(GUIDED)
            headline[problem] = {}
            for method, runs in results[problem].items():
                final = float(np.median([r["curve"][-1] for r in runs]))
                row = {"median_final_best": final,
                       "median_seconds_per_decision": float(np.median([r["seconds_per_decision"] for r in runs]))}
                if guided is not None and method != GUIDED:
                    needed = float(np.median([evaluations_to_reach(r["curve"], final) for r in guided]))
                    reached = math.isfinite(needed)  # inf: the guided planner never got there
                    row.update(guided_evaluations_to_reach=needed if reached else None,
                               fraction_of_budget=needed / budget if reached else None)
                headline[problem][method] = row

    timing = [decision_time(n) for n in (200, 1000)]
    print()
    for problem, rows in headline.items():
        budget = args.budget or PROBLEMS[problem]["budget"]
        print(f"{problem} (budget {budget}, {args.seeds} seeds): evaluations {GUIDED} needs to reach each "
              "method's final value (median), as a fraction of that method's budget")
        print(f"{'method':>9}  {'final best':>10}  {'gp-mcts needs':>13}  {'fraction':>8}  {'s/decision':>10}")
        for method, row in rows.items():
            needs = row.get("guided_evaluations_to_reach")
            frac = row.get("fraction_of_budget")
            print(f"{method:>9}  {row['median_final_best']:10.5f}  {'-' if needs is None else f'{needs:g}':>13}  "
                  f"{'-' if frac is None else f'{frac:.2f}':>8}  {row['median_seconds_per_decision']:10.3f}")
        baselines = {m: r for m, r in rows.items() if m != GUIDED}
        if baselines and GUIDED in rows:
            best = max(baselines, key=lambda m: baselines[m]["median_final_best"])
            frac = baselines[best]["fraction_of_budget"]
            reach = "never reaches it" if frac is None else f"reaches it in {frac:.0%} of the budget"
            print(f"headline: best baseline {best} ends at {baselines[best]['median_final_best']:.5f}; "
                  f"{GUIDED} {reach} (target <= 50%)\n")
    print("planner + GP time per decision (toy-formulation)")
    for t in timing:
        print(f"  {t['observations']:>5} observations: median {t['median_seconds']:.3f} s, max {t['max_seconds']:.3f} s")
    (args.out / "sample_efficiency.json").write_text(json.dumps(
        {"headline": headline, "decision_time": timing, "seeds": args.seeds,
         "curves": {p: {m: [r["curve"] for r in runs] for m, runs in by.items()} for p, by in results.items()}},
        indent=1))
    plot(results, args.out / "sample_efficiency.png")
    print(f"wrote {args.out / 'sample_efficiency.json'} and {args.out / 'sample_efficiency.png'}")


if __name__ == "__main__":
    main()
