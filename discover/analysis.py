"""Campaigns as data: a pandas frame of the evaluations, and a figure comparing campaigns.

Everything here reads stored databases only (no game code), so it works on a campaign still being
written and on a copy made elsewhere. pandas and matplotlib are optional dependencies
(``pip install 'discover[analysis]'``), imported only when these functions run.

Decision columns. Each evaluation's ``path`` links it to the stored tree; the labels of the edges
along it are the moves the tree knows. The tree stops where the planner stopped expanding and a
rollout finished the formulation, so for most evaluations the path holds only the first few moves.
Slot games (``games/slots.py`` and its kin) label a formulation ``name=value, name=value, ...``
with one pair per move, the value written as the move's edge label. Where every evaluation's label
has that form and agrees with its path, the decision columns are named after the slots and hold
every move, the rolled-out ones included. Otherwise they are ``decision_1``, ``decision_2``, ... by
depth, from the edge labels, missing below the tree. A slot named like another column (``status``)
becomes ``decision_status``. A column whose every label is a number holds numbers.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from discover.errors import DiscoverError, SettingsError
from discover.store import Store
from discover.types import EdgeRecord, EvaluationRecord, Objective

if TYPE_CHECKING:
    import pandas as pd

FIXED_COLUMNS = ("id", "label", "value", "status", "message", "cost_seconds", "started", "finished", "elapsed",
                 "worker", "device", "state_key")
PLOT_SUFFIXES = (".png", ".svg")
FAILURES = {"failed": "x", "infeasible": "v", "timeout": "s"}  # marker per status; the colour is the campaign's
_PAIR = re.compile(r"([A-Za-z_][\w.\-]*)=(.*)")
_INT = re.compile(r"[-+]?\d+")


class MissingDependency(DiscoverError, ImportError):
    """An optional dependency of the analysis tools is not installed (one line, like every user error)."""


def _need(module: str, purpose: str) -> Any:
    try:
        return __import__(module)
    except ImportError:
        raise MissingDependency(f"{purpose} needs {module}: pip install 'discover[analysis]'") from None


def evaluations_frame(store: Store | str | Path) -> pd.DataFrame:
    """One row per evaluation, in the order they finished, with its decisions as columns.

    Columns: id, label, the decisions (see the module docstring), ``value`` (stored, maximised), the
    objective in the game's own words (named after ``Objective.name``, or ``objective`` where that
    name is taken, e.g. by the default "value"), status, message, cost_seconds, started and finished
    (UTC datetimes), elapsed (seconds from the campaign's creation to the evaluation's finish:
    when its result was known), worker, device, state_key. ``frame.attrs`` holds ``objective`` (that
    column's name), ``direction``, ``objective_label``, ``game`` and ``method``.
    """
    pd = _need("pandas", "evaluations_frame")
    if not isinstance(store, Store):
        with Store.open(store, readonly=True) as opened:
            return evaluations_frame(opened)
    info = store.campaign()
    objective: Objective = info.objective
    records = store.evaluations()
    _, edges = store.tree()
    column = "objective" if objective.name in FIXED_COLUMNS else objective.name
    decisions = _decisions(pd, records, edges, taken={*FIXED_COLUMNS, "objective", column})
    started = [r.started for r in records]
    t0 = min([info.created, *started])
    frame = pd.DataFrame({
        "id": pd.array([r.id for r in records], dtype="int64"),
        "label": [r.label for r in records],
        **decisions,
        "value": pd.array([r.value for r in records], dtype="float64"),
        column: pd.array([objective.shown(r.value) for r in records], dtype="float64"),
        "status": [r.status for r in records],
        "message": [r.message for r in records],
        "cost_seconds": pd.array([r.cost_seconds for r in records], dtype="float64"),
        "started": pd.to_datetime(pd.Series(started, dtype="float64"), unit="s", utc=True),
        "finished": pd.to_datetime(pd.Series([r.finished for r in records], dtype="float64"), unit="s", utc=True),
        "elapsed": pd.array([r.finished - t0 for r in records], dtype="float64"),
        "worker": [r.worker for r in records],
        "device": [r.device for r in records],
        "state_key": [r.state_key for r in records],
    })
    frame.attrs.update(objective=column, direction=objective.direction, objective_label=objective.label,
                       game=info.game, method=str(info.settings.get("method", "mcts")))
    return frame


def _decisions(pd: Any, records: Sequence[EvaluationRecord], edges: Sequence[EdgeRecord],
               taken: set[str]) -> dict[str, Any]:
    """The decision columns: named slots where the labels allow it, else edge labels by depth.

    A slot named like another column (``taken``) is called ``decision_<name>``."""
    by_pair = {(e.parent, e.child): e.label for e in edges}
    moves = [[by_pair.get(pair) for pair in zip(r.path, r.path[1:])] for r in records]
    named = [_slots(r.label) for r in records]
    slots = [pairs for pairs in named if pairs is not None]
    columns: dict[str, list[str | None]]
    if records and len(slots) == len(records) and all(_agree(m, pairs) for m, pairs in zip(moves, slots)):
        rows = [dict(pairs) for pairs in slots]
        order = dict.fromkeys(name for pairs in slots for name, _ in pairs)
        columns = {(f"decision_{n}" if n in taken else n): [row.get(n) for row in rows] for n in order}
    else:
        depth = max((len(m) for m in moves), default=0)
        columns = {f"decision_{d + 1}": [m[d] if d < len(m) else None for m in moves] for d in range(depth)}
    return {name: _typed(pd, values) for name, values in columns.items()}


def _slots(label: str) -> list[tuple[str, str]] | None:
    """``name=value, ...`` pairs of a slot game's label, or None for any other label."""
    pairs = []
    for part in label.split(", "):
        match = _PAIR.fullmatch(part)
        if match is None:
            return None
        pairs.append((match[1], match[2]))
    return pairs if len({name for name, _ in pairs}) == len(pairs) else None


def _agree(moves: list[str | None], pairs: list[tuple[str, str]]) -> bool:
    """Whether a label's values are the moves along the path, in order."""
    return len(moves) <= len(pairs) and all(m == v for m, (_, v) in zip(moves, pairs))


def _typed(pd: Any, values: list[str | None]) -> Any:
    """Numbers where every present label is one (integers stay integers beside missing moves), else the labels."""
    series = pd.Series(values)
    try:
        numbers = pd.to_numeric(series)
    except (ValueError, TypeError):
        return series
    present = [v for v in values if v is not None]
    return numbers.astype("Int64") if present and all(_INT.fullmatch(v) for v in present) else numbers


def plot_campaigns(dbs: Sequence[str | Path], out: str | Path, *, labels: Sequence[str] | None = None) -> Path:
    """Draw campaigns side by side and write the figure to ``out`` (.png or .svg); returns ``out``.

    Three panels: the best value so far against the evaluation number and against wall-clock
    seconds, both in the game's words and direction (for a "min" objective the running minimum),
    and every evaluation's value, with failed, infeasible and timed-out evaluations (which have no
    value) marked at the worse edge. Campaigns are told apart by ``labels``, or by the database's
    name and search method; campaigns whose objectives differ are drawn, with a warning in the title.
    """
    out = Path(out)
    if out.suffix.lower() not in PLOT_SUFFIXES:
        raise SettingsError(f"cannot write {out}: the figure is written as {' or '.join(PLOT_SUFFIXES)}")
    if not out.parent.is_dir():
        raise SettingsError(f"cannot write {out}: folder {out.parent} does not exist")
    if not dbs:
        raise SettingsError("plot needs at least one campaign database")
    if labels is not None and len(labels) != len(dbs):
        raise SettingsError(f"{len(labels)} labels given for {len(dbs)} campaigns; give one per campaign")
    frames = [evaluations_frame(db) for db in dbs]  # before matplotlib: a bad database fails first
    mpl = _need("matplotlib", "plot_campaigns")
    mpl.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.transforms import blended_transform_factory

    names = list(labels) if labels is not None else [
        f"{Path(db).stem} ({frame.attrs['method']})" for db, frame in zip(dbs, frames)]
    objectives = list(dict.fromkeys(frame.attrs["objective_label"] for frame in frames))
    fig, (by_count, by_time, each) = plt.subplots(1, 3, figsize=(16, 4.8), constrained_layout=True)
    title = objectives[0] if len(objectives) == 1 else "objectives differ: " + "; ".join(objectives)
    if len(objectives) == 1:
        fig.suptitle(title)
    else:
        fig.suptitle(title, color="tab:red", gid="objectives-differ")
    edge_y = {"max": 0.03, "min": 0.97}  # the worse edge of the axes, in axes coordinates
    drawn: set[str] = set()
    for i, (frame, name) in enumerate(zip(frames, names)):
        colour = f"C{i % 10}"
        shown, direction = frame[frame.attrs["objective"]], frame.attrs["direction"]
        best = _best_so_far(shown, direction)
        number = range(1, len(frame) + 1)
        line, = by_count.plot(number, best, drawstyle="steps-post", color=colour, label=name)
        line.set_gid(f"best-by-count-{i}")
        timed = frame.sort_values("elapsed", kind="stable")
        tbest = _best_so_far(timed[frame.attrs["objective"]], direction)
        line, = by_time.plot(timed["elapsed"], tbest, drawstyle="steps-post", color=colour, label=name)
        line.set_gid(f"best-by-time-{i}")
        ok = frame["status"] == "ok"
        each.scatter(frame.index[ok] + 1, shown[ok], s=12, color=colour, alpha=0.7, gid=f"values-{i}")
        edge = blended_transform_factory(each.transData, each.transAxes)
        for status, marker in FAILURES.items():
            where = frame["status"] == status
            if where.any():  # in the campaign's colour: a colour per status clashed with the campaigns' own
                each.scatter(frame.index[where] + 1, [edge_y[direction]] * int(where.sum()), transform=edge,
                             marker=marker, color=colour, s=24, clip_on=False, gid=f"{status}-{i}")
                drawn.add(status)
    axis = objectives[0] if len(objectives) == 1 else "value in each game's words"
    for ax, xlabel, what in ((by_count, "evaluation", "best so far"),
                             (by_time, "seconds since the campaign began", "best so far"),
                             (each, "evaluation", "each evaluation")):
        ax.set_xlabel(xlabel)
        ax.set_ylabel(axis)
        ax.set_title(what)
        ax.grid(alpha=0.3)
    each.margins(y=0.1)  # room at the worse edge for the evaluations that have no value
    by_count.legend(fontsize="small")
    if drawn:  # the legend names the statuses by marker, in a neutral grey
        each.legend(handles=[Line2D([], [], marker=FAILURES[status], color="0.35", linestyle="",
                                    label=f"{status} (no value)") for status in FAILURES if status in drawn],
                    fontsize="small")
    fig.savefig(out, format=out.suffix.lower().lstrip("."))
    plt.close(fig)
    return out


def _best_so_far(shown: pd.Series, direction: str) -> pd.Series:
    """The running best in the game's direction, carried over evaluations that have no value."""
    return (shown.cummax() if direction == "max" else shown.cummin()).ffill()
