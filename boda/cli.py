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
  boda ops --model squeezenet1_1.onnx
  boda devices
"""


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
    except Exception as exc:  # a bug in boda: one line unless asked for the traceback
        if os.environ.get("BODA_DEBUG"):
            raise
        print(f"boda: internal error: {type(exc).__name__}: {exc} "
              "(set BODA_DEBUG=1 for the traceback)", file=sys.stderr)
        return 3


def _parser():
    p = argparse.ArgumentParser(
        prog="boda", epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Compile ONNX CNNs into generated OpenCL kernels and run them.")
    from . import __version__
    p.add_argument("--version", action="version", version=f"boda {__version__}")
    sub = p.add_subparsers(title="commands", metavar="COMMAND")

    d = sub.add_parser("devices", help="list the devices that can run kernels")
    d.add_argument("--json", action="store_true", help="print JSON instead of a table")
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
    r.add_argument("--device", help="index, opencl:N, family (cpu, nvidia, amd, adreno, mali, "
                                    "intel) or part of a device name; default: first GPU, "
                                    "else the CPU")
    r.add_argument("--batch", type=int, help="set the batch dimension of the input")
    r.add_argument("--seed", type=int, default=0, help="seed of the random input (default 0)")
    r.add_argument("--repeat", type=int, default=1,
                   help="timed runs after the first run (which also generates the kernels' "
                        "machine code); reports their median (default 1)")
    r.set_defaults(func=cmd_run)
    return p


def _table(rows, columns):
    widths = [max(len(c), *(len(str(r[i])) for r in rows)) if rows else len(c)
              for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths))]
    lines.append("  ".join("-" * w for w in widths))
    for r in rows:
        lines.append("  ".join(str(v).ljust(w) for v, w in zip(r, widths)))
    return "\n".join(lines)


def cmd_devices(args):
    from .devices import list_devices
    devs = list_devices()
    if args.json:
        print(json.dumps([{k: v for k, v in vars(d).items() if k != "handle"} | {
            "family": d.family} for d in devs], indent=2))
        return 0
    if not devs:
        raise BodaError("no OpenCL device found (is pocl-binary-distribution installed?)")
    rows = [(d.index, d.family, d.name, d.vendor, d.platform, d.version, d.compute_units,
             f"{d.global_mem / 2**30:.1f} GiB") for d in devs]
    print(_table(rows, ["index", "family", "name", "vendor", "platform", "version", "CUs",
                        "memory"]))
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
    sess = Session(model, args.device, batch_shapes(model, args.batch) if args.batch else None)
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
    print(f"time: {np.median(times) * 1e3:.2f} ms (median of {len(times)}; the first run, "
          f"which also generated code, took {first * 1e3:.0f} ms)")
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
