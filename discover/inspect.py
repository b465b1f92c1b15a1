"""Looking into a stored campaign: its tree as a networkx graph, exports, and a text rendering.

Everything here reads the store's labels and statistics only, so it needs none of the game's code
and works on a database that a running campaign is still writing.
"""

from __future__ import annotations

import json
from pathlib import Path

import networkx as nx

from discover.store import Store

FORMATS: tuple[str, ...] = ("json", "graphml", "dot")


def tree_graph(store: Store) -> nx.DiGraph:
    """The campaign's search tree (a DAG where transpositions merged) with node statistics."""
    graph = nx.DiGraph()
    nodes, edges = store.tree()
    for n in nodes:
        attrs = {
            "label": n.label, "depth": n.depth, "player": n.player, "visits": n.visits,
            "mean": n.value_sum / n.visits if n.visits else None, "value": n.value, "best": n.best,
            "solved": n.solved,
        }
        graph.add_node(n.key, **{k: v for k, v in attrs.items() if v is not None})
    for e in edges:
        if e.parent in graph and e.child in graph:
            graph.add_edge(e.parent, e.child, action=e.label)
    return graph


def root_of(graph: nx.DiGraph) -> str | None:
    roots = [n for n, d in graph.nodes(data="depth") if d == 0]
    return roots[0] if roots else None


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

    lines = ["digraph search_tree {", "  node [shape=box, fontsize=10];"]
    for key, d in graph.nodes(data=True):
        text = f"{d.get('label', key)}\\nN={d.get('visits', 0)}"
        if "value" in d:
            text += f" v={d['value']:.4g}"
        style = ", style=filled, fillcolor=lightgrey" if d.get("solved") else ""
        lines.append(f"  {quote(key)} [label={quote(text)}{style}];")
    for u, v, d in graph.edges(data=True):
        lines.append(f"  {quote(u)} -> {quote(v)} [label={quote(d.get('action', ''))}];")
    lines.append("}")
    return "\n".join(lines)


def render_tree(graph: nx.DiGraph, *, depth: int = 3, top: int = 3) -> list[str]:
    """The top of the tree as indented lines: at each node the ``top`` most visited children."""
    root = root_of(graph)
    if root is None:
        return ["(empty tree)"]
    lines: list[str] = []

    def describe(key: str, action: str | None) -> str:
        d = graph.nodes[key]
        value = f"{d['value']:.6g}" if "value" in d else "-"
        best = f"{d['best']:.6g}" if "best" in d else "-"
        head = f"{action} -> " if action is not None else ""
        mark = " [solved]" if d.get("solved") else ""
        return f"{head}{d.get('label', key)}  visits={d.get('visits', 0)} value={value} best={best}{mark}"

    def walk(key: str, action: str | None, level: int, prefix: str) -> None:
        lines.append(prefix + describe(key, action))
        if level >= depth:
            return
        children = sorted(graph.successors(key), key=lambda c: (-graph.nodes[c].get("visits", 0), c))
        for child in children[:top]:
            walk(child, graph.edges[key, child].get("action"), level + 1, prefix + "  ")
        if len(children) > top:
            lines.append(prefix + f"  ... {len(children) - top} more")

    walk(root, None, 0, "")
    return lines
