"""Looking into a stored campaign: its tree as a networkx graph, exports, and a text rendering.

Everything here reads the store's labels and statistics only, so it needs none of the game's code
and works on a database that a running campaign is still writing.
"""

from __future__ import annotations

import json
from pathlib import Path

import networkx as nx

from discover.store import Store
from discover.types import Objective, Status

FORMATS: tuple[str, ...] = ("json", "graphml", "dot")
STATUSES: tuple[str, ...] = tuple(s.value for s in Status)


def tree_graph(store: Store) -> nx.DiGraph:
    """The campaign's search tree (a DAG where transpositions merged), explained.

    Node attributes: label, depth, player (to move), visits, value and best (the game's quantity,
    never a negated value), solved, principal (on the principal variation), one count per status
    of the evaluations below, their ids (``evaluations``, space-separated), and ``failed_only`` where
    every evaluation below failed (such a node has no value). Edge attributes: the move (``action``)
    and what the planner last knew of it: prior, chance probability, selection score, acquisition
    value and P(ok). Graph attributes: the objective's name and direction. Every attribute is a
    scalar, so GraphML keeps them all.
    """
    objective = store.campaign().objective
    graph = nx.DiGraph(objective=objective.name, direction=objective.direction)
    nodes, edges = store.tree()
    for n in nodes:
        counts = {s: n.counts.get(s, 0) for s in STATUSES}
        failed_only = bool(n.counts) and not counts["ok"]
        attrs = {
            "label": n.label, "depth": n.depth, "player": n.player, "visits": n.visits,
            "value": None if failed_only else objective.shown(n.value),
            "best": objective.shown(n.best),
            "solved": n.solved, "principal": n.principal, "failed_only": failed_only,
            "evaluations": " ".join(map(str, n.evaluation_ids)), **counts,
        }
        graph.add_node(n.key, **{k: v for k, v in attrs.items() if v is not None})
    for e in edges:
        if e.parent in graph and e.child in graph:
            attrs = {"action": e.label, "prior": e.prior, "probability": e.probability, "score": e.score,
                     "acquisition": e.acquisition, "feasibility": e.feasibility}
            graph.add_edge(e.parent, e.child, **{k: v for k, v in attrs.items() if v is not None})
    return graph


def root_of(graph: nx.DiGraph) -> str | None:
    roots = [n for n, d in graph.nodes(data="depth") if d == 0]
    return roots[0] if roots else None


def principal_line(graph: nx.DiGraph) -> list[str]:
    """The principal variation's node keys, from the root along its marked moves."""
    line: list[str] = []
    key = root_of(graph)
    while key is not None and key not in line and graph.nodes[key].get("principal"):
        line.append(key)
        key = next((c for c in graph.successors(key) if graph.nodes[c].get("principal") and c not in line), None)
    return line


def export_tree(graph: nx.DiGraph, fmt: str, path: str | Path | None = None) -> str:
    """The graph as JSON (node-link), GraphML or DOT text; also written to ``path`` if given."""
    if fmt == "json":
        text = json.dumps(nx.node_link_data(graph, edges="edges"), indent=1, sort_keys=True)
    elif fmt == "graphml":
        text = "\n".join(nx.generate_graphml(graph))
    elif fmt == "dot":
        text = _dot(graph)
    else:
        raise ValueError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if path is not None:
        Path(path).write_text(text + "\n")
    return text


def _dot(graph: nx.DiGraph) -> str:
    """DOT text written directly: networkx's DOT writer needs pydot or pygraphviz, which are heavy."""

    def quote(s: object) -> str:
        return '"' + str(s).replace('"', '\\"') + '"'

    name = graph.graph.get("objective", "value")
    lines = ["digraph search_tree {", "  node [shape=box, fontsize=10];"]
    for key, d in graph.nodes(data=True):
        text = f"{d.get('label', key)}\\nN={d.get('visits', 0)}"
        if "value" in d:
            text += f" {name}={_text(graph, d['value'], 4)}"
        elif d.get("failed_only"):
            text += " (nothing succeeded)"
        style = ", style=filled, fillcolor=lightgrey" if d.get("solved") else ""
        style += ", penwidth=2.5" if d.get("principal") else ""
        lines.append(f"  {quote(key)} [label={quote(text)}{style}];")
    for u, v, d in graph.edges(data=True):
        lines.append(f"  {quote(u)} -> {quote(v)} [label={quote(d.get('action', ''))}];")
    lines.append("}")
    return "\n".join(lines)


def _text(graph: nx.DiGraph, value: float, digits: int) -> str:
    """A node's value (already the game's quantity) in ``digits`` digits, rounded towards the worse
    side as every output does (:meth:`discover.types.Objective.text`)."""
    objective = Objective(graph.graph.get("objective", "value"), graph.graph.get("direction", "max"))
    return objective.quantity_text(value, digits)


def render_tree(graph: nx.DiGraph, *, depth: int = 3, top: int = 3) -> list[str]:
    """The top of the tree as indented lines: at each node the principal move (marked ``*``) and
    the most visited others, ``top`` in all, each with the reasons the planner had for it."""
    root = root_of(graph)
    if root is None:
        return ["(empty tree)"]
    name = graph.graph.get("objective", "value")
    lines: list[str] = []

    def describe(key: str, edge: dict | None) -> str:
        d = graph.nodes[key]
        head = ""
        if edge is not None:
            why = [f"{k}={edge[k]:.3g}" for k in ("probability", "prior", "score", "acquisition", "feasibility")
                   if k in edge]
            head = f"{edge.get('action', '')}" + (f" ({', '.join(why)})" if why else "") + " -> "
        if d.get("failed_only"):
            value = "no value (nothing below succeeded)"
        else:
            value = f"{name}={_text(graph, d['value'], 6)}" if "value" in d else f"{name}=-"
        counts = " ".join(f"{s}={d[s]}" for s in STATUSES if d.get(s))
        mover = f" [{d['player']} to move]" if d.get("player") not in (None, "searcher", "terminal") else ""
        ids = d.get("evaluations", "")
        ids = f" evaluations {ids}" if ids and len(ids.split()) <= 5 else ""
        marks = (" *" if d.get("principal") else "") + (" [solved]" if d.get("solved") else "")
        return f"{head}{d.get('label', key)}{mover}  visits={d.get('visits', 0)} {value} ({counts}){ids}{marks}"

    def walk(key: str, edge: dict | None, level: int, prefix: str) -> None:
        lines.append(prefix + describe(key, edge))
        if level >= depth:
            return
        children = sorted(graph.successors(key),
                          key=lambda c: (not graph.nodes[c].get("principal"), -graph.nodes[c].get("visits", 0), c))
        for child in children[:top]:
            walk(child, graph.edges[key, child], level + 1, prefix + "  ")
        if len(children) > top:
            lines.append(prefix + f"  ... {len(children) - top} more")

    walk(root, None, 0, "")
    return lines
