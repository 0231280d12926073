"""`boda db`: list, show, export, import and prune the tuning database."""
from __future__ import annotations

import json

from ..errors import BodaError
from .commands import check_output_file, load_model_arg, select_device_arg
from .tables import params_text, table


def _open_db(args, create: bool = False):
    """The user's tuning database; reading commands do not create a missing one."""
    from pathlib import Path

    from ..tuner.database import TuningDB, default_path
    path = Path(args.db) if args.db else default_path()
    if not create and not path.exists():
        raise BodaError(f"no tuning database at {path} yet (boda tune makes one)")
    return TuningDB(path)


def cmd_list(args):
    from ..tuner.database import shipped_databases
    try:
        dbs = [_open_db(args)]
    except BodaError as exc:
        if "no tuning database" not in str(exc):
            raise
        print(str(exc))
        dbs = []
    for db in dbs + (shipped_databases() if args.shipped else []):
        print(f"{db.path}{' (shipped, read-only)' if db.readonly else ''}")
        rows = [(r["key"], r["name"], r["backend"], r["driver_version"], r["trials"],
                 r["ok"], r["winners"]) for r in db.device_summary()]
        print(table(rows, ["device key", "name", "backend", "driver", "trials", "ok",
                            "winners"]) if rows else "  (empty)")
    return 0


def cmd_show(args):
    from ..kernels.selection import Lookup
    from ..plan import plan_model
    from ..tuner.database import open_databases
    from ..tuner.tune import model_tasks
    device = select_device_arg(args)
    lookup = Lookup(open_databases(args.db))
    rows = []
    for task in model_tasks(plan_model(load_model_arg(args.model), args.batch)):
        family, params, level, source = lookup.choose(task.problem, device, task.consts)
        rows.append((task.label, task.problem.kind, family.name, params_text(params), level,
                     source if level != "default" else "-"))
    print(f"device: {device.name} ({device.family})")
    print(table(rows, ["layer", "kind", "family", "params", "level", "from"]))
    return 0


def cmd_export(args):
    check_output_file(args.file)
    db = _open_db(args)
    data = db.export(trials=not args.winners_only)
    with open(args.file, "w") as f:
        json.dump(data, f, indent=1)
    print(f"wrote {args.file}: {len(data['devices'])} devices, {len(data['trials'])} trials, "
          f"{len(data['winners'])} winners")
    return 0


def cmd_import(args):
    from ..tuner.database import read_export
    data = read_export(args.file)
    db = _open_db(args, create=True)
    added = db.import_(data)
    print(f"merged {args.file} into {db.path}: " +
          ", ".join(f"{n} new {k}" for k, n in added.items()))
    return 0


def cmd_prune(args):
    from .. import kernels
    from ..kernels import side_by_side
    from ..kernels.templating import template_hash
    db = _open_db(args)

    def current(name, dtype):
        if name == side_by_side.FAMILY:
            return side_by_side.VERSION
        family = kernels.BY_NAME.get(name)
        return template_hash(family.template, dtype) if family else None

    def group_stale(signature, dtype):  # a member's template changed since
        return any(current(name, dtype) != th
                   for name, th in side_by_side.SideBySide.templates_of(signature))
    removed = db.prune(current, args.failures, {side_by_side.FAMILY: group_stale})
    print(f"pruned {db.path}: " + ", ".join(f"{n} {k}" for k, n in removed.items()))
    return 0
