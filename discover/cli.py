"""The ``discover`` command line: run, resume and inspect campaigns.

Problems with the user's input (an unknown game, a bad parameter, a missing or corrupted database,
a budget of zero) print one line starting with ``error:`` and exit with status 2, never a traceback.
"""

from __future__ import annotations

import functools
import json
import sys
import time
import tomllib
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.live import Live
from rich.table import Table

from discover.campaign import Campaign, CampaignResult
from discover.dispatch import BACKENDS
from discover.errors import DiscoverError, SettingsError
from discover.game import available_games
from discover.inspect import FORMATS, export_tree, render_tree, tree_graph
from discover.store import Store
from discover.types import Event, EventKind

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Search over formulation games with MCTS and Bayesian surrogates.")
out = Console()
err = Console(stderr=True)


def _fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def _parse_params(items: list[str]) -> dict[str, str]:
    params: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise SettingsError(f"--param expects NAME=VALUE, got {item!r}")
        params[name.strip()] = value.strip()
    return params


def _read_config(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        return tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise SettingsError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"config file {path} is not valid TOML: {exc}") from None


class Progress:
    """Shows a campaign's progress: a live panel on a terminal, plain lines otherwise."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.live: Live | None = None
        self.done = self.failed = self.running = 0
        self.budget: int | None = None
        self.best: float | None = None
        self.best_state = ""
        self.started = time.monotonic()

    def __enter__(self) -> Progress:
        if self.console.is_terminal:
            self.live = Live(self._panel(), console=self.console, refresh_per_second=4, transient=False)
            self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.update(self._panel())
            self.live.__exit__(None, None, None)

    def _panel(self) -> Table:
        table = Table.grid(padding=(0, 2))
        budget = "" if self.budget is None else f" / {self.budget}"
        table.add_row("evaluations", f"{self.done}{budget}  ({self.failed} not ok)")
        table.add_row("running", str(self.running))
        best = "-" if self.best is None else f"{self.best:.8g}  {self.best_state}"
        table.add_row("best so far", best)
        table.add_row("elapsed", f"{time.monotonic() - self.started:.1f} s")
        return table

    def __call__(self, event: Event) -> None:
        d = event.data
        if event.kind is EventKind.CAMPAIGN_STARTED:
            self.done, self.budget = d["done"], d["budget"]
            if self.live is None:
                self.console.print(f"campaign {d['game']} -> {d['db']} ({d['workers']} workers, {d['done']} done)")
        elif event.kind is EventKind.EVALUATION_STARTED:
            self.running += 1
        elif event.kind in (EventKind.EVALUATION_FINISHED, EventKind.EVALUATION_FAILED):
            self.running = max(0, self.running - 1)
            self.done = d["done"]
            self.failed += event.kind is EventKind.EVALUATION_FAILED
            if self.live is None:
                what = f"value={d['value']:.8g}" if d["value"] is not None else f"{d['status']}: {d['message']}"
                budget = "" if self.budget is None else f"/{self.budget}"
                self.console.print(f"[{d['done']}{budget}] {d['state']}  {what}", highlight=False, soft_wrap=True)
        elif event.kind is EventKind.NEW_BEST:
            self.best, self.best_state = d["best"], d["state"]
            if self.live is None:
                self.console.print(f"  new best {d['best']:.8g}", highlight=False)
        if self.live is not None:
            self.live.update(self._panel())


def _run_with_progress(campaign: Campaign) -> CampaignResult:
    with Progress(out) as progress:
        campaign.subscribe(progress)
        try:
            result = campaign.run()
        except KeyboardInterrupt:
            raise _fail(f"interrupted; continue with `discover resume {campaign.db}`", 130) from None
    _print_summary(result)
    return result


def _print_summary(result: CampaignResult) -> None:
    n = len(result.history)
    ok = sum(e.status == "ok" for e in result.history)
    out.print(f"stopped ({result.stopped}) after {n} evaluations ({ok} ok); database: {result.db}", highlight=False)
    if result.best:
        b = result.best[0]
        out.print(f"best value {b.value:.10g}: {b.label}", highlight=False)
    if result.root_value is not None:
        out.print(f"backed-up value of the game: {result.root_value:.10g}", highlight=False)


def _guard(fn: Any) -> Any:
    """Turn user errors into one line and a non-zero exit."""
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except DiscoverError as exc:
            raise _fail(str(exc)) from None

    return wrapper


@app.command()
@_guard
def games() -> None:
    """List the registered games and their parameters."""
    table = Table("game", "parameters", "description", show_lines=True)
    for name, cls in available_games().items():
        if isinstance(cls, Exception):
            table.add_row(f"[red]{name}[/]", "", f"[red]broken: {cls}[/]")
            continue
        params = "\n".join(
            f"{p.name}: {p.type}" + (" (required)" if p.required else f" = {p.default!r}") + (f"  {p.help}" if p.help else "")
            for p in cls.params
        )
        doc = (cls.__doc__ or "").strip().splitlines()
        table.add_row(name, params or "-", doc[0] if doc else "")
    out.print(table)


@app.command()
@_guard
def run(
    game: str = typer.Argument(..., help="registered game name (see `discover games`)"),
    param: list[str] = typer.Option([], "--param", "-p", help="game parameter NAME=VALUE (repeatable)"),
    config: Optional[Path] = typer.Option(None, "--config", help="TOML file: [params] and campaign settings"),
    budget: Optional[int] = typer.Option(None, "--budget", "-n", help="number of evaluations"),
    time_limit: Optional[float] = typer.Option(None, "--time-limit", help="wall-clock limit in seconds"),
    workers: Optional[int] = typer.Option(None, "--workers", "-w", help="parallel evaluations (process backend)"),
    backend: Optional[str] = typer.Option(None, "--backend", help=f"one of {', '.join(BACKENDS)} (default process)"),
    db: Optional[Path] = typer.Option(None, "--db", help="campaign database to create (default GAME-TIME.db)"),
    seed: Optional[int] = typer.Option(None, "--seed", help="random seed (default 0)"),
    timeout: Optional[float] = typer.Option(None, "--timeout", help="per-evaluation limit in seconds"),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="formulations chosen at once"),
    surrogate: Optional[str] = typer.Option(None, "--surrogate", help="gp | none (default: gp for expensive games)"),
    method: Optional[str] = typer.Option(None, "--method", help="mcts (default) or a baseline: random, flat-bo, tpe"),
) -> None:
    """Start a new campaign on GAME."""
    cfg = _read_config(config)
    params = {k: v for k, v in cfg.pop("params", {}).items()}
    params.update(_parse_params(param))
    known = {"budget", "time_limit", "workers", "backend", "db", "seed", "timeout", "batch_size", "surrogate", "method"}
    unknown = sorted(set(cfg) - known)
    if unknown:
        raise SettingsError(f"config file has unknown keys {', '.join(unknown)}; allowed: [params] and {', '.join(sorted(known))}")

    def pick(flag: Any, key: str, default: Any = None) -> Any:
        return flag if flag is not None else cfg.get(key, default)

    backend_name = pick(backend, "backend", "process")
    db_path = pick(db, "db") or Path(f"{game}-{time.strftime('%Y%m%d-%H%M%S')}.db")
    if pick(budget, "budget") is None and pick(time_limit, "time_limit") is None:
        raise SettingsError("give --budget N (evaluations) and/or --time-limit SECONDS")
    campaign = Campaign(
        game, params=params, budget=pick(budget, "budget"), time_limit=pick(time_limit, "time_limit"),
        workers=pick(workers, "workers"), backend=backend_name, db=Path(db_path), seed=pick(seed, "seed", 0),
        timeout=pick(timeout, "timeout"), batch_size=pick(batch_size, "batch_size"),
        surrogate=pick(surrogate, "surrogate"), method=pick(method, "method", "mcts"),
    )
    _run_with_progress(campaign)


@app.command()
@_guard
def resume(
    db: Path = typer.Argument(..., help="campaign database"),
    budget: Optional[int] = typer.Option(None, "--budget", "-n", help="new total number of evaluations"),
    time_limit: Optional[float] = typer.Option(None, "--time-limit", help="wall-clock limit for this run"),
    workers: Optional[int] = typer.Option(None, "--workers", "-w"),
    backend: Optional[str] = typer.Option(None, "--backend"),
) -> None:
    """Continue a stopped or killed campaign where it stopped."""
    campaign = Campaign.resume(db, budget=budget, time_limit=time_limit, workers=workers, backend=backend)
    _run_with_progress(campaign)


@app.command()
@_guard
def status(db: Path = typer.Argument(..., help="campaign database")) -> None:
    """Summarise a campaign (works while it runs)."""
    with Store.open(db, readonly=True) as store:
        info = store.campaign()
        evaluations = store.evaluations()
        best = store.evaluations(order="best", status="ok", limit=1)
    counts: dict[str, int] = {}
    for e in evaluations:
        counts[e.status] = counts.get(e.status, 0) + 1
    table = Table.grid(padding=(0, 2))
    table.add_row("game", f"{info.game} {json.dumps(info.params)}")
    table.add_row("status", info.status + (" (or killed: resume it)" if info.status == "running" else ""))
    budget = info.settings.get("budget")
    table.add_row("evaluations", f"{len(evaluations)}" + (f" / {budget}" if budget else "") + "  "
                  + ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())))
    table.add_row("best", f"{best[0].value:.10g}  {best[0].label}" if best else "-")
    table.add_row("seed", str(info.seed))
    table.add_row("settings", json.dumps({k: v for k, v in info.settings.items() if k != "planner"}))
    table.add_row("cost", f"{sum(e.cost_seconds for e in evaluations):.1f} s of evaluation")
    table.add_row("updated", time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(info.updated)))
    table.add_row("version", info.code_version)
    out.print(table)


@app.command()
@_guard
def tree(
    db: Path = typer.Argument(..., help="campaign database"),
    depth: int = typer.Option(3, "--depth", "-d", min=0, help="levels to show"),
    top: int = typer.Option(3, "--top", "-k", min=1, help="most visited children shown per node"),
) -> None:
    """Show the top of the search tree: the most visited branches and their values."""
    with Store.open(db, readonly=True) as store:
        graph = tree_graph(store)
    out.print(f"{graph.number_of_nodes()} nodes, {graph.number_of_edges()} edges", highlight=False)
    for line in render_tree(graph, depth=depth, top=top):
        out.print(line, highlight=False, soft_wrap=True)


@app.command()
@_guard
def export(
    db: Path = typer.Argument(..., help="campaign database"),
    fmt: str = typer.Option(..., "--format", "-f", help=f"one of {', '.join(FORMATS)}"),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="file to write (default: stdout)"),
) -> None:
    """Export the search tree as JSON, GraphML or DOT."""
    if fmt not in FORMATS:
        raise SettingsError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    with Store.open(db, readonly=True) as store:
        text = export_tree(tree_graph(store), fmt, output)
    if output is None:
        sys.stdout.write(text + "\n")
    else:
        err.print(f"wrote {output}", highlight=False)


@app.command()
@_guard
def best(
    db: Path = typer.Argument(..., help="campaign database"),
    top: int = typer.Option(5, "--top", "-k", min=1, help="how many"),
    as_json: bool = typer.Option(False, "--json", help="machine-readable output with artifacts"),
) -> None:
    """The best evaluations with their certificates (artifacts)."""
    with Store.open(db, readonly=True) as store:
        rows = store.evaluations(order="best", status="ok", limit=top)
    if as_json:
        sys.stdout.write(json.dumps([
            {"value": e.value, "state": e.label, "artifacts": e.artifacts, "cost_seconds": e.cost_seconds,
             "worker": e.worker, "device": e.device, "id": e.id} for e in rows
        ], indent=1) + "\n")
        return
    if not rows:
        out.print("no successful evaluation yet")
        return
    table = Table("rank", "value", "formulation", "cost (s)", "artifacts")
    for i, e in enumerate(rows, 1):
        # a game may put a one-line human summary of its certificate under "summary"
        art = e.artifacts.get("summary") if isinstance(e.artifacts.get("summary"), str) else json.dumps(e.artifacts)
        table.add_row(str(i), f"{e.value:.10g}", e.label, f"{e.cost_seconds:.3g}", art if len(art) < 400 else art[:397] + "...")
    out.print(table)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
