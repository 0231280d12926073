"""Memory planning: each storage's lifetime over the steps, and temporary storages packed
into shared device buffers (storages whose lifetimes do not overlap share one; greedy, best fit
by size, in order of first write)."""
from __future__ import annotations


def assign_slots(sizes: dict, spans: dict) -> tuple[dict, list]:
    """sizes: storage id -> elements; spans: storage id -> (first, last) step.
    Returns (storage id -> slot index, slot sizes). A storage's slot is free again only after
    its last reading step, so no kernel ever writes over one of its own inputs."""
    order = sorted(sizes, key=lambda s: (spans[s][0], -sizes[s]))
    slot_of, slot_size, busy_until = {}, [], []
    for sid in order:
        first, last = spans[sid]
        free = [k for k in range(len(slot_size)) if busy_until[k] < first]
        fits = [k for k in free if slot_size[k] >= sizes[sid]]
        if fits:
            k = min(fits, key=lambda k: slot_size[k])
        elif free:
            k = max(free, key=lambda k: slot_size[k])
            slot_size[k] = sizes[sid]
        else:
            k = len(slot_size)
            slot_size.append(sizes[sid])
            busy_until.append(last)
        slot_of[sid] = k
        busy_until[k] = last
    return slot_of, slot_size


def lifetimes(plan) -> dict:
    """storage id -> (first step writing it, last step reading it); inputs start at -1 and
    graph outputs live to the end."""
    first, last = {}, {}
    for k, step in enumerate(plan.steps):
        sid = plan.placement[step.output][0]
        first.setdefault(sid, k)
        last[sid] = max(last.get(sid, k), k)
        for i in step.inputs:
            s = plan.placement[i][0]
            last[s] = max(last.get(s, k), k)
    end = len(plan.steps)
    for _, name in plan.outputs:
        if name in plan.placement:
            last[plan.placement[name][0]] = end
    for s in plan.storages:
        if s.role == "input":
            first[s.id] = -1
    return {sid: (first.get(sid, -1), last.get(sid, first.get(sid, -1))) for sid in first}


def temp_slots(plan) -> tuple[dict, list]:
    """The buffers the temporary storages share: (storage id -> slot, slot sizes in
    elements). Inputs get buffers of their own (they are written before the first kernel),
    and so do constants (uploaded once)."""
    temps = {s.id: s.size for s in plan.storages if s.role == "temp"}
    spans = lifetimes(plan)
    return assign_slots(temps, {sid: spans.get(sid, (-1, -1)) for sid in temps})
