"""discover.analysis: the evaluations frame and the campaign figure, on small real campaigns."""

from __future__ import annotations

import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

pd = pytest.importorskip("pandas")
pytest.importorskip("matplotlib")

import discover
from discover.analysis import MissingDependency, evaluations_frame, plot_campaigns
from discover.errors import DiscoverError, SettingsError
from discover.store import Store
from discover.types import CampaignInfo, CampaignSettings, EvaluationRecord, Objective
from games.toy import FormulationGame


class CostGame(FormulationGame):
    """The toy formulation game told as a cost to push down: its stored (maximised) value is minus the cost."""

    quantity = Objective("cost", "min")  # Game.quantity: what the value is, in the game's words


@pytest.fixture(scope="module")
def dbs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("campaigns")
    made = {
        "formulation": discover.Campaign("toy-formulation", budget=15, backend="inline",
                                         db=folder / "formulation.db"),
        # indices 3 (raises) and 5 (NaN) fail; 7 "hangs" for 0.01 s, which the inline backend waits out
        "faulty": discover.Campaign("toy-faulty", budget=8, backend="inline", fail_fast=0, db=folder / "faulty.db",
                                    params={"faults": True, "size": 8, "hang_seconds": 0.01}),
        "cost": discover.Campaign(CostGame(), budget=12, backend="inline", db=folder / "cost.db"),
    }
    for campaign in made.values():
        campaign.run()
    return {name: campaign.db for name, campaign in made.items()}


def _edge_labels(store: Store) -> dict[tuple[str, str], str]:
    return {(e.parent, e.child): e.label for e in store.tree()[1]}


def test_frame_matches_the_store_row_for_row(dbs: dict[str, Path]) -> None:
    with discover.open(dbs["formulation"]) as store:
        frame = evaluations_frame(store)
        records, edges, info = store.evaluations(), _edge_labels(store), store.campaign()
    slots = ["family", "basis", "degree", "precision", "solver", "scale"]
    assert list(frame.columns) == ["id", "label", *slots, "value", "objective", "status", "message", "cost_seconds",
                                   "started", "finished", "elapsed", "worker", "device", "state_key"]
    assert frame.attrs["objective"] == "objective" and frame.attrs["direction"] == "max"  # "value" is taken
    assert len(frame) == len(records) == 15
    for row, record in zip(frame.itertuples(index=False), records):
        assert (row.id, row.label, row.status, row.message, row.worker, row.device, row.state_key) == (
            record.id, record.label, record.status, record.message, record.worker, record.device, record.state_key)
        assert row.value == pytest.approx(record.value, nan_ok=True) if record.value is not None else pd.isna(row.value)
        assert row.objective == row.value or (pd.isna(row.objective) and pd.isna(row.value))
        assert row.started.timestamp() == pytest.approx(record.started, abs=1e-6)
        assert row.finished.timestamp() == pytest.approx(record.finished, abs=1e-6)
        assert row.elapsed == pytest.approx(record.finished - info.created, abs=1e-6)
        # every move is a column, named after its slot; the moves the tree stored agree with them
        assert [str(getattr(row, s)) for s in slots] == [part.split("=")[1] for part in record.label.split(", ")]
        moves = [edges[pair] for pair in zip(record.path, record.path[1:])]
        assert moves and [str(getattr(row, s)) for s in slots[:len(moves)]] == moves
    assert frame["degree"].dtype == "Int64" and frame["scale"].dtype == "float64"
    assert (frame["elapsed"] >= 0).all()
    assert {"infeasible", "ok"} <= set(frame["status"])


def test_decisions_by_depth_where_labels_do_not_name_the_moves(dbs: dict[str, Path]) -> None:
    with discover.open(dbs["faulty"]) as store:
        frame = evaluations_frame(store)
        records, edges = store.evaluations(), _edge_labels(store)
    assert [c for c in frame.columns if c.startswith("decision_")] == ["decision_1"]
    assert list(frame["decision_1"]) == [int(edges[(r.path[0], r.path[1])]) for r in records]
    failed = frame[frame["status"] == "failed"]
    assert set(failed["decision_1"]) == {3, 5}
    assert failed["value"].isna().all() and failed["objective"].isna().all()
    assert failed["message"].str.len().gt(0).all()


def test_a_min_objective_is_shown_in_its_own_words(dbs: dict[str, Path]) -> None:
    frame = evaluations_frame(dbs["cost"])  # a path works as well as an open store
    assert frame.attrs["objective"] == "cost" and frame.attrs["direction"] == "min"
    assert frame.attrs["objective_label"] == "cost (lower is better)"
    ok = frame["status"] == "ok"
    assert (frame.loc[ok, "cost"] == -frame.loc[ok, "value"]).all()


def _svg_ids(path: Path) -> list[str]:
    return [el.get("id", "") for el in ET.parse(path).iter() if el.get("id")]


def test_plot_overlays_campaigns_as_svg_and_png(dbs: dict[str, Path], tmp_path: Path) -> None:
    three = [dbs["formulation"], dbs["faulty"], dbs["formulation"]]
    svg = plot_campaigns(three, tmp_path / "runs.svg", labels=["a", "b", "c"])
    ids = _svg_ids(svg)
    assert sorted(i for i in ids if i.startswith("best-by-count-")) == [f"best-by-count-{i}" for i in range(3)]
    assert sorted(i for i in ids if i.startswith("best-by-time-")) == [f"best-by-time-{i}" for i in range(3)]
    assert {"failed-1", "infeasible-0", "values-0", "values-1"} <= set(ids)
    assert "objectives-differ" not in ids
    line = next(el for el in ET.parse(svg).iter() if el.get("id") == "best-by-count-0")
    assert any(child.tag.endswith("path") for child in line.iter())
    png = plot_campaigns(three[:2], tmp_path / "runs.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_plot_warns_when_objectives_differ(dbs: dict[str, Path], tmp_path: Path) -> None:
    svg = plot_campaigns([dbs["formulation"], dbs["cost"]], tmp_path / "mixed.svg")
    assert "objectives-differ" in _svg_ids(svg)


def test_best_so_far_follows_the_objective_direction() -> None:
    from discover.analysis import _best_so_far

    shown = pd.Series([3.0, float("nan"), 1.0, 2.0, 0.5])
    assert list(_best_so_far(shown, "min")) == [3.0, 3.0, 1.0, 1.0, 0.5]
    assert list(_best_so_far(shown, "max")) == [3.0, 3.0, 3.0, 3.0, 3.0]


def test_timeouts_are_marked_and_empty_stores_give_empty_frames(tmp_path: Path) -> None:
    now = time.time()
    info = CampaignInfo("toy-faulty", {}, 0, CampaignSettings(budget=3).to_dict(), "test", now, now, "finished")
    with Store.create(tmp_path / "empty.db", info):
        pass
    empty = evaluations_frame(tmp_path / "empty.db")
    assert len(empty) == 0 and "value" in empty.columns
    with Store.create(tmp_path / "t.db", info) as store:
        for i, status in enumerate(["ok", "timeout", "ok"]):
            store.record(evaluation=EvaluationRecord(
                state_key=f"k{i}", label=f"status={i}, size=big", value=0.1 * i if status == "ok" else None, status=status,
                message="" if status == "ok" else "killed after 1 s", cost_seconds=1.0, artifacts={}, worker="w",
                device="cpu", started=now + i, finished=now + i + 1, encoding=None, path=[]))
    frame = evaluations_frame(tmp_path / "t.db")
    assert list(frame["status"]) == ["ok", "timeout", "ok"]
    # no tree, so the moves come from the labels alone; a slot named like a column keeps out of its way
    assert list(frame["decision_status"]) == [0, 1, 2] and list(frame["size"]) == ["big"] * 3
    assert "timeout-0" in _svg_ids(plot_campaigns([tmp_path / "t.db", tmp_path / "empty.db"], tmp_path / "t.svg"))


def test_plot_refuses_bad_input_in_one_line(dbs: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"\.png or \.svg"):
        plot_campaigns([dbs["formulation"]], tmp_path / "runs.pdf")
    with pytest.raises(SettingsError, match="one per campaign"):
        plot_campaigns([dbs["formulation"]], tmp_path / "runs.png", labels=["a", "b"])
    with pytest.raises(SettingsError, match="does not exist"):
        plot_campaigns([dbs["formulation"]], tmp_path / "nowhere" / "runs.png")
    with pytest.raises(DiscoverError, match="no campaign database"):
        plot_campaigns([tmp_path / "missing.db"], tmp_path / "runs.png")


@pytest.mark.parametrize("module", ["pandas", "matplotlib"])
def test_missing_optional_dependency_is_one_line(dbs: dict[str, Path], tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch, module: str) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # what an uninstalled package looks like to import
    with pytest.raises(MissingDependency, match=r"needs " + module + r": pip install 'discover\[analysis\]'") as got:
        plot_campaigns([dbs["formulation"]], tmp_path / "runs.png")
    assert isinstance(got.value, ImportError) and isinstance(got.value, DiscoverError)
    assert "\n" not in str(got.value)
