"""The `boda` command: argument parsing here, each command's work and printing in commands.py
(run, tune, bench, zoo, ops, devices, agent) and db.py (`boda db ...`); the work itself lives
in the stages (frontend, plan, runtime, tuner, compare, remote)."""
from __future__ import annotations

import argparse
import os
import sys
import warnings

from ..errors import BodaError, BodaWarning
from ..version import __version__
from . import commands, db as db_commands

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


def _lookup_options(parser):
    """Where the kernels of run and bench come from: --db, or --untuned."""
    parser.add_argument("--db", help=DB_HELP)
    parser.add_argument("--untuned", action="store_true", help=UNTUNED_HELP)


def _dtype_option(parser):
    parser.add_argument("--dtype", choices=["float32", "float16"], default="float32",
                        help="storage type of tensors on the device (default float32); "
                             "float16 needs half precision (cl_khr_fp16, or CUDA) and keeps "
                             "float32 arithmetic; tuned separately")


def _show_warning(message, category, filename, lineno, file=None, line=None,
                  _default=warnings.showwarning):
    """A BodaWarning is one `boda: note:` line; any other warning as Python shows it."""
    if issubclass(category, BodaWarning):
        print(f"boda: note: {message}", file=sys.stderr)
    else:
        _default(message, category, filename, lineno, file, line)


def main(argv=None) -> int:
    warnings.showwarning = _show_warning
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        check_counts(args)
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


def check_counts(args):
    """Counts that must be at least 1, refused before any work starts."""
    for name in ("batch", "repeat", "workers"):
        value = getattr(args, name, None)
        if value is not None and value < 1:
            raise BodaError(f"--{name} must be at least 1, not {value}")


def _parser():
    p = argparse.ArgumentParser(
        prog="boda", epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Compile ONNX CNNs into generated OpenCL and CUDA kernels, tune them, and "
                    "run them.")
    p.add_argument("--version", action="version", version=f"boda {__version__}")
    sub = p.add_subparsers(title="commands", metavar="COMMAND")

    d = sub.add_parser("devices", help="list the devices that can run kernels")
    d.add_argument("--json", action="store_true", help="print JSON instead of a table")
    _remote_options(d)
    d.set_defaults(func=commands.cmd_devices)

    o = sub.add_parser("ops", help="list a model's per-layer problems (no device needed)")
    o.add_argument("--model", required=True, help="ONNX file")
    o.add_argument("--batch", type=int, help="set the batch dimension of every input")
    o.add_argument("--json", action="store_true", help="print JSON instead of a table")
    o.set_defaults(func=commands.cmd_ops)

    z = sub.add_parser("zoo", help="write a built-in model (seeded weights) as an ONNX file")
    z.add_argument("name", nargs="?", help="model name (see --list)")
    z.add_argument("-o", "--output", help="ONNX file to write (default NAME.onnx)")
    z.add_argument("--batch", type=int, default=1, help="batch size (default 1)")
    z.add_argument("--seed", type=int, default=0, help="weight seed (default 0)")
    z.add_argument("--list", action="store_true", help="list the models")
    z.set_defaults(func=commands.cmd_zoo)

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
    _lookup_options(r)
    r.set_defaults(func=commands.cmd_run)

    t = sub.add_parser(
        "tune", help="autotune a model's kernels for a device into the tuning database",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Search the kernel families' parameter spaces for every distinct layer "
                    "problem of a model, verifying each candidate against the numpy "
                    "reference and timing it, and record every trial and the winners. "
                    "Each new winner is then timed against the kernel that ran before it "
                    "inside whole runs of the model, and set back where it is slower there. "
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
    t.set_defaults(func=commands.cmd_tune)

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
                                     "onnxruntime, openvino (fp32 forced, and its default "
                                     "precision where that differs) (default: cudnn on "
                                     "NVIDIA devices, and onnxruntime)")
    b.add_argument("--batch", type=int, help="set the batch dimension of the input")
    b.add_argument("--repeat", type=int, default=50,
                   help="timed runs per layer and per engine; medians are reported "
                        "(default 50)")
    b.add_argument("--warmup", type=int, default=10,
                   help="whole network: runs of each engine not counted at the start of its "
                        "every turn (default 10; PoCL takes 10-15 runs to get back to speed "
                        "after an idle spell, and 1 measures that recovery)")
    b.add_argument("--json", help="write the report as JSON to this file")
    b.add_argument("--out", help="folder for MODEL-bBATCH-FAMILY.md, .json and .png (e.g. "
                                  "squeezenet1_1-b1-cpu.md)")
    _lookup_options(b)
    b.set_defaults(func=commands.cmd_bench)

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
    a.set_defaults(func=commands.cmd_agent)

    db = sub.add_parser("db", help="inspect, export, import or prune the tuning database")
    dsub = db.add_subparsers(title="actions", metavar="ACTION")
    x = dsub.add_parser("list", help="the devices in the database, with trial counts")
    x.add_argument("--shipped", action="store_true", help="list the shipped databases too")
    x.set_defaults(func=db_commands.cmd_list)
    x = dsub.add_parser("show", help="what the runtime would use for each layer of a model")
    x.add_argument("--model", required=True, help="ONNX file")
    x.add_argument("--device", help="as for run")
    _remote_options(x)
    x.add_argument("--batch", type=int, help="set the batch dimension of the input")
    x.set_defaults(func=db_commands.cmd_show)
    x = dsub.add_parser("export", help="write the database as JSON (to move results "
                                       "between machines)")
    x.add_argument("file", help="JSON file to write")
    x.add_argument("--winners-only", action="store_true",
                   help="only the winners (with their devices and problems), less the "
                        "groups' winners whose members have other winners now (never "
                        "served): what a machine that runs, but does not tune, needs")
    x.set_defaults(func=db_commands.cmd_export)
    x = dsub.add_parser("import", help="merge a JSON export; nothing is duplicated, and a "
                                       "winner is replaced only by a faster one")
    x.add_argument("file", help="JSON file to read")
    x.set_defaults(func=db_commands.cmd_import)
    x = dsub.add_parser("prune", help="delete trials and winners of templates that have "
                                      "changed since")
    x.add_argument("--failures", action="store_true",
                   help="delete failed trials too, so tuning tries them again")
    x.set_defaults(func=db_commands.cmd_prune)
    db.add_argument("--db", help=DB_HELP)  # before the action (db --db F list) or after it
    for x in dsub.choices.values():
        x.add_argument("--db", help=DB_HELP, default=argparse.SUPPRESS)
    db.set_defaults(func=lambda args: db.print_help() or 2)
    return p
