"""Pass: lower the exit policy against the staged exits.

Parses the policy string against the exits in stage order and stores the
integer form (codegen/policies/lowering.py, which hands each step to the
policy's kind module under codegen/policies/kinds/) in `graph.policy`.
"""

from __future__ import annotations

import dataclasses

from ..errors import TinyexitError
from ..ir import Graph
from ..policies.lowering import lower_policy
from ..policies.spec import ExitLogits, parse_policy


def exit_logits_of(graph: Graph) -> list[ExitLogits]:
    """What each stage's decision reads, in stage order (after partition_stages)."""
    result = []
    for stage in graph.stages:
        exit_ = graph.exits[stage.exit_index]
        index = stage.logits_tensor if stage.logits_tensor >= 0 else exit_.tensor
        tensor = graph.tensor(index)
        if tensor.dtype != "int8" or tensor.quant is None:
            raise TinyexitError(
                f"{graph.source}: exit '{exit_.name}' reads tensor '{tensor.name}' of type {tensor.dtype} "
                "without int8 quantization; exit policies need int8 logits"
            )
        result.append(ExitLogits(exit_.name, tensor.size, float(tensor.quant.scale), int(tensor.quant.zero_point)))
    return result


def lower_graph_policy(graph: Graph, policy: str) -> Graph:
    """The pass: parse `policy` against the staged exits and store the lowered form in graph.policy."""
    exits = exit_logits_of(graph)
    spec = parse_policy(policy, [e.name for e in exits])
    return dataclasses.replace(
        graph, policy=lower_policy(spec, exits), passes_run=graph.passes_run + ["lower_policy"]
    )
