"""Writing a `boda bench` report: a markdown table, JSON, and a PNG chart of per-layer times."""
from __future__ import annotations

import json
from pathlib import Path


def _f(x, digits=3) -> str:
    return "-" if x is None or x != x else f"{x:.{digits}g}"


def markdown(report: dict, command: str = "") -> str:
    dev, variants = report["device"], list(report["geomean_ratio"])
    lines = [f"# boda bench: {Path(report['model']).name}, batch {report['batch']}, "
             f"{dev['name']} ({dev['spec']})", ""]
    if command:
        lines += [f"Command: `{command}`", ""]
    m = report["machine"]
    cpu = m["cpu"] + (f" ({m['cpu_id']})" if m.get("cpu_id") else "")
    lines += [f"Machine: {cpu}, {m['cores']} cores; device {dev['name']} "
              f"({dev['platform']}, driver {dev['driver']}"
              + (f", compute capability {dev['compute_capability']}"
                 if dev["compute_capability"] else "") + ")"
              + (f", reached through `boda agent` at {dev['remote']}: the references ran on "
                 "this machine, the whole-network latency includes three network round trips "
                 "a run" if dev.get("remote") else ""),
              f"Versions: boda {m['boda']}, numpy {m['numpy']}, Python {m['python']}; "
              + "; ".join(f"{n}: {r['version']}" for n, r in report["references"].items()),
              f"Nominal fp32 peak: {report['peak_gflops']:.0f} GFLOP/s (devices.peak_flops"
              + (f", at the {dev['clock_mhz']} MHz the driver reports: a CPU that boosts "
                 "above it can read over 100%" if dev.get("clock_mhz") else "")
              + "). Medians of "
              f"{report['repeat']} runs. {report['tuned_layers']} of {len(report['layers'])} "
              "conv layers use a tuned kernel, the rest the family default."
              + (" Load average (1 min) {before:.2f} before the whole-network rounds, "
                 "{after:.2f} after; {pause_s} s pause before each engine's turn"
                 .format(**report["load"]) if "load" in report else "")
              + (", whose first {warmup_runs} runs are not counted."
                 .format(**report["load"]) if "warmup_runs" in report.get("load", {})
                 else "."), ""]
    for name, r in report["references"].items():
        lines.append(f"- {name}: {r['note']}")
    lines += ["- boda per layer: device-event time of the layer's kernel alone (activation "
              "fused); "
              "whole network: wall clock, inputs uploaded and outputs read back", "",
              "## Conv layers", "",
              "| layer | problem | kernel (chosen by) | GFLOP | boda ms | GFLOP/s | % peak | "
              + " | ".join(f"{v} ms | boda/{v}" for v in variants) + " |",
              "|" + "---|" * (7 + 2 * len(variants))]
    for x in report["layers"]:
        lines.append(
            f"| {x['layer']} | `{x['signature']}` | {x['family']} ({x['level']}) | "
            f"{x['gflop']:.3f} | {_f(x['boda_ms'])} | {x['gflops']:.1f} | "
            f"{x['peak_pct']:.1f} | "
            + " | ".join(f"{_f(x['reference_ms'][v])} | {_f(x['ratio'][v])}"
                         for v in variants) + " |")
    if variants:
        total = lambda key: sum(x[key] for x in report["layers"])  # noqa: E731
        lines += ["", "Geometric mean over the conv layers of boda's time / the reference's "
                  "(below 1: boda is faster): "
                  + ", ".join(f"{v} {_f(g)}" for v, g in report["geomean_ratio"].items()),
                  "", f"Sum over the conv layers: boda {_f(total('boda_ms'), 4)} ms, "
                  + ", ".join(f"{v} {_f(sum(x['reference_ms'][v] for x in report['layers']), 4)}"
                              " ms" for v in variants)]
    lines += ["", "## Whole network", "", "| engine | latency ms | time / boda's | "
              "max rel. difference from boda's outputs |", "|---|---|---|---|"]
    for n in report["network"]:
        lines.append(f"| {n['engine']} | {_f(n['ms'], 4)} | {_f(n['vs_boda'])} | "
                     f"{_f(n['max_rel_diff'], 2)} |")
    return "\n".join(lines) + "\n"


def write_json(report: dict, path, command: str = ""):
    Path(path).write_text(json.dumps(dict(report, command=command), indent=2) + "\n")


def write_png(report: dict, path) -> bool:
    """Per-layer bars, boda beside each reference (log scale). False if matplotlib is
    missing."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    layers, variants = report["layers"], list(report["geomean_ratio"])
    series = [("boda", [x["boda_ms"] for x in layers])]
    series += [(v, [x["reference_ms"][v] for x in layers]) for v in variants]
    width = 0.8 / len(series)
    fig, ax = plt.subplots(figsize=(max(8, 0.45 * len(layers) * len(series)), 4.5))
    for k, (name, values) in enumerate(series):
        ax.bar([i + k * width for i in range(len(layers))], values, width, label=name)
    ax.set_xticks([i + 0.4 - width / 2 for i in range(len(layers))])
    ax.set_xticklabels([x["layer"] for x in layers], rotation=70, fontsize=7)
    ax.set_yscale("log")
    ax.set_ylabel("ms per layer (log)")
    ax.set_title(f"{Path(report['model']).name}, batch {report['batch']}, "
                 f"{report['device']['name']}")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True
