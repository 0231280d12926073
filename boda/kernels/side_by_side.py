"""Kernels side by side: several independent kernels (none reads what another writes)
launched as one, each work-group running one of them.

A fire module's two expands read the same squeeze output and write the two halves of one
concat; launched apart, every launch costs its own start, and on PoCL one worker thread
sleeps at each kernel boundary and the next kernel starts on the other alone. Side by side
they are one launch whose work-groups the device's workers share out.

`side_by_side(parts)` joins rendered kernels (KernelSource, all of one work-group size) into
one: the parts' arguments in order (renamed apart), their local-memory arrays hoisted to the
kernel's scope (OpenCL allows them nowhere else), and each part's body in a branch on the
work-group index, its GLOBAL_ID and GROUP_ID counted from the part's first group. The branch
is uniform over a work-group, so a part's barriers stay legal.

Whether a group runs side by side, and at which work-group size, is a choice like any
kernel's: `SideBySide` is the group's key in the tuning database (its members' problems and
chosen kernels), `options` the sizes it can take (each member's own, where every member's
family admits it), and `default` the untuned choice: on CPUs, the size of the member with the
most work (measured on PoCL: SqueezeNet 1.1 3-4% faster end to end); elsewhere apart, until
a tune says otherwise. `tuner/side_by_side.py` races the options against the plain sequence;
`unserved_groups` finds the group winners a database can no longer serve (a member has
another winner since), which a winners-only export leaves out.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import re

from .templating import KernelSource, template_hash

FAMILY = "side_by_side"
VERSION = "1"  # the joining code's version: the database's template hash for a group
APART = 0      # the "local" of the plain sequence, as the database records it
_INTERLEAVE_LIMIT = 2 ** 31  # the interleaving's products (group count squared) are ints


@dataclasses.dataclass(frozen=True)
class SideBySide:
    """A group of independent layers as the tuning database keys it: each member's problem
    signature, chosen family, template hash and parameters."""
    parts: tuple
    work: float = 0.0  # the members' flops

    kind = "side_by_side"

    @staticmethod
    def of(members, dtype: str = "float32") -> "SideBySide":
        """members: (problem, Family, params) of each layer, in launch order."""
        parts = tuple(SideBySide.part(p.signature, f.name, template_hash(f.template, dtype),
                                      params) for p, f, params in members)
        return SideBySide(parts, float(sum(p.flops for p, _, _ in members)))

    @staticmethod
    def part(signature: str, family: str, thash: str, params: dict) -> str:
        """One member's part of a group's key: its problem, family, template hash and
        parameters."""
        return f"{signature} {family} {thash} " + ",".join(
            f"{k}={v}" for k, v in sorted(params.items()))

    @property
    def signature(self) -> str:
        return f"side_by_side({' | '.join(self.parts)})"

    @staticmethod
    def parts_of(signature: str) -> list[str]:
        """The members' parts of a signature (each: problem, family, template hash,
        parameters)."""
        return signature[len("side_by_side("):-1].split(" | ")

    @staticmethod
    def templates_of(signature: str) -> list[tuple[str, str]]:
        """(family, template hash) of each member named in a signature (`of`'s format)."""
        return [tuple(part.rsplit(" ", 3)[1:3]) for part in SideBySide.parts_of(signature)]

    @property
    def flops(self) -> float:
        return self.work


def options(members, device) -> list[int]:
    """The work-group sizes the members can share: each member's own, where every member's
    family admits it (members: (problem, Family, params)); none where a member's family
    does not join (Family.joins)."""
    if not all(f.joins for _, f, _ in members):
        return []
    sizes = sorted({params["local"] for _, _, params in members if "local" in params})
    return [s for s in sizes
            if all("local" in params and f.contains(p, device, dict(params, local=s))
                   for p, f, params in members)]


def choices(members, device) -> list[int]:
    """Every way a group can run: APART, then each shared work-group size (`options`)."""
    return [APART] + options(members, device)


def default(members, device, sizes=None) -> int:
    """The untuned choice: APART, or the shared work-group size (`sizes`: the group's
    `options`, where the caller has them)."""
    sizes = options(members, device) if sizes is None else sizes
    if device.kind != "cpu" or not sizes:
        return APART
    _, _, params = max(members, key=lambda m: m[0].flops)
    return params["local"] if params["local"] in sizes else APART


_SIGNATURE = re.compile(r"KERNEL void (\w+)\(([^)]*)\)\s*\{")
_LOCAL_ARRAY = re.compile(r"^[ \t]*LOCAL_MEM [^;]*?(\w+)\[[^;]*;[ \t]*\n", re.M)


def _split(ks: KernelSource) -> tuple[list[str], list[str], str]:
    """(argument declarations, their names, body) of a one-kernel source; ValueError where
    anything but comments stands outside the kernel."""
    m = _SIGNATURE.search(ks.source)
    if m is None or m.group(1) != ks.name:
        raise ValueError(f"{ks.name}: no kernel signature found")
    outside = re.sub(r"/\*.*?\*/", "", ks.source[:m.start()], flags=re.S).strip()
    end = ks.source.rstrip().rfind("}")
    if outside or end < m.end() or ks.source[end + 1:].strip():
        raise ValueError(f"{ks.name}: code outside the kernel cannot be placed side by side")
    args = [a.strip() for a in m.group(2).split(",") if a.strip()]
    names = [re.search(r"(\w+)\s*$", a).group(1) for a in args]
    return args, names, ks.source[m.end():end]


def _rename(text: str, names: dict) -> str:
    if not names:
        return text
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, names)) + r")\b")
    return pattern.sub(lambda m: names[m.group(1)], text)


def side_by_side(parts: list[KernelSource]) -> KernelSource:
    """One kernel running every part, each on its share of the work-groups. The parts'
    groups are interleaved evenly (Bresenham's rule, part by part), so that any stretch of
    the range holds each part in proportion: PoCL deals a kernel of few groups out to its
    threads in equal contiguous halves, and a part of costly groups next to one of cheap
    ones left one thread with most of the work (ResNet-18's downsample beside its 3x3 conv
    ran 1.7x longer in sequence). Where the group count squared does not fit an int, the
    parts take contiguous ranges (PoCL then deals small chunks anyway)."""
    local = {ks.local_size for ks in parts}
    dtypes = {ks.dtype for ks in parts}
    if len(local) != 1 or len(dtypes) != 1:
        raise ValueError("kernels side by side share one work-group size and one dtype")
    local, dtype = local.pop(), dtypes.pop()
    name = "side_by_side_" + hashlib.sha1(
        " ".join(ks.name for ks in parts).encode()).hexdigest()[:12]
    counts = [ks.global_size // local for ks in parts]
    total = sum(counts)
    interleave = total * total < _INTERLEAVE_LIMIT
    headers, signature, hoisted = [], [], []
    code, rest = ["  int boda_t = GROUP_ID; /* the group's index among the parts left */\n"], total
    for k, ks in enumerate(parts):
        args, names, body = _split(ks)
        renames = {n: f"p{k}_{n}" for n in names}
        renames.update({a: f"p{k}_{a}" for a in _LOCAL_ARRAY.findall(body)})
        body = _rename(body, renames)
        hoisted += [m.group(0) for m in _LOCAL_ARRAY.finditer(body)]
        body = _LOCAL_ARRAY.sub("", body)
        body = re.sub(r"\bGLOBAL_ID\b", f"(p{k}_group * {local} + LOCAL_ID)", body)
        body = re.sub(r"\bGROUP_ID\b", f"p{k}_group", body)
        signature += [a[:a.rstrip().rfind(n)] + renames[n] for a, n in zip(args, names)]
        headers.append(re.match(r"\s*(/\*.*?\*/)?", ks.source, re.S).group(1) or "")
        n = counts[k]
        if k == len(parts) - 1:
            code.append(f"  {{ /* {ks.name} */\n  const int p{k}_group = boda_t;\n{body}  }}\n")
        elif interleave:
            code.append(f"  const int boda_q{k} = boda_t * {n} / {rest};\n"
                        f"  if ((boda_t + 1) * {n} / {rest} > boda_q{k}) {{ /* {ks.name} */\n"
                        f"  const int p{k}_group = boda_q{k};\n{body}  }} else {{\n"
                        f"  boda_t -= boda_q{k};\n")
        else:
            code.append(f"  if (boda_t < {n}) {{ /* {ks.name} */\n"
                        f"  const int p{k}_group = boda_t;\n{body}  }} else {{\n"
                        f"  boda_t -= {n};\n")
        rest -= n
    source = "\n".join(h for h in headers if h) + (
        f"\nKERNEL void {name}({', '.join(signature)})\n{{\n" + "".join(hoisted)
        + "".join(code) + "  }" * (len(parts) - 1) + "\n}\n")
    return KernelSource(name, source, total * local, local, FAMILY,
                        tuple((ks.family, ks.params) for ks in parts), dtype)


def unserved_groups(winners: list) -> set:
    """The ids of the group winners in `winners` (tuning-database rows) one of whose members
    has a winner of its own there, of another kernel than the group names: the lookup finds
    a group by its members' kernels, so it never serves those."""
    own = {(w["device"], w["problem"], w["dtype"]): w for w in winners}
    out = set()
    for w in winners:
        if w["family"] != FAMILY:
            continue
        for part in SideBySide.parts_of(w["problem"]):
            signature = part.rsplit(" ", 3)[0]
            member = own.get((w["device"], signature, w["dtype"]))
            if member is not None and part != SideBySide.part(
                    signature, member["family"], member["template_hash"],
                    json.loads(member["params"])):
                out.add(id(w))
                break
    return out
