"""Plain-text output shared by the commands: tables and number formats."""
from __future__ import annotations


def table(rows, columns):
    widths = [max(len(c), *(len(str(r[i])) for r in rows)) if rows else len(c)
              for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths))]
    lines.append("  ".join("-" * w for w in widths))
    for r in rows:
        lines.append("  ".join(str(v).ljust(w) for v, w in zip(r, widths)))
    return "\n".join(lines)


def params_text(params: dict) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(params.items()))


def ms(seconds) -> str:
    return "-" if seconds is None or seconds != seconds else f"{seconds * 1e3:.4g}"
