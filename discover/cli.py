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
from rich.markup import escape
from rich.table import Table

from discover import __version__
from discover.campaign import Campaign, CampaignResult
from discover.check import CHECKED_EVALUATIONS, check_game
from discover.errors import DiscoverError, SettingsError
from discover.game import available_games, load_game
from discover.inspect import FORMATS, export_tree, principal_line, render_tree, tree_graph
from discover.panel import Progress, watch
from discover.store import Store
from discover.types import CampaignSettings, failure_kind

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
    with Store.open(result.db, readonly=True) as store:
        objective = store.campaign().objective
    out.print(f"stopped ({result.stopped}) after {n} evaluations ({ok} ok); database: {result.db}", highlight=False)
    if result.best:
        b = result.best[0]
        out.print(f"best {objective.label}: {objective.text(b.value)}: {b.label}", highlight=False, markup=False)
    if result.root_value is not None:
        out.print(f"backed-up {objective.name} of the game: {objective.text(result.root_value)}", highlight=False)
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
    evaluate: bool = typer.Option(True, "--evaluate/--no-evaluate",
                                  help=f"also evaluate {CHECKED_EVALUATIONS} terminal states"),
    timeout: Optional[float] = typer.Option(None, "--timeout", min=0.001,
                                            help="seconds per evaluation (default: the game's, or 60)"),
) -> None:
    """Check GAME against the protocol (random play, hashing, pickling, encoding, evaluation) before
    spending a budget on it. Evaluations run in a worker process, killed at the timeout."""
    instance = load_game(game, **_parse_params(param))
    started = time.monotonic()
    limit = timeout or instance.default_timeout or CHECK_TIMEOUT_SECONDS
    terminals = check_game(instance, playouts=playouts, evaluate=evaluate, timeout=limit)
    evaluated = f", evaluated {min(CHECKED_EVALUATIONS, len(terminals))} of them" if evaluate else ""
    out.print(f"ok: game {instance.name!r} played {len(terminals)} random games to the end "
              f"({len({instance.state_key(t) for t in terminals})} distinct){evaluated} "
              f"in {time.monotonic() - started:.1f} s", highlight=False)


@app.command()
@_guard
def status(
    db: Path = typer.Argument(..., help="campaign database"),
    watch_it: bool = typer.Option(False, "--watch", "-w", help="follow a running campaign's progress panel"),
) -> None:
    """Summarise a campaign (works while it runs)."""
    if watch_it:
        try:
            ended = watch(db, out)
        except KeyboardInterrupt:
            raise typer.Exit(0) from None  # the campaign itself goes on
        out.print(f"the campaign is {ended}" + (" (its process is gone: resume it)" if ended == "abandoned" else ""),
                  highlight=False)
        return
    with Store.open(db, readonly=True) as store:
        info = store.campaign()
        evaluations = store.evaluations()
        best = store.evaluations(order="best", status="ok", limit=1)
        writer = store.writer()
    counts: dict[str, int] = {}
    for e in evaluations:
        counts[e.status] = counts.get(e.status, 0) + 1
    table = Table.grid(padding=(0, 2))
    table.add_row("game", f"{info.game} {json.dumps(info.params)}")
    running = "" if info.status != "running" else (f" (by {writer})" if writer else
                                                   " but its process is gone: it was killed; resume it")
    table.add_row("status", info.status + running + (f": {info.reason}" if info.reason else ""))
    budget = info.settings.get("budget")
    table.add_row("evaluations", f"{len(evaluations)}" + (f" / {budget}" if budget else "") + "  "
                  + ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())))
    table.add_row(f"best {info.objective.name}", f"{info.objective.text(best[0].value)}  {escape(best[0].label)}" if best else "-")
    table.add_row("objective", info.objective.label)
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
        out.print(line, highlight=False, soft_wrap=True, markup=False)


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
    """The best evaluations with their certificates (artifacts); for a game with an opponent or
    chance, the backed-up value of the game and its principal variation."""
    with Store.open(db, readonly=True) as store:
        objective = store.campaign().objective
        rows = store.evaluations(order="best", status="ok", limit=top)
        adversarial = bool(store.players() & {"opponent", "chance"})
        # the tree (every evaluation's path) is read only where a single leaf would mean nothing
        graph = tree_graph(store) if adversarial else None
    line = [graph.nodes[k] for k in principal_line(graph)] if graph is not None else []
    if as_json:
        payload: Any = [
            {objective.name: objective.shown(e.value), "value": e.value, "state": e.label, "artifacts": e.artifacts,
             "cost_seconds": e.cost_seconds, "worker": e.worker, "device": e.device, "id": e.id} for e in rows]
        if adversarial:
            payload = {"game_value": line[0].get("value") if line else None, "objective": objective.label,
                       "principal_variation": [d["label"] for d in line], "best_leaves": payload}
        sys.stdout.write(json.dumps(payload, indent=1) + "\n")
        return
    if adversarial:  # a single leaf means nothing when an opponent or chance chooses too
        value = line[0].get("value") if line else None
        out.print(f"backed-up {objective.label} of the game: {objective.quantity_text(value)}", highlight=False)
        out.print("principal variation: " + " -> ".join(d["label"] for d in line), highlight=False, markup=False)
        out.print("best single leaves (each assumes every move below the root went its way):", highlight=False)
    if not rows:
        out.print("no successful evaluation yet")
        return
    table = Table("rank", objective.name, "formulation", "cost (s)", "artifacts", caption=objective.label)
    for i, e in enumerate(rows, 1):
        # a game may put a one-line human summary of its certificate under "summary"
        art = e.artifacts.get("summary") if isinstance(e.artifacts.get("summary"), str) else json.dumps(e.artifacts)
        table.add_row(str(i), objective.text(e.value), escape(e.label), f"{e.cost_seconds:.3g}",
                      escape(art if len(art) < 400 else art[:397] + "..."))
    out.print(table)


@app.command()
@_guard
def verify(
    db: Path = typer.Argument(..., help="campaign database"),
    top: int = typer.Option(5, "--top", "-k", min=1, help="how many of the best evaluations to re-check"),
    every: bool = typer.Option(False, "--all", help="re-check every successful evaluation"),
) -> None:
    """Re-check the stored certificates of the best evaluations with the game code installed here (the
    game's own verify, independent of the solver), without writing the database. A campaign is
    verified when each evaluation finishes, by the code of that time: a database from another machine
    or an older version is trusted only after this. Exits 1 when a certificate does not hold."""
    from discover.game import Game, upgraded_history

    with Store.open(db, readonly=True) as store:
        info = store.campaign()
        rows = store.evaluations(order="best", status="ok", limit=None if every else top, states=True)
    game = load_game(info.game, **info.params)
    if type(game).verify is Game.verify:
        raise _fail(f"game {info.game!r} has no verify of its own (it trusts its evaluations): nothing to re-check", 1)
    if not rows:
        out.print("no successful evaluation to re-check", highlight=False)
        return
    objective = info.objective
    refused = 0
    for i, e in enumerate(upgraded_history(game, rows), 1):
        started = time.monotonic()
        try:
            reason = game.verify(e.state, e.outcome())
        except Exception as exc:  # a verifier that raises has not verified
            reason = f"{type(exc).__name__}: {exc}"
        refused += bool(reason)
        verdict = f"DOES NOT HOLD: {reason}" if reason else "holds"
        out.print(f"{i}. {objective.text(e.value)}  {e.label}  ({time.monotonic() - started:.1f} s): {verdict}",
                  highlight=False, markup=False, soft_wrap=True)
    if refused:
        raise _fail(f"{refused} of {len(rows)} stored certificates do not hold under this code; "
                    "their values are not proven", 1)
    out.print(f"all {len(rows)} re-checked certificates hold", highlight=False)


@app.command()
@_guard
def plot(
    dbs: list[Path] = typer.Argument(..., help="campaign databases to overlay"),
    output: Path = typer.Option(..., "--output", "-o", help="figure to write: .png or .svg"),
    label: Optional[list[str]] = typer.Option(None, "--label", "-l", help="legend name per database, in order"),
) -> None:
    """Best so far against evaluations and wall-clock time, and every value by status; campaigns overlaid."""
    from discover.analysis import plot_campaigns

    err.print(f"wrote {plot_campaigns(dbs, output, labels=label or None)}", highlight=False)


@app.command()
@_guard
def report(
    db: Path = typer.Argument(..., help="campaign database"),
    output: Path = typer.Option(..., "--output", "-o", help="HTML file to write"),
) -> None:
    """A self-contained HTML report (works offline): settings, plots, evaluations, failures, the tree,
    and for a GP-guided campaign the surrogate's leave-one-out calibration."""
    from discover.report import surrogate_calibration, write_report

    calibration, why = surrogate_calibration(db)
    if why:
        err.print(f"no calibration panel: {why}", highlight=False)
    err.print(f"wrote {write_report(db, output, calibration=calibration)}", highlight=False)


@app.command()
@_guard
def failures(
    db: Path = typer.Argument(..., help="campaign database"),
    top: int = typer.Option(10, "--top", "-k", min=1, help="how many kinds of failure"),
) -> None:
    """Why evaluations did not succeed: counts by status and by kind of message, with an example."""
    with Store.open(db, readonly=True) as store:
        rows = [e for e in store.evaluations() if e.status != "ok"]
    if not rows:
        out.print("every evaluation succeeded")
        return
    kinds: dict[tuple[str, str], list] = {}
    for e in rows:
        kinds.setdefault((e.status, failure_kind(e.message)), []).append(e)
    table = Table("status", "count", "example message", "evaluation ids", "example formulation")
    for (status_, _), group in sorted(kinds.items(), key=lambda kv: -len(kv[1]))[:top]:
        ids = " ".join(str(e.id) for e in group[:8]) + (" ..." if len(group) > 8 else "")
        table.add_row(status_, str(len(group)), escape(group[0].message), ids, escape(group[0].label))
    counts = {s: sum(e.status == s for e in rows) for s in ("infeasible", "failed", "timeout")}
    out.print(f"{len(rows)} not ok: " + ", ".join(f"{n} {s}" for s, n in counts.items() if n), highlight=False)
    out.print(table)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
