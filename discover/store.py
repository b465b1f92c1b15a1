"""The embedded SQLite store: one file per campaign, written as the campaign goes.

WAL mode lets ``discover status/tree/export`` read a database while a campaign writes it. Every
finished evaluation is committed in its own transaction, together with the tree statistics it
changed and its events, so a campaign killed at any instant loses nothing that finished. The
``UNIQUE`` state key makes a repeated evaluation impossible, not merely unlikely.

States and actions are stored pickled (to rebuild the tree on resume) next to text labels, so
the inspection commands need no game code.
"""

from __future__ import annotations

import json
import math
import pickle
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

from discover.errors import StoreError
from discover.planner import Node, NodeRecord
from discover.types import Action, Event, Outcome, State, Status, to_json

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE campaign (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    game TEXT NOT NULL, params TEXT NOT NULL, seed INTEGER NOT NULL, settings TEXT NOT NULL,
    code_version TEXT NOT NULL, created REAL NOT NULL, updated REAL NOT NULL, status TEXT NOT NULL
);
CREATE TABLE nodes (
    key TEXT PRIMARY KEY, state BLOB NOT NULL, label TEXT NOT NULL, depth INTEGER NOT NULL,
    player TEXT NOT NULL, visits INTEGER NOT NULL, value_sum REAL NOT NULL,
    value REAL, best REAL, worst REAL, frontier_best REAL, frontier_worst REAL, solved INTEGER NOT NULL
);
CREATE TABLE edges (
    parent TEXT NOT NULL, child TEXT NOT NULL, action BLOB NOT NULL, label TEXT NOT NULL,
    PRIMARY KEY (parent, child)
);
CREATE TABLE evaluations (
    id INTEGER PRIMARY KEY, state_key TEXT NOT NULL UNIQUE, state BLOB NOT NULL,
    label TEXT NOT NULL, encoding TEXT, value REAL, status TEXT NOT NULL, message TEXT NOT NULL,
    cost_seconds REAL NOT NULL, artifacts TEXT NOT NULL, worker TEXT NOT NULL,
    device TEXT NOT NULL, started REAL NOT NULL, finished REAL NOT NULL, path TEXT NOT NULL
);
CREATE TABLE events (id INTEGER PRIMARY KEY, time REAL NOT NULL, kind TEXT NOT NULL, data TEXT NOT NULL);
"""


@dataclass(frozen=True)
class CampaignInfo:
    game: str
    params: dict[str, Any]
    seed: int
    settings: dict[str, Any]
    code_version: str
    created: float
    updated: float
    status: str  # running | finished | interrupted


@dataclass(frozen=True)
class Evaluation:
    """One finished evaluation as stored."""

    id: int
    state_key: str
    label: str
    value: float | None
    status: str
    message: str
    cost_seconds: float
    artifacts: dict[str, Any]
    worker: str
    device: str
    started: float
    finished: float
    encoding: list[float] | None
    path: list[str]


@dataclass(frozen=True)
class NodeRow:
    """A tree node as the inspection tools see it (no game code needed)."""

    key: str
    label: str
    depth: int
    player: str
    visits: int
    value_sum: float
    value: float | None
    best: float | None
    worst: float | None
    solved: bool


@dataclass(frozen=True)
class EdgeRow:
    parent: str
    child: str
    label: str


def _finite(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None


def _json_loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


class Store:
    """A campaign database. Use :meth:`create` for a new campaign, :meth:`open` for an existing one."""

    def __init__(self, conn: sqlite3.Connection, path: Path, readonly: bool) -> None:
        self._conn = conn
        self.path = path
        self.readonly = readonly

    # -- opening -----------------------------------------------------------------------------
    @classmethod
    def create(cls, path: str | Path, info: CampaignInfo) -> Store:
        """A new database holding one campaign; refuses to touch an existing file."""
        path = Path(path)
        if path.exists():
            raise StoreError(
                f"{path} already exists; resume it with `discover resume {path}` or choose another --db"
            )
        if not path.parent.exists():
            raise StoreError(f"cannot create {path}: folder {path.parent} does not exist")
        try:
            conn = cls._connect(path, readonly=False)
            with cls._transaction(conn):  # schema and campaign row appear together or not at all
                for statement in filter(str.strip, _SCHEMA.split(";")):
                    conn.execute(statement)
                conn.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
                conn.execute(
                    "INSERT INTO campaign VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (info.game, to_json(info.params), info.seed, to_json(info.settings),
                     info.code_version, info.created, info.updated, info.status),
                )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot create campaign database {path}: {exc}") from None
        return cls(conn, path, readonly=False)

    @classmethod
    def open(cls, path: str | Path, *, readonly: bool = False) -> Store:
        """An existing campaign database, checked for its schema version."""
        path = Path(path)
        if not path.is_file():
            raise StoreError(f"no campaign database at {path}")
        try:
            conn = cls._connect(path, readonly=readonly)
            row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            conn.execute("SELECT game FROM campaign WHERE id = 1").fetchone()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{path} is not a discover campaign database ({exc})") from None
        if row is None:
            raise StoreError(f"{path} is not a discover campaign database (no schema version)")
        version = int(row[0])
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{path} was written by a newer discover (schema {version}, this one reads {SCHEMA_VERSION}); "
                "upgrade discover"
            )
        return cls(conn, path, readonly)

    @staticmethod
    def _connect(path: Path, readonly: bool) -> sqlite3.Connection:
        if readonly:
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None,
                                   check_same_thread=False, timeout=30)
        else:
            conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")  # durable against a killed process in WAL mode
        conn.execute("PRAGMA busy_timeout=30000")
        return conn

    @staticmethod
    @contextmanager
    def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing -----------------------------------------------------------------------------
    def record(self, *, evaluation: dict[str, Any] | None = None, nodes: Sequence[Node] = (),
               edges: Sequence[tuple[str, str, Action, str]] = (), labels: dict[str, str] | None = None,
               events: Sequence[Event] = ()) -> None:
        """Commit, in one transaction, an evaluation with the tree changes and events it caused."""
        labels = labels or {}
        now = time.time()
        with self._transaction(self._conn):
            if evaluation is not None:
                e = evaluation
                self._conn.execute(
                    "INSERT INTO evaluations (state_key, state, label, encoding, value, status, message, "
                    "cost_seconds, artifacts, worker, device, started, finished, path) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (e["state_key"], pickle.dumps(e["state"], protocol=4), e["label"],
                     None if e.get("encoding") is None else to_json(list(e["encoding"])),
                     e["value"], e["status"], e["message"], e["cost_seconds"], e["artifacts"],
                     e["worker"], e["device"], e["started"], e["finished"], to_json(list(e["path"]))),
                )
            self._conn.executemany(
                "INSERT INTO nodes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET "
                "visits = excluded.visits, value_sum = excluded.value_sum, value = excluded.value, "
                "best = excluded.best, worst = excluded.worst, frontier_best = excluded.frontier_best, "
                "frontier_worst = excluded.frontier_worst, solved = excluded.solved",
                [(n.key, pickle.dumps(n.state, protocol=4), labels.get(n.key, ""), n.depth, n.player.value,
                  n.visits, n.value_sum, _finite(n.value), _finite(n.best), _finite(n.worst),
                  _finite(n.frontier_best), _finite(n.frontier_worst), int(n.solved))
                 for n in nodes],
            )
            self._conn.executemany(
                "INSERT OR IGNORE INTO edges VALUES (?, ?, ?, ?)",
                [(p, c, pickle.dumps(a, protocol=4), label) for p, c, a, label in edges],
            )
            self._conn.executemany(
                "INSERT INTO events (time, kind, data) VALUES (?, ?, ?)",
                [(ev.time, ev.kind.value, to_json(dict(ev.data))) for ev in events],
            )
            self._conn.execute("UPDATE campaign SET updated = ? WHERE id = 1", (now,))

    def set_status(self, status: str, settings: dict[str, Any] | None = None) -> None:
        with self._transaction(self._conn):
            self._conn.execute("UPDATE campaign SET status = ?, updated = ? WHERE id = 1", (status, time.time()))
            if settings is not None:
                self._conn.execute("UPDATE campaign SET settings = ? WHERE id = 1", (to_json(settings),))

    # -- reading -----------------------------------------------------------------------------
    def campaign(self) -> CampaignInfo:
        row = self._conn.execute(
            "SELECT game, params, seed, settings, code_version, created, updated, status FROM campaign"
        ).fetchone()
        return CampaignInfo(row[0], _json_loads(row[1]), row[2], _json_loads(row[3]), row[4], row[5], row[6], row[7])

    def count(self) -> int:
        return self._conn.execute("SELECT COUNT(*) FROM evaluations").fetchone()[0]

    def evaluations(self, *, order: str = "id", limit: int | None = None, status: str | None = None) -> list[Evaluation]:
        """Stored evaluations, by id (``order="id"``) or best value first (``order="best"``)."""
        sql = ("SELECT id, state_key, label, value, status, message, cost_seconds, artifacts, worker, device, "
               "started, finished, encoding, path FROM evaluations")
        args: list[Any] = []
        if status is not None:
            sql += " WHERE status = ?"
            args.append(status)
        sql += " ORDER BY value IS NULL, value DESC, id" if order == "best" else " ORDER BY id"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        return [
            Evaluation(r[0], r[1], r[2], r[3], r[4], r[5], r[6], _json_loads(r[7]), r[8], r[9], r[10], r[11],
                       _json_loads(r[12]), _json_loads(r[13]))
            for r in self._conn.execute(sql, args)
        ]

    def evaluated(self) -> dict[str, float | None]:
        """State key -> value (None for a failed evaluation), for the planner's cache."""
        return dict(self._conn.execute("SELECT state_key, value FROM evaluations ORDER BY id"))

    def history(self) -> list[tuple[State, Outcome]]:
        """(state, outcome) of every evaluation in order, for surrogates that refit on resume."""
        return [(pickle.loads(s), Outcome(v, Status(st), c, {}, m)) for s, v, st, c, m in self._conn.execute(
            "SELECT state, value, status, cost_seconds, message FROM evaluations ORDER BY id")]

    def tree(self) -> tuple[list[NodeRecord], list[tuple[str, str, Action]]]:
        """The stored tree with states, to rebuild the planner on resume (needs the game's code)."""
        low = lambda x: -math.inf if x is None else x  # noqa: E731 - None stands for "none seen"
        high = lambda x: math.inf if x is None else x  # noqa: E731
        nodes = [
            NodeRecord(k, pickle.loads(s), d, v, vs, low(b), high(w), low(fb), high(fw))
            for k, s, d, v, vs, b, w, fb, fw in self._conn.execute(
                "SELECT key, state, depth, visits, value_sum, best, worst, frontier_best, frontier_worst FROM nodes")
        ]
        edges = [(p, c, pickle.loads(a)) for p, c, a in self._conn.execute("SELECT parent, child, action FROM edges")]
        return nodes, edges

    def node_rows(self) -> list[NodeRow]:
        return [NodeRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], bool(r[9])) for r in self._conn.execute(
            "SELECT key, label, depth, player, visits, value_sum, value, best, worst, solved FROM nodes ORDER BY depth, key")]

    def edge_rows(self) -> list[EdgeRow]:
        return [EdgeRow(*r) for r in self._conn.execute("SELECT parent, child, label FROM edges ORDER BY parent, child")]

    def events(self, after_id: int = 0) -> list[tuple[int, float, str, dict[str, Any]]]:
        return [(i, t, k, _json_loads(d)) for i, t, k, d in self._conn.execute(
            "SELECT id, time, kind, data FROM events WHERE id > ? ORDER BY id", (after_id,))]
