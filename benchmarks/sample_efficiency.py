"""Sample efficiency: best value against evaluations, surrogate-guided MCTS against the baselines.

    python benchmarks/sample_efficiency.py [--seeds 10] [--budget 60] [--problems ...] [--methods ...] [--jobs 2]

Problems: the published ones of ``problems.py`` (tree-structured, mixed, constrained; see its
references), and small instances of the three real games, whose evaluations are tabulated on first
use (``Tabulated``: each formulation is solved once and the outcome reused by every method and seed,
so the comparison is exact and affordable). For every problem, method and seed a campaign (inline
backend, so each is exactly reproducible) records the best value after each evaluation. Writes JSON
and a PNG of median best-so-far curves with quartile bands under benchmarks/results/, and prints the
headline table: the evaluations GP-MCTS needs (median over seeds) to reach the best baseline's
median final value and to come within 1% of the known optimum. It also times one planner + surrogate
decision at 200 and 1000 observations, with a busy process beside it (the real condition).
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any, Sequence

import numpy as np

import discover
from discover.game import Game
from discover.planner import Planner, PlannerConfig
from discover.types import Action, EvalContext, Outcome, Player, State, Status
from surrogates import GPEstimator

sys.path.insert(0, str(Path(__file__).parent))
from problems import PUBLISHED  # noqa: E402

RESULTS = Path(__file__).parent / "results"


class Tabulated(Game):
    """A real game whose outcomes are computed once per formulation and cached in a JSON file.

    The inner game's starting formulations are not forwarded: every method would begin with the
    same library call, and the benchmark measures how fast a method finds good formulations itself."""

    def __init__(self, inner: Game, tag: str, timeout: float) -> None:
        self.inner, self.tag, self.timeout = inner, tag, timeout
        self.name = f"tabulated-{tag}"
        self.path = RESULTS / "tables" / f"{tag}.json"
        self.table: dict[str, list] = json.loads(self.path.read_text()) if self.path.exists() else {}

    def initial_state(self) -> State:
        return self.inner.initial_state()

    def to_move(self, state: State) -> Player:
        return self.inner.to_move(state)

    def actions(self, state: State) -> Any:
        return self.inner.actions(state)

    def apply(self, state: State, action: Action) -> State:
        return self.inner.apply(state, action)

    def features(self) -> tuple:
        return self.inner.features()

    def encode(self, state: State) -> Sequence[float]:
        return self.inner.encode(state)

    def evaluate(self, state: State, context: EvalContext) -> Outcome:
        key = repr(state)
        if key not in self.table:
            start = time.perf_counter()
            outcome = self.inner.evaluate(state, EvalContext(timeout_seconds=self.timeout)).checked()
            if outcome.status is Status.OK and self.inner.verify(state, outcome) is not None:
                outcome = Outcome.failure(Status.FAILED, "verification failed")
            self.table[key] = [outcome.status.value, outcome.value, time.perf_counter() - start]
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text(json.dumps(self.table))
        status, value, seconds = self.table[key]
        if status == Status.OK.value:
            return Outcome.ok(value, cost_seconds=seconds)
        return Outcome.failure(Status(status), "tabulated failure", seconds)


REAL = {  # small instances of the three real games: (game, parameters, per-evaluation limit)
    "sphere-packing": ("sphere-packing", {"dimension": 3, "max_degree": 11}, 30.0),
    "lipsdp": ("lipsdp", {}, 60.0),
    "small-gain-nash": ("small-gain-nash", {}, 60.0),
}
PROBLEMS = [cls.name for cls in PUBLISHED] + list(REAL)
METHODS: dict[str, dict] = {
    "gp-mcts": {"method": "mcts", "surrogate": "gp"},
    "uct": {"method": "mcts", "surrogate": "none"},
    "random": {"method": "random", "surrogate": "none"},
    "flat-bo": {"method": "flat-bo", "surrogate": "none"},
    "tpe": {"method": "tpe", "surrogate": "none"},
    "ax": {"method": "ax", "surrogate": "none"},
    "smac": {"method": "smac", "surrogate": "none"},
}
GUIDED = "gp-mcts"


def make_game(problem: str) -> Game:
    for cls in PUBLISHED:
        if cls.name == problem:
            return cls()
    name, params, timeout = REAL[problem]
    return Tabulated(discover.load_game(name, **params), problem, timeout)


def optimum(problem: str, game: Game) -> float | None:
    """The known optimum: published, or the best of a fully tabulated grid."""
    if hasattr(game, "optimum"):
        return float(game.optimum)
    from grid import terminal_states
    table = game.table
    keys = [repr(s) for s in terminal_states(game.inner)]
    if not all(k in table for k in keys):
        return None
    values = [table[k][1] for k in keys if table[k][0] == Status.OK.value]
    return max(values) if values else None


def best_so_far(history: list[discover.EvaluationRecord], budget: int) -> list[float]:
    curve, best = [], -math.inf
    for e in history:
        if e.value is not None:
            best = max(best, e.value)
        curve.append(best)
    return (curve + [best] * budget)[:budget]


def run_one(job: tuple[str, str, int, int, str]) -> dict:
    problem, method, seed, budget, folder = job
    import torch

    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    spec = METHODS[method]
    tick = time.perf_counter()
    result = discover.Campaign(make_game(problem), budget=budget, seed=seed, db=Path(folder) / f"{problem}-{method}-{seed}.db",
                               backend="inline", method=spec["method"], surrogate=spec["surrogate"]).run()
    seconds = time.perf_counter() - tick
    return {"problem": problem, "method": method, "seed": seed, "curve": best_so_far(result.history, budget),
            "seconds": seconds, "seconds_per_decision": seconds / max(len(result.history), 1)}


def evaluations_to_reach(curve: list[float], target: float) -> float:
    """1-based number of evaluations until ``curve`` reaches ``target`` (inf if never)."""
    for i, v in enumerate(curve):
        if v >= target - 1e-12:
            return i + 1
    return math.inf


def _busy() -> None:  # a worker beside the planner
    while True:
        sum(i * i for i in range(10_000))


def decision_time(observations: int, capped: bool, decisions: int = 8) -> dict:
    """Seconds per planner + GP decision once ``observations`` evaluations are known, with one busy
    process beside the planner (a worker), on the toy formulation game: with torch's and BLAS's
    default threads, or ``capped`` to the cores the worker leaves (what a campaign does)."""
    from discover.threads import spare_cores, thread_cap

    game = discover.load_game("toy-formulation")
    estimator = GPEstimator(game, seed=0)
    planner = Planner(game, estimator=estimator, config=PlannerConfig.guided(), seed=0)
    rng = np.random.default_rng(0)
    for _ in range(observations):  # what a long campaign would have seen
        state = game.random_completion((), rng)
        estimator.observe(game, state, game.evaluate(state, EvalContext()).checked())
    worker = multiprocessing.Process(target=_busy, daemon=True)
    worker.start()
    times = []
    threads = spare_cores(1) if capped else _threads()
    try:
        for _ in range(decisions):
            tick = time.perf_counter()
            with thread_cap(threads):
                (proposal,) = planner.ask(1)
            times.append(time.perf_counter() - tick)
            planner.tell(proposal, game.evaluate(proposal.state, EvalContext()).checked())
    finally:
        worker.terminate()
    return {"observations": observations, "threads": threads, "capped": capped,
            "median_seconds": float(np.median(times)), "mean_seconds": float(np.mean(times)),
            "max_seconds": float(np.max(times)), "decisions": decisions}


def _threads() -> int:
    import torch

    return torch.get_num_threads()


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = min(4, len(results))
    rows = math.ceil(len(results) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(6 * cols, 4.2 * rows), squeeze=False)
    for ax, (problem, by_method) in zip(axes.flat, results.items()):
        for method, runs in by_method.items():
            curves = np.array([r["curve"] for r in runs])
            x = np.arange(1, curves.shape[1] + 1)
            q25, q50, q75 = np.percentile(curves, [25, 50, 75], axis=0)
            ax.plot(x, q50, label=method, lw=2.5 if method == GUIDED else 1.5)
            ax.fill_between(x, q25, q75, alpha=0.15)
        ax.set_title(f"{problem}: median best so far, quartiles", fontsize=10)
        ax.set_xlabel("evaluations")
        ax.set_ylabel("best value")
        ax.legend()
    for ax in list(axes.flat)[len(results):]:
        ax.set_visible(False)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def evaluations_to_optimum(curve: list[float], best: float | None) -> float:
    """Evaluations until ``curve`` is within 1% of the optimum ``best`` (inf if never)."""
    if best is None:
        return math.nan
    return evaluations_to_reach(curve, best - 0.01 * abs(best))


def summary(problem: str, runs: dict[str, list[dict]], budget: int, best: float | None) -> dict:
    rows = {}
    for method, rs in runs.items():
        curves = [r["curve"] for r in rs]
        rows[method] = {"median_final_best": float(np.median([c[-1] for c in curves])),
                        "median_evaluations_to_1pct": float(np.median([evaluations_to_optimum(c, best) for c in curves])),
                        "median_seconds_per_decision": float(np.median([r["seconds_per_decision"] for r in rs])),
                        "seeds": len(rs)}
    baselines = {m: r for m, r in rows.items() if m != GUIDED}
    out: dict[str, Any] = {"budget": budget, "optimum": best, "methods": rows}
    if baselines and GUIDED in runs:
        top = max(baselines, key=lambda m: baselines[m]["median_final_best"])
        target = baselines[top]["median_final_best"]
        needed = float(np.median([evaluations_to_reach(r["curve"], target) for r in runs[GUIDED]]))
        out.update(best_baseline=top, best_baseline_final=target, guided_evaluations_to_best_baseline=needed,
                   fraction_of_budget=needed / budget, headline_met=needed <= 0.5 * budget)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--budget", type=int, default=60)
    parser.add_argument("--problems", nargs="*", default=PROBLEMS)
    parser.add_argument("--methods", nargs="*", default=list(METHODS))
    parser.add_argument("--jobs", type=int, default=1, help="campaigns run side by side (one core each)")
    parser.add_argument("--no-timing", action="store_true", help="skip the decision-time measurement")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "sample_efficiency.json"
    saved = json.loads(path.read_text()) if path.exists() else {}
    curves: dict[str, dict[str, list[dict]]] = saved.get("runs", {})
    with tempfile.TemporaryDirectory() as tmp:
        for problem in args.problems:
            make_game(problem)  # refuse a bad name before any work
            jobs = [(problem, m, seed, args.budget, tmp) for m in args.methods for seed in range(args.seeds)]
            if problem in REAL:  # fill the table once, serially, so parallel jobs do not solve twice
                runs = [run_one(jobs[0])] + _pool(jobs[1:], args.jobs)
            else:
                runs = _pool(jobs, args.jobs)
            by_method = curves.setdefault(problem, {})
            for m in args.methods:
                by_method[m] = [r for r in runs if r["method"] == m]
            for m in args.methods:
                finals = [r["curve"][-1] for r in by_method[m]]
                print(f"  {problem:24} {m:8} median final {np.median(finals):.6g} "
                      f"({np.median([r['seconds'] for r in by_method[m]]):.1f} s per campaign)", flush=True)
            path.write_text(json.dumps({**saved, "runs": curves}, indent=1))  # kept if a later problem is cut short
    headline = {p: summary(p, runs, args.budget, optimum(p, make_game(p))) for p, runs in curves.items()}
    timing = saved.get("decision_time", []) if args.no_timing else [
        decision_time(n, capped) for n in (200, 1000) for capped in (False, True)]
    print()
    print(f"{'problem':24} {'best baseline':>13} {'its final':>11} {'GP-MCTS final':>13} {'GP-MCTS evals':>13} "
          f"{'fraction':>8} {'met':>4} {'evals to 1% (GP-MCTS / best baseline)':>38}")
    for problem, row in headline.items():
        if "best_baseline" not in row:
            continue
        g = row["methods"][GUIDED]
        b = row["methods"][row["best_baseline"]]
        print(f"{problem:24} {row['best_baseline']:>13} {row['best_baseline_final']:11.6g} {g['median_final_best']:13.6g} "
              f"{row['guided_evaluations_to_best_baseline']:13g} {row['fraction_of_budget']:8.2f} "
              f"{'yes' if row['headline_met'] else 'no':>4} {g['median_evaluations_to_1pct']:>18g} / {b['median_evaluations_to_1pct']:g}")
    if timing:
        print("\nplanner + GP time per decision (toy-formulation, one busy process beside the planner)")
        for t in timing:
            print(f"  {t['observations']:>5} observations, {t['threads']} threads "
                  f"({'capped to the spare cores' if t['capped'] else 'default'}): "
                  f"median {t['median_seconds']:.3f} s, mean {t['mean_seconds']:.3f} s, max {t['max_seconds']:.3f} s")
    path.write_text(json.dumps({"headline": headline, "decision_time": timing, "seeds": args.seeds, "runs": curves},
                               indent=1))
    if curves:  # none when only the decision time was asked for (--problems with no names)
        plot(curves, args.out / "sample_efficiency.png")
    print(f"wrote {path}" + (f" and {args.out / 'sample_efficiency.png'}" if curves else ""))


def _pool(jobs: list, n: int) -> list[dict]:
    if n <= 1:
        return [run_one(j) for j in jobs]
    with multiprocessing.get_context("spawn").Pool(n) as pool:
        return pool.map(run_one, jobs, chunksize=1)


if __name__ == "__main__":
    main()
