"""The progress panel of a running campaign: in ``discover run`` (fed by the campaign's events) and
in ``discover status --watch`` (fed by re-reading the database another process writes).

Values are shown as the game's quantity (:class:`~discover.types.Objective`), never as the
maximised value the engine keeps; failures are broken down by status and by kind of message.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

from rich.console import Console
from rich.live import Live
from rich.table import Table

from discover.store import Store
from discover.types import Event, EventKind, Objective, failure_kind


@dataclass
class Tally:
    """What the panel shows, however it is learnt."""

    objective: Objective = Objective()
    budget: int | None = None
    time_limit: float | None = None
    done: int = 0
    done_at_start: int = 0  # evaluations stored before this run: the ETA uses this run's rate
    running: int = 0
    best: float | None = None  # maximised, as stored
    best_label: str = ""
    statuses: Counter = field(default_factory=Counter)
    reasons: Counter = field(default_factory=Counter)  # (status, kind of message) of the failures
    started: float = field(default_factory=time.monotonic)

    def count(self, status: str, message: str) -> None:
        self.statuses[status] += 1
        if status != "ok":
            self.reasons[(status, failure_kind(message))] += 1

    def eta(self) -> float | None:
        """Seconds left: the budget at this run's rate, or the time limit, whichever comes first."""
        elapsed = time.monotonic() - self.started
        left = [] if self.time_limit is None else [max(0.0, self.time_limit - elapsed)]
        rate = (self.done - self.done_at_start) / elapsed if elapsed > 0 else 0.0
        if self.budget is not None and rate > 0:
            left.append(max(0, self.budget - self.done) / rate)
        return min(left) if left else None

    def table(self) -> Table:
        grid = Table.grid(padding=(0, 2))
        budget = "" if self.budget is None else f" / {self.budget}"
        broken = ", ".join(f"{n} {s}" for s, n in sorted(self.statuses.items()) if s != "ok")
        grid.add_row("evaluations", f"{self.done}{budget}" + (f"  ({self.statuses['ok']} ok, {broken})" if broken else ""))
        grid.add_row("running", str(self.running))
        grid.add_row(f"best {self.objective.name}", "-" if self.best is None else
                     f"{self.objective.text(self.best, 8)}  {self.best_label}  ({'higher' if self.objective.direction == 'max' else 'lower'} is better)")
        elapsed = time.monotonic() - self.started
        eta = self.eta()
        grid.add_row("elapsed", f"{_clock(elapsed)}" + ("" if eta is None else f"  (about {_clock(eta)} left)"))
        for (status, kind), n in self.reasons.most_common(3):
            grid.add_row(f"  {status} x{n}", kind if len(kind) <= 120 else kind[:117] + "...")
        return grid


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60}:{rest % 60:02d}"


class Progress:
    """A campaign's progress from its events: a live panel (its clock ticking) on a terminal,
    plain lines otherwise."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.tally = Tally()
        self.live: Live | None = None

    def __enter__(self) -> Progress:
        if self.console.is_terminal:
            self.live = Live(console=self.console, get_renderable=self.tally.table, refresh_per_second=2,
                             transient=False)
            self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.__exit__(None, None, None)

    def __call__(self, event: Event) -> None:
        d, t = event.data, self.tally
        if event.kind is EventKind.CAMPAIGN_STARTED:
            t.done = t.done_at_start = d["done"]
            t.budget, t.time_limit = d["budget"], d.get("time_limit")
            t.objective = Objective(d.get("objective", "value"), d.get("direction", "max"))
            t.started = time.monotonic()
            self.console.print(_started_line(d), highlight=False, markup=False)
        elif event.kind is EventKind.EVALUATION_STARTED:
            t.running += 1
        elif event.kind in (EventKind.EVALUATION_FINISHED, EventKind.EVALUATION_FAILED):
            t.running = max(0, t.running - 1)
            t.done = d["done"]
            t.count(d["status"], d.get("message") or "")
            if self.live is None:
                what = (f"{t.objective.name}={t.objective.text(d['value'], 8)}" if d["value"] is not None
                        else f"{d['status']}: {d['message']}")
                budget = "" if t.budget is None else f"/{t.budget}"
                self.console.print(f"[{d['done']}{budget}] {d['state']}  {what}", highlight=False, soft_wrap=True,
                                   markup=False)
        elif event.kind is EventKind.NEW_BEST:
            t.best, t.best_label = d["best"], d["state"]
            if self.live is None:
                self.console.print(f"  new best {t.objective.name} {t.objective.text(d['best'], 8)}", highlight=False,
                                   markup=False)


def _started_line(d: dict) -> str:
    if d["timeout"] is None:
        limit = "no enforced per-evaluation timeout (this backend cannot interrupt an evaluation)"
        if d["advisory_timeout"] is not None:
            limit += f"; evaluations are asked to finish within {d['advisory_timeout']:g} s"
    else:
        limit = f"per-evaluation timeout {d['timeout']:g} s" + ("" if d["timeout_given"] else " (default; --timeout changes it)")
    return f"campaign {d['game']} -> {d['db']} ({d['workers']} workers, {d['done']} done); {limit}"


def stored_tally(db: Path) -> tuple[Tally, str]:
    """The panel's numbers read from a database (a campaign may be writing it), and its status:
    "abandoned" for a campaign marked running whose writer is gone (it was killed: resume it)."""
    with Store.open(db, readonly=True) as store:
        info = store.campaign()
        if info.status == "running" and store.writer() is None:
            info = replace(info, status="abandoned")
        rows = store.evaluations()
        runs = store.events(kind="campaign_started")
        started = store.events(runs[-1][0], kind="evaluation_started") if runs else []
    tally = Tally(objective=info.objective, budget=info.settings.get("budget"),
                  time_limit=info.settings.get("time_limit"), done=len(rows))
    for e in rows:
        tally.count(e.status, e.message)
        if e.value is not None and (tally.best is None or e.value > tally.best):
            tally.best, tally.best_label = e.value, e.label
    if runs:  # this run's clock and rate start at its campaign_started event
        _, when, _, data = runs[-1]
        tally.done_at_start = data.get("done", 0)
        tally.started = time.monotonic() - (time.time() - when)
        if info.status == "running":
            tally.running = max(0, len(started) - (len(rows) - tally.done_at_start))
    return tally, info.status


def watch(db: Path, console: Console) -> str:
    """Show the panel of the campaign in ``db`` until it stops running (or Ctrl-C); its last status.
    The database is re-read at most every second, less often when reading it takes longer."""
    state = list(stored_tally(db))
    with Live(console=console, get_renderable=lambda: state[0].table(), refresh_per_second=2):
        while state[1] == "running":
            tick = time.monotonic()
            state[:] = stored_tally(db)
            time.sleep(max(1.0, 4 * (time.monotonic() - tick)))
    return state[1]
