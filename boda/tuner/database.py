"""The tuning database, as storage: every trial the tuner ran and the winners.

One SQLite file (through sqlite-utils) in WAL mode, with its schema version in a `meta`
table. Tables:
- devices:  full identity (backend, platform, vendor, name, driver, OpenCL C version or
            CUDA compute capability, compute units, memory sizes) under a key hashed from
            it, plus the `arch` and `vendor_key` the lookup chain falls back to;
- problems: the canonical signature with structured columns;
- trials:   one row per measured candidate (device, problem, dtype, family, template hash,
            params): status with cause, timings, GFLOP/s, boda version, time. A candidate is
            never stored twice, so a resumed session never measures it again;
- winners:  the chosen candidate per (device, problem, dtype).

Schema 2 added devices.compute_capability and took the free-memory-dependent global_mem out
of the device key. Schema 3 files a device under its vendor profile's architecture
(devices/profiles.py: "Adreno 640" where the driver names every Adreno "QUALCOMM
Adreno(TM)", "sm_90", "gfx1030"), not under its name. Schema 4 adds a CPU's vector register
file to its arch and vendor keys (db_keys.lookup_keys: AVX2 and AVX-512 tiles are not
interchangeable). Older files are migrated when opened,
and an import re-keys its devices the same way. Every write is one short transaction, so a
killed tuner loses at most the trial it was running, and concurrent tuners wait for each
other (busy timeout) instead of failing.

Reads: a device's trials and winners, and the winners at each lookup level
(`winners_for`: the exact device, the same architecture, the same vendor), which
kernels.selection walks to choose a kernel. The databases shipped in `tuning_db/` (JSON
exports) are loaded into memory, read-only, behind the user's (`open_databases`).
Device and problem keys are computed in db_keys.py.
"""
from __future__ import annotations

import datetime
import json
import os
import sqlite3
from pathlib import Path

import sqlite_utils

from ..errors import BodaError
from .db_keys import device_identity, device_key, lookup_keys, problem_row

SCHEMA_VERSION = 4
FORMAT = "boda-tuning-db"
LEVEL_COLUMNS = {"exact": "key", "arch": "arch", "vendor": "vendor_key"}  # winners_for


def shipped_dir() -> Path:
    """`tuning_db/` of a checkout (editable install), else the installed boda/shipped_tuning."""
    package = Path(__file__).resolve().parents[1]
    checkout = package.parent / "tuning_db"
    return checkout if (checkout / "README.md").is_file() else package / "shipped_tuning"


class DatabaseError(BodaError):
    """The tuning database cannot be used (corrupt, foreign, or newer than this boda)."""


def default_path() -> Path:
    if os.environ.get("BODA_DB"):
        return Path(os.environ["BODA_DB"])
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "boda" / "tuning.sqlite"


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


# -- the database -------------------------------------------------------------------------

TRIAL_KEY = ("device", "problem", "dtype", "family", "template_hash", "params")


class TuningDB:
    """One tuning database file, or (path None) an in-memory one."""

    def __init__(self, path=None):
        self.path = Path(path) if path is not None else None
        self.readonly = False  # set on the shipped databases, which are never written
        if self.path is None:
            conn = sqlite3.connect(":memory:", isolation_level=None)
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            try:
                conn = sqlite3.connect(self.path, timeout=60, isolation_level=None)
            except sqlite3.Error as exc:
                raise DatabaseError(f"cannot open tuning database {self.path}: {exc}") from None
        self.conn = conn  # isolation_level None: transactions are explicit (transaction())
        self.db = sqlite_utils.Database(conn)
        self._check_and_init()

    def _fail(self, why: str):
        self.conn.close()
        raise DatabaseError(f"{self.path}: {why}; it was left untouched "
                            "(give another file with --db or BODA_DB)")

    def _check_and_init(self):
        try:
            tables = {r[0] for r in self.conn.execute(
                "select name from sqlite_master where type='table'")}
        except sqlite3.DatabaseError as exc:
            self._fail(f"not a readable SQLite database ({exc})")
        if tables and "meta" not in tables:
            self._fail("an SQLite file that is not a boda tuning database")
        if "meta" in tables:
            meta = dict(self.conn.execute("select key, value from meta"))
            if meta.get("format") != FORMAT:
                self._fail("an SQLite file that is not a boda tuning database")
            version = int(meta.get("schema_version", 0))
            if version > SCHEMA_VERSION:
                self._fail(f"schema version {version} is newer than this boda understands "
                           f"({SCHEMA_VERSION}); upgrade boda")
            if version == SCHEMA_VERSION:
                self._quick_check()
                return
        if self.path is not None:
            self.conn.execute("pragma journal_mode=wal")
        with self.transaction():
            self._create()
            for row in list(self.db["devices"].rows):  # schema 1 -> 2: keys change
                if device_key(row) != row["key"]:
                    self._move_device(row["key"], device_key(row))
            for row in list(self.db["devices"].rows):  # to 3 and 4: the lookup keys
                self.db["devices"].update(row["key"], lookup_keys(row))

    def _move_device(self, old: str, new: str):
        """Re-key a device (within a transaction); rows that now coincide with ones already
        under the new key merge: a trial is kept once, the faster winner stays."""
        c = self.conn
        if c.execute("select 1 from devices where key = ?", [new]).fetchone():
            c.execute("delete from devices where key = ?", [old])
        else:
            c.execute("update devices set key = ? where key = ?", [new, old])
        c.execute("update or ignore trials set device = ? where device = ?", [new, old])
        c.execute("delete from trials where device = ?", [old])
        for row in list(self.db["winners"].rows_where("device = ?", [old])):
            mine = self.winner(new, row["problem"], row["dtype"])
            if mine is None or row["seconds"] < mine["seconds"]:
                self.db["winners"].upsert(dict(row, device=new),
                                          pk=("device", "problem", "dtype"))
        c.execute("delete from winners where device = ?", [old])

    def _quick_check(self):
        try:
            bad = self.conn.execute("pragma quick_check").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            bad = str(exc)
        if bad != "ok":
            self._fail(f"the database is corrupt ({bad})")

    def _create(self):
        db = self.db
        db["meta"].create({"key": str, "value": str}, pk="key", if_not_exists=True)
        db["meta"].upsert_all([{"key": "format", "value": FORMAT},
                               {"key": "schema_version", "value": str(SCHEMA_VERSION)}],
                              pk="key")
        db["devices"].create({
            "key": str, "arch": str, "vendor_key": str, "backend": str, "platform": str,
            "vendor": str, "name": str, "version": str, "driver_version": str,
            "opencl_c_version": str, "kind": str, "compute_units": int, "global_mem": int,
            "local_mem": int, "max_work_group_size": int, "vector_width": int,
            "compute_capability": str}, pk="key", if_not_exists=True)
        db["devices"].add_missing_columns([{"compute_capability": ""}])  # schema 1 -> 2
        db["problems"].create({"signature": str, "kind": str, "fields": str, "mflops": float},
                              pk="signature", if_not_exists=True)
        db["trials"].create({
            "id": int, "device": str, "problem": str, "dtype": str, "family": str,
            "template_hash": str, "params": str, "status": str, "cause": str,
            "seconds": float, "gflops": float, "error": float, "times": str,
            "boda_version": str, "created": str}, pk="id", if_not_exists=True)
        db["trials"].create_index(TRIAL_KEY, unique=True, if_not_exists=True)
        db["winners"].create({
            "device": str, "problem": str, "dtype": str, "family": str,
            "template_hash": str, "params": str, "seconds": float, "gflops": float,
            "default_seconds": float, "updated": str},
            pk=("device", "problem", "dtype"), if_not_exists=True)
        db["winners"].create_index(("problem", "dtype"), if_not_exists=True)

    def transaction(self):
        return _Transaction(self.conn)

    def close(self):
        self.conn.close()

    # -- writes ------------------------------------------------------------------------

    def add_device(self, device) -> str:
        ident = device_identity(device)
        with self.transaction():
            self.db["devices"].insert(ident, pk="key", ignore=True)
        return ident["key"]

    def add_problem(self, problem):
        with self.transaction():
            self.db["problems"].insert(problem_row(problem), pk="signature", ignore=True)

    def add_trial(self, row: dict) -> bool:
        """Record one trial (its TRIAL_KEY columns plus results); False if already there."""
        from ..version import __version__
        row = {"cause": "", "times": "[]", "boda_version": __version__, "created": _now(),
               **row}
        with self.transaction():
            return self._insert_trial(row)

    def _insert_trial(self, row: dict) -> bool:
        """INSERT OR IGNORE on the trial key: a trial already recorded is never duplicated."""
        row = {k: v for k, v in row.items() if k != "id"}
        cur = self.conn.execute(f"insert or ignore into trials ({', '.join(row)}) values "
                                f"({', '.join('?' * len(row))})", list(row.values()))
        return cur.rowcount == 1

    def set_winner(self, row: dict):
        with self.transaction():
            self.db["winners"].upsert({"updated": _now(), **row},
                                      pk=("device", "problem", "dtype"))

    # -- reads -------------------------------------------------------------------------

    def trials(self, device_key: str, signature: str, dtype: str = "float32") -> list[dict]:
        return list(self.db["trials"].rows_where(
            "device = ? and problem = ? and dtype = ?", [device_key, signature, dtype]))

    def winner(self, device_key, signature, dtype="float32"):
        rows = list(self.db["winners"].rows_where(
            "device = ? and problem = ? and dtype = ?", [device_key, signature, dtype]))
        return rows[0] if rows else None

    def winners_for(self, level: str, device, signature: str, dtype: str) -> list:
        """Winners for `signature` on devices sharing `device`'s key at `level` (exact, arch
        or vendor), fastest first."""
        column = LEVEL_COLUMNS[level]  # the device-row column, and its identity key
        return [dict(r) for r in self.db.query(
            f"select w.* from winners w join devices d on d.key = w.device "
            f"where d.{column} = ? and w.problem = ? and w.dtype = ? order by w.seconds",
            [device_identity(device)[column], signature, dtype])]

    def device_summary(self) -> list[dict]:
        """Every device with its trial, successful-trial and winner counts, by name."""
        return [dict(r) for r in self.db.query(
            "select d.*, (select count(*) from trials t where t.device = d.key) as trials, "
            "(select count(*) from trials t where t.device = d.key and t.status = 'ok') as ok, "
            "(select count(*) from winners w where w.device = d.key) as winners "
            "from devices d order by d.name")]

    def counts(self) -> dict:
        return {t: self.db[t].count for t in ("devices", "problems", "trials", "winners")}

    # -- export / import -----------------------------------------------------------------

    def export(self, trials: bool = True) -> dict:
        """The database as JSON-ready data. Without trials (what a machine that runs, but
        does not tune, needs), a group's winner is left out where one of its members has
        another winner here now: the lookup looks a group up by its members' winners, so
        it would never be served."""
        out = {"format": FORMAT, "schema_version": SCHEMA_VERSION}
        for table in ("devices", "problems", "winners"):
            out[table] = list(self.db[table].rows)
        out["trials"] = [{k: v for k, v in r.items() if k != "id"}
                         for r in self.db["trials"].rows_where(order_by="id")] if trials else []
        if not trials:
            from ..kernels.side_by_side import unserved_groups
            unserved = unserved_groups(out["winners"])
            out["winners"] = [w for w in out["winners"] if id(w) not in unserved]
            used = {w["problem"] for w in out["winners"]}
            gone = {w["problem"] for w in self.db["winners"].rows} - used
            out["problems"] = [p for p in out["problems"] if p["signature"] not in gone]
        return out

    def import_(self, data: dict) -> dict:
        """Merge an export: devices, problems and trials already present are skipped (a trial
        is the same when its TRIAL_KEY matches); a winner replaces ours only if faster.
        Returns how many rows of each kind were new."""
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise DatabaseError("not a boda tuning-database export")
        if int(data.get("schema_version", 0)) > SCHEMA_VERSION:
            raise DatabaseError("the export is from a newer boda; upgrade boda")
        try:
            return self._merge(data)
        except (KeyError, TypeError, AttributeError, ValueError, sqlite3.Error) as exc:
            raise DatabaseError(f"a malformed tuning-database export ({type(exc).__name__}: "
                                f"{exc}); nothing was imported") from None

    def _merge(self, data: dict) -> dict:
        rekey = {r["key"]: device_key(r) for r in data.get("devices", [])}
        devices = [dict(r, key=rekey[r["key"]], **lookup_keys(r))
                   for r in data.get("devices", [])]
        data = dict(data, devices=devices,
                    **{t: [dict(r, device=rekey.get(r["device"], r["device"]))
                           for r in data.get(t, [])] for t in ("trials", "winners")})
        added = {}
        with self.transaction():
            for table, pk in (("devices", "key"), ("problems", "signature")):
                before = self.db[table].count
                self.db[table].insert_all(data.get(table, []), pk=pk, ignore=True)
                added[table] = self.db[table].count - before
            added["trials"] = sum(self._insert_trial(row) for row in data.get("trials", []))
            added["winners"] = 0
            for row in data.get("winners", []):
                mine = self.winner(row["device"], row["problem"], row["dtype"])
                if mine is None or row["seconds"] < mine["seconds"]:
                    self.db["winners"].upsert(row, pk=("device", "problem", "dtype"))
                    added["winners"] += 1
        return added

    def prune(self, current_hash, failures: bool = False, stale_problems=None) -> dict:
        """Delete trials and winners made with a template that has since changed (or of a
        family boda no longer has); with `failures`, failed trials too, so they are retried.
        `current_hash(family, dtype)` gives the current template hash or None;
        `stale_problems` maps a family whose problems name other kernels (side_by_side:
        its members' template hashes) to `stale(problem, dtype) -> bool`."""
        removed = {"trials": 0, "winners": 0}
        with self.transaction():
            for table in removed:
                stale = [(r["family"], r["dtype"], r["template_hash"]) for r in self.db.query(
                    f"select distinct family, dtype, template_hash from {table}")
                    if current_hash(r["family"], r["dtype"]) != r["template_hash"]]
                for family, dtype, th in stale:
                    cur = self.conn.execute(
                        f"delete from {table} where family = ? and dtype = ? and "
                        "template_hash = ?", [family, dtype, th])
                    removed[table] += cur.rowcount
                for family, is_stale in (stale_problems or {}).items():
                    rows = {(r["problem"], r["dtype"]) for r in self.db.query(
                        f"select distinct problem, dtype from {table} where family = ?",
                        [family])}
                    for problem, dtype in rows:
                        if is_stale(problem, dtype):
                            removed[table] += self.conn.execute(
                                f"delete from {table} where family = ? and problem = ? and "
                                "dtype = ?", [family, problem, dtype]).rowcount
            if failures:
                removed["trials"] += self.conn.execute(
                    "delete from trials where status != 'ok'").rowcount
        self.conn.execute("vacuum")
        return removed


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on error): the write lock is taken at the start,
    so two writers queue on the busy timeout instead of deadlocking on an upgrade."""

    def __init__(self, conn):
        self.conn = conn
        self.depth = 0

    def __enter__(self):
        if not self.conn.in_transaction:
            self.conn.execute("begin immediate")
            self.depth = 1
        return self

    def __exit__(self, exc_type, exc, tb):
        if self.depth:
            self.conn.execute("rollback" if exc_type else "commit")
        return False


def read_export(path) -> dict:
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        raise DatabaseError(f"file not found: {path}") from None
    except (OSError, ValueError) as exc:
        raise DatabaseError(f"{path} is not a JSON tuning-database export: {exc}") from None


def load_export(path) -> TuningDB:
    """A JSON export as a read-only database in memory."""
    db = TuningDB(None)
    db.import_(read_export(path))
    db.path, db.readonly = Path(path), True
    return db


def shipped_databases() -> list[TuningDB]:
    """The read-only databases shipped in tuning_db/ (JSON exports), loaded into memory."""
    return [load_export(path) for path in sorted(shipped_dir().glob("*.json"))]


def open_databases(path=None, shipped: bool = True) -> list[TuningDB]:
    """The user's database (`path`, else $BODA_DB, else the per-user cache file; not
    created if missing) and, with `shipped`, the ones in tuning_db/ behind it."""
    path = Path(path) if path else default_path()
    dbs = [TuningDB(path)] if path.exists() else []
    return dbs + (shipped_databases() if shipped else [])
