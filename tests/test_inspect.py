"""Inspection: the stored tree as a graph, and exports that read back."""

import json

import networkx as nx

import discover
from discover.inspect import export_tree, render_tree, root_of, tree_graph


def test_exports_read_back_with_the_stores_nodes_and_edges(run_campaign, tmp_path):
    result = run_campaign("toy-dice", budget=30, backend="inline", seed=1)
    with discover.open(result.db) as store:
        graph = tree_graph(store)
        nodes, edges = store.tree()
        node_keys = {n.key for n in nodes}
        edge_keys = {(e.parent, e.child) for e in edges}
    assert set(graph.nodes) == node_keys and set(graph.edges) == edge_keys
    assert len(node_keys) > 10

    export_tree(graph, "graphml", tmp_path / "t.graphml")
    back = nx.read_graphml(tmp_path / "t.graphml")
    assert set(back.nodes) == node_keys and set(back.edges) == edge_keys
    root = root_of(graph)
    # visits count every pass through a node, including reuses of stored values: at least the evaluations
    assert back.nodes[root]["visits"] == graph.nodes[root]["visits"] >= 30
    assert back.nodes[root]["value"] == graph.nodes[root]["value"]

    data = json.loads(export_tree(graph, "json"))
    assert {n["id"] for n in data["nodes"]} == node_keys
    assert {(e["source"], e["target"]) for e in data["edges"]} == edge_keys

    dot = export_tree(graph, "dot", tmp_path / "t.dot")
    assert dot.startswith("digraph") and all(f'"{k}"' in dot for k in node_keys)


def test_render_tree_shows_most_visited_first(run_campaign):
    result = run_campaign("toy-formulation", budget=40, backend="inline")
    with discover.open(result.db) as store:
        lines = render_tree(tree_graph(store), depth=1, top=2)
    assert "visits=40" in lines[0]
    visits = [int(line.split("visits=")[1].split()[0]) for line in lines[1:3]]
    assert visits == sorted(visits, reverse=True)
    assert lines[-1].strip().startswith("... 1 more")


def test_best_outcomes_carry_their_artifacts(run_campaign):
    result = run_campaign("toy-formulation", budget=20, backend="inline")
    assert result.best[0].value == max(e.value for e in result.history if e.value is not None)
    assert result.best[0].artifacts["formulation"][0] in ("lp", "sdp", "hybrid")
