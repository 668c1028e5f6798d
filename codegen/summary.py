"""Summaries of a compiled graph for `inspect`: per op, per stage, the arena (plain dicts; JSON-ready)."""

from __future__ import annotations

from .emitter import op_weight_bytes, weight_bytes
from .ir import Graph
from .passes.prepare_ops import op_macs


def model_summary(graph: Graph) -> dict:
    stage_of = {i: s.index for s in graph.stages for i in s.ops + s.deferred_ops}
    ops = []
    for op in graph.ops:
        ops.append(
            {
                "index": op.index,
                "op": op.kind,
                "input_shapes": [list(graph.tensor(t).shape) for t in op.inputs if t >= 0 and not graph.tensor(t).is_constant],
                "output_shape": list(graph.tensor(op.outputs[0]).shape),
                "macs": op_macs(graph, op.index),
                "weight_bytes": op_weight_bytes(graph, op.index),
                "stage": stage_of.get(op.index),
            }
        )
    total = sum(s.macs for s in graph.stages)
    stages, cumulative = [], 0
    for s in graph.stages:
        cumulative += s.macs
        stages.append(
            {
                "index": s.index,
                "exit": graph.exits[s.exit_index].name,
                "ops": list(s.ops),
                "deferred_ops": list(s.deferred_ops),
                "macs": s.macs,
                "cumulative_macs": cumulative,
                "share": cumulative / total if total else 1.0,
            }
        )
    return {
        "model": graph.source,
        "macs": total,
        "arena_bytes": graph.plan.arena_bytes,
        "weight_bytes": weight_bytes(graph),
        "exits": [e.name for e in graph.exits],
        "stages": stages,
        "ops": ops,
    }
