"""Report benchmark: how long ``discover report`` takes, and how soon its page is usable.

    python benchmarks/report.py [--evaluations 10000] [--nodes 50000] [--repeat 3] [--out PATH]

A campaign database of ``--evaluations`` evaluations and ``--nodes`` tree nodes is synthesised
through ``Store.record`` (as scaling.py does): a "min" objective, paths of depth 6 through a tree
whose evaluated part is topped up with expanded but never evaluated children to ``--nodes``
nodes, about 17% of evaluations failing (failed, infeasible, timeout, each with a message), a
certificate of 24 numbers per evaluation, planner priors and scores on every edge.

Measured, each ``--repeat`` times (the median is reported):

* ``write_report``: reading the store (``report_data``) and rendering the page, and in all;
* the page in headless chromium (Debian's /usr/bin/chromium through selenium): ``parsed``, the
  time from navigation start until the data blob is parsed, and ``interactive``, until the first
  render is done and painted (the ``data-ready`` mark the page sets in the frame after it);
* interactions, timed inside the page with performance.now() around a synchronous click plus a
  forced layout: sorting the table by value, filtering it by text, opening the root of the tree
  (its children), and clicking the most visited leaf-level node (its details and certificate).

Prints a table and writes benchmarks/results/report.json (or --out).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

import discover
from discover.report import render, report_data, write_report
from discover.store import Store
from discover.types import (
    CampaignInfo, CampaignSettings, EdgeRecord, EvaluationRecord, Event, EventKind, NodeRecord, Objective,
)

DEPTH = 6
BRANCHING = (3, 5, 6, 8, 10, 12)  # choices per level of the evaluated paths
STATUSES = (("ok", 0.83), ("failed", 0.10), ("infeasible", 0.05), ("timeout", 0.02))
MESSAGES = {"failed": "solver raised: matrix not positive definite at degree {}",
            "infeasible": "no feasible multiplier for degree {}", "timeout": "killed after 45 s"}
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


def synthesise(db: Path, evaluations: int, nodes_wanted: int, seed: int = 0) -> dict[str, int]:
    """Write the synthetic campaign; returns its counts. Evaluations go one transaction each (as a
    campaign commits them), the tree's final statistics in one transaction at the end."""
    rng = np.random.default_rng(seed)
    now = time.time() - evaluations
    info = CampaignInfo("bench-report", {"dimension": 8}, seed, CampaignSettings(budget=evaluations).to_dict(),
                        discover.__version__, now, now, "running", objective=Objective("density bound", "min"))
    stats: dict[tuple, dict[str, Any]] = {(): {"visits": 0, "sum": 0.0, "best": None, "counts": {}}}
    edges: dict[tuple, tuple] = {}
    names, weights = [s for s, _ in STATUSES], [w for _, w in STATUSES]
    with Store.create(db, info) as store:
        store.record(events=[Event(EventKind.CAMPAIGN_STARTED, now, {"done": 0, "budget": evaluations, "workers": 8})])
        seen: set[tuple] = set()
        for i in range(evaluations):
            path = tuple(int(rng.integers(b)) for b in BRANCHING)
            while path in seen:
                path = tuple(int(rng.integers(b)) for b in BRANCHING)
            seen.add(path)
            status = str(rng.choice(names, p=weights))
            bound = 0.25 + 0.01 * sum(path) + 0.01 * rng.random()
            value = -bound if status == "ok" else None
            for d in range(DEPTH + 1):
                prefix = path[:d]
                s = stats.setdefault(prefix, {"visits": 0, "sum": 0.0, "best": None, "counts": {}})
                s["visits"] += 1
                s["counts"][status] = s["counts"].get(status, 0) + 1
                if value is not None:
                    s["sum"] += value
                    s["best"] = value if s["best"] is None else max(s["best"], value)
                if d:
                    edges[prefix] = (path[:d - 1], prefix)
            started = now + i * 0.8
            record = EvaluationRecord(
                state_key=_key(path), label=_label(path), value=value, status=status,
                message=MESSAGES.get(status, "").format(path[2]), cost_seconds=float(rng.gamma(2.0, 1.5)),
                artifacts={"multipliers": rng.random(20).round(6).tolist(), "radius": 1.2, "degree": path[2],
                           "verified": status == "ok"},
                worker=f"worker{i % 8}", device="cpu", started=started, finished=started + 0.8, encoding=None,
                path=[_key(path[:d]) for d in range(DEPTH + 1)])
            store.record(evaluation=record)
        # expanded, never evaluated children (progressive widening) until the tree has nodes_wanted nodes
        inner = [p for p in stats if len(p) < DEPTH]
        extra = 0
        while len(stats) < nodes_wanted:
            parent = inner[int(rng.integers(len(inner)))]
            child = (*parent, 100 + extra)
            extra += 1
            stats[child] = {"visits": 0, "sum": 0.0, "best": None, "counts": {}}
            edges[child] = (parent, child)
        node_records = [
            NodeRecord(_key(p), _label(p), len(p), "terminal" if len(p) == DEPTH else "searcher", s["visits"],
                       s["sum"], s["best"], s["best"], s["best"], s["best"], s["best"], len(p) == DEPTH,
                       counts=s["counts"])
            for p, s in stats.items()]
        edge_records = [EdgeRecord(_key(a), _key(b), f"choice {b[-1]}", b[-1], prior=float(rng.random()),
                                   score=float(rng.random())) for a, b in edges.values()]
        store.record(nodes=node_records, edges=edge_records, events=[Event(
            EventKind.CAMPAIGN_FINISHED, time.time(), {"stopped": "budget", "done": evaluations, "reason": ""})])
        store.set_status("finished")
    return {"evaluations": evaluations, "nodes": len(node_records), "edges": len(edge_records)}


def _key(path: tuple) -> str:
    return "n" + "-".join(map(str, path))


def _label(path: tuple) -> str:
    names = ("family", "basis", "degree", "precision", "solver", "radius")
    return ", ".join(f"{n}={v}" for n, v in zip(names, path)) or "(start)"


def time_write(db: Path, out: Path) -> dict[str, float]:
    tick = time.perf_counter()
    with Store.open(db, readonly=True) as store:
        data = report_data(store)
    read = time.perf_counter() - tick
    tick = time.perf_counter()
    render(data, title="bench")
    rendered = time.perf_counter() - tick
    tick = time.perf_counter()
    write_report(db, out)
    total = time.perf_counter() - tick
    return {"read_s": read, "render_s": rendered, "write_report_s": total}


INTERACTIONS = {
    "sort table by value": "document.querySelector('#eval-table th[data-col=\"value\"]').click();",
    # the text box waits 150 ms for typing to pause; the status box applies the same filter at once
    "filter table (text)": "document.getElementById('filter').value = 'degree=7';"
                           "document.getElementById('status-filter').dispatchEvent(new Event('change'));",
    "open the tree's root": "document.querySelector('#tree-view .row .toggle').click();"
                            "document.querySelector('#tree-view .row .toggle').click();",
    "click down 6 levels": "let row = document.querySelector('#tree-view .row');"
                            "for (let k = 0; k < 5; k++) { row.click(); row = row.parentNode.querySelector(':scope > ul .row'); }"
                            "row.click();",
}


def time_page(html: Path) -> dict[str, float]:
    """One fresh headless chromium: page timings and the interactions' times, in milliseconds."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        driver.get(html.resolve().as_uri())
        WebDriverWait(driver, 60).until(lambda d: d.execute_script("return document.body.dataset.ready"))
        result = {
            "parsed_ms": driver.execute_script(
                "return performance.getEntriesByName('report-data-parsed')[0].startTime"),
            "rendered_ms": driver.execute_script("return performance.getEntriesByName('report-rendered')[0].startTime"),
            "interactive_ms": float(driver.execute_script("return document.body.dataset.ready")),
        }
        for name, js in INTERACTIONS.items():
            result[name] = driver.execute_async_script(
                "const done = arguments[arguments.length - 1]; (async () => { const t = performance.now();"
                f"{js} document.body.offsetHeight; done(performance.now() - t); }})();")
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        if errors:
            raise RuntimeError(f"the page logged errors: {errors}")
        return result
    finally:
        driver.quit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--evaluations", type=int, default=10_000)
    parser.add_argument("--nodes", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "report.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        db, html = Path(folder) / "bench.db", Path(folder) / "report.html"
        tick = time.perf_counter()
        counts = synthesise(db, args.evaluations, args.nodes)
        print(f"synthesised {counts} in {time.perf_counter() - tick:.1f} s", flush=True)
        writes = [time_write(db, html) for _ in range(args.repeat)]
        size = html.stat().st_size
        pages = [time_page(html) for _ in range(args.repeat)]
    median = {k: statistics.median(r[k] for r in writes) for k in writes[0]}
    median.update({k: statistics.median(r[k] for r in pages) for k in pages[0]})
    print(f"\n{'measure':<28} {'median':>10}   runs")
    for k, v in median.items():
        runs = [r[k] for r in (writes if k in writes[0] else pages)]
        unit, digits = ("s", 2) if k.endswith("_s") else ("ms", 1)
        print(f"{k:<28} {v:>9.{digits}f} {unit:<2}  " + " ".join(f"{x:.{digits}f}" for x in runs))
    print(f"{'page size':<28} {size / 1e6:>9.2f} MB")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "database": counts, "page_bytes": size, "median": median, "write_runs": writes, "page_runs": pages,
        "machine": {"python": sys.version.split()[0], "platform": platform.platform()},
    }, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
