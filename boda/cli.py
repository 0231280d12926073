"""The `boda` command: argument parsing and printing only; the work lives in the modules."""
from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

from .errors import BodaError

EPILOG = """examples:
  boda zoo squeezenet1_1 -o squeezenet1_1.onnx
  boda run --model squeezenet1_1.onnx
  boda tune --model squeezenet1_1.onnx --budget 300
  boda run --model squeezenet1_1.onnx --explain
  boda bench --model squeezenet1_1.onnx --against onnxruntime --out bench/
  boda ops --model squeezenet1_1.onnx
  boda db list
  boda devices
  boda agent --token T            (on a phone or board; then, on the workstation:)
  boda tune --model squeezenet1_1.onnx --device adreno --remote PHONE:7070 --token T
"""
DB_HELP = ("tuning database (default: $BODA_DB, else ~/.cache/boda/tuning.sqlite); the "
           "databases shipped in tuning_db/ back it up")
UNTUNED_HELP = "ignore the tuning databases: use every family's default"
DEVICE_HELP = ("index, opencl:N, cuda:N, family (cpu, nvidia, amd, adreno, mali, intel, powervr; "
               "nvidia prefers CUDA) or part of a device name; default: first GPU (CUDA "
               "first), else the CPU")


def _remote_options(parser):
    parser.add_argument("--remote", metavar="HOST:PORT",
                        help="use a device served by `boda agent` on another machine (the "
                             "tuning database stays here)")
    parser.add_argument("--token", help="the agent's token (default: $BODA_AGENT_TOKEN)")


def _dtype_option(parser):
    parser.add_argument("--dtype", choices=["float32", "float16"], default="float32",
                        help="storage type of tensors on the device (default float32); "
                             "float16 needs half precision (cl_khr_fp16, or CUDA) and keeps "
                             "float32 arithmetic; tuned separately")


def main(argv=None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return args.func(args) or 0
    except BodaError as exc:
        print(f"boda: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("boda: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into e.g. head, which has exited
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except Exception as exc:  # a bug in boda: one line unless asked for the traceback
        if os.environ.get("BODA_DEBUG"):
            raise
        print(f"boda: internal error: {type(exc).__name__}: {exc} "
              "(set BODA_DEBUG=1 for the traceback)", file=sys.stderr)
        return 3


def _parser():
    p = argparse.ArgumentParser(
        prog="boda", epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Compile ONNX CNNs into generated OpenCL and CUDA kernels, tune them, and "
                    "run them.")
    from . import __version__
    p.add_argument("--version", action="version", version=f"boda {__version__}")
    sub = p.add_subparsers(title="commands", metavar="COMMAND")

    d = sub.add_parser("devices", help="list the devices that can run kernels")
    d.add_argument("--json", action="store_true", help="print JSON instead of a table")
    _remote_options(d)
    d.set_defaults(func=cmd_devices)

    o = sub.add_parser("ops", help="list a model's per-layer problems (no device needed)")
    o.add_argument("--model", required=True, help="ONNX file")
    o.add_argument("--batch", type=int, help="set the batch dimension of every input")
    o.add_argument("--json", action="store_true", help="print JSON instead of a table")
    o.set_defaults(func=cmd_ops)

    z = sub.add_parser("zoo", help="write a built-in model (seeded weights) as an ONNX file")
    z.add_argument("name", nargs="?", help="model name (see --list)")
    z.add_argument("-o", "--output", help="ONNX file to write (default NAME.onnx)")
    z.add_argument("--batch", type=int, default=1, help="batch size (default 1)")
    z.add_argument("--seed", type=int, default=0, help="weight seed (default 0)")
    z.add_argument("--list", action="store_true", help="list the models")
    z.set_defaults(func=cmd_zoo)

    r = sub.add_parser("run", help="run a model on a device",
                       description="Run a model. With no --input, a seeded random input is "
                                   "used. Prints the top-5 classes when the output looks like "
                                   "class scores.")
    r.add_argument("--model", required=True, help="ONNX file")
    r.add_argument("--input", help=".npy array, or an image file (resized and normalized "
                                   "as ImageNet models expect)")
    r.add_argument("--output", help="write the output to this .npy (or all outputs to .npz)")
    r.add_argument("--device", help=DEVICE_HELP)
    _remote_options(r)
    _dtype_option(r)
    r.add_argument("--batch", type=int, help="set the batch dimension of the input")
    r.add_argument("--seed", type=int, default=0, help="seed of the random input (default 0)")
    r.add_argument("--repeat", type=int, default=1,
                   help="timed runs after the first run (which also generates the kernels' "
                        "machine code); reports their median (default 1)")
    r.add_argument("--explain", action="store_true",
                   help="say, per layer, which kernel ran and which tuning-database level "
                        "chose it (exact device, same arch, same vendor, or default)")
    r.add_argument("--db", help=DB_HELP)
    r.add_argument("--untuned", action="store_true", help=UNTUNED_HELP)
    r.set_defaults(func=cmd_run)

    t = sub.add_parser(
        "tune", help="autotune a model's kernels for a device into the tuning database",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Search the kernel families' parameter spaces for every distinct layer "
                    "problem of a model, verifying each candidate against the numpy "
                    "reference and timing it, and record every trial and the winners. "
                    "Ctrl-C stops cleanly; running the same command again resumes and never "
                    "measures a recorded candidate twice.",
        epilog="strategies: exhaustive (every point), random, guided (evolutionary local "
               "search), auto (exhaustive where the space fits the budget, else guided)")
    t.add_argument("--model", required=True, help="ONNX file")
    t.add_argument("--device", help="as for run")
    _remote_options(t)
    _dtype_option(t)
    t.add_argument("--budget", type=float, default=480.0,
                   help="seconds for the whole model, shared out by each layer's share of "
                        "the time (default 480)")
    t.add_argument("--db", help=DB_HELP)
    t.add_argument("--strategy", default="auto",
                   choices=["auto", "exhaustive", "random", "guided"])
    t.add_argument("--batch", type=int, help="set the batch dimension of the input")
    t.add_argument("--retune", action="store_true",
                   help="search layers that already have a winner too (recorded candidates "
                        "are still not measured again)")
    t.add_argument("--workers", type=int, default=max(2, min(os.cpu_count() or 2, 8)),
                   help="processes compiling and verifying candidates (default: CPUs)")
    t.add_argument("--seed", type=int, default=0, help="search and input seed (default 0)")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.set_defaults(func=cmd_tune)

    b = sub.add_parser(
        "bench", help="compare boda with cuDNN / onnxruntime, per conv layer and for the "
                      "whole network",
        description="Time every conv layer of a model with boda's kernel (the tuning "
                    "database's winner, else the default) and with each reference on the same "
                    "layer, then the whole network on every engine, measured in turns in one "
                    "run. Prints a markdown report; --out also writes JSON and a PNG chart.")
    b.add_argument("--model", required=True, help="ONNX file")
    b.add_argument("--device", help="as for run")
    _remote_options(b)
    b.add_argument("--against", help="comma-separated references: cudnn (through PyTorch), "
                                     "onnxruntime (default: cudnn on NVIDIA devices, and "
                                     "onnxruntime)")
    b.add_argument("--batch", type=int, help="set the batch dimension of the input")
    b.add_argument("--repeat", type=int, default=50,
                   help="timed runs per layer and per engine; medians are reported "
                        "(default 50)")
    b.add_argument("--json", help="write the report as JSON to this file")
    b.add_argument("--out", help="folder for MODEL-bBATCH-FAMILY.md, .json and .png (e.g. "
                                  "squeezenet1_1-b1-cpu.md)")
    b.add_argument("--db", help=DB_HELP)
    b.add_argument("--untuned", action="store_true", help=UNTUNED_HELP)
    b.set_defaults(func=cmd_bench)

    a = sub.add_parser(
        "agent", help="serve this machine's OpenCL devices to boda on another machine",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Run on the device to tune (a phone, a board): it compiles, launches and "
                    "times the kernels a workstation sends (boda tune/run/bench --remote "
                    "HOST:PORT --token T) and nothing else. It needs only numpy and pyopencl "
                    "besides boda. It listens on 127.0.0.1 unless --host says otherwise, and "
                    "refuses any connection without the token.",
        epilog="example, a phone reached through adb:\n"
               "  phone$ boda agent --token s3cret --port 7070\n"
               "  pc$    adb forward tcp:7070 tcp:7070\n"
               "  pc$    boda tune --model squeezenet1_1.onnx --device adreno "
               "--remote 127.0.0.1:7070 --token s3cret")
    a.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only; 0.0.0.0 "
                        "for every interface)")
    a.add_argument("--port", type=int, default=7070, help="TCP port (default 7070; 0: any)")
    a.add_argument("--token", help="the secret clients must give (default: "
                                   "$BODA_AGENT_TOKEN, else a random one, printed)")
    a.add_argument("--device", help="serve only this device (as for run; default: every "
                                    "OpenCL device)")
    a.add_argument("--max-message-mb", type=float, default=256,
                   help="largest transfer accepted, in MiB (default 256)")
    a.add_argument("--idle-timeout", type=float, default=600,
                   help="seconds a client may stay silent before it is disconnected "
                        "(default 600)")
    a.set_defaults(func=cmd_agent)

    db = sub.add_parser("db", help="inspect, export, import or prune the tuning database")
    dsub = db.add_subparsers(title="actions", metavar="ACTION")
    x = dsub.add_parser("list", help="the devices in the database, with trial counts")
    x.add_argument("--shipped", action="store_true", help="list the shipped databases too")
    x.set_defaults(func=cmd_db_list)
    x = dsub.add_parser("show", help="what the runtime would use for each layer of a model")
    x.add_argument("--model", required=True, help="ONNX file")
    x.add_argument("--device", help="as for run")
    _remote_options(x)
    x.add_argument("--batch", type=int, help="set the batch dimension of the input")
    x.set_defaults(func=cmd_db_show)
    x = dsub.add_parser("export", help="write the database as JSON (to move results "
                                       "between machines)")
    x.add_argument("file", help="JSON file to write")
    x.add_argument("--winners-only", action="store_true",
                   help="only the winners (with their devices and problems): what a machine "
                        "that runs, but does not tune, needs")
    x.set_defaults(func=cmd_db_export)
    x = dsub.add_parser("import", help="merge a JSON export; nothing is duplicated, and a "
                                       "winner is replaced only by a faster one")
    x.add_argument("file", help="JSON file to read")
    x.set_defaults(func=cmd_db_import)
    x = dsub.add_parser("prune", help="delete trials and winners of templates that have "
                                      "changed since")
    x.add_argument("--failures", action="store_true",
                   help="delete failed trials too, so tuning tries them again")
    x.set_defaults(func=cmd_db_prune)
    for x in dsub.choices.values():
        x.add_argument("--db", help=DB_HELP)
    db.set_defaults(func=lambda args: db.print_help() or 2)
    return p


def _table(rows, columns):
    widths = [max(len(c), *(len(str(r[i])) for r in rows)) if rows else len(c)
              for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths))]
    lines.append("  ".join("-" * w for w in widths))
    for r in rows:
        lines.append("  ".join(str(v).ljust(w) for v, w in zip(r, widths)))
    return "\n".join(lines)


def _select(args):
    """The --device (on the agent at --remote, when given)."""
    from .devices import select_device
    if not getattr(args, "remote", None):
        return select_device(args.device)
    from .remote import remote_devices
    return select_device(args.device, remote_devices(args.remote, args.token),
                         remote=args.remote)


def cmd_agent(args):
    import secrets

    from .remote import TOKEN_ENV
    from .remote.agent import serve
    if not 0 <= args.port < 65536:
        raise BodaError("--port must be between 0 and 65535")
    if args.max_message_mb <= 0 or args.idle_timeout <= 0:
        raise BodaError("--max-message-mb and --idle-timeout must be positive")
    token = args.token or os.environ.get(TOKEN_ENV)
    if not token:
        token = secrets.token_urlsafe(16)
        print(f"boda agent: token {token} (give it to clients with --token)", file=sys.stderr,
              flush=True)
    try:
        serve(args.host, args.port, token, args.device,
              max_payload=int(args.max_message_mb * 2**20), idle_timeout=args.idle_timeout)
    except KeyboardInterrupt:
        print("boda agent: stopped", file=sys.stderr)
    return 0


def cmd_devices(args):
    from .devices import default_device, list_devices
    if args.remote:
        from .remote import remote_devices
        devs = remote_devices(args.remote, args.token)
    else:
        devs = list_devices()
    if args.json:
        import dataclasses
        print(json.dumps([{k: v for k, v in vars(d).items() if k != "handle"} | {
            "family": d.family, "profile": dataclasses.asdict(d.profile)} for d in devs],
            indent=2))
        return 0
    if not devs:
        raise BodaError("no OpenCL or CUDA device found "
                        "(is pocl-binary-distribution installed?)")
    try:
        chosen = default_device(devs, args.remote or "").index
    except BodaError:
        chosen = None
    rows = [("*" if d.index == chosen else "", d.index, d.spec, d.family, d.profile.arch,
             d.name, d.vendor, d.platform, d.version, d.compute_units,
             f"{d.global_mem / 2**30:.1f} GiB") for d in devs]
    print(_table(rows, ["default", "index", "device", "family", "arch", "name", "vendor",
                        "platform", "version", "CUs", "memory"]))
    if chosen is None:
        print("\nno default device: only a simulator; name it with --device")
    return 0


def cmd_ops(args):
    from .layers import layer_rows, totals
    rows = layer_rows(args.model, args.batch)
    tot = totals(rows)
    if args.json:
        print(json.dumps({"layers": rows, "totals": tot}, indent=2))
        return 0
    print(_table([(r["layer"], r["kind"], r["signature"], "x".join(map(str, r["output_shape"])),
                   f"{r['mflops']:.1f}", r["shared_by"]) for r in rows],
                 ["layer", "kind", "signature", "output", "MFLOPs", "shared"]))
    print(f"\n{tot['layers']} layers, {tot['distinct_problems']} distinct problems, "
          f"{tot['mflops']:.1f} MFLOPs")
    return 0


def cmd_zoo(args):
    from . import zoo
    if args.list or not args.name:
        for name, (_, desc) in zoo.MODELS.items():
            print(f"{name:15s} {desc}")
        return 0
    if args.batch < 1:
        raise BodaError("--batch must be at least 1")
    import onnx
    model = zoo.build(args.name, batch=args.batch, seed=args.seed)
    out = args.output or f"{args.name}.onnx"
    onnx.save(model, out)
    print(f"wrote {out} ({args.name}, batch {args.batch}, seed {args.seed})")
    return 0


def cmd_run(args):
    import time

    from .image import load_image
    from .layers import batch_shapes
    from .session import Session
    model = _load(args.model)  # parsed once; the Session takes the ModelProto
    sess = Session(model, _select(args), batch_shapes(model, args.batch) if args.batch else None,
                   db=False if args.untuned else args.db, dtype=args.dtype)
    inputs = sess.get_inputs()
    feeds = {}
    for k, (name, shape, dtype) in enumerate(inputs):
        if any(d is None for d in shape):
            raise BodaError(f"input {name!r} has symbolic shape {shape}; give --batch")
        if args.input and k == 0:
            feeds[name] = _read_input(args.input, shape, load_image)
        else:
            rng = np.random.default_rng(args.seed + k)
            feeds[name] = rng.standard_normal(shape).astype(np.float32)
    t0 = time.perf_counter()
    outputs = sess.run(None, feeds)
    first = time.perf_counter() - t0
    times = []
    for _ in range(max(1, args.repeat)):
        t0 = time.perf_counter()
        outputs = sess.run(None, feeds)
        times.append(time.perf_counter() - t0)
    names = sess.get_outputs()
    d = sess.device
    print(f"device: {d.name} ({d.family}, {d.platform})")
    print(f"time: {np.median(times) * 1e3:.2f} ms (median of {len(times)}; the first run "
          f"took {first * 1e3:.0f} ms)")
    if args.explain:
        _print_explain(sess.engine.layers)
    for name, out in zip(names, outputs):
        print(f"output {name}: shape {out.shape}, min {out.min():.4g}, max {out.max():.4g}")
        _print_top5(out)
    if args.output:
        if args.output.endswith(".npz"):
            np.savez(args.output, **dict(zip(names, outputs)))
        else:
            np.save(args.output, outputs[0])
        print(f"wrote {args.output}")
    return 0


def _print_explain(layers):
    from collections import Counter
    rows = [(l.step.name, l.step.problem.kind, l.family, _params(l.params), l.level)
            for l in layers]
    print(_table(rows, ["layer", "kind", "family", "params", "chosen by"]))
    levels = Counter(l.level for l in layers)
    print("chosen by: " + ", ".join(f"{n} {lv}" for lv, n in levels.items()) +
          " (exact: tuned on this device; arch: on the same model of device; vendor: on "
          "another device of its vendor; default: the family heuristic)")


def _params(params: dict) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(params.items()))


def _ms(seconds) -> str:
    return "-" if seconds is None or seconds != seconds else f"{seconds * 1e3:.4g}"


def cmd_tune(args):
    import math
    import time

    from tqdm import tqdm

    from .layers import plan_model
    from .profiles import require_dtype
    from .tuner.tune import Tuner, model_tasks, tune_tasks
    from .tuning_db import TuningDB, default_path
    if args.budget <= 0:
        raise BodaError("--budget must be positive")
    if args.batch is not None and args.batch < 1:
        raise BodaError("--batch must be at least 1")
    if args.workers < 1:
        raise BodaError("--workers must be at least 1")
    model = _load(args.model)
    device = _select(args)
    require_dtype(device, args.dtype)
    db = TuningDB(args.db or default_path())
    tasks = model_tasks(plan_model(model, args.batch))
    half = " (float16 storage)" if args.dtype == "float16" else ""
    print(f"tuning {len(tasks)} distinct problems of {args.model} on {device.name} "
          f"({device.family}){half} for up to {args.budget:.0f} s; database {db.path}",
          flush=True)
    bar = tqdm(total=round(args.budget), unit="s", disable=args.quiet, file=sys.stderr,
               bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f} s{postfix}")
    t0 = time.perf_counter()
    index = {id(t): k for k, t in enumerate(tasks)}

    def progress(task, best, measured, default):
        bar.n = min(time.perf_counter() - t0, args.budget)
        best_text = f"{best * 1e3:.3f} ms" if math.isfinite(best) else "-"
        bar.set_postfix_str(f"[{index[id(task)] + 1}/{len(tasks)}] {task.problem.kind} "
                            f"{task.layers[0]}: {measured} measured, best {best_text}")
    tuner = Tuner(device, db, args.strategy, args.seed, workers=args.workers,
                  progress=None if args.quiet else progress, dtype=args.dtype)
    try:
        outcomes = tune_tasks(tuner, tasks, args.budget, args.retune)
    except KeyboardInterrupt:
        bar.close()
        print(f"boda: interrupted; every finished trial is saved in {db.path}. Run the same "
              "command again to resume.", file=sys.stderr)
        return 130
    finally:
        tuner.close()
    bar.close()
    _print_tune_report(outcomes, time.perf_counter() - t0)
    return 0


def _print_tune_report(outcomes, seconds):
    rows, before, after = [], 0.0, 0.0
    for o in outcomes:
        timed = o.after == o.after and o.before == o.before  # neither is NaN
        speedup = o.before / o.after if timed else None
        rows.append((o.task.label, o.task.problem.kind, o.family, _params(o.params),
                     _ms(o.before), _ms(o.after), f"{speedup:.2f}x" if speedup else "-",
                     "db" if o.skipped else f"{o.measured}+{o.recorded}" if o.reached
                     else "not reached"))
        if timed:
            before += len(o.task.layers) * o.before
            after += len(o.task.layers) * o.after
    print(_table(rows, ["layer", "kind", "family", "params", "before ms", "after ms",
                        "speedup", "trials"]))
    print(f"model (sum of the tuned layers' kernel times): {_ms(before)} ms untuned -> "
          f"{_ms(after)} ms "
          f"tuned ({before / after if after else float('nan'):.2f}x), tuned in {seconds:.0f} s. "
          "trials: measured now + found recorded; db: a winner was recorded (--retune "
          "searches again)")
    unreached = sum(not o.reached for o in outcomes)
    if unreached:
        print(f"{unreached} problems were not reached within the budget; run the same command "
              "again to tune them, or give a larger --budget")


def _open_db(args, create: bool = False):
    """The user's tuning database; reading commands do not create a missing one."""
    from pathlib import Path

    from .tuning_db import TuningDB, default_path
    path = Path(args.db) if args.db else default_path()
    if not create and not path.exists():
        raise BodaError(f"no tuning database at {path} yet (boda tune makes one)")
    return TuningDB(path)


def cmd_db_list(args):
    from .tuning_db import shipped_databases
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
                 r["ok"], r["winners"]) for r in db.db.query(
            "select d.*, (select count(*) from trials t where t.device = d.key) as trials, "
            "(select count(*) from trials t where t.device = d.key and t.status = 'ok') as ok, "
            "(select count(*) from winners w where w.device = d.key) as winners "
            "from devices d order by d.name")]
        print(_table(rows, ["device key", "name", "backend", "driver", "trials", "ok",
                            "winners"]) if rows else "  (empty)")
    return 0


def cmd_db_show(args):
    from .layers import plan_model
    from .tuner.tune import model_tasks
    from .tuning_db import Lookup
    device = _select(args)
    lookup = Lookup.open(args.db)
    rows = []
    for task in model_tasks(plan_model(_load(args.model), args.batch)):
        family, params, level, source = lookup.choose(task.problem, device, task.consts)
        rows.append((task.label, task.problem.kind, family.name, _params(params), level,
                     source if level != "default" else "-"))
    print(f"device: {device.name} ({device.family})")
    print(_table(rows, ["layer", "kind", "family", "params", "level", "from"]))
    return 0


def cmd_db_export(args):
    db = _open_db(args)
    data = db.export(trials=not args.winners_only)
    with open(args.file, "w") as f:
        json.dump(data, f, indent=1)
    print(f"wrote {args.file}: {len(data['devices'])} devices, {len(data['trials'])} trials, "
          f"{len(data['winners'])} winners")
    return 0


def cmd_db_import(args):
    from .tuning_db import read_export
    data = read_export(args.file)
    db = _open_db(args, create=True)
    added = db.import_(data)
    print(f"merged {args.file} into {db.path}: " +
          ", ".join(f"{n} new {k}" for k, n in added.items()))
    return 0


def cmd_db_prune(args):
    from . import kernels
    from .kernels.templating import template_hash
    db = _open_db(args)

    def current(name, dtype):
        family = kernels.BY_NAME.get(name)
        return template_hash(family.template, dtype) if family else None
    removed = db.prune(current, args.failures)
    print(f"pruned {db.path}: " + ", ".join(f"{n} {k}" for k, n in removed.items()))
    return 0


def cmd_bench(args):
    from pathlib import Path

    from .bench import default_against, run_bench
    from .bench.report import markdown, write_json, write_png
    if args.batch is not None and args.batch < 1:
        raise BodaError("--batch must be at least 1")
    if args.repeat < 1:
        raise BodaError("--repeat must be at least 1")
    device = _select(args)
    against = ([a.strip() for a in args.against.split(",") if a.strip()]
               if args.against is not None else default_against(device))
    # refuse an unwritable --out / --json now, not after minutes of measuring
    for folder in ([Path(args.out)] if args.out else []) + (
            [Path(args.json).parent] if args.json else []):
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BodaError(f"cannot create {folder}: {exc.strerror}") from None
        if not os.access(folder, os.W_OK):
            raise BodaError(f"cannot write into {folder}")
    report = run_bench(args.model, device, against, args.batch, args.repeat,
                       db=False if args.untuned else args.db,
                       progress=lambda m: print(f"boda bench: {m}", file=sys.stderr,
                                                flush=True))
    command = "boda " + " ".join(sys.argv[1:]) if sys.argv[0].endswith("boda") else ""
    text = markdown(report, command)
    print(text, end="")
    if args.json:
        write_json(report, args.json, command)
    if args.out:
        out = Path(args.out)
        stem = f"{Path(args.model).stem}-b{report['batch']}-{device.family}"
        (out / f"{stem}.md").write_text(text)
        write_json(report, out / f"{stem}.json", command)
        png = write_png(report, out / f"{stem}.png")
        print(f"boda bench: wrote {out / stem}.md, .json"
              + (" and .png" if png else " (no PNG chart: matplotlib is not installed)"),
              file=sys.stderr)
    return 0


def _load(path):
    from .onnx_import import load_model
    return load_model(path)


def _read_input(path, shape, load_image):
    if not os.path.isfile(path):
        raise BodaError(f"input file not found: {path}")
    if path.endswith(".npy"):
        try:
            return np.load(path, allow_pickle=False)
        except Exception as exc:
            raise BodaError(f"cannot read {path} as a .npy array: {exc}") from None
    return load_image(path, shape)


def _print_top5(out):
    scores = out.reshape(out.shape[0], -1) if out.ndim >= 2 else None
    if scores is None or scores.shape[1] < 10 or out.ndim > 2 and np.prod(out.shape[2:]) != 1:
        return
    for b, row in enumerate(scores[:4]):
        top = np.argsort(-row)[:5]
        print(f"top-5 [{b}]: " + ", ".join(f"{i} ({row[i]:.4f})" for i in top))


if __name__ == "__main__":
    sys.exit(main())
