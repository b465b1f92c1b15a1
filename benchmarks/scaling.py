"""Scaling benchmark: how fast one campaign driver can feed its workers, and what limits it first.

    python benchmarks/scaling.py [--quick] [--backends inline,process,ray] [--out PATH]

Three parts, printed as tables and written to benchmarks/results/scaling.json (or --out):

1. **Store throughput.** A real inline campaign of ``toy-formulation`` (evaluation time ~0) is run
   first with its ``Store.record`` calls counted, to learn what a campaign writes per evaluation
   (node upserts, edge inserts, events, transactions). Then 10^5 (--quick: 10^4) evaluations of
   that shape are written through ``Store.record`` into a fresh database in a temporary folder:
   one transaction with the ``evaluation_started`` event (``refill``), one with the evaluation,
   its tree rows and its finished/new-best events (``finish``). Reported: evaluations/s over the
   whole run, over the first and the last 10% (does the store slow down as it grows?), time per
   evaluation inside the store, the final database size; and a reader's times against the full
   database (``discover.open``, ``count()``, ``evaluations()``, the best ten, ``tree()``).
2. **Backend throughput.** For each backend in --backends, with 1 and 2 workers, N jobs go
   straight through the Backend interface, kept ``workers`` in flight the way a campaign keeps
   them (submit one as one finishes). Two evaluations: sleep-bound (``toy-faulty``, faults off,
   0.05 s sleep) and CPU-bound (``SpinGame`` below: ~0.05 s of single-threaded numpy work,
   calibrated on this machine). ``overhead/eval = (wall - N * eval_time / workers) / N``: what
   dispatch adds to each evaluation; ``dispatch`` is the same with the workers' own measured
   evaluation times in place of ``eval_time`` (so cores shared with other work do not count as
   overhead). ``driver CPU/eval`` is the CPU time the driver process spent per evaluation
   (submitting, shipping, collecting: the part that is serial in the driver; inline it includes
   the evaluation itself).
   A backend that cannot be made (e.g. ``ray`` not installed) is skipped with its reason.
   Then the full campaign path: ``Campaign("toy-faulty", ...)`` with 2 workers (1 inline).
3. **A plan for 100 workers.** The driver's serial cost per evaluation = planner ask+tell + store
   writes + the rest of the campaign loop (all measured in the inline campaign of part 1, store
   time taken at its slower, late-in-10^5 rate) + the backend's driver CPU per evaluation (part 2,
   sleep-bound, 2 workers). One driver sustains 1/cost evaluations/s; with evaluations of T
   seconds, 100 workers stay busy to ``min(1, rate * T / 100)``. A server database would only
   help where the demand (100 / T evaluations/s) exceeds what the SQLite store alone sustains.

CPU-bound rows on a machine whose cores are busy with other work measure that contention too:
compare ``worker eval`` (the mean time inside the worker) with the calibrated ``eval_time``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import statistics
import sys
import tempfile
import time
from concurrent.futures import FIRST_COMPLETED, Future, wait
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator
from unittest import mock

import numpy as np

import discover
import discover.campaign
from discover.dispatch import Backend, make_backend
from discover.errors import SettingsError
from discover.game import Game, Param, load_game
from discover.store import Store
from discover.threads import thread_cap
from discover.types import (
    CampaignInfo, CampaignSettings, EdgeRecord, EvalContext, EvaluationRecord, Event, EventKind, Job, JobResult,
    NodeRecord, Outcome, Player, Status,
)

WORKERS = 100  # the fleet the plan in part 3 is for
PLAN_EVAL_SECONDS = (1.0, 60.0, 3600.0)
EVAL_SECONDS = 0.05  # the target evaluation time of the backend benchmarks
SLEEP_PARAMS = {"faults": False, "delay": EVAL_SECONDS, "size": 10_000}


class SpinGame(Game):
    """Pick an index; its evaluation spins ``reps`` rounds of single-threaded numpy work.

    Defined at module level so that spawned worker processes can unpickle it (a spawned worker
    re-imports this script as its ``__main__``).
    """

    name = "bench-spin"
    params = (Param("size", "int", 10_000, "number of indices"), Param("reps", "int", 100, "rounds of work"))

    def __init__(self, size: int = 10_000, reps: int = 100) -> None:
        self.size, self.reps = size, reps

    def initial_state(self) -> tuple:
        return ()

    def to_move(self, state: tuple) -> Player:
        return Player.TERMINAL if state else Player.SEARCHER

    def actions(self, state: tuple) -> tuple[int, ...]:
        return tuple(range(self.size))

    def apply(self, state: tuple, action: int) -> tuple:
        return (action,)

    def evaluate(self, state: tuple, context: EvalContext) -> Outcome:
        return Outcome.ok(spin(self.reps, state[0]))


def spin(reps: int, seed: int) -> float:
    """Elementwise numpy work (one thread whatever BLAS allows), returning a value in [0, 1]."""
    x = np.linspace(0.0, 1.0, 20_000) + (seed % 997) * 1e-6
    for _ in range(reps):
        x = 0.5 + 0.5 * np.sin(x * 3.0)
    return float(x.mean())


def calibrate_spin(target: float) -> tuple[int, float]:
    """The ``reps`` that take about ``target`` seconds here, and the time they take (median of 5)."""
    with thread_cap(1):
        probes = []
        for i in range(3):  # the fastest probe is the one least disturbed by other work on the cores
            tick = time.perf_counter()
            spin(20, i)
            probes.append(time.perf_counter() - tick)
        reps = max(1, round(20 * target / min(probes)))
        times = []
        for i in range(5):
            tick = time.perf_counter()
            spin(reps, i)
            times.append(time.perf_counter() - tick)
    return reps, statistics.median(times)


# -- part 1: what a campaign writes, and how fast the store takes it ------------------------------
@contextmanager
def instrumented() -> Iterator[dict[str, Any]]:
    """Count and time ``Store.record`` calls and the proposer's ask/tell inside a campaign."""
    stats: dict[str, Any] = {"record": [], "ask": 0.0, "tell": 0.0}
    record, make_proposer = Store.record, discover.campaign.make_proposer

    def timed_record(self: Store, *, evaluation: EvaluationRecord | None = None, nodes: Any = (), edges: Any = (),
                     events: Any = ()) -> None:
        tick = time.perf_counter()
        record(self, evaluation=evaluation, nodes=nodes, edges=edges, events=events)
        stats["record"].append((evaluation is not None, len(nodes), len(edges), len(events),
                                time.perf_counter() - tick))

    def timer(name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            tick = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                stats[name] += time.perf_counter() - tick
        return timed

    def timed_proposer(*args: Any, **kwargs: Any) -> Any:
        proposer = make_proposer(*args, **kwargs)
        proposer.ask, proposer.tell = timer("ask", proposer.ask), timer("tell", proposer.tell)
        return proposer

    with mock.patch.object(Store, "record", timed_record), \
            mock.patch.object(discover.campaign, "make_proposer", timed_proposer):
        yield stats


def campaign_shape(budget: int) -> dict[str, Any]:
    """Run an inline toy-formulation campaign (evaluations ~0 s) and measure what its driver does."""
    with tempfile.TemporaryDirectory() as tmp, instrumented() as stats:
        tick = time.perf_counter()
        result = discover.Campaign("toy-formulation", budget=budget, workers=1, backend="inline",
                                   db=Path(tmp) / "shape.db", surrogate="none").run()
        wall = time.perf_counter() - tick
    n = len(result.history)
    finishes = [r for r in stats["record"] if r[0]]
    others = [r for r in stats["record"] if not r[0]]
    store = sum(r[4] for r in stats["record"])
    planner = stats["ask"] + stats["tell"]
    return {
        "game": "toy-formulation", "evaluations": n, "wall_s": wall,
        "record_calls_per_eval": len(stats["record"]) / n,
        "finish": {"nodes": statistics.mean(r[1] for r in finishes), "edges": statistics.mean(r[2] for r in finishes),
                   "events": statistics.mean(r[3] for r in finishes)},
        "refill_events_per_call": statistics.mean(r[3] for r in others),
        "ms_per_eval": {"total": 1e3 * wall / n, "planner": 1e3 * planner / n, "store": 1e3 * store / n,
                        "rest": 1e3 * (wall - planner - store) / n},
    }


def _key(*parts: object) -> str:
    return hashlib.sha1(repr(parts).encode()).hexdigest()[:20]


class SyntheticCampaign:
    """Evaluations shaped like ``campaign_shape``'s: a depth-6 tree of base-8 paths, unique leaves,
    each writing the measured numbers of node upserts and edge upserts."""

    depth, branching = 6, 8

    def __init__(self, shape: dict[str, Any], budget: int, seed: int = 0) -> None:
        if budget > self.branching ** self.depth:
            raise SystemExit(f"at most {self.branching ** self.depth} synthetic evaluations, got {budget}")
        self.nodes = min(self.depth + 1, max(1, round(shape["finish"]["nodes"])))
        # a campaign writes, for each node on the path, the moves out of it with the planner's
        # reasons (prior, score...): siblings of the path's moves too, up to depth * branching
        self.edges = min(self.depth * self.branching, max(1, round(shape["finish"]["edges"])))
        self.budget = budget
        self.visits: dict[str, int] = {}
        self.rng = np.random.default_rng(seed)
        self.best = -1.0

    def started(self, i: int) -> list[Event]:
        return [Event(EventKind.EVALUATION_STARTED, time.time(),
                      {"state": self.label(self.digits(i)), "key": self.path(i)[-1], "proposal": i})]

    def digits(self, i: int) -> tuple[int, ...]:
        return tuple((i // self.branching ** (self.depth - 1 - d)) % self.branching for d in range(self.depth))

    def path(self, i: int) -> list[str]:
        digits = self.digits(i)
        return [_key(digits[:d]) for d in range(self.depth + 1)]

    @staticmethod
    def label(digits: tuple[int, ...]) -> str:
        return ", ".join(f"slot{d}={v}" for d, v in enumerate(digits))

    def finished(self, i: int) -> tuple[EvaluationRecord, list[NodeRecord], list[EdgeRecord], list[Event]]:
        digits, path = self.digits(i), self.path(i)
        value = float(self.rng.random())
        now = time.time()
        record = EvaluationRecord(
            state_key=path[-1], label=self.label(digits), value=value, status=Status.OK.value, message="",
            cost_seconds=1e-3, artifacts={"formulation": [*digits, value]}, worker="worker0/pid1", device="cpu",
            started=now - 1e-3, finished=now, encoding=[float(d) for d in digits], path=path, state=digits)
        nodes = []
        for d in range(self.depth + 1 - self.nodes, self.depth + 1):
            visits = self.visits[path[d]] = self.visits.get(path[d], 0) + 1
            nodes.append(NodeRecord(path[d], self.label(digits[:d]), d, Player.SEARCHER.value, visits, value * visits,
                                    value, value, value, value, value, False, digits[:d]))
        edges = []
        for d in range(self.depth, 0, -1):  # the moves out of each path node, deepest first
            for move in range(self.branching):
                if len(edges) < self.edges:
                    child = path[d] if move == digits[d - 1] else _key((*digits[:d - 1], move))
                    edges.append(EdgeRecord(path[d - 1], child, str(move), move, prior=1 / self.branching,
                                            score=value))
        data = {"id": i, "state": record.label, "key": record.state_key, "value": value, "status": record.status,
                "message": "", "cost": record.cost_seconds, "done": i + 1, "budget": self.budget,
                "worker": record.worker, "device": record.device}
        improved = value > self.best
        self.best = max(self.best, value)
        events = [Event(EventKind.EVALUATION_FINISHED, now, {**data, "best": self.best})]
        if improved:
            events.append(Event(EventKind.NEW_BEST, now, {**data, "best": self.best}))
        return record, nodes, edges, events


def store_throughput(shape: dict[str, Any], n: int, folder: Path) -> dict[str, Any]:
    """Write ``n`` synthetic evaluations through ``Store.record``; time only the store's calls."""
    db = folder / "store.db"
    now = time.time()
    info = CampaignInfo("toy-formulation", {}, 0, CampaignSettings(budget=n).to_dict(), discover.__version__,
                        now, now, "running")
    synthetic = SyntheticCampaign(shape, n)
    decile = max(1, n // 10)
    spent, marks = 0.0, []
    with Store.create(db, info) as store:
        for i in range(n):
            started = synthetic.started(i)
            record, nodes, edges, events = synthetic.finished(i)
            tick = time.perf_counter()
            store.record(events=started)  # refill's transaction
            store.record(evaluation=record, nodes=nodes, edges=edges, events=events)  # finish's transaction
            spent += time.perf_counter() - tick
            if (i + 1) % decile == 0:
                marks.append(spent)
                print(f"  store    {i + 1:>7} evaluations  {spent:7.2f} s in the store", flush=True)
    size = sum(p.stat().st_size for p in folder.iterdir() if p.name.startswith(db.name))
    per_decile = [b - a for a, b in zip([0.0, *marks], marks)]
    reader = {}
    tick = time.perf_counter()
    with discover.open(db) as store:
        reader["open_s"] = time.perf_counter() - tick
        for name, call in (("count_s", store.count), ("evaluations_s", store.evaluations),
                           ("best10_s", lambda: store.evaluations(order="best", limit=10)), ("tree_s", store.tree)):
            tick = time.perf_counter()
            got = call()
            reader[name] = time.perf_counter() - tick
            if name == "count_s" and got != n:
                raise SystemExit(f"the store holds {got} evaluations, {n} were written")
    return {
        "evaluations": n, "store_seconds": spent, "per_second": n / spent,
        "first_10pct_per_second": decile / per_decile[0], "last_10pct_per_second": decile / per_decile[-1],
        "ms_per_eval_last_10pct": 1e3 * per_decile[-1] / decile, "decile_seconds": per_decile,
        "nodes_per_finish": synthetic.nodes, "edges_per_finish": synthetic.edges,
        "db_bytes": size, "bytes_per_eval": size / n, "reader": reader,
    }


# -- part 2: backends ---------------------------------------------------------------------------------
def run_jobs(backend: Backend, game: Game, n: int, workers: int) -> dict[str, Any]:
    """Start ``backend``, warm every worker with one job, then time ``n`` jobs kept ``workers`` in flight."""
    tick = time.perf_counter()
    backend.start(game)
    try:
        warm = [backend.submit(Job(-1 - k, (n + k,), game.resources((n + k,)))) for k in range(workers)]
        for future in warm:
            future.result(timeout=600)
        startup = time.perf_counter() - tick
        inflight: set[Future[JobResult]] = set()
        results: list[JobResult] = []
        submitted = 0
        cpu, tick = time.process_time(), time.perf_counter()
        while len(results) < n:
            while submitted < n and len(inflight) < workers:
                inflight.add(backend.submit(Job(submitted, (submitted,), game.resources((submitted,)), seed=submitted)))
                submitted += 1
            done, inflight = wait(inflight, timeout=600, return_when=FIRST_COMPLETED)
            if not done:
                raise SystemExit(f"{backend.name}: no job finished in 600 s")
            results += [f.result() for f in done]
        wall, cpu = time.perf_counter() - tick, time.process_time() - cpu
    finally:
        backend.close()
    failed = [r.outcome for r in results if r.outcome.status is not Status.OK]
    error = f"{len(failed)} of {n} failed, e.g. {failed[0].status.value}: {failed[0].message}" if failed else ""
    return {"startup_s": startup, "wall_s": wall, "driver_cpu_s": cpu,
            "worker_eval_s": statistics.mean(r.outcome.cost_seconds for r in results),
            "worker_eval_total_s": sum(r.outcome.cost_seconds for r in results), "error": error}


def backend_throughput(names: list[str], n: int, spin_reps: int, spin_seconds: float) -> list[dict[str, Any]]:
    kinds = {"sleep": (lambda: load_game("toy-faulty", **SLEEP_PARAMS), EVAL_SECONDS),
             "cpu": (lambda: SpinGame(reps=spin_reps), spin_seconds)}
    rows = []
    for name in names:
        for kind, (make_game, eval_time) in kinds.items():
            for workers in (1, 2):
                row: dict[str, Any] = {"backend": name, "kind": kind, "workers": workers, "jobs": n,
                                       "eval_time_s": eval_time}
                try:
                    backend = make_backend(name, workers)
                except (SettingsError, ImportError) as exc:
                    row["skipped"] = str(exc)
                    print(f"  {name:<8} {kind:<5} {workers} workers  skipped: {exc}", flush=True)
                    rows.append(row)
                    continue
                row.update(run_jobs(backend, make_game(), n, workers))
                ideal = n * eval_time / workers
                row.update(per_second=n / row["wall_s"], overhead_ms=1e3 * (row["wall_s"] - ideal) / n,
                           dispatch_ms=1e3 * (row["wall_s"] - row["worker_eval_total_s"] / workers) / n,
                           driver_cpu_ms=1e3 * row["driver_cpu_s"] / n)
                print(f"  {name:<8} {kind:<5} {workers} workers  {row['per_second']:7.2f} eval/s  "
                      f"overhead {row['overhead_ms']:6.2f} ms/eval  startup {row['startup_s']:.2f} s"
                      + (f"  ERROR {row['error']}" if row["error"] else ""), flush=True)
                rows.append(row)
    return rows


def campaign_throughput(names: list[str], n: int) -> list[dict[str, Any]]:
    """The full path: a toy-faulty campaign of 0.05 s sleeps, 2 workers (1 where the backend has one)."""
    rows = []
    for name in names:
        with tempfile.TemporaryDirectory() as tmp:
            campaign, reason = None, ""
            for workers in (2, 1):
                try:
                    campaign = discover.Campaign("toy-faulty", params=SLEEP_PARAMS, budget=n, workers=workers,
                                                 backend=name, db=Path(tmp) / "campaign.db", surrogate="none")
                    break
                except (SettingsError, ImportError) as exc:
                    reason = str(exc)
            if campaign is None:
                rows.append({"backend": name, "skipped": reason})
                print(f"  campaign {name:<8} skipped: {reason}", flush=True)
                continue
            tick = time.perf_counter()
            result = campaign.run()
            wall = time.perf_counter() - tick
        history = result.history
        ok = sum(e.status == Status.OK.value for e in history)
        span = max(e.finished for e in history) - min(e.started for e in history)
        row = {"backend": name, "workers": workers, "evaluations": len(history), "ok": ok, "wall_s": wall,
               "per_second": len(history) / wall, "span_per_second": len(history) / span,
               "ideal_per_second": workers / EVAL_SECONDS, "stopped": result.stopped}
        print(f"  campaign {name:<8} {workers} workers  {row['per_second']:6.2f} eval/s over the run, "
              f"{row['span_per_second']:6.2f} from first start to last finish (ideal {row['ideal_per_second']:.0f})",
              flush=True)
        rows.append(row)
    return rows


# -- part 3: the plan ----------------------------------------------------------------------------------
def plan(shape: dict[str, Any], store: dict[str, Any], backends: list[dict[str, Any]]) -> dict[str, Any]:
    """Driver cost per evaluation for each non-inline backend measured, and what it means for 100 workers."""
    cost = shape["ms_per_eval"]
    store_ms = max(cost["store"], store["ms_per_eval_last_10pct"])
    base_ms = cost["planner"] + store_ms + cost["rest"]
    rows = []
    for b in backends:
        if b["backend"] == "inline" or b["kind"] != "sleep" or b["workers"] != 2 or "skipped" in b or b["error"]:
            continue
        driver_ms = base_ms + b["driver_cpu_ms"]
        rate = 1e3 / driver_ms
        rows.append({
            "backend": b["backend"], "driver_ms_per_eval": driver_ms, "dispatch_ms": b["driver_cpu_ms"],
            "driver_per_second": rate, "busy_below_eval_s": WORKERS / rate,
            "by_eval_time": [{"eval_s": t, "demand_per_second": WORKERS / t,
                              "utilisation": min(1.0, rate * t / WORKERS),
                              "store_load": (WORKERS / t) / store["last_10pct_per_second"],
                              "server_db_needed": WORKERS / t > store["last_10pct_per_second"]}
                             for t in PLAN_EVAL_SECONDS]})
    return {"workers": WORKERS, "planner_ms": cost["planner"], "store_ms": store_ms, "rest_ms": cost["rest"],
            "store_limit_per_second": store["last_10pct_per_second"],
            "store_busy_below_eval_s": WORKERS / store["last_10pct_per_second"], "backends": rows}


# -- report --------------------------------------------------------------------------------------------
def print_tables(shape: dict[str, Any], store: dict[str, Any], backends: list[dict[str, Any]],
                 campaigns: list[dict[str, Any]], the_plan: dict[str, Any]) -> None:
    f = shape["finish"]
    print(f"\ncampaign shape ({shape['game']}, {shape['evaluations']} inline evaluations): "
          f"{shape['record_calls_per_eval']:.2f} transactions/eval; finish writes {f['nodes']:.2f} nodes, "
          f"{f['edges']:.2f} edges, {f['events']:.2f} events; refill {shape['refill_events_per_call']:.2f} events")
    m = shape["ms_per_eval"]
    print(f"driver ms/eval: total {m['total']:.3f} = planner {m['planner']:.3f} + store {m['store']:.3f} "
          f"+ rest {m['rest']:.3f}")

    print(f"\n1. store throughput ({store['evaluations']} evaluations, {store['nodes_per_finish']} node upserts + "
          f"{store['edges_per_finish']} edge upserts per evaluation, 2 transactions each)")
    print(f"{'eval/s all':>10}  {'first 10%':>9}  {'last 10%':>8}  {'ms/eval last':>12}  {'DB MB':>6}  {'B/eval':>6}")
    print(f"{store['per_second']:10.0f}  {store['first_10pct_per_second']:9.0f}  "
          f"{store['last_10pct_per_second']:8.0f}  "
          f"{store['ms_per_eval_last_10pct']:12.3f}  {store['db_bytes'] / 2**20:6.1f}  {store['bytes_per_eval']:6.0f}")
    r = store["reader"]
    print(f"reader on the full DB: open {r['open_s'] * 1e3:.1f} ms, count {r['count_s'] * 1e3:.1f} ms, "
          f"evaluations() {r['evaluations_s']:.2f} s, best 10 {r['best10_s'] * 1e3:.1f} ms, tree() {r['tree_s']:.2f} s")

    names = list(dict.fromkeys(b["backend"] for b in backends))
    print("\n2. backend throughput (jobs kept `workers` in flight; overhead = (wall - N*eval/workers)/N)")
    header = f"{'kind':<5} {'w':>1} {'eval s':>6}"
    for name in names:
        header += f" | {name + ' eval/s':>14} {'ovh ms':>7} {'dsp ms':>6} {'drv ms':>6} {'wkr s':>6}"
    print(header)
    for kind in ("sleep", "cpu"):
        for workers in (1, 2):
            cells = [b for b in backends if b["kind"] == kind and b["workers"] == workers]
            line = f"{kind:<5} {workers:>1} {cells[0]['eval_time_s']:6.3f}"
            for name in names:
                b = next(c for c in cells if c["backend"] == name)
                if "skipped" in b:
                    line += f" | {'skipped':>14} {'':>7} {'':>6} {'':>6} {'':>6}"
                else:
                    line += (f" | {b['per_second']:14.2f} {b['overhead_ms']:7.2f} {b['dispatch_ms']:6.2f} "
                             f"{b['driver_cpu_ms']:6.2f} "
                             f"{b['worker_eval_s']:6.3f}" + ("!" if b["error"] else ""))
            print(line)
    for b in backends:
        if "skipped" in b and b["workers"] == 1 and b["kind"] == "sleep":
            print(f"  {b['backend']} skipped: {b['skipped']}")
    print("  (dsp ms: (wall - N*wkr/workers)/N, the overhead net of slower evaluations on busy cores; "
          "drv ms: driver CPU per evaluation; wkr s: mean time inside the worker; ! = some jobs failed)")
    print("\nfull campaign path (toy-faulty, 0.05 s sleeps)")
    print(f"{'backend':<8} {'w':>1} {'evals':>5} {'eval/s run':>10} {'eval/s span':>11} {'ideal':>5}")
    for c in campaigns:
        if "skipped" in c:
            print(f"{c['backend']:<8} skipped: {c['skipped']}")
        else:
            print(f"{c['backend']:<8} {c['workers']:>1} {c['evaluations']:>5} {c['per_second']:10.2f} "
                  f"{c['span_per_second']:11.2f} {c['ideal_per_second']:5.0f}")

    p = the_plan
    print(f"\n3. plan for {p['workers']} workers and one driver")
    print(f"assumptions: driver cost/eval = planner {p['planner_ms']:.3f} ms (ask+tell, toy-formulation, "
          f"{shape['evaluations']}-evaluation tree; grows with the tree) + store {p['store_ms']:.3f} ms (slower of "
          f"in-campaign and last 10% of {store['evaluations']}) + rest of the loop (start-up amortised) "
          f"{p['rest_ms']:.3f} ms + the "
          "backend's driver CPU/eval (sleep jobs, 2 workers; measured at 2 workers, not 100); no surrogate "
          "(a GP adds its fit time); evaluations never fail")
    print(f"the SQLite store alone sustains {p['store_limit_per_second']:.0f} eval/s: 100 workers outrun it only "
          f"with evaluations shorter than {p['store_busy_below_eval_s']:.3f} s")
    if not p["backends"]:
        print("(no non-inline backend was measured, so no plan)")
    for b in p["backends"]:
        print(f"{b['backend']}: {b['driver_ms_per_eval']:.3f} ms/eval (dispatch {b['dispatch_ms']:.3f}) -> "
              f"{b['driver_per_second']:.0f} eval/s; 100 workers idle only below {b['busy_below_eval_s']:.3f} s")
        print(f"  {'eval s':>7} {'demand/s':>9} {'utilisation':>11} {'store load':>10} {'server DB?':>10}")
        for t in b["by_eval_time"]:
            print(f"  {t['eval_s']:7.0f} {t['demand_per_second']:9.3f} {t['utilisation']:11.2f} "
                  f"{t['store_load']:10.1%} {'yes' if t['server_db_needed'] else 'no':>10}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="10^4 stored evaluations and fewer jobs")
    parser.add_argument("--backends", default="inline,process,ray", help="comma-separated backend names")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/scaling.json"))
    args = parser.parse_args()
    names = [n.strip() for n in args.backends.split(",") if n.strip()]
    if not names:
        parser.error("--backends needs at least one backend name")
    n_store, n_jobs, n_campaign, n_shape = (10_000, 30, 30, 500) if args.quick else (100_000, 80, 100, 2_000)

    print("measuring what a campaign writes and spends per evaluation ...", flush=True)
    shape = campaign_shape(n_shape)
    print("store throughput ...", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        store = store_throughput(shape, n_store, Path(tmp))
    spin_reps, spin_seconds = calibrate_spin(EVAL_SECONDS)
    print(f"backend throughput (cpu evaluation: {spin_reps} rounds = {spin_seconds * 1e3:.1f} ms here) ...", flush=True)
    backends = backend_throughput(names, n_jobs, spin_reps, spin_seconds)
    campaigns = campaign_throughput(names, n_campaign)
    the_plan = plan(shape, store, backends)
    print_tables(shape, store, backends, campaigns, the_plan)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "machine": {"python": sys.version.split()[0], "platform": platform.platform()},
        "quick": args.quick, "campaign_shape": shape, "store": store, "backends": backends,
        "campaigns": campaigns, "plan": the_plan,
    }, indent=1))
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
