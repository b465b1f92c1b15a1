"""The ``discover`` command line: run, resume and inspect campaigns.

Problems with the user's input (an unknown game, a bad parameter, a missing or corrupted database,
a budget of zero) print one line starting with ``error:`` and exit with status 2, never a traceback.
"""

from __future__ import annotations

import functools
import inspect
import json
import sys
import time
import tomllib
import traceback
from dataclasses import Field, fields
from pathlib import Path
from typing import Any, Callable, Optional

import typer
from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.table import Table

from discover import __version__
from discover.campaign import Campaign, CampaignResult
from discover.check import check_game
from discover.errors import DiscoverError, SettingsError
from discover.game import available_games, load_game
from discover.inspect import FORMATS, export_tree, render_tree, tree_graph
from discover.store import Store
from discover.types import CampaignSettings, Event, EventKind

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Search over formulation games with MCTS and Bayesian surrogates.")
out = Console()
err = Console(stderr=True)
_debug = False  # --debug: let unexpected errors show their traceback


def _show_version(value: bool) -> None:
    if value:
        out.print(f"discover {__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def main_options(
    debug: bool = typer.Option(False, "--debug", help="show full tracebacks of unexpected errors"),
    version: bool = typer.Option(False, "--version", callback=_show_version, is_eager=True,
                                 help="print the version and exit"),
) -> None:
    """Search over formulation games with MCTS and Bayesian surrogates."""
    global _debug
    _debug = debug


def _fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
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
    except (FileNotFoundError, IsADirectoryError):
        raise SettingsError(f"config file {path} does not exist") from None
    except (UnicodeDecodeError, PermissionError) as exc:
        raise SettingsError(f"cannot read config file {path}: {exc}") from None
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
            if d["timeout"] is None:
                limit = "no enforced per-evaluation timeout (this backend cannot interrupt an evaluation)"
                if d["advisory_timeout"] is not None:
                    limit += f"; evaluations are asked to finish within {d['advisory_timeout']:g} s"
            else:
                limit = f"per-evaluation timeout {d['timeout']:g} s" + ("" if d["timeout_given"] else " (default; --timeout changes it)")
            self.console.print(f"campaign {d['game']} -> {d['db']} ({d['workers']} workers, {d['done']} done); {limit}",
                               highlight=False)
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
    if result.stopped == "failing":
        raise _fail(f"stopped: {result.reason}; fix the game (`discover check` helps), then resume {result.db}", 1)
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
    elif not ok:
        out.print("no evaluation succeeded, so the game has no value yet", highlight=False)


def _guard(fn: Any) -> Any:
    """Turn user errors into one line and exit 2; anything else into one line and exit 1 (with
    the traceback under --debug)."""
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except DiscoverError as exc:
            raise _fail(str(exc)) from None
        except (typer.Exit, KeyboardInterrupt):
            raise
        except Exception as exc:
            if _debug:
                raise
            where = ""
            if exc.__traceback__ is not None:
                frame = traceback.extract_tb(exc.__traceback__)[-1]
                where = f" (at {Path(frame.filename).name}:{frame.lineno})"
            raise _fail(f"unexpected {type(exc).__name__}: {exc}{where}; rerun with --debug for the traceback", 1) from None

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


def _option_type(f: Field) -> Any:
    """The Python type of a settings field for Typer (``int | None`` -> ``Optional[int]``)."""
    base = next(t for t in (int, float, str) if f.type.split(" | ")[0] == t.__name__)
    return Optional[base]


def _with_settings(names: tuple[str, ...]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Give a command one ``--option`` per campaign setting in ``names``, generated from
    :class:`CampaignSettings`, so that a new setting reaches the command line with no edit here."""

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        signature = inspect.signature(fn)
        own = [p for p in signature.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
        extra = []
        for f in fields(CampaignSettings):
            if f.name not in names or not f.metadata.get("cli", True):
                continue
            flags = [f"--{f.name.replace('_', '-')}", *([f.metadata["short"]] if f.metadata.get("short") else [])]
            extra.append(inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, annotation=_option_type(f),
                                           default=typer.Option(None, *flags, help=f.metadata.get("help", ""))))
        fn.__signature__ = signature.replace(parameters=[*own, *extra])  # type: ignore[attr-defined]
        return fn

    return decorate


CHECK_TIMEOUT_SECONDS = 60.0  # `discover check`: a formulation slower than this to evaluate is worth knowing about


def _given(options: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in options.items() if v is not None}


@app.command()
@_guard
@_with_settings(CampaignSettings.names())
def run(
    game: str = typer.Argument(..., help="registered game name (see `discover games`)"),
    param: list[str] = typer.Option([], "--param", "-p", help="game parameter NAME=VALUE (repeatable)"),
    config: Optional[Path] = typer.Option(None, "--config", help="TOML file: [params] and campaign settings"),
    db: Optional[Path] = typer.Option(None, "--db", help="campaign database to create (default GAME-TIME.db)"),
    **options: Any,
) -> None:
    """Start a new campaign on GAME."""
    cfg = _read_config(config)
    params = cfg.pop("params", {})
    if not isinstance(params, dict):
        raise SettingsError(f"config file {config}: [params] must be a table of game parameters")
    params = {**params, **_parse_params(param)}
    stored_db = cfg.pop("db", None)
    if stored_db is not None and not isinstance(stored_db, str):
        raise SettingsError(f"config file {config}: db must be a file name, got {stored_db!r}")
    db_path = db or stored_db or Path(f"{game}-{time.strftime('%Y%m%d-%H%M%S')}.db")
    settings = CampaignSettings.from_mapping({**cfg, **_given(options)}, source=f"config file {config}")
    _run_with_progress(Campaign(game, settings, params=params, db=Path(db_path)))


@app.command()
@_guard
@_with_settings(CampaignSettings.names(resumable=True))
def resume(
    db: Path = typer.Argument(..., help="campaign database"),
    add: Optional[int] = typer.Option(None, "--add", help="evaluations to add to those done (instead of --budget)"),
    **options: Any,
) -> None:
    """Continue a stopped or killed campaign where it stopped (--budget is a new total)."""
    _run_with_progress(Campaign.resume(db, add=add, **_given(options)))


@app.command()
@_guard
def check(
    game: str = typer.Argument(..., help="registered game name"),
    param: list[str] = typer.Option([], "--param", "-p", help="game parameter NAME=VALUE (repeatable)"),
    playouts: int = typer.Option(20, "--playouts", min=1, help="random games played to the end"),
    evaluate: bool = typer.Option(True, "--evaluate/--no-evaluate", help="also evaluate three terminal states"),
    timeout: Optional[float] = typer.Option(None, "--timeout", min=0.001,
                                            help="seconds per evaluation (default: the game's, or 60)"),
) -> None:
    """Check GAME against the protocol (random play, hashing, pickling, encoding, evaluation) before
    spending a budget on it. Evaluations run in a worker process, killed at the timeout."""
    instance = load_game(game, **_parse_params(param))
    started = time.monotonic()
    limit = timeout or instance.default_timeout or CHECK_TIMEOUT_SECONDS
    terminals = check_game(instance, playouts=playouts, evaluate=evaluate, timeout=limit)
    what = "played and evaluated" if evaluate else "played"
    out.print(f"ok: game {instance.name!r} {what} {len(terminals)} random games to the end "
              f"({len({instance.state_key(t) for t in terminals})} distinct) in {time.monotonic() - started:.1f} s",
              highlight=False)


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
    table.add_row("status", info.status + (" (or killed: resume it)" if info.status == "running" else "")
                  + (f": {info.reason}" if info.reason else ""))
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
    if output is not None and (not output.parent.is_dir() or output.is_dir()):
        raise SettingsError(f"cannot write {output}: " + (f"{output} is a folder; name a file" if output.is_dir()
                                                          else f"folder {output.parent} does not exist"))
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
