"""Result store: an embedded SQLite database, one row per finished point.

A point's row is keyed by a hash of its resolved parameters (every section of
the spec that can change its numbers, seed included) and the identity of the
code that computed it (:func:`eqvbench.sweeps.provenance.code_identity`: the version,
a hash of eqvbench's computing source and the computing libraries' versions),
so an update never serves points computed by other code; it holds the point's
JSON exactly as `eqvbench run --json` prints it. What a point derives from
sections outside its key (the verdict, from `report.machine`) is computed again
whenever the point is reused.

Each point is committed in its own transaction as soon as it finishes, so a
killed run loses only the points in flight and the file stays a valid
database: SQLite's journal rolls back a half-written transaction, which a
read-only open cannot do, so readers open the store read-write once when they
find a journal left by a killed writer. A new store is built in a temporary
file and linked into place, so a kill during creation leaves no store or a
whole one; an empty file (from an older eqvbench killed there) counts as none.
A row that does not parse as what eqvbench writes is damaged: `run` computes
its point again, `show`, `export` and `plot` name it in one error line.

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
import math
import os
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

from eqvbench.errors import EqvbenchError

MAGIC = "eqvbench-store"
STORE_FORMAT = 1  # bump when the tables change incompatibly
SUFFIX = ".eqvdb"
_SQLITE_HEADER = b"SQLite format 3\x00"

# spec sections that cannot change a point's measured numbers: not part of its key
# (the verdict, which reads report.machine, is recomputed on reuse: see reuse_point)
KEY_EXCLUDED = ("description", "report", "checks")
MAX_JSON_BYTES = 1 << 30  # a JSON result document read by show/export/plot

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
    """Hash of a point's resolved parameters (seed included) and `version`, the code identity
    (:func:`eqvbench.sweeps.provenance.code_identity`) that computes it."""
    params = {k: v for k, v in values.items() if k not in KEY_EXCLUDED}
    blob = json.dumps({"eqvbench_version": version, "values": params}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def cost_row_key(cost_key: str, version: str) -> str:
    return hashlib.sha256(json.dumps([version, cost_key]).encode()).hexdigest()


def default_store_path(spec_path: Path | str) -> Path:
    """`<spec stem>.eqvdb` in the current directory."""
    return Path(Path(spec_path).stem + SUFFIX)


def _head(path: Path) -> bytes:
    """The first 16 bytes of a regular file (raises OSError for anything else, without blocking)."""
    import errno
    import stat

    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        return os.read(fd, 16)
    finally:
        os.close(fd)


def is_sqlite(path: Path) -> bool:
    try:
        return _head(path) == _SQLITE_HEADER
    except OSError:
        return False


def is_empty_file(path: Path) -> bool:
    """A regular file of 0 bytes: what an older eqvbench killed while creating a store left."""
    try:
        return path.is_file() and path.stat().st_size == 0
    except OSError:
        return False


def check_store(path: Path) -> None:
    """Raise StoreError unless `path` is an eqvbench store this version can use.

    Reads only, except to roll back a transaction a killed writer left (see the module note).
    """
    if path.is_dir():
        raise StoreError(path, "is a directory, not an eqvbench store")
    try:
        head = _head(path)
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
        except ValueError:  # a meta table whose values are not text
            raise StoreError(path, "an SQLite database but not an eqvbench store (no eqvbench metadata)") from None
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
    _recover_journal(path)
    try:
        return sqlite3.connect(f"file:{_uri_path(path)}?mode=ro", uri=True, timeout=30)
    except sqlite3.Error as e:
        raise StoreError(path, f"cannot open the store ({e})") from None


def _recover_journal(path: Path) -> None:
    """Roll back the transaction of a killed writer: a read-only connection cannot, and fails.

    A journal beside the store is either live (another run is committing: reading waits for
    its lock, as it would anyway) or hot (its writer was killed): opening the store read-write
    and reading it makes SQLite roll a hot journal back.
    """
    journal = Path(f"{path}-journal")
    try:
        if journal.stat().st_size == 0:
            return
    except OSError:
        return
    try:
        con = sqlite3.connect(str(path), timeout=30)
        try:
            con.execute("SELECT COUNT(*) FROM sqlite_master").fetchall()
        finally:
            con.close()
    except sqlite3.Error as e:
        raise StoreError(
            path,
            f"holds a transaction interrupted by a killed run, which must be rolled back before it can be "
            f"read ({e}); open it once where the store and its directory are writable",
        ) from None


def _uri_path(path: Path) -> str:
    from urllib.parse import quote

    return quote(str(path.resolve()))


class Store:
    """One store file, opened for a run: reads at once, writes only when a point is committed."""

    def __init__(self, path: Path | str):
        from eqvbench.io import check_writable

        self.path = Path(path)
        check_writable(self.path, "--store")  # SQLite also writes a journal beside the file
        if self.path.exists() and not is_empty_file(self.path):
            check_store(self.path)
        self._con: sqlite3.Connection | None = None
        self._run: dict[str, Any] | None = None
        self.run_id: int | None = None
        self.damaged = 0  # stored rows found damaged by finished() and costs(): computed again

    # -- reading --------------------------------------------------------------

    def _read(self, sql: str, args: tuple = ()) -> list[tuple]:
        if self._con is not None:
            return self._con.execute(sql, args).fetchall()
        if not self.path.exists() or is_empty_file(self.path):
            return []
        con = _connect_ro(self.path)
        try:
            return con.execute(sql, args).fetchall()
        except sqlite3.DatabaseError as e:
            raise StoreError(self.path, f"cannot read the store ({e})") from None
        finally:
            con.close()

    def finished(self, keys: list[str]) -> dict[str, dict[str, Any]]:
        """Stored point JSON for those of `keys` that are finished; damaged rows are left out
        (and counted in `self.damaged`), so their points are computed again."""
        out: dict[str, dict[str, Any]] = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for key, text in self._read(f"SELECT key, point_json FROM points WHERE key IN ({marks})", tuple(chunk)):
                try:
                    out[key] = parse_point(text)
                except ValueError:
                    self.damaged += 1
        return out

    def costs(self, keys: list[str], version: str) -> dict[str, Any]:
        """Stored contraction costs for pipeline cost keys, as CostResult objects (damaged rows
        left out and counted in `self.damaged`)."""
        rows = {cost_row_key(k, version): k for k in keys}
        out: dict[str, Any] = {}
        names = list(rows)
        for start in range(0, len(names), 500):
            chunk = names[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for key, text in self._read(f"SELECT key, cost_json FROM costs WHERE key IN ({marks})", tuple(chunk)):
                try:
                    out[rows[key]] = _parse_cost(text)
                except ValueError:
                    self.damaged += 1
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
            if not self.path.exists() or is_empty_file(self.path):
                self._create()
            try:
                con = sqlite3.connect(str(self.path), timeout=30, isolation_level=None)
                con.execute("PRAGMA synchronous=FULL")
                con.execute("SELECT COUNT(*) FROM meta").fetchall()  # rolls back a killed writer's journal
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

    def _create(self) -> None:
        """Build an empty store in a temporary file beside the path and link it into place:
        a kill leaves either no store or a whole one (never a half-made file at the path)."""
        parent = self.path.parent if str(self.path.parent) else Path(".")
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=parent)
        os.close(fd)
        try:
            con = sqlite3.connect(tmp, isolation_level=None)
            try:
                con.execute("PRAGMA synchronous=FULL")
                con.execute("BEGIN IMMEDIATE")
                for stmt in _SCHEMA.split(";"):
                    if stmt.strip():
                        con.execute(stmt)
                con.executemany(
                    "INSERT INTO meta(key, value) VALUES (?, ?)",
                    [
                        ("format", MAGIC),
                        ("store_format", str(STORE_FORMAT)),
                        ("created_by", self._version()),
                        ("created_at", _now()),
                    ],
                )
                con.execute("COMMIT")
            finally:
                con.close()
            os.chmod(tmp, 0o666 & ~_umask())
            _place(Path(tmp), self.path)
        except (sqlite3.Error, OSError) as e:
            raise StoreError(self.path, f"cannot create the store ({e})") from None
        finally:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
        check_store(self.path)  # another run may have created it first

    def _version(self) -> str:
        from eqvbench import __version__

        return __version__

    def commit_point(self, key: str, experiment: str, point: dict[str, Any], costs: dict[str, Any]) -> None:
        """Write one finished point (and the costs it computed) in one transaction."""
        from eqvbench.sweeps.provenance import code_identity

        con = self._writer()
        version = code_identity()
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


def _place(tmp: Path, path: Path) -> None:
    """Put the finished file `tmp` at `path` unless another store got there first (`tmp` stays)."""
    try:
        os.link(tmp, path)  # fails if path exists: never replaces a store another run just made
        return
    except FileExistsError:
        if is_empty_file(path):
            os.replace(tmp, path)
        return
    except OSError:  # a file system without hard links
        pass
    if not path.exists() or is_empty_file(path):
        os.replace(tmp, path)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


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


# -- what a stored row must be ------------------------------------------------------

# contract fields of every point: numbers, and numbers or null
_NUMBERS = ("n_qubits", "n_gates_2q", "v_light", "f_model")
_NUMBERS_OR_NULL = ("eps", "f_eff", "f_eff_err", "v_eff", "cost_flops", "cost_log10", "width_log2", "resource_flops")
_COST_NUMBERS = (
    "multiply_adds",
    "cost_flops",
    "cost_log10",
    "width_log2",
    "width_log2_unsliced",
    "n_slices",
    "sliced_inds",
    "n_tensors",
    "search_seconds",
)


def _is_number(v: Any) -> bool:
    if not isinstance(v, (int, float)) or isinstance(v, bool):
        return False
    try:
        return math.isfinite(v)
    except OverflowError:  # an integer beyond any float
        return False


def _no_constant(name: str) -> Any:
    raise ValueError(f"holds {name}, which eqvbench never writes")


def _loads(text: Any) -> Any:
    """JSON as eqvbench writes it: text, no NaN or Infinity; ValueError for anything else."""
    if isinstance(text, bytes):
        text = text.decode()  # UnicodeDecodeError is a ValueError
    if not isinstance(text, str):
        raise ValueError("not JSON text")
    try:
        return json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as e:
        raise ValueError(f"not valid JSON: {e.msg} at character {e.pos}") from None
    except RecursionError:
        raise ValueError("nested too deeply") from None


def point_problem(p: Any) -> str | None:
    """What makes `p` not a point as eqvbench writes it (None: nothing)."""
    from eqvbench.families import family_names

    if not isinstance(p, dict):
        return "not a JSON object"
    if p.get("experiment") not in family_names():
        return "no known experiment"
    if not isinstance(p.get("params"), dict):
        return "params is not an object"
    for k in _NUMBERS:
        if not _is_number(p.get(k)):
            return f"{k} is not a number"
    for k in _NUMBERS_OR_NULL:
        if k not in p or not (p[k] is None or _is_number(p[k])):
            return f"{k} is not a number or null"
    for k, v in p.items():
        timed = k.startswith("seconds_on_") or k in ("device_seconds", "classical_seconds", "cost_eff_flops")
        if timed and not (v is None or _is_number(v)):
            return f"{k} is not a number or null"
    if not isinstance(p.get("simulated"), bool):
        return "simulated is not true or false"
    notes = p.get("notes")
    if not isinstance(notes, list) or not all(isinstance(n, str) for n in notes):
        return "notes is not a list of text"
    cost = p.get("cost")
    if cost is not None and not (isinstance(cost, dict) and isinstance(cost.get("budget", {}), dict)):
        return "cost is not an object"
    return None


def parse_point(text: Any) -> dict[str, Any]:
    """A stored point's JSON text as a dict; ValueError saying what is wrong with a damaged one."""
    p = _loads(text)
    problem = point_problem(p)
    if problem:
        raise ValueError(problem)
    return p


def _parse_cost(text: Any):
    from eqvbench.classical.cost import FLOPS_PER_MULTIPLY_ADD, CostResult

    d = _loads(text)
    if not isinstance(d, dict):
        raise ValueError("not a JSON object")
    try:
        c = CostResult(**d)
    except TypeError:
        raise ValueError("not the fields of a cost") from None
    if (
        not all(_is_number(getattr(c, k)) for k in _COST_NUMBERS)
        or not isinstance(c.budget, dict)
        or not isinstance(c.seconds_on, dict)
        or not all(_is_number(v) for v in c.seconds_on.values())
    ):
        raise ValueError("a cost field is not a number")
    if not math.isclose(c.cost_flops, FLOPS_PER_MULTIPLY_ADD * c.multiply_adds, rel_tol=1e-9):
        raise ValueError("cost_flops does not match multiply_adds")
    return c


def reuse_point(stored: dict[str, Any], values: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """A stored point for reuse by a point with resolved `values`: its swept `params` and, since
    the verdict reads `report.machine` (not part of the key), the verdict computed again."""
    from eqvbench.classical.cost import REFERENCE_MACHINES
    from eqvbench.classical.verdict import VERDICT_KEYS
    from eqvbench.pipeline import verdict

    point = {**stored, "params": params}
    if not values["cost"]["enabled"]:
        return point
    machines = {**REFERENCE_MACHINES, **values["cost"].get("machines", {})}
    from eqvbench.classical.methods import MethodResult

    methods = [MethodResult.from_json(m) for m in point.get("methods") or []]
    fid = point.get("f_eff") if point.get("simulated") and point.get("f_eff") is not None else point.get("f_model")
    # a sampling point carries its task fields (null where the task was not costed)
    fresh = verdict(
        values,
        methods,
        fid,
        point.get("region_delta"),
        machines,
        point.get("task_flops"),
        sampling="task_flops" in point,
    )
    items = [(k, v) for k, v in point.items() if k not in VERDICT_KEYS]
    # where run_point puts them: after the family's fields, before published figures and notes
    at = next(
        (n for n, (k, _) in enumerate(items) if k.startswith(("published_", "ratio_")) or k in ("notes", "timings_s")),
        len(items),
    )
    out = dict(items[:at] + list(fresh.items()) + items[at:])
    from eqvbench.output.fields import published_ratio

    if "break_even_model" in out:  # the break-even reads the device run and report.machine too
        from eqvbench.pipeline import break_even_fields, task_way

        out.update(
            break_even_fields(
                values,
                methods,
                out["break_even_model"],
                point.get("region_delta"),
                machines,
                point.get("task_flops"),
                task_way(point.get("sampling_task")),
                sampling="task_flops" in point,
            )
        )
    for k in VERDICT_KEYS:
        if f"published_{k}" in out:
            out[f"ratio_{k}"] = published_ratio(out.get(k), out[f"published_{k}"])
    return out


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
    except (sqlite3.DatabaseError, ValueError) as e:
        raise StoreError(path, f"cannot read the store ({e})") from None
    finally:
        con.close()
    names = ("id", "started_at", "finished_at", "eqvbench_version", "spec_file", "n_points", "n_reused", "n_finished")
    return [dict(zip(names, (str(x) if isinstance(x, bytes) else x for x in r))) for r in rows]


def load_results(path: Path | str, run: int | None = None) -> dict[str, Any]:
    """A result document (as `eqvbench run --json` prints) from a store or a JSON output file.

    From a store: the latest run (or run `run`), its finished points in sweep order. A damaged
    row is a StoreError naming the run and the point.
    """
    path = Path(path)
    if not path.exists():
        raise StoreError(path, "file not found")
    if is_empty_file(path):
        raise StoreError(path, "an empty file: no store and no result document (no run has stored a point there)")
    if not path.is_dir() and not is_sqlite(path):
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
            "SELECT rp.idx, rp.params_json, p.point_json FROM run_points rp JOIN points p ON p.key = rp.point_key "
            "WHERE rp.run_id = ? ORDER BY rp.idx",
            (run,),
        ).fetchall()
    except (sqlite3.DatabaseError, ValueError) as e:
        raise StoreError(path, f"cannot read the store ({e})") from None
    finally:
        con.close()
    try:
        doc = _loads(head[0])
        problem = _document_problem(doc, with_points=False)
        if problem is None and not _is_number(head[1]):
            problem = "n_points is not a number"
    except ValueError as e:
        problem = str(e)
    if problem:
        raise StoreError(path, f"run {run}: the run's record is damaged ({problem})")
    points = []
    for idx, params, text in rows:
        try:
            p = parse_point(text)
            p["params"] = _loads(params)
            if not isinstance(p["params"], dict):
                raise ValueError("params is not an object")
        except ValueError as e:
            raise StoreError(
                path, f"run {run}, point {idx}: the stored row is damaged ({e}); run the spec again to compute it anew"
            ) from None
        points.append(p)
    doc["points"] = points
    doc["store"] = {"path": str(path), "run": run, "n_points": head[1], "n_finished": len(points)}
    return doc


def _document_problem(doc: Any, with_points: bool = True) -> str | None:
    if not isinstance(doc, dict) or "eqvbench_version" not in doc:
        return "not an eqvbench result document"
    if not isinstance(doc.get("spec"), dict) or not isinstance(doc.get("spec_file"), str):
        return "spec or spec_file is missing"
    if "columns" in doc and not (
        isinstance(doc["columns"], list) and all(isinstance(c, list) and len(c) == 2 for c in doc["columns"])
    ):
        return "columns is not a list of [header, field] pairs"
    if with_points and not isinstance(doc.get("points"), list):
        return "points is not a list"
    return None


def _load_json_doc(path: Path) -> dict[str, Any]:
    from eqvbench.io import read_regular

    try:
        doc = _loads(read_regular(path, MAX_JSON_BYTES))
    except ValueError:
        raise StoreError(path, "neither an eqvbench store nor an eqvbench JSON document") from None
    except OSError as e:
        raise StoreError(path, f"cannot read ({e.strerror or e.__class__.__name__})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("points"), list) or "eqvbench_version" not in doc:
        raise StoreError(path, "a JSON file but not an eqvbench result document (`eqvbench run --json`)")
    problem = _document_problem(doc)
    if problem:
        raise StoreError(path, f"a damaged eqvbench result document ({problem})")
    for i, p in enumerate(doc["points"]):
        problem = point_problem(p)
        if problem:
            raise StoreError(path, f"points[{i}]: not a point as eqvbench writes it ({problem})")
    return doc
