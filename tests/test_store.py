"""The store on its own: records round-trip, one writer at a time, readers never write, damaged or
foreign files are refused unchanged, old schemas migrate."""

import hashlib
import os
import sqlite3
import subprocess
import sys
import time

import pytest

from discover.errors import StoreError
from discover.store import SCHEMA_VERSION, Store
from discover.types import CampaignInfo, EdgeRecord, EvaluationRecord, Event, EventKind, NodeRecord, Objective


def info(**changes):
    base = dict(game="toy-dice", params={"faces": 6}, seed=3, settings={"budget": 10}, code_version="test",
                created=1.0, updated=1.0, status="running")
    return CampaignInfo(**{**base, **changes})


def evaluation(i, value=0.5, status="ok"):
    return EvaluationRecord(
        state_key=f"k{i}", label=f"state {i}", value=value, status=status, message="" if status == "ok" else "boom",
        cost_seconds=0.25, artifacts={"x": [1, 2], "i": i}, worker="w", device="cpu", started=10.0 + i,
        finished=11.0 + i, encoding=[0.1, float(i)], path=["root", f"k{i}"], state=(1, i, "keep"),
    )


def node(key, depth, **changes):
    base = dict(key=key, label=f"node {key}", depth=depth, player="searcher", visits=3, value_sum=1.5, value=0.5,
                best=0.9, worst=None, frontier_best=None, frontier_worst=None, solved=False, state=(key,))
    return NodeRecord(**{**base, **changes})


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_records_round_trip(tmp_path):
    db = tmp_path / "s.db"
    with Store.create(db, info()) as store:
        store.record(evaluation=evaluation(1), nodes=[node("root", 0), node("k1", 1, player="terminal", solved=True)],
                     edges=[EdgeRecord("root", "k1", "move 1", (1, "a"))],
                     events=[Event(EventKind.NEW_BEST, 5.0, {"best": 0.5})])
        failed = evaluation(2, value=None, status="failed")
        store.record(evaluation=EvaluationRecord(**{**failed.__dict__, "constraints": [0.5, -1.0]}),
                     nodes=[node("root", 0, visits=4)])
    with Store.open(db, readonly=True) as store:
        stored = store.campaign()
        assert stored == info(updated=stored.updated) and stored.updated > 1.0  # each write stamps it
        first, second = store.evaluations()
        assert first == EvaluationRecord(**{**evaluation(1).__dict__, "state": None, "id": 1})
        assert (second.value, second.status, second.message) == (None, "failed", "boom")
        assert [e.state_key for e in store.evaluations(order="best", status="ok")] == ["k1"]
        assert [e.state for e in store.history()] == [(1, 1, "keep"), (1, 2, "keep")]
        assert store.history()[1].outcome().status.value == "failed"
        assert store.history()[1].outcome().constraints == (0.5, -1.0) and first.constraints == []
        nodes, edges = store.tree(states=True)
        assert nodes[0] == node("root", 0, visits=4, evaluation_ids=(1, 2), principal=True)
        assert nodes[1].solved is True and nodes[1].evaluation_ids == (1,) and nodes[1].principal
        assert edges == [EdgeRecord("root", "k1", "move 1", (1, "a"))]
        plain_nodes, plain_edges = store.tree()
        assert plain_nodes[0].state is None and plain_edges[0].action is None
        assert [(kind, data) for _, _, kind, data in store.events()] == [("new_best", {"best": 0.5})]


def test_a_state_is_evaluated_once(tmp_path):
    with Store.create(tmp_path / "s.db", info()) as store:
        store.record(evaluation=evaluation(1))
        with pytest.raises(sqlite3.IntegrityError):
            store.record(evaluation=evaluation(1))
        assert store.count() == 1  # the failed transaction left nothing behind


def test_create_refuses_existing_files_and_missing_folders(tmp_path):
    db = tmp_path / "s.db"
    Store.create(db, info()).close()
    with pytest.raises(StoreError, match="already exists"):
        Store.create(db, info())
    with pytest.raises(StoreError, match="does not exist"):
        Store.create(tmp_path / "no" / "s.db", info())


def test_one_writer_at_a_time(tmp_path):
    db = tmp_path / "s.db"
    first = Store.create(db, info())
    with pytest.raises(StoreError, match=rf"being written by process {os.getpid()} on "):
        Store.open(db)
    with Store.open(db, readonly=True) as reader:  # readers are welcome beside the writer
        assert reader.count() == 0
    first.record(evaluation=evaluation(1))
    first.close()
    with Store.open(db) as second:  # released on close
        second.record(evaluation=evaluation(2))
        assert second.count() == 2


def test_a_dead_writers_lock_is_taken_over(tmp_path):
    db = tmp_path / "s.db"
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(child.stdout)  # a process that has exited
    Store.create(db, info()).close()
    conn = sqlite3.connect(db)
    conn.execute("INSERT INTO writer VALUES (1, 'stale', ?, ?, '', 0, 0)", (dead_pid, os.uname().nodename))
    conn.commit()
    conn.close()
    with Store.open(db) as store:
        store.record(evaluation=evaluation(1))


def test_a_live_writer_elsewhere_is_respected_until_its_heartbeat_stops(tmp_path):
    db = tmp_path / "s.db"
    Store.create(db, info()).close()
    conn = sqlite3.connect(db)
    conn.execute("INSERT INTO writer VALUES (1, 'remote', 4242, 'other-host', '', ?, ?)", (time.time(), time.time()))
    conn.commit()
    with pytest.raises(StoreError, match="process 4242 on other-host"):
        Store.open(db)
    conn.execute("UPDATE writer SET heartbeat = ?", (time.time() - 3600,))
    conn.commit()
    conn.close()
    Store.open(db).close()


def test_a_writer_that_lost_its_lock_stops_writing(tmp_path):
    db = tmp_path / "s.db"
    store = Store.create(db, info())
    conn = sqlite3.connect(db)
    conn.execute("UPDATE writer SET token = 'thief', pid = 99999, host = 'elsewhere'")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="lost its writer lock"):
        store.record(evaluation=evaluation(1))
    store.close()
    with Store.open(db, readonly=True) as reader:
        assert reader.count() == 0


def test_readers_never_write(tmp_path):
    db = tmp_path / "s.db"
    with Store.create(db, info()) as store:
        store.record(evaluation=evaluation(1), nodes=[node("root", 0)])
    for name in ("s.db-wal", "s.db-shm"):
        (tmp_path / name).unlink(missing_ok=True)
    before = digest(db)
    with Store.open(db, readonly=True) as reader:
        reader.campaign(), reader.evaluations(), reader.tree(), reader.events()
        with pytest.raises(StoreError, match="read-only"):
            reader.record(evaluation=evaluation(2))
    assert digest(db) == before


@pytest.mark.parametrize("content", [b"", b"not a database at all" * 50, "foreign"])
def test_empty_and_foreign_files_are_refused_unchanged(tmp_path, content):
    path = tmp_path / "x.db"
    if content == "foreign":
        conn = sqlite3.connect(path)
        conn.execute("CREATE TABLE t (x)")
        conn.commit()
        conn.close()
    else:
        path.write_bytes(content)
    before = path.read_bytes()
    for readonly in (True, False):
        with pytest.raises(StoreError, match="not a discover campaign database"):
            Store.open(path, readonly=readonly)
    assert path.read_bytes() == before  # in particular, not switched to WAL (header bytes 18-19)


def damage(db):
    """Overwrite the middle pages of a database with garbage, as a failing disk would."""
    data = bytearray(db.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    for start in range(2 * page, len(data) - page, page):
        data[start + 8:start + page] = b"\xa5" * (page - 8)
    db.write_bytes(bytes(data))


def test_a_damaged_database_is_refused_unchanged(tmp_path):
    db = tmp_path / "s.db"
    with Store.create(db, info()) as store:
        for i in range(300):
            store.record(evaluation=evaluation(i), nodes=[node(f"n{i}", 1)])
    damage(db)
    before = digest(db)
    with pytest.raises(StoreError, match="damaged"):
        Store.open(db)
    try:  # a reader may open it (no full check), but reading gives one clear error
        with Store.open(db, readonly=True) as reader:
            reader.evaluations(), reader.tree()
    except StoreError as exc:
        assert "damaged" in str(exc) or "not a discover" in str(exc)
    assert digest(db) == before


def test_schema_1_databases_are_read_and_migrated(tmp_path):
    db = tmp_path / "old.db"
    conn = sqlite3.connect(db)
    conn.executescript("""
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE campaign (id INTEGER PRIMARY KEY CHECK (id = 1), game TEXT NOT NULL, params TEXT NOT NULL,
            seed INTEGER NOT NULL, settings TEXT NOT NULL, code_version TEXT NOT NULL, created REAL NOT NULL,
            updated REAL NOT NULL, status TEXT NOT NULL);
        CREATE TABLE nodes (key TEXT PRIMARY KEY, state BLOB NOT NULL, label TEXT NOT NULL, depth INTEGER NOT NULL,
            player TEXT NOT NULL, visits INTEGER NOT NULL, value_sum REAL NOT NULL, value REAL, best REAL, worst REAL,
            frontier_best REAL, frontier_worst REAL, solved INTEGER NOT NULL);
        CREATE TABLE edges (parent TEXT NOT NULL, child TEXT NOT NULL, action BLOB NOT NULL, label TEXT NOT NULL,
            PRIMARY KEY (parent, child));
        CREATE TABLE evaluations (id INTEGER PRIMARY KEY, state_key TEXT NOT NULL UNIQUE, state BLOB NOT NULL,
            label TEXT NOT NULL, encoding TEXT, value REAL, status TEXT NOT NULL, message TEXT NOT NULL,
            cost_seconds REAL NOT NULL, artifacts TEXT NOT NULL, worker TEXT NOT NULL, device TEXT NOT NULL,
            started REAL NOT NULL, finished REAL NOT NULL, path TEXT NOT NULL);
        CREATE TABLE events (id INTEGER PRIMARY KEY, time REAL NOT NULL, kind TEXT NOT NULL, data TEXT NOT NULL);
        INSERT INTO meta VALUES ('schema_version', '1');
        INSERT INTO campaign VALUES (1, 'toy-dice', '{}', 0, '{"budget": 5}', '0.1.0', 1.0, 1.0, 'finished');
        INSERT INTO nodes VALUES ('root', x'00', 'start', 0, 'searcher', 1, 0.5, 0.5, 0.5, 0.5, NULL, NULL, 0);
        INSERT INTO nodes VALUES ('a', x'00', 'a', 1, 'terminal', 1, 0.5, 0.5, 0.5, 0.5, NULL, NULL, 1);
        INSERT INTO edges VALUES ('root', 'a', x'00', 'move a');
        INSERT INTO evaluations VALUES (1, 'z', x'00', 'z', NULL, 0.5, 'ok', '', 0.1, '{}', 'w', 'cpu', 1.0, 2.0, '[]');
    """)
    conn.close()
    with Store.open(db, readonly=True) as reader:  # read as it is: what it lacks takes the defaults
        assert reader.campaign().status == "finished" and reader.campaign().reason == ""
        assert reader.campaign().objective == Objective()
        nodes, edges = reader.tree()
        assert [n.counts for n in nodes] == [{}, {}] and edges == [EdgeRecord("root", "a", "move a")]
        assert [n.principal for n in nodes] == [True, True]
        assert [(e.value, e.constraints) for e in reader.evaluations()] == [(0.5, [])]
    with Store.open(db) as store:
        store.set_status("crashed", reason="RuntimeError: x")
        store.record(nodes=[node("root", 0, counts={"ok": 1})], edges=[EdgeRecord("root", "a", "move a", "a", prior=0.7)])
    with Store.open(db, readonly=True) as reader:
        assert (reader.campaign().status, reader.campaign().reason) == ("crashed", "RuntimeError: x")
        assert reader._conn.execute("SELECT value FROM meta").fetchone()[0] == str(SCHEMA_VERSION)
        nodes, edges = reader.tree()
        assert nodes[0].counts == {"ok": 1} and edges[0].prior == 0.7 and edges[0].score is None
        assert reader.evaluations()[0].constraints == []


def test_a_killed_writer_not_yet_reaped_is_not_alive(tmp_path):
    from discover.store import _process_start

    db = tmp_path / "s.db"
    Store.create(db, info()).close()
    child = subprocess.Popen([sys.executable, "-c", "pass"])  # exits, but stays a zombie until waited for
    deadline = time.monotonic() + 30
    while open(f"/proc/{child.pid}/stat").read().rsplit(")", 1)[1].split()[0] != "Z":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    conn = sqlite3.connect(db)
    conn.execute("INSERT INTO writer VALUES (1, 'zombie', ?, ?, ?, 0, 0)",
                 (child.pid, os.uname().nodename, _process_start(child.pid)))
    conn.commit()
    conn.close()
    with Store.open(db) as store:
        store.record(evaluation=evaluation(1))
    child.wait()


def test_the_planners_reasons_and_the_objective_round_trip(tmp_path):
    """Edge statistics are upserted (the last values win), node counts and the objective are kept."""
    db = tmp_path / "r.db"
    made = CampaignInfo("toy-dice", {}, 0, {"budget": 5}, "0", 1.0, 1.0, "running", objective=Objective("cost", "min"))
    with Store.create(db, made) as store:
        store.record(nodes=[node("root", 0, counts={"ok": 2, "failed": 1}), node("a", 1)],
                     edges=[EdgeRecord("root", "a", "a", "a", prior=0.25, score=1.5, acquisition=-3.0, feasibility=0.9)])
        store.record(edges=[EdgeRecord("root", "a", "a", "a", prior=0.75, score=0.5)])
    with Store.open(db, readonly=True) as store:
        assert store.campaign().objective == Objective("cost", "min")
        nodes, (edge,) = store.tree()
    assert nodes[0].counts == {"ok": 2, "failed": 1}
    assert (edge.prior, edge.score, edge.acquisition, edge.feasibility) == (0.75, 0.5, None, None)
