"""Pass: place every activation tensor in one static arena.

Algorithm (greedy by size, as TFLM's GreedyMemoryPlanner): the staged
schedule is stage 0's ops, stage 1's ops, ..., then the deferred exit
softmaxes. Each non-constant tensor becomes a buffer alive from the step that
writes it (the model input: before step 0) to the last step that reads it.
Exit outputs and the logits a decision reads stay alive to the end of the
schedule, because the application may read them after later stages ran;
tensors that cross a stage boundary stay alive simply because a later step
reads them. Buffers are placed largest first, each at the lowest 4-byte
aligned offset where it overlaps no placed buffer that is alive at the same
time. View ops (RESHAPE, SQUEEZE) share their input's buffer. A kernel's
scratch (KernelCall.scratch, e.g. im2col columns) is a buffer alive only at
its op's step, numbered -1 - op index in `buffers`; its offset goes to
`plan.scratch`.

Below the live-activation floor: when a kernel call allows it
(KernelCall.inplace: element-wise ADD, pointwise convolutions, depthwise
convolutions that widen rows before overwriting them) and the input's last
reader is that call, the input and the output become one buffer, the input
at the allowed offset inside it, alive over both lifetimes. Chains merge
further (each member at a fixed offset in its group). Trace builds keep
every tensor apart.

Invariant after this pass: `graph.plan` gives every non-constant tensor an
offset, and no two tensors alive at the same step share a byte.
"""

from __future__ import annotations

import dataclasses

from ..ir import Buffer, Graph, MemoryPlan

ALIGNMENT = 4


def schedule(graph: Graph) -> tuple[int, ...]:
    steps = [i for stage in graph.stages for i in stage.ops]
    steps += [i for stage in graph.stages for i in stage.deferred_ops]
    return tuple(steps)


def _root(graph: Graph, tensor: int) -> int:
    return graph.aliases.get(tensor, tensor)


def lifetimes(graph: Graph, order: tuple[int, ...], keep_all: bool = False) -> list[Buffer]:
    end = len(order)
    first: dict[int, int] = {_root(graph, t): -1 for t in graph.inputs}
    last: dict[int, int] = dict(first)
    for step, op_index in enumerate(order):
        op = graph.ops[op_index]
        for t in op.inputs:
            if t >= 0 and not graph.tensor(t).is_constant:
                r = _root(graph, t)
                last[r] = max(last.get(r, step), step)
        for t in op.outputs:
            r = _root(graph, t)
            first.setdefault(r, step)
            last[r] = max(last.get(r, step), step)
    if keep_all:
        last = {t: end for t in last}
    for stage in graph.stages:
        keep = [stage.logits_tensor, graph.exits[stage.exit_index].tensor]
        for t in keep:
            r = _root(graph, t)
            if r in first:
                last[r] = end
    return [
        Buffer(tensor=t, size=graph.tensor(t).nbytes, first=first[t], last=last[t])
        for t in sorted(first)
    ]


def inplace_candidates(graph: Graph, order: tuple[int, ...]) -> list[tuple[int, int, int, int]]:
    """(step, input tensor, output tensor, offset) for every call that allows in-place (KernelCall.inplace)."""
    found = []
    for step, op_index in enumerate(order):
        calls = graph.calls.get(op_index, ())
        if len(calls) == 1:
            for position, offset in sorted(calls[0].inplace.items()):
                found.append((step, _root(graph, calls[0].inputs[position]), _root(graph, calls[0].outputs[0]), offset))
    return found


def merge_inplace(graph: Graph, buffers: list[Buffer], merges: list[tuple[int, int, int, int]]) -> tuple[list[Buffer], dict]:
    """Apply in-place merges; returns (buffers, {member tensor: (group tensor, offset in the group)}).

    A merge joins the input's group into the output's buffer, the input at the
    allowed offset, when the input's group is last read at that step and the
    output has no other member yet (one output per merge).
    """
    by_tensor = {b.tensor: b for b in buffers}
    members: dict[int, dict[int, int]] = {b.tensor: {b.tensor: 0} for b in buffers}  # group -> member -> offset
    group_of = {b.tensor: b.tensor for b in buffers}
    for step, src, out, offset in merges:
        if src not in group_of or out not in by_tensor or group_of[out] != out or len(members[out]) != 1:
            continue
        group = group_of[src]
        if group == out or by_tensor[group].last != step:
            continue  # the input (or a tensor sharing its group) is still read later
        a, b = by_tensor.pop(group), by_tensor[out]
        for m, rel in members.pop(group).items():
            members[out][m] = offset + rel
            group_of[m] = out
        size = max(rel + graph.tensor(m).nbytes for m, rel in members[out].items())
        by_tensor[out] = Buffer(tensor=out, size=size, first=min(a.first, b.first), last=max(a.last, b.last))
    placement = {m: (g, rel) for g, ms in members.items() for m, rel in ms.items()}
    return sorted(by_tensor.values(), key=lambda b: b.tensor), placement


def _arena_of(buffers: list[Buffer]) -> int:
    return max((b.offset + b.size for b in place(buffers)), default=0)


def choose_merges(graph: Graph, order: tuple[int, ...], tensors: list[Buffer], scratch: list[Buffer]):
    """Greedy: take each in-place merge, in schedule order, if it does not make the arena larger.

    Merging a chain fixes its members' relative offsets, which can cost more
    than it saves, so each merge is kept only if the greedy plan with it is
    no larger than without it.
    """
    chosen: list[tuple[int, int, int, int]] = []
    best = _arena_of(tensors + scratch)
    for merge in inplace_candidates(graph, order):
        merged, _ = merge_inplace(graph, tensors, chosen + [merge])
        size = _arena_of(merged + scratch)
        if size <= best:
            chosen, best = chosen + [merge], size
    return merge_inplace(graph, tensors, chosen)


def scratch_buffers(graph: Graph, order: tuple[int, ...], keep_all: bool = False) -> list[Buffer]:
    """One buffer per op whose calls need scratch, alive at that op's step only.

    With `keep_all` (trace builds) scratch is kept apart from every tensor
    too, so a tensor no kernel wrote is still all zeros.
    """
    buffers = []
    for step, op_index in enumerate(order):
        size = max((c.scratch for c in graph.calls.get(op_index, ())), default=0)
        if size:
            last = len(order) if keep_all else step
            buffers.append(Buffer(tensor=-1 - op_index, size=_align(size), first=step, last=last))
    return buffers


def _align(n: int) -> int:
    return (n + ALIGNMENT - 1) // ALIGNMENT * ALIGNMENT


def place(buffers: list[Buffer]) -> list[Buffer]:
    """Greedy first-fit, largest first; returns buffers with offsets set."""
    placed: list[Buffer] = []
    for buf in sorted(buffers, key=lambda b: (-b.size, b.first, b.tensor)):
        live = sorted(
            (p for p in placed if p.first <= buf.last and buf.first <= p.last), key=lambda p: p.offset
        )
        offset = 0
        for other in live:
            if offset + buf.size <= other.offset:
                break
            offset = max(offset, _align(other.offset + other.size))
        placed.append(dataclasses.replace(buf, offset=offset))
    return sorted(placed, key=lambda b: b.tensor)


def overlaps(buffers: list[Buffer]) -> list[tuple[int, int]]:
    """Pairs of tensors alive at the same step whose bytes overlap (empty for a valid plan)."""
    bad = []
    for i, a in enumerate(buffers):
        for b in buffers[i + 1 :]:
            alive_together = a.first <= b.last and b.first <= a.last
            share_bytes = a.offset < b.offset + b.size and b.offset < a.offset + a.size
            if alive_together and share_bytes:
                bad.append((a.tensor, b.tensor))
    return bad


def plan_memory(graph: Graph, keep_all: bool = False) -> Graph:
    """Plan the arena; `keep_all` keeps every tensor alive to the end (trace builds)."""
    order = schedule(graph)
    tensors = lifetimes(graph, order, keep_all)
    scratch_bufs = scratch_buffers(graph, order, keep_all)
    placement = {b.tensor: (b.tensor, 0) for b in tensors}
    if not keep_all:
        tensors, placement = choose_merges(graph, order, tensors, scratch_bufs)
    buffers = place(tensors + scratch_bufs)
    group_offset = {b.tensor: b.offset for b in buffers if b.tensor >= 0}
    offsets = {t: group_offset[g] + rel for t, (g, rel) in placement.items()}
    scratch = {-1 - b.tensor: b.offset for b in buffers if b.tensor < 0}
    for view, root in graph.aliases.items():
        if root in offsets:
            offsets[view] = offsets[root]
    arena = _align(max((b.offset + b.size for b in buffers), default=0))
    plan = MemoryPlan(arena_bytes=arena, offsets=offsets, buffers=buffers, schedule=order, scratch=scratch,
                      buffer_of={t: g for t, (g, _) in placement.items()})
    return dataclasses.replace(graph, plan=plan, passes_run=graph.passes_run + ["plan_memory"])


def diagram(graph: Graph, width: int = 64) -> str:
    """A text picture of the plan: one row per buffer, columns are arena bytes."""
    plan = graph.plan
    scale = max(plan.arena_bytes, 1) / width
    rows = []
    for b in sorted(plan.buffers, key=lambda b: (b.first, b.offset)):
        start, stop = int(b.offset / scale), max(int((b.offset + b.size) / scale), int(b.offset / scale) + 1)
        bar = " " * start + "#" * (stop - start)
        name = f"t{b.tensor}" if b.tensor >= 0 else f"s{-1 - b.tensor}"  # s<op>: scratch
        rows.append(f"{name:<5} steps {b.first:>3}..{b.last:<3} {b.size:>7} B |{bar:<{width}}|")
    return "\n".join(rows)


SYMBOLS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def timeline(graph: Graph, width: int = 64) -> list[str]:
    """The plan as TFLM's planner prints it: one row per schedule step (op),
    arena bytes left to right, each buffer alive at that step drawn with its
    symbol ('.' free); then a legend, one line per buffer."""
    plan = graph.plan
    scale = max(plan.arena_bytes, 1) / width
    buffers = sorted(plan.buffers, key=lambda b: (b.first, b.offset))
    symbol = {id(b): SYMBOLS[i % len(SYMBOLS)] for i, b in enumerate(buffers)}
    end = f"{plan.arena_bytes:,}"
    rows = [f"step  op  |0{end:>{width - 1}}|"]
    for step, op in enumerate(plan.schedule):
        line = ["."] * width
        for b in sorted(buffers, key=lambda b: -b.size):  # small buffers last, so a shared column shows them
            if b.first <= step <= b.last:
                start = int(b.offset / scale)
                stop = max(int((b.offset + b.size) / scale + 0.999), start + 1)
                for c in range(start, min(stop, width)):
                    line[c] = symbol[id(b)]
        rows.append(f"{step:>4} {op:>3}  |{''.join(line)}|")
    rows.append("")
    for b in buffers:
        what = f"tensor {b.tensor} {graph.tensor(b.tensor).name.split(';')[0]}" if b.tensor >= 0 else f"scratch of op {-1 - b.tensor}"
        rows.append(f"{symbol[id(b)]}  {b.size:>7,} B at {b.offset:>7,}, steps {b.first}..{b.last}: {what}")
    return rows
