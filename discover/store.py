"""The embedded SQLite store: one file per campaign, written as the campaign goes.

WAL mode lets ``discover status/tree/export`` read a database while a campaign writes it. Every
finished evaluation is committed in its own transaction, together with the tree statistics it
changed and its events, so a campaign killed at any instant loses nothing that finished. The
``UNIQUE`` state key makes a repeated evaluation impossible, not merely unlikely.

One writer at a time: a writer holds the ``writer`` row (its process, host and start time, and a
heartbeat), taken under ``BEGIN IMMEDIATE`` and checked again in every write transaction. A second
writer is refused with one line naming the first; a writer that died (its process is gone on this
host, or its heartbeat stopped elsewhere) is taken over. Readers open the file read-only
(``mode=ro``, or ``immutable`` where even the WAL index cannot be created) and never write. A
database is checked (schema, ``PRAGMA quick_check``) before anything is written to it, so a
damaged or foreign file is refused byte-for-byte unchanged.

States and actions are stored pickled (to rebuild the tree on resume) next to text labels, so
the inspection commands need no game code. The store knows only the records of
:mod:`discover.types`.
"""

from __future__ import annotations

import functools
import json
import os
import pickle
import socket
import sqlite3
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import fields
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence, TypeVar

from discover.errors import StoreError
from discover.types import CampaignInfo, EdgeRecord, EvaluationRecord, Event, NodeRecord, Objective, to_json

SCHEMA_VERSION = 4
HEARTBEAT_SECONDS = 15.0
LEASE_SECONDS = 120.0  # a writer on another host whose heartbeat is older than this is gone

_WRITER_TABLE = """CREATE TABLE IF NOT EXISTS writer (
    id INTEGER PRIMARY KEY CHECK (id = 1), token TEXT NOT NULL, pid INTEGER NOT NULL,
    host TEXT NOT NULL, proc_start TEXT NOT NULL, since REAL NOT NULL, heartbeat REAL NOT NULL
)"""

# columns added by schema 3 (the planner's reasons), with the defaults older rows get
_OBJECTIVE_COLUMN = """objective TEXT NOT NULL DEFAULT '{"name": "value", "direction": "max"}'"""
_COUNTS_COLUMN = "counts TEXT NOT NULL DEFAULT '{}'"
_EDGE_STATS = ("prior", "probability", "score", "acquisition", "feasibility")
# added by schema 4: an evaluation's constraint values (Outcome.constraints)
_CONSTRAINTS_COLUMN = "constraints TEXT NOT NULL DEFAULT '[]'"

_SCHEMA = f"""
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE campaign (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    game TEXT NOT NULL, params TEXT NOT NULL, seed INTEGER NOT NULL, settings TEXT NOT NULL,
    code_version TEXT NOT NULL, created REAL NOT NULL, updated REAL NOT NULL, status TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '', {_OBJECTIVE_COLUMN}
);
CREATE TABLE nodes (
    key TEXT PRIMARY KEY, state BLOB NOT NULL, label TEXT NOT NULL, depth INTEGER NOT NULL,
    player TEXT NOT NULL, visits INTEGER NOT NULL, value_sum REAL NOT NULL,
    value REAL, best REAL, worst REAL, frontier_best REAL, frontier_worst REAL, solved INTEGER NOT NULL,
    {_COUNTS_COLUMN}
);
CREATE TABLE edges (
    parent TEXT NOT NULL, child TEXT NOT NULL, action BLOB NOT NULL, label TEXT NOT NULL,
    prior REAL, probability REAL, score REAL, acquisition REAL, feasibility REAL,
    PRIMARY KEY (parent, child)
);
CREATE TABLE evaluations (
    id INTEGER PRIMARY KEY, state_key TEXT NOT NULL UNIQUE, state BLOB NOT NULL,
    label TEXT NOT NULL, encoding TEXT, value REAL, status TEXT NOT NULL, message TEXT NOT NULL,
    cost_seconds REAL NOT NULL, artifacts TEXT NOT NULL, worker TEXT NOT NULL,
    device TEXT NOT NULL, started REAL NOT NULL, finished REAL NOT NULL, path TEXT NOT NULL,
    {_CONSTRAINTS_COLUMN}
);
CREATE TABLE events (id INTEGER PRIMARY KEY, time REAL NOT NULL, kind TEXT NOT NULL, data TEXT NOT NULL);
{_WRITER_TABLE};
"""

# columns stored as JSON text or pickled bytes; the rest are stored as they are
_JSON_COLUMNS = {"artifacts", "encoding", "path", "params", "settings", "counts", "constraints"}
_PICKLED_COLUMNS = {"state", "action"}
_NODE_COLUMNS = tuple(f.name for f in fields(NodeRecord) if f.name not in ("evaluation_ids", "principal"))
_EDGE_COLUMNS = ("parent", "child", "action", "label", *_EDGE_STATS)
_EVALUATION_COLUMNS = tuple(f.name for f in fields(EvaluationRecord) if f.name != "id")
_INFO_COLUMNS = tuple(f.name for f in fields(CampaignInfo))

T = TypeVar("T")


def _encode(column: str, value: Any) -> Any:
    if column == "objective":
        return to_json({"name": value.name, "direction": value.direction})
    if column in _PICKLED_COLUMNS:
        return pickle.dumps(value, protocol=4)
    if column in _JSON_COLUMNS:
        return None if value is None else to_json(value)
    return value


def _decode(column: str, value: Any) -> Any:
    if column == "solved":
        return bool(value)
    if column == "objective":
        return Objective(**json.loads(value))
    if column in _PICKLED_COLUMNS:
        return pickle.loads(value)
    if column in _JSON_COLUMNS:
        return None if value is None else json.loads(value)
    return value


def _proc_stat(pid: int) -> list[str]:
    """The fields of /proc/PID/stat after the command name (Linux); empty elsewhere."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return []


def _process_start(pid: int) -> str:
    """When ``pid`` started, so that a reused pid is not taken for a live writer."""
    fields = _proc_stat(pid)
    return fields[19] if len(fields) > 19 else ""


def _alive(pid: int, proc_start: str) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        pass
    fields = _proc_stat(pid)
    if fields and fields[0] in ("Z", "X"):  # killed, not yet reaped by its parent: it writes nothing more
        return False
    return not proc_start or _process_start(pid) in ("", proc_start)


def _writer_live(pid: int, host: str, proc_start: str, heartbeat: float) -> bool:
    """Whether a writer row's process still runs: on this host by its process, elsewhere by its heartbeat."""
    return _alive(pid, proc_start) if host == socket.gethostname() else time.time() - heartbeat < LEASE_SECONDS


def _damage(method: Callable[..., T]) -> Callable[..., T]:
    """Report a damaged database (an error SQLite finds only while reading) as one line."""
    @functools.wraps(method)
    def wrapper(self: Store, *args: Any, **kwargs: Any) -> T:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path} is damaged or unreadable ({exc}); restore it from a copy") from None
        except (pickle.UnpicklingError, AttributeError, ModuleNotFoundError) as exc:
            raise StoreError(f"{self.path}: a stored state cannot be loaded ({type(exc).__name__}: {exc}); "
                             "is the game's code installed, at a compatible version?") from None

    return wrapper


class Store:
    """A campaign database. :meth:`create` a new campaign, :meth:`open` an existing one.

    A store opened for writing holds the database's writer lock until :meth:`close`.
    """

    def __init__(self, conn: sqlite3.Connection, path: Path, readonly: bool) -> None:
        self._conn = conn
        self.path = path
        self.readonly = readonly
        self._token: str | None = None
        self._stop = threading.Event()
        self._heartbeat: threading.Thread | None = None

    # -- opening -----------------------------------------------------------------------------
    @classmethod
    def create(cls, path: str | Path, info: CampaignInfo) -> Store:
        """A new database holding one campaign; refuses to touch an existing file.

        The schema and campaign row are written to a temporary file that is then linked into place,
        so a process killed while creating leaves either no database or a complete one.
        """
        path = Path(path)
        exists = StoreError(f"{path} already exists; resume it with `discover resume {path}` or choose another --db")
        if path.exists():
            raise exists
        if not path.parent.is_dir():
            raise StoreError(f"cannot create {path}: folder {path.parent} does not exist")
        draft = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.creating")
        try:
            conn = sqlite3.connect(draft, isolation_level=None)
            try:
                with cls._transaction(conn):
                    for statement in filter(str.strip, _SCHEMA.split(";")):
                        conn.execute(statement)
                    conn.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
                    conn.execute(
                        f"INSERT INTO campaign (id, {', '.join(_INFO_COLUMNS)}) VALUES (1, {_marks(_INFO_COLUMNS)})",
                        [_encode(c, getattr(info, c)) for c in _INFO_COLUMNS])
            finally:
                conn.close()
            _place(draft, path)
        except FileExistsError:
            raise exists from None
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot create campaign database {path}: {exc}") from None
        finally:
            draft.unlink(missing_ok=True)
        return cls.open(path)

    @classmethod
    def open(cls, path: str | Path, *, readonly: bool = False) -> Store:
        """An existing campaign database, checked before anything is written to it.

        ``readonly`` stores never write (not even the WAL switch), so they are safe beside a running
        campaign and work in folders the user cannot write.
        """
        path = Path(path)
        try:
            if not path.is_file():
                raise StoreError(f"no campaign database at {path}")
            path.open("rb").close()
        except OSError as exc:
            raise StoreError(f"cannot read {path}: {exc.strerror}") from None
        conn = cls._connect_ro(path)
        try:
            version = cls._validate(conn, path, thorough=not readonly)
        except BaseException:
            conn.close()
            raise
        if readonly:
            return cls(conn, path, readonly=True)
        conn.close()
        if not os.access(path, os.W_OK) or not os.access(path.parent, os.W_OK | os.X_OK):
            raise StoreError(f"cannot write {path} (the file or its folder is read-only); inspect it with "
                             "`discover status`, or copy it (with its -wal and -shm files) somewhere writable to resume")
        try:
            conn = cls._connect_rw(path)
            if version < SCHEMA_VERSION:
                cls._migrate(conn, version)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open {path} for writing: {exc}") from None
        store = cls(conn, path, readonly=False)
        store._acquire()
        return store

    @staticmethod
    def _connect_ro(path: Path) -> sqlite3.Connection:
        """A read-only connection; ``immutable`` where the WAL index cannot be created (read-only folder)."""
        uri = path.resolve().as_uri()
        last: sqlite3.Error | None = None
        for flags in ("mode=ro", "mode=ro&immutable=1"):
            wal = path.with_name(path.name + "-wal")
            if "immutable" in flags and wal.exists() and wal.stat().st_size > 0:
                # immutable reads skip the write-ahead log, where a killed or running campaign's latest
                # evaluations are: better no answer than a silently stale one
                raise StoreError(f"cannot read {path} in this folder: its latest evaluations are in {wal.name}, "
                                 "which needs a writable folder to read; copy the .db, -wal and -shm files together "
                                 "somewhere writable")
            try:
                conn = sqlite3.connect(f"{uri}?{flags}", uri=True, isolation_level=None,
                                       check_same_thread=False, timeout=30)
                conn.execute("PRAGMA busy_timeout=30000")
                conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
                return conn
            except sqlite3.OperationalError as exc:  # e.g. cannot create -shm: try immutable
                last = exc
            except sqlite3.DatabaseError as exc:
                raise StoreError(f"{path} is not a discover campaign database ({exc})") from None
        raise StoreError(f"cannot read {path}: {last}")

    @staticmethod
    def _connect_rw(path: Path) -> sqlite3.Connection:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
        conn.execute("PRAGMA busy_timeout=30000")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")  # durable against a killed process in WAL mode
        return conn

    @staticmethod
    def _validate(conn: sqlite3.Connection, path: Path, thorough: bool) -> int:
        """The schema version, after checking that this is an intact discover database."""
        try:
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if not {"meta", "campaign", "evaluations", "nodes", "edges", "events"} <= tables:
                raise StoreError(f"{path} is not a discover campaign database (its tables are missing)")
            row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            if conn.execute("SELECT COUNT(*) FROM campaign").fetchone()[0] != 1 or row is None:
                raise StoreError(f"{path} is not a discover campaign database (no campaign or schema version)")
            if thorough:
                problems = [r[0] for r in conn.execute("PRAGMA quick_check")]
                if problems != ["ok"]:
                    raise StoreError(f"{path} is damaged ({problems[0]}); it was left unchanged: restore it from a copy")
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{path} is damaged or not a discover campaign database ({exc}); "
                             "it was left unchanged") from None
        version = int(row[0])
        if version > SCHEMA_VERSION:
            raise StoreError(f"{path} was written by a newer discover (schema {version}, this one reads "
                             f"{SCHEMA_VERSION}); upgrade discover")
        return version

    @classmethod
    def _migrate(cls, conn: sqlite3.Connection, version: int) -> None:
        """Bring an older schema up to date (1 -> 2: the writer lock and the stop reason; 2 -> 3: the
        objective, evaluation counts per node and the planner's reasons per edge; 3 -> 4: constraint
        values per evaluation)."""
        with cls._transaction(conn):
            if version < 2:
                conn.execute(_WRITER_TABLE)
                conn.execute("ALTER TABLE campaign ADD COLUMN reason TEXT NOT NULL DEFAULT ''")
            if version < 3:
                conn.execute(f"ALTER TABLE campaign ADD COLUMN {_OBJECTIVE_COLUMN}")
                conn.execute(f"ALTER TABLE nodes ADD COLUMN {_COUNTS_COLUMN}")
                for column in _EDGE_STATS:
                    conn.execute(f"ALTER TABLE edges ADD COLUMN {column} REAL")
            if version < 4:
                conn.execute(f"ALTER TABLE evaluations ADD COLUMN {_CONSTRAINTS_COLUMN}")
            conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))

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

    # -- the writer lock ---------------------------------------------------------------------
    def _acquire(self) -> None:
        """Take the writer row, or refuse with one line naming the live writer that holds it."""
        token = uuid.uuid4().hex
        pid, host = os.getpid(), socket.gethostname()
        try:
            with self._transaction(self._conn):
                row = self._conn.execute("SELECT pid, host, proc_start, since, heartbeat FROM writer").fetchone()
                if row is not None:
                    other_pid, other_host, other_start, since, beat = row
                    if _writer_live(other_pid, other_host, other_start, beat):
                        started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(since))
                        raise StoreError(
                            f"{self.path} is being written by process {other_pid} on {other_host} (since {started}); "
                            "wait for that campaign to finish or stop it, then resume"
                        )
                now = time.time()
                self._conn.execute("INSERT OR REPLACE INTO writer VALUES (1, ?, ?, ?, ?, ?, ?)",
                                   (token, pid, host, _process_start(pid), now, now))
        except StoreError:
            self._conn.close()
            raise
        except sqlite3.Error as exc:
            self._conn.close()
            raise StoreError(f"cannot write {self.path}: {exc}") from None
        self._token = token
        self._heartbeat = threading.Thread(target=self._beat, name="discover-store-heartbeat", daemon=True)
        self._heartbeat.start()

    def _beat(self) -> None:
        """Refresh the heartbeat, so writers on other hosts can tell this one is alive."""
        conn = sqlite3.connect(self.path, isolation_level=None, timeout=30)
        try:
            while not self._stop.wait(HEARTBEAT_SECONDS):
                try:
                    conn.execute("UPDATE writer SET heartbeat = ? WHERE token = ?", (time.time(), self._token))
                except sqlite3.Error:  # busy or briefly unavailable: beat again next time
                    continue
        finally:
            conn.close()

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """A write transaction that first checks this store still holds the writer lock."""
        if self._token is None:
            raise StoreError(f"{self.path} was opened read-only")
        with self._transaction(self._conn):
            row = self._conn.execute("SELECT token, pid, host FROM writer").fetchone()
            if row is None or row[0] != self._token:
                holder = "nobody" if row is None else f"process {row[1]} on {row[2]}"
                raise StoreError(f"{self.path}: this campaign lost its writer lock (now held by {holder}); "
                                 "it stopped so as not to write beside another campaign")
            yield

    def close(self) -> None:
        """Release the writer lock (if held) and the connection."""
        if self._token is not None:
            self._stop.set()
            if self._heartbeat is not None:
                self._heartbeat.join(timeout=5)
            try:
                with self._transaction(self._conn):
                    self._conn.execute("DELETE FROM writer WHERE token = ?", (self._token,))
            except sqlite3.Error:
                pass  # a damaged or vanished file: the lock is stale anyway
            self._token = None
        self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing -----------------------------------------------------------------------------
    def record(self, *, evaluation: EvaluationRecord | None = None, nodes: Sequence[NodeRecord] = (),
               edges: Sequence[EdgeRecord] = (), events: Sequence[Event] = ()) -> None:
        """Commit, in one transaction, an evaluation with the tree changes and events it caused."""
        with self._writing():
            if evaluation is not None:
                self._conn.execute(
                    f"INSERT INTO evaluations ({', '.join(_EVALUATION_COLUMNS)}) VALUES ({_marks(_EVALUATION_COLUMNS)})",
                    [_encode(c, getattr(evaluation, c)) for c in _EVALUATION_COLUMNS],
                )
            updates = ", ".join(f"{c} = excluded.{c}" for c in _NODE_COLUMNS if c not in ("key", "state", "label", "depth", "player"))
            self._conn.executemany(
                f"INSERT INTO nodes ({', '.join(_NODE_COLUMNS)}) VALUES ({_marks(_NODE_COLUMNS)}) "
                f"ON CONFLICT(key) DO UPDATE SET {updates}",
                [[_encode(c, getattr(n, c)) for c in _NODE_COLUMNS] for n in nodes],
            )
            self._conn.executemany(
                f"INSERT INTO edges ({', '.join(_EDGE_COLUMNS)}) VALUES ({_marks(_EDGE_COLUMNS)}) "
                f"ON CONFLICT(parent, child) DO UPDATE SET {', '.join(f'{c} = excluded.{c}' for c in _EDGE_STATS)}",
                [[_encode(c, getattr(e, c)) for c in _EDGE_COLUMNS] for e in edges],
            )
            self._conn.executemany(
                "INSERT INTO events (time, kind, data) VALUES (?, ?, ?)",
                [(ev.time, ev.kind.value, to_json(dict(ev.data))) for ev in events],
            )
            self._conn.execute("UPDATE campaign SET updated = ? WHERE id = 1", (time.time(),))

    def set_status(self, status: str, *, settings: dict[str, Any] | None = None, reason: str = "") -> None:
        with self._writing():
            self._conn.execute("UPDATE campaign SET status = ?, reason = ?, updated = ? WHERE id = 1",
                               (status, reason, time.time()))
            if settings is not None:
                self._conn.execute("UPDATE campaign SET settings = ? WHERE id = 1", (_encode("settings", settings),))

    # -- reading -----------------------------------------------------------------------------
    @_damage
    def campaign(self) -> CampaignInfo:
        columns = self._present("campaign", _INFO_COLUMNS)
        row = self._conn.execute(f"SELECT {', '.join(columns)} FROM campaign").fetchone()
        return CampaignInfo(**{c: _decode(c, v) for c, v in zip(columns, row)})

    @_damage
    def players(self) -> set[str]:
        """Whose moves the stored tree has ("searcher", "opponent", "chance", "terminal"): a cheap
        way to tell a one-player campaign without reading its tree."""
        return {row[0] for row in self._conn.execute("SELECT DISTINCT player FROM nodes")}

    @_damage
    def writer(self) -> str | None:
        """The live process writing this database ("process PID on HOST"), or None: a campaign
        still marked running without one was killed."""
        if not self._present("writer", ("pid",)):  # schema 1, read as it is
            return None
        row = self._conn.execute("SELECT pid, host, proc_start, heartbeat FROM writer").fetchone()
        return f"process {row[0]} on {row[1]}" if row is not None and _writer_live(*row) else None

    def set_objective(self, objective: Objective) -> None:
        """Record what the values measure (a database made before schema 3 has the default)."""
        with self._writing():
            self._conn.execute("UPDATE campaign SET objective = ? WHERE id = 1", (_encode("objective", objective),))

    def _present(self, table: str, wanted: Sequence[str]) -> list[str]:
        """Those of ``wanted`` that ``table`` has: older databases opened read-only are never
        migrated, and their records take the defaults for what they lack."""
        have = {r[1] for r in self._conn.execute(f"PRAGMA table_info({table})")}
        return [c for c in wanted if c in have]

    @_damage
    def count(self) -> int:
        return self._conn.execute("SELECT COUNT(*) FROM evaluations").fetchone()[0]

    @_damage
    def evaluations(self, *, order: str = "id", limit: int | None = None, status: str | None = None,
                    states: bool = False) -> list[EvaluationRecord]:
        """Stored evaluations, by id (``order="id"``) or best value first (``order="best"``).

        ``states=True`` loads the pickled states too (this needs the game's code).
        """
        columns = ["id", *self._present("evaluations", [c for c in _EVALUATION_COLUMNS if states or c != "state"])]
        sql = f"SELECT {', '.join(columns)} FROM evaluations"
        args: list[Any] = []
        if status is not None:
            sql += " WHERE status = ?"
            args.append(status)
        sql += " ORDER BY value IS NULL, value DESC, id" if order == "best" else " ORDER BY id"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        return [EvaluationRecord(**{c: _decode(c, v) for c, v in zip(columns, row)})
                for row in self._conn.execute(sql, args)]

    def history(self) -> list[EvaluationRecord]:
        """Every evaluation in order with its state, for proposers and surrogates that refit on resume."""
        return self.evaluations(states=True)

    @_damage
    def tree(self, *, states: bool = False) -> tuple[list[NodeRecord], list[EdgeRecord]]:
        """The stored tree, each node with the ids of the evaluations below it (a terminal node: the
        evaluation of its state, whichever path found it) and its place on the principal variation;
        ``states=True`` loads states and actions (needs the game's code)."""
        columns = self._present("nodes", [c for c in _NODE_COLUMNS if states or c != "state"])
        edge_columns = self._present("edges", [c for c in _EDGE_COLUMNS if states or c != "action"])
        rows = [{c: _decode(c, v) for c, v in zip(columns, row)} for row in self._conn.execute(
            f"SELECT {', '.join(columns)} FROM nodes ORDER BY depth, key")]
        edges = [EdgeRecord(**{c: _decode(c, v) for c, v in zip(edge_columns, row)}) for row in self._conn.execute(
            f"SELECT {', '.join(edge_columns)} FROM edges ORDER BY parent, child")]
        below: dict[str, list[int]] = {}
        terminal: dict[str, tuple[int, str]] = {}
        for eid, path, key, status in self._conn.execute("SELECT id, path, state_key, status FROM evaluations ORDER BY id"):
            path = json.loads(path)
            for node in path:
                below.setdefault(node, []).append(eid)
            if key not in path:  # a completion evaluated below its path's leaf: its own terminal node
                terminal[key] = (eid, status)
        for r in rows:  # a terminal reached after its completion was evaluated holds that evaluation
            if r["key"] in terminal and not below.get(r["key"]):
                eid, status = terminal[r["key"]]
                below[r["key"]] = [eid]
                r["counts"] = r.get("counts") or {status: 1}
        principal = principal_variation(rows, edges)
        nodes = [NodeRecord(**r, evaluation_ids=tuple(below.get(r["key"], ())), principal=r["key"] in principal)
                 for r in rows]
        return nodes, edges

    def to_dataframe(self) -> Any:
        """Every evaluation as a pandas DataFrame (``discover.analysis.evaluations_frame``)."""
        from discover.analysis import evaluations_frame

        return evaluations_frame(self)

    @_damage
    def events(self, after_id: int = 0, *, kind: str | None = None) -> list[tuple[int, float, str, dict[str, Any]]]:
        """Stored events after ``after_id`` (of one ``kind`` when given): (id, time, kind, data)."""
        sql, args = "SELECT id, time, kind, data FROM events WHERE id > ?", [after_id]
        if kind is not None:
            sql, args = sql + " AND kind = ?", [after_id, kind]
        return [(i, t, k, json.loads(d)) for i, t, k, d in self._conn.execute(sql + " ORDER BY id", args)]


def principal_variation(nodes: Sequence[dict[str, Any]], edges: Sequence[EdgeRecord]) -> list[str]:
    """Node keys from the root along the moves each player would make on the backed-up values: the
    searcher's best child, the opponent's worst, a chance node's most probable; ties go to the most
    visited. Only children below which something succeeded count (a branch that only failed has a
    penalty, not a value, and is no one's choice)."""
    by_key = {n["key"]: n for n in nodes}
    children: dict[str, list[EdgeRecord]] = {}
    for e in edges:
        children.setdefault(e.parent, []).append(e)
    root = next((n["key"] for n in nodes if n["depth"] == 0), None)
    line: list[str] = []
    key = root
    while key is not None and key not in line:
        line.append(key)
        node = by_key[key]
        options = [(e, by_key[e.child]) for e in children.get(key, ()) if e.child in by_key]
        if node["player"] == "chance":
            options = [(e, c) for e, c in options if c["visits"]]
            pick = max(options, key=lambda o: (o[0].probability or 0.0, o[1]["visits"]), default=None)
        else:
            options = [(e, c) for e, c in options if c["value"] is not None and c["best"] is not None]
            sign = -1.0 if node["player"] == "opponent" else 1.0
            pick = max(options, key=lambda o: (sign * o[1]["value"], o[1]["visits"]), default=None)
        key = pick[1]["key"] if pick else None
    return line


def _place(draft: Path, path: Path) -> None:
    """Move the finished ``draft`` to ``path`` without overwriting a file another process made."""
    try:
        os.link(draft, path)  # atomic, and fails if ``path`` exists
    except FileExistsError:
        raise
    except OSError:  # a file system without hard links
        if path.exists():
            raise FileExistsError(path) from None
        os.rename(draft, path)


def _marks(columns: Sequence[str]) -> str:
    return ", ".join("?" for _ in columns)
