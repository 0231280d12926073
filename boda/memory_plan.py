"""Assigning temporary storages to device buffers: storages whose lifetimes do not overlap
share one buffer (greedy, best fit by size, in order of first write)."""
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
