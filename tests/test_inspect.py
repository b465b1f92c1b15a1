"""Inspection: the stored tree as a graph, and exports that read back."""

import json

import networkx as nx
import numpy as np

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


def _minimax(game, state=()):
    if game.to_move(state).value == "terminal":
        return game.leaf_value(state), [state]
    results = [(*_minimax(game, (*state, a)), a) for a in game.actions(state)]
    pick = max if game.to_move(state).value == "searcher" else min
    value, line, _ = pick(results, key=lambda r: r[0])
    return value, [state, *line]


def test_a_two_player_tree_marks_the_principal_variation_and_best_gives_the_game_value(run_campaign):
    from typer.testing import CliRunner

    from discover.cli import app
    from discover.game import load_game
    from discover.inspect import principal_line

    game = load_game("toy-minimax", depth=3, branching=3)
    result = run_campaign("toy-minimax", params={"depth": 3, "branching": 3}, budget=27, backend="inline")
    value, line = _minimax(game)
    with discover.open(result.db) as store:
        graph = tree_graph(store)
    assert [graph.nodes[k]["label"] for k in principal_line(graph)] == [game.describe_state(s) for s in line]
    assert graph.nodes[root_of(graph)]["value"] == value
    text = render_tree(graph, depth=1, top=1)
    assert " * " in text[1] + " " and "[opponent to move]" in text[1]  # the principal move comes first
    shown = CliRunner().invoke(app, ["best", str(result.db)])
    assert f"backed-up value (higher is better) of the game: {discover.Objective().text(value)}" in shown.output
    assert "principal variation: " + " -> ".join(game.describe_state(s) for s in line) in shown.output


def test_every_evaluation_is_in_the_tree_whatever_the_method(run_campaign):
    for method in ("tpe", "random"):
        result = run_campaign("toy-formulation", budget=15, backend="inline", method=method)
        with discover.open(result.db) as store:
            nodes, _ = store.tree()
            ids = {e.id for e in store.evaluations()}
        root = next(n for n in nodes if n.depth == 0)
        assert set(root.evaluation_ids) == ids and sum(root.counts.values()) == 15
        terminals = [n for n in nodes if n.player == "terminal"]
        assert {i for n in terminals for i in n.evaluation_ids} == ids


def test_branches_where_nothing_succeeded_show_no_value(run_campaign):
    result = run_campaign("toy-formulation", budget=30, backend="inline", seed=2)
    with discover.open(result.db) as store:
        graph = tree_graph(store)
    dead = [k for k, d in graph.nodes(data=True) if d["failed_only"]]
    assert dead, "expected an infeasible-only branch in 30 toy formulations"
    assert all("value" not in graph.nodes[k] and graph.nodes[k]["ok"] == 0 for k in dead)
    lines = render_tree(graph, depth=9, top=99)
    assert any("no value (nothing below succeeded)" in line for line in lines)


def test_the_gp_surrogates_reasons_are_stored_per_move(gp_campaign):
    with discover.open(gp_campaign.db) as store:
        _, edges = store.tree()
    guided = [e for e in edges if e.acquisition is not None]
    assert guided and all(e.prior is not None and e.feasibility is not None for e in guided)
    families = {}
    for e in guided:
        families.setdefault(e.parent, []).append(e)
    siblings = max(families.values(), key=len)  # the most explored guided node
    assert len(siblings) >= 2 and any(e.score is not None for e in siblings)  # scored when selection weighed them
    priors = {e.prior for e in siblings}
    assert len(priors) > 1, "the priors at a guided node should not all be equal"


def test_a_min_objective_is_shown_as_the_quantity_itself(tmp_path):
    from games.toy import FormulationGame

    class Cost(FormulationGame):
        quantity = discover.Objective("cost", "min")

    result = discover.Campaign(Cost(), budget=10, backend="inline", db=tmp_path / "m.db").run()
    with discover.open(result.db) as store:
        assert store.campaign().objective == discover.Objective("cost", "min")
        graph = tree_graph(store)
    root = graph.nodes[root_of(graph)]
    assert root["value"] == -result.root_value and graph.graph == {"objective": "cost", "direction": "min"}
    shown = render_tree(graph, depth=0)[0].split("cost=")[1].split()[0]
    assert shown == discover.Objective("cost", "min").text(result.root_value, 6)
    assert float(shown) >= -result.root_value  # rounded up: a cost never shows below what was found


def test_printed_values_round_towards_the_worse_side():
    """A bound to push down prints rounded up, a quantity to push up rounded down, so a verified
    bound shown in fewer digits is still a bound (rounded to nearest, 0.6389720816 showed as 0.63897208)."""
    bound, radius = discover.Objective("density bound", "min"), discover.Objective("radius", "max")
    assert bound.text(-0.638972081591209, 8) == "0.63897209"
    assert radius.text(0.638972081591209, 8) == "0.63897208"
    assert bound.text(-0.6389720816, 10) == "0.6389720816"  # exact at that precision: unchanged
    assert float(bound.text(-100.0)) == 100 and float(radius.text(-2.5e-7, 3)) == -2.5e-7 and bound.text(None) == "-"
    for value in np.random.default_rng(0).normal(size=200) * 10.0 ** np.arange(-100, 100):
        assert float(bound.text(-value, 6)) >= value and float(radius.text(value, 6)) <= value


def test_a_campaign_made_before_its_game_declared_a_quantity_takes_it_on_resume(tmp_path):
    from games.toy import FormulationGame

    class Cost(FormulationGame):
        quantity = discover.Objective("cost", "min")

    db = tmp_path / "old.db"
    discover.Campaign(FormulationGame(), budget=5, backend="inline", db=db).run()
    with discover.open(db) as store:
        assert store.campaign().objective == discover.Objective()
    discover.Campaign.resume(db, game=Cost(), budget=8).run()
    with discover.open(db) as store:
        assert store.campaign().objective == discover.Objective("cost", "min")
