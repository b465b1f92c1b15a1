"""``discover report``: one self-contained HTML page to look into a stored campaign.

The page is a single file that works offline (no CDN, no server): the campaign's data goes in as
one JSON blob, read by a small hand-written script (``report_assets/report.js``) that draws SVG
plots, a paged evaluations table and a lazily expanded search tree. Like :mod:`discover.inspect`
it reads only the store's records, so it needs none of the game's code and works on a database
that a running campaign is still writing.

Every value is shown through the campaign's :class:`~discover.types.Objective` (a "min" game's
stored values are negated back), so the page speaks the game's own words.
"""

from __future__ import annotations

import json
import math
import re
from importlib.resources import files
from pathlib import Path
from typing import Any, Sequence

from discover.errors import DiscoverError, StoreError
from discover.store import Store
from discover.inspect import STATUSES
from discover.types import EdgeRecord, EvaluationRecord, EventKind, NodeRecord, Objective, Status, failure_kind

ARTIFACT_LIMIT = 64 * 1024
"""Characters of one evaluation's certificate kept in the page: a campaign of large certificates
(weights, images) would otherwise make a page too heavy to open; the store keeps them all."""

_ASSETS = files("discover") / "report_assets"


def write_report(db: str | Path, out: str | Path, *,
                 calibration: Sequence[tuple[float, float, float, float]] | None = None) -> Path:
    """Write the campaign stored in ``db`` as an HTML page at ``out`` and return its path.

    ``calibration`` fills the surrogate calibration panel: (predicted, low, high, observed) per
    evaluation, in the game's own words (see :func:`surrogate_calibration`); the panel is drawn
    only when it is given.
    """
    db, out = Path(db), Path(out)
    if not db.is_file():
        raise StoreError(f"{db} does not exist; give the campaign database (the --db of `discover run`)")
    if out.is_dir() or not out.parent.is_dir():
        raise DiscoverError(f"cannot write {out}: " + ("it is a folder; name the page, e.g. report.html"
                                                         if out.is_dir() else f"folder {out.parent} does not exist"))
    with Store.open(db, readonly=True) as store:
        data = report_data(store)
    if calibration is not None:
        data["calibration"] = [[_num(v) for v in point] for point in calibration]
    page = render(data, title=f"discover report: {data['campaign']['game']} ({db.name})")
    try:
        out.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise DiscoverError(f"cannot write {out}: {exc.strerror or exc}") from None
    return out


def surrogate_calibration(db: str | Path) -> tuple[list[tuple[float, float, float, float]] | None, str]:
    """Leave-one-out calibration of the GP surrogate on a stored campaign that used it: the value
    model refitted on the stored evaluations (this needs the game's code and the ``gp`` plugin),
    and why there is none otherwise."""
    from discover.game import load_game, upgraded_history
    from discover.plugins import load_plugin

    with Store.open(db, readonly=True) as store:
        info = store.campaign()
        if info.settings.get("surrogate") != "gp" and info.settings.get("method") != "flat-bo":
            return None, "the campaign did not use the GP surrogate"
        try:
            game = load_game(info.game, **info.params)
            history = upgraded_history(game, store.history())
            estimator = load_plugin("discover.surrogates", "gp", "surrogate")(game, seed=info.seed)
        except Exception as exc:  # the game's or the surrogate's code is not installed here
            return None, f"cannot rebuild the surrogate here ({type(exc).__name__}: {exc})"
    try:
        for record in history:
            estimator.observe(game, record.state, record.outcome())
        points = estimator.calibration(game)
    except Exception as exc:  # e.g. a model that cannot be factorised: the report goes on without it
        return None, f"the surrogate could not be refitted ({type(exc).__name__}: {exc})"
    return (points or None), ("" if points else "too few successful evaluations for the model")


def report_data(store: Store) -> dict[str, Any]:
    """The page's data: columns of plain JSON values, every value already in the game's words."""
    info = store.campaign()
    objective: Objective = info.objective
    evaluations = store.evaluations()
    nodes, edges = store.tree()
    index = {n.key: i for i, n in enumerate(nodes)}
    seen = {e.status for e in evaluations}.union(*(n.counts for n in nodes))
    statuses = list(STATUSES) + sorted(seen - set(STATUSES))  # "ok" first: the page relies on it
    return {
        "campaign": {
            "game": info.game, "params": _pretty(info.params), "seed": info.seed, "settings": _pretty(info.settings),
            "code_version": info.code_version, "created": info.created, "updated": info.updated,
            "status": info.status, "reason": info.reason,
            "objective": {"name": objective.name, "direction": objective.direction, "label": objective.label},
            "runs": _runs(store.events()),
        },
        "statuses": statuses,
        "evaluations": _evaluation_columns(evaluations, objective, statuses, index),
        "nodes": _node_columns(nodes, objective, statuses),
        "edges": _edge_columns(edges, index),
        "calibration": None,
    }


def render(data: dict[str, Any], *, title: str) -> str:
    """The page: the template with the script, the style and the data blob inlined."""
    template = (_ASSETS / "report.html").read_text(encoding="utf-8")
    parts = {
        "title": _html_escape(title),
        "style": (_ASSETS / "report.css").read_text(encoding="utf-8"),
        "script": (_ASSETS / "report.js").read_text(encoding="utf-8"),
        "data": _script_json(data),
    }
    # one pass over the template: what is put in (labels, certificates) is never scanned for marks
    return re.sub(r"\{\{(title|style|script|data)\}\}", lambda m: parts[m.group(1)], template)


def _runs(events: list[tuple[int, float, str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """Each run of the campaign (the first, and every resume): when it started and why it stopped,
    which the campaign row does not keep (its ``reason`` is only a crash's or a failing game's)."""
    runs: list[dict[str, Any]] = []
    for _, when, kind, data in events:
        if kind == EventKind.CAMPAIGN_STARTED.value:
            runs.append({"started": when, "finished": None, "stopped": "", "reason": "",
                         "done": data.get("done"), "budget": data.get("budget"), "workers": data.get("workers")})
        elif kind == EventKind.CAMPAIGN_FINISHED.value and runs:
            runs[-1].update(finished=when, stopped=str(data.get("stopped", "")), reason=str(data.get("reason", "")),
                            done=data.get("done"))
    return runs


def _evaluation_columns(evaluations: list[EvaluationRecord], objective: Objective, statuses: list[str],
                        index: dict[str, int]) -> dict[str, list[Any]]:
    status_of = {s: i for i, s in enumerate(statuses)}
    columns: dict[str, list[Any]] = {k: [] for k in (
        "id", "label", "value", "status", "message", "kind", "cost", "worker", "device", "started", "finished", "node",
        "artifacts")}
    for e in evaluations:
        columns["id"].append(e.id)
        columns["label"].append(e.label)
        columns["value"].append(_num(objective.shown(e.value)))
        columns["status"].append(status_of[e.status])
        columns["message"].append(e.message)
        columns["kind"].append(failure_kind(e.message) if e.status != Status.OK.value else "")  # grouped as everywhere
        columns["cost"].append(_num(e.cost_seconds, 6))
        columns["worker"].append(e.worker)
        columns["device"].append(e.device)
        columns["started"].append(_num(round(e.started, 3)))
        columns["finished"].append(_num(round(e.finished, 3)))
        columns["node"].append(index.get(e.path[-1], -1) if e.path else -1)
        columns["artifacts"].append(_artifact_text(e.artifacts))
    return columns


def _node_columns(nodes: list[NodeRecord], objective: Objective, statuses: list[str]) -> dict[str, list[Any]]:
    columns: dict[str, list[Any]] = {k: [] for k in (
        "key", "label", "depth", "player", "visits", "mean", "value", "best", "worst", "solved", "principal",
        "counts", "evaluations")}
    players: dict[str, int] = {}
    for n in nodes:
        columns["key"].append(n.key)
        columns["label"].append(n.label)
        columns["depth"].append(n.depth)
        columns["player"].append(players.setdefault(n.player, len(players)))
        columns["visits"].append(n.visits)
        columns["mean"].append(_num(objective.shown(n.value_sum / n.visits)) if n.visits else None)
        # best and worst for the maximiser are the best and worst in the game's words too
        columns["value"].append(_num(objective.shown(n.value)))
        columns["best"].append(_num(objective.shown(n.best)))
        columns["worst"].append(_num(objective.shown(n.worst)))
        columns["solved"].append(int(n.solved))  # 0/1 rather than false/true: 50,000 of them
        columns["principal"].append(int(n.principal))
        columns["counts"].append([int(n.counts.get(s, 0)) for s in statuses])
        columns["evaluations"].append(list(n.evaluation_ids))
    columns["players"] = list(players)  # "player" holds indices into this list
    return columns


def _edge_columns(edges: list[EdgeRecord], index: dict[str, int]) -> dict[str, list[Any]]:
    columns: dict[str, list[Any]] = {k: [] for k in (
        "parent", "child", "label", "prior", "probability", "score", "acquisition", "feasibility")}
    for e in edges:
        if e.parent not in index or e.child not in index:
            continue  # a reader racing a writer can see an edge before its node
        columns["parent"].append(index[e.parent])
        columns["child"].append(index[e.child])
        columns["label"].append(e.label)
        for name in ("prior", "probability", "score", "acquisition", "feasibility"):
            columns[name].append(_num(getattr(e, name), 6))
    return columns


def _num(x: float | None, digits: int | None = None) -> float | None:
    """A finite float or None: JSON has no NaN or infinity, and the page reads None as 'no value'.
    ``digits``: significant digits kept, for statistics the page shows only roughly (it is big)."""
    if x is None:
        return None
    x = float(x)
    if not math.isfinite(x):
        return None
    return float(f"{x:.{digits}g}") if digits else x


def _pretty(obj: Any) -> str:
    """Settings and parameters as indented JSON text (NaN allowed: shown, never parsed)."""
    return json.dumps(obj, indent=1, sort_keys=True, allow_nan=True, default=str)


def _artifact_text(artifacts: dict[str, Any]) -> str:
    """A certificate as compact JSON text (the page indents it when shown), cut at
    :data:`ARTIFACT_LIMIT` characters with a note saying so."""
    if not artifacts:
        return ""
    text = json.dumps(artifacts, separators=(",", ":"), sort_keys=True, allow_nan=True, default=str)
    if len(text) > ARTIFACT_LIMIT:
        text = (text[:ARTIFACT_LIMIT] + f"\n... cut here: {len(text):,} characters in all; "
                "`discover best` or the store has the whole certificate")
    return text


def _script_json(data: dict[str, Any]) -> str:
    """JSON that is safe inside <script>: '<', '>' and '&' escaped so that no '</script>' or
    '<!--' in a label or certificate can end the block early."""
    text = json.dumps(data, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _html_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
