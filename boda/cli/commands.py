"""The commands other than `boda db`: each checks its arguments, calls the stage that does the
work, and prints the result."""
from __future__ import annotations

import json
import os
import sys

import numpy as np

from ..errors import BodaError
from .tables import ms, params_text, table


def select_device_arg(args):
    """The --device (on the agent at --remote, when given)."""
    from ..devices import select_device
    if not getattr(args, "remote", None):
        return select_device(args.device)
    from ..remote import remote_devices
    return select_device(args.device, remote_devices(args.remote, args.token),
                         remote=args.remote)


def check_output_file(path: str, suffixes: tuple = (), what: str = ""):
    """Refuse, before any work, an output file in a missing folder or (with `suffixes`)
    with the wrong suffix."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise BodaError(f"cannot write {path}: the folder {folder} does not exist")
    if suffixes and not path.endswith(suffixes):
        raise BodaError(f"{path}: give a file ending in {' or '.join(suffixes)} ({what})")


def load_model_arg(path):
    from ..frontend.onnx_file import load_model
    return load_model(path)


def cmd_agent(args):
    import secrets

    from ..remote import TOKEN_ENV
    from ..remote.agent import serve
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
    from ..devices import default_device, list_devices
    if args.remote:
        from ..remote import remote_devices
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
    print(table(rows, ["default", "index", "device", "family", "arch", "name", "vendor",
                        "platform", "version", "CUs", "memory"]))
    if chosen is None:
        print("\nno default device: only a simulator; name it with --device")
    return 0


def cmd_ops(args):
    from ..plan.layer_table import layer_rows, totals
    rows = layer_rows(args.model, args.batch)
    tot = totals(rows)
    if args.json:
        print(json.dumps({"layers": rows, "totals": tot}, indent=2))
        return 0
    print(table([(r["layer"], r["kind"], r["signature"], "x".join(map(str, r["output_shape"])),
                   f"{r['mflops']:.1f}", r["shared_by"]) for r in rows],
                 ["layer", "kind", "signature", "output", "MFLOPs", "shared"]))
    print(f"\n{tot['layers']} layers, {tot['distinct_problems']} distinct problems, "
          f"{tot['mflops']:.1f} MFLOPs")
    return 0


def cmd_zoo(args):
    from ..frontend import zoo
    if args.list or not args.name:
        for name, (_, desc) in zoo.MODELS.items():
            print(f"{name:15s} {desc}")
        return 0
    import onnx
    model = zoo.build(args.name, batch=args.batch, seed=args.seed)
    out = args.output or f"{args.name}.onnx"
    onnx.save(model, out)
    print(f"wrote {out} ({args.name}, batch {args.batch}, seed {args.seed})")
    return 0


def cmd_run(args):
    import time

    from ..frontend.image import load_image
    from ..frontend.onnx_file import batch_shapes
    from ..session import Session
    if args.output:
        check_output_file(args.output, (".npy", ".npz"),
                          "one output as .npy, or every output as .npz")
    model = load_model_arg(args.model)  # parsed once; the Session takes the ModelProto
    sess = Session(model, select_device_arg(args),
                   batch_shapes(model, args.batch) if args.batch else None,
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
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        outputs = sess.run(None, feeds)
        times.append(time.perf_counter() - t0)
    names = [o.name for o in sess.get_outputs()]
    d = sess.device
    print(f"device: {d.name} ({d.family}, {d.platform})")
    print(f"time: {np.median(times) * 1e3:.2f} ms (median of {len(times)}; the first run "
          f"took {first * 1e3:.0f} ms)")
    if args.explain:
        _print_explain(sess.engine)
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


def _read_input(path, shape, load_image):
    if not os.path.isfile(path):
        raise BodaError(f"input file not found: {path}")
    if path.endswith(".npy"):
        try:
            return np.load(path, allow_pickle=False)
        except Exception as exc:
            raise BodaError(f"cannot read {path} as a .npy array: {exc}") from None
    return load_image(path, shape)


def _print_explain(engine):
    from collections import Counter

    from ..kernels.selection import LEVELS, MEANING
    layers = engine.layers
    launch = {}
    for unit in engine.units:
        for k in unit.layers:
            others = [layers[j].step.name for j in unit.layers if j != k]
            launch[k] = (f"beside {'+'.join(others)} ({unit.level})" if others else "alone")
    rows = [(x.step.name, x.step.problem.kind, x.family, params_text(x.params), x.level,
             launch[k]) for k, x in enumerate(layers)]
    print(table(rows, ["layer", "kind", "family", "params", "chosen by", "launch"]))
    together = sum(len(u.layers) > 1 for u in engine.units)
    if together:
        print(f"{len(engine.units)} launches for {len(layers)} layers: {together} groups of "
              "independent layers side by side in one launch each (beside: chosen by the "
              "level named, as a kernel is)")
    levels = Counter(x.level for x in layers)
    named = [*LEVELS, "default"] + (["fallback"] if "fallback" in levels else [])
    print("chosen by: " + ", ".join(f"{n} {lv}" for lv, n in levels.items()) + " ("
          + "; ".join(f"{lv}: {MEANING[lv]}" for lv in named) + ")")


def _print_top5(out):
    scores = out.reshape(out.shape[0], -1) if out.ndim >= 2 else None
    if scores is None or scores.shape[1] < 10 or out.ndim > 2 and np.prod(out.shape[2:]) != 1:
        return
    for b, row in enumerate(scores[:4]):
        top = np.argsort(-row)[:5]
        print(f"top-5 [{b}]: " + ", ".join(f"{i} ({row[i]:.4f})" for i in top))


def cmd_tune(args):
    import math
    import time

    from tqdm import tqdm

    from ..devices import require_dtype
    from ..kernels.selection import Lookup
    from ..plan import plan_model
    from ..tuner.database import TuningDB, default_path, shipped_databases
    from ..tuner.tune import Tuner, model_tasks, tune_tasks
    if args.budget <= 0:
        raise BodaError("--budget must be positive")
    model = load_model_arg(args.model)
    device = select_device_arg(args)
    require_dtype(device, args.dtype)
    db = TuningDB(args.db or default_path())
    plan = plan_model(model, args.batch)
    tasks = model_tasks(plan)
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
    # what the lookup reads, the user's database first: loaded once for the search's
    # "before", the in-run check and the side-by-side race
    databases = [db, *shipped_databases()]
    tuner = Tuner(device, db, args.strategy, args.seed, workers=args.workers,
                  progress=None if args.quiet else progress, dtype=args.dtype,
                  lookup=Lookup(databases))
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
    _check_in_runs(plan, device, db, tuner.device_key, outcomes, databases, args.dtype)
    _race_side_by_side(plan, device, db, tuner.device_key, databases, args.dtype)
    return 0


def _check_in_runs(plan, device, db, device_key, outcomes, databases, dtype):
    """After the layers: each new winner against what ran before it and the best of other
    families, inside whole runs (tuner/in_run.py); print the outcome."""
    from ..tuner import in_run
    from ..tuner.tune import ALTERNATIVE_WITHIN
    verdicts = in_run.check(plan, device, db, device_key, outcomes, databases, dtype,
                            progress=lambda text: print(f"boda tune: {text}", flush=True))
    if not verdicts:
        return
    kept_name = {"tuned": "the tuned kernel", "before": "what ran before",
                 "alternative": "another family's best"}
    rows = [(v.outcome.task.label, ms(v.before), ms(v.after),
             ms(v.other), f"{v.before / v.after:.2f}x",
             kept_name[v.kept] + (f" ({v.outcome.family})" if v.kept == "alternative" else ""))
            for v in verdicts]
    print(table(rows, ["layer", "before ms", "tuned ms", "other family ms", "speedup",
                       "kept"]))
    back = sum(v.kept == "before" for v in verdicts)
    other = sum(v.kept == "alternative" for v in verdicts)
    before = sum(v.before * len(v.outcome.task.layers) for v in verdicts)
    kept = sum({"before": v.before, "tuned": v.after, "alternative": v.other}[v.kept]
               * len(v.outcome.task.layers) for v in verdicts)
    print(f"inside whole runs (device-event medians, every layer apart): these layers "
          f"{ms(before)} ms before -> {ms(kept)} ms with what was kept; of {len(verdicts)} "
          f"tuned layers, {back} were set back to what ran before them, slower there, and "
          f"{other} took another family's best kernel, faster there than the tune's winner; "
          f"other family ms: the fastest there of the best of each other family within "
          f"{ALTERNATIVE_WITHIN}x of the winner alone")


def _race_side_by_side(plan, device, db, device_key, databases, dtype):
    """After the layers: race each group of independent layers apart against side by side
    (tuner/side_by_side.py) and print the outcome."""
    from ..kernels.side_by_side import APART
    from ..tuner import side_by_side
    rows = side_by_side.race(plan, device, db, device_key, databases, dtype,
                             progress=lambda text: print(f"boda tune: {text}", flush=True))
    if not rows:
        return
    lines = []
    for row in rows:
        apart, win = row["seconds"][APART], row["winner"]
        lines.append((", ".join("+".join(g) for g in row["groups"]), ms(apart),
                      ms(row["seconds"][win]), "apart" if win == APART else f"local={win}"))
    print(table(lines, ["layers", "apart ms", "chosen ms", "chosen"]))
    print("side by side: independent layers that read one tensor, as one launch; apart: "
          "one launch each (device-event times inside whole runs, medians of 5 rounds)")


def _print_tune_report(outcomes, seconds):
    rows, before, after = [], 0.0, 0.0
    for o in outcomes:
        timed = o.after == o.after and o.before == o.before  # neither is NaN
        speedup = o.before / o.after if timed else None
        rows.append((o.task.label, o.task.problem.kind, o.family, params_text(o.params),
                     o.served, ms(o.before), ms(o.after), f"{speedup:.2f}x" if speedup else "-",
                     "db" if o.skipped else f"{o.measured}+{o.recorded}" if o.reached
                     else "not reached"))
        if timed:
            before += len(o.task.layers) * o.before
            after += len(o.task.layers) * o.after
    print(table(rows, ["layer", "kind", "family", "params", "ran before", "before ms",
                        "after ms", "speedup", "trials"]))
    print(f"model (sum of the tuned layers' kernel times): {ms(before)} ms before -> "
          f"{ms(after)} ms "
          f"tuned ({before / after if after else float('nan'):.2f}x), tuned in {seconds:.0f} s. "
          "ran before: the kernel the runtime served until now (exact/arch/vendor: a tuning "
          "database's winner, default: the untuned default), always in the race; "
          "trials: measured now + found recorded; db: a winner was recorded (--retune "
          "searches again)")
    unreached = sum(not o.reached for o in outcomes)
    if unreached:
        print(f"{unreached} problems were not reached within the budget; run the same command "
              "again to tune them, or give a larger --budget")


def cmd_bench(args):
    from pathlib import Path

    from ..compare import default_against, run_bench
    from ..compare.report import markdown, write_json, write_png
    device = select_device_arg(args)
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
    if args.warmup < 1:
        raise BodaError("--warmup must be at least 1")
    report = run_bench(args.model, device, against, args.batch, args.repeat,
                       db=False if args.untuned else args.db, warmup=args.warmup,
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
