"""Result store: an embedded SQLite database, one row per finished point.

A point's row is keyed by a hash of its resolved parameters (every section of
the spec that can change its numbers, seed included) and the eqvbench
version; it holds the point's JSON exactly as `eqvbench run --json` prints it.
Each point is committed in its own transaction as soon as it finishes, so a
killed run loses only the points in flight and the file stays a valid
database (SQLite's journal rolls back a half-written transaction on the next
open).

Tables:
  meta(key, value)                    format marker and store format version
  runs(id, ...)                       one row per `eqvbench run`: version, spec file, resolved spec
  run_points(run_id, idx, point_key)  the points of each run, in sweep order
  points(key, point_json, ...)        finished points
  costs(key, cost_json)               contraction costs shared by points of equal structure

The file is created, and a run recorded, only when the first point is
committed (or when a run that reused every point finishes), so a run that
fails on bad input leaves an existing store untouched and creates none.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import json
import sqlite3
from pathlib import Path
from typing import Any

from eqvbench.errors import EqvbenchError

MAGIC = "eqvbench-store"
STORE_FORMAT = 1  # bump when the tables change incompatibly
SUFFIX = ".eqvdb"
_SQLITE_HEADER = b"SQLite format 3\x00"

# spec sections that cannot change a point's numbers: not part of its key
KEY_EXCLUDED = ("description", "report", "checks")

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    eqvbench_version TEXT NOT NULL,
    spec_file TEXT NOT NULL,
    header_json TEXT NOT NULL,
    n_points INTEGER NOT NULL,
    n_reused INTEGER
);
CREATE TABLE run_points (
    run_id INTEGER NOT NULL REFERENCES runs(id),
    idx INTEGER NOT NULL,
    point_key TEXT NOT NULL,
    params_json TEXT NOT NULL,
    PRIMARY KEY (run_id, idx)
);
CREATE TABLE points (
    key TEXT PRIMARY KEY,
    eqvbench_version TEXT NOT NULL,
    experiment TEXT NOT NULL,
    point_json TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    run_id INTEGER
);
CREATE TABLE costs (key TEXT PRIMARY KEY, cost_json TEXT NOT NULL);
"""


class StoreError(EqvbenchError):
    """A store file that cannot be used: one line, exit code 2."""

    def __init__(self, path: Path | str, message: str):
        self.path = str(path)
        self.message = message
        super().__init__(f"{path}: {message}")

    def __reduce__(self):
        return (type(self), (self.path, self.message))


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def point_key(values: dict[str, Any], version: str) -> str:
    """Hash of a point's resolved parameters (seed included) and the eqvbench version."""
    params = {k: v for k, v in values.items() if k not in KEY_EXCLUDED}
    blob = json.dumps({"eqvbench_version": version, "values": params}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def cost_row_key(cost_key: str, version: str) -> str:
    return hashlib.sha256(json.dumps([version, cost_key]).encode()).hexdigest()


def default_store_path(spec_path: Path | str) -> Path:
    """`<spec stem>.eqvdb` in the current directory."""
    return Path(Path(spec_path).stem + SUFFIX)


def is_sqlite(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(16) == _SQLITE_HEADER
    except OSError:
        return False


def check_store(path: Path) -> None:
    """Raise StoreError unless `path` is an eqvbench store this version can use. Reads only."""
    if path.is_dir():
        raise StoreError(path, "is a directory, not an eqvbench store")
    try:
        with open(path, "rb") as f:
            head = f.read(16)
    except PermissionError:
        raise StoreError(path, "cannot read the store (permission denied)") from None
    except OSError as e:
        raise StoreError(path, f"cannot read the store ({e.strerror or e.__class__.__name__})") from None
    if head != _SQLITE_HEADER:
        raise StoreError(path, "not an eqvbench store (not an SQLite database); use another --store path")
    con = _connect_ro(path)
    try:
        try:
            meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.DatabaseError as e:
            if "no such table" in str(e):
                raise StoreError(path, "an SQLite database but not an eqvbench store (no eqvbench metadata)") from None
            raise StoreError(path, f"not a readable eqvbench store ({e})") from None
        if meta.get("format") != MAGIC:
            raise StoreError(path, "an SQLite database but not an eqvbench store (no eqvbench metadata)")
        fmt = meta.get("store_format")
        if fmt != str(STORE_FORMAT):
            raise StoreError(
                path,
                f"store format {fmt} (written by eqvbench {meta.get('created_by', '?')}) is not the format "
                f"{STORE_FORMAT} this eqvbench reads; use another --store path",
            )
    finally:
        con.close()


def _connect_ro(path: Path) -> sqlite3.Connection:
    try:
        return sqlite3.connect(f"file:{_uri_path(path)}?mode=ro", uri=True, timeout=30)
    except sqlite3.Error as e:
        raise StoreError(path, f"cannot open the store ({e})") from None


def _uri_path(path: Path) -> str:
    from urllib.parse import quote

    return quote(str(path.resolve()))


class Store:
    """One store file, opened for a run: reads at once, writes only when a point is committed."""

    def __init__(self, path: Path | str):
        from eqvbench.io import check_writable

        self.path = Path(path)
        check_writable(self.path, "--store")  # SQLite also writes a journal beside the file
        if self.path.exists():
            check_store(self.path)
        self._con: sqlite3.Connection | None = None
        self._run: dict[str, Any] | None = None
        self.run_id: int | None = None

    # -- reading --------------------------------------------------------------

    def _read(self, sql: str, args: tuple = ()) -> list[tuple]:
        if self._con is not None:
            return self._con.execute(sql, args).fetchall()
        if not self.path.exists():
            return []
        con = _connect_ro(self.path)
        try:
            return con.execute(sql, args).fetchall()
        except sqlite3.DatabaseError as e:
            raise StoreError(self.path, f"cannot read the store ({e})") from None
        finally:
            con.close()

    def finished(self, keys: list[str]) -> dict[str, dict[str, Any]]:
        """Stored point JSON for those of `keys` that are finished."""
        out: dict[str, dict[str, Any]] = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for key, text in self._read(f"SELECT key, point_json FROM points WHERE key IN ({marks})", tuple(chunk)):
                out[key] = json.loads(text)
        return out

    def costs(self, keys: list[str], version: str) -> dict[str, Any]:
        """Stored contraction costs for pipeline cost keys, as CostResult objects."""
        from eqvbench.cost import CostResult

        rows = {cost_row_key(k, version): k for k in keys}
        out: dict[str, Any] = {}
        names = list(rows)
        for start in range(0, len(names), 500):
            chunk = names[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for key, text in self._read(f"SELECT key, cost_json FROM costs WHERE key IN ({marks})", tuple(chunk)):
                out[rows[key]] = CostResult(**json.loads(text))
        return out

    # -- writing --------------------------------------------------------------

    def begin_run(self, version: str, spec_file: str, header: dict[str, Any], members: list[tuple[str, dict]]) -> None:
        """Remember the run; it is written with the first committed point (or by finish_run)."""
        self._run = {
            "started_at": _now(),
            "version": version,
            "spec_file": spec_file,
            "header": header,
            "members": members,
        }

    def _writer(self) -> sqlite3.Connection:
        if self._con is None:
            new = not self.path.exists()
            try:
                con = sqlite3.connect(str(self.path), timeout=30, isolation_level=None)
                con.execute("PRAGMA synchronous=FULL")
                if new:
                    con.execute("BEGIN IMMEDIATE")
                    for stmt in _SCHEMA.split(";"):
                        if stmt.strip():
                            con.execute(stmt)
                    con.executemany(
                        "INSERT INTO meta(key, value) VALUES (?, ?)",
                        [("format", MAGIC), ("store_format", str(STORE_FORMAT)), ("created_by", self._version()),
                         ("created_at", _now())],
                    )
                    con.execute("COMMIT")
            except sqlite3.Error as e:
                raise StoreError(self.path, f"cannot write the store ({e})") from None
            self._con = con
        if self.run_id is None and self._run is not None:
            r = self._run
            with _transaction(self._con, self.path):
                cur = self._con.execute(
                    "INSERT INTO runs(started_at, eqvbench_version, spec_file, header_json, n_points) VALUES (?,?,?,?,?)",
                    (r["started_at"], r["version"], r["spec_file"], json.dumps(r["header"]), len(r["members"])),
                )
                self.run_id = cur.lastrowid
                self._con.executemany(
                    "INSERT INTO run_points(run_id, idx, point_key, params_json) VALUES (?,?,?,?)",
                    [(self.run_id, i, key, json.dumps(params)) for i, (key, params) in enumerate(r["members"])],
                )
        return self._con

    def _version(self) -> str:
        from eqvbench import __version__

        return __version__

    def commit_point(self, key: str, experiment: str, point: dict[str, Any], costs: dict[str, Any]) -> None:
        """Write one finished point (and the costs it computed) in one transaction."""
        con = self._writer()
        version = self._version()
        with _transaction(con, self.path):
            con.execute(
                "INSERT OR REPLACE INTO points(key, eqvbench_version, experiment, point_json, finished_at, run_id) "
                "VALUES (?,?,?,?,?,?)",
                (key, version, experiment, json.dumps(point, allow_nan=False), _now(), self.run_id),
            )
            con.executemany(
                "INSERT OR REPLACE INTO costs(key, cost_json) VALUES (?, ?)",
                [(cost_row_key(k, version), json.dumps(dataclasses.asdict(c))) for k, c in costs.items()],
            )

    def finish_run(self, n_reused: int) -> None:
        con = self._writer()
        with _transaction(con, self.path):
            con.execute("UPDATE runs SET finished_at = ?, n_reused = ? WHERE id = ?", (_now(), n_reused, self.run_id))

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None


class _transaction:
    def __init__(self, con: sqlite3.Connection, path: Path):
        self.con, self.path = con, path

    def __enter__(self):
        try:
            self.con.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as e:
            raise StoreError(self.path, f"cannot write the store ({e})") from None

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            try:
                self.con.execute("COMMIT")
            except sqlite3.Error as e:
                raise StoreError(self.path, f"cannot write the store ({e})") from None
        else:
            self.con.execute("ROLLBACK")
        return False


# -- reading results back: show, export, plot -----------------------------------


def list_runs(path: Path) -> list[dict[str, Any]]:
    check_store(path)
    con = _connect_ro(path)
    try:
        rows = con.execute(
            "SELECT r.id, r.started_at, r.finished_at, r.eqvbench_version, r.spec_file, r.n_points, r.n_reused, "
            "(SELECT COUNT(*) FROM run_points rp JOIN points p ON p.key = rp.point_key WHERE rp.run_id = r.id) "
            "FROM runs r ORDER BY r.id"
        ).fetchall()
    finally:
        con.close()
    names = ("id", "started_at", "finished_at", "eqvbench_version", "spec_file", "n_points", "n_reused", "n_finished")
    return [dict(zip(names, r)) for r in rows]


def load_results(path: Path | str, run: int | None = None) -> dict[str, Any]:
    """A result document (as `eqvbench run --json` prints) from a store or a JSON output file.

    From a store: the latest run (or run `run`), its finished points in sweep order.
    """
    path = Path(path)
    if not path.exists():
        raise StoreError(path, "file not found")
    if path.is_file() and not is_sqlite(path):
        if run is not None:
            raise StoreError(path, "--run applies to a store, not to a JSON document")
        return _load_json_doc(path)
    check_store(path)
    con = _connect_ro(path)
    try:
        if run is None:
            row = con.execute("SELECT MAX(id) FROM runs").fetchone()
            run = row[0] if row else None
            if run is None:
                raise StoreError(path, "the store holds no run yet")
        head = con.execute("SELECT header_json, n_points FROM runs WHERE id = ?", (run,)).fetchone()
        if head is None:
            ids = [r[0] for r in con.execute("SELECT id FROM runs ORDER BY id")]
            raise StoreError(path, f"--run {run}: no such run (runs: {', '.join(map(str, ids)) or 'none'})")
        rows = con.execute(
            "SELECT rp.params_json, p.point_json FROM run_points rp JOIN points p ON p.key = rp.point_key "
            "WHERE rp.run_id = ? ORDER BY rp.idx",
            (run,),
        ).fetchall()
    except sqlite3.DatabaseError as e:
        raise StoreError(path, f"cannot read the store ({e})") from None
    finally:
        con.close()
    doc = json.loads(head[0])
    points = []
    for params, text in rows:
        p = json.loads(text)
        p["params"] = json.loads(params)
        points.append(p)
    doc["points"] = points
    doc["store"] = {"path": str(path), "run": run, "n_points": head[1], "n_finished": len(points)}
    return doc


def _load_json_doc(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise StoreError(path, "neither an eqvbench store nor an eqvbench JSON document") from None
    except OSError as e:
        raise StoreError(path, f"cannot read ({e.strerror or e.__class__.__name__})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("points"), list) or "eqvbench_version" not in doc:
        raise StoreError(path, "a JSON file but not an eqvbench result document (`eqvbench run --json`)")
    return doc
