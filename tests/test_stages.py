"""Stage partition by data dependency, on T-RecX-shaped models."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import fixture_path, mlperf_path
from oracle import random_inputs

from tinyexit.codegen.errors import TinyexitError
from tinyexit.codegen.passes.partition_stages import ancestors
from tinyexit.codegen.passes.prepare_ops import op_macs
from tinyexit.codegen.options import Options
from tinyexit.codegen.pipeline import compile_graph
from tinyexit.codegen.reader import read_model

EARLY_EXIT = ["ee_resnet", "ee_dscnn", "ee_three_exits", "ee_nosig"]


def compiled(name, **options):
    return compile_graph(read_model(fixture_path(name)), Options(**options))


def stage_of(graph):
    return {i: s.index for s in graph.stages for i in s.ops + s.deferred_ops}


@pytest.mark.parametrize("name", EARLY_EXIT)
def test_every_needed_op_runs_in_exactly_one_stage(name):
    graph = compiled(name)
    placed = [i for s in graph.stages for i in s.ops + s.deferred_ops]
    assert len(placed) == len(set(placed))
    needed = set().union(*(ancestors(graph, e.tensor) for e in graph.exits))
    assert set(placed) == needed


@pytest.mark.parametrize("name", EARLY_EXIT)
def test_stage_macs_add_up_to_the_model(name):
    graph = compiled(name)
    assert sum(s.macs for s in graph.stages) == sum(op_macs(graph, op.index) for op in graph.ops)


def test_exits_are_ordered_by_the_macs_needed_to_reach_them():
    graph = compiled("ee_three_exits")
    assert [e.name for e in graph.exits] == ["exit0", "exit1", "final"]
    assert [s.macs for s in graph.stages][0] < sum(s.macs for s in graph.stages[:2])


def test_exit_branch_placed_after_the_backbone_still_forms_stage_0():
    graph = compiled("ee_resnet")
    exit0 = graph.exits[0]
    assert exit0.name == "exit0"
    stage0 = set(graph.stages[0].ops + graph.stages[0].deferred_ops)
    assert stage0 == ancestors(graph, exit0.tensor)
    # In op order the exit head comes after every backbone op of `final`...
    final_ops = ancestors(graph, graph.exits[1].tensor)
    head = stage0 - final_ops
    assert min(head) > max(final_ops)
    # ...and stage 0 still runs none of the later backbone.
    assert all(stage_of(graph)[i] == 1 for i in final_ops - stage0)


def test_channel_slice_exit_is_in_stage_0():
    graph = compiled("ee_dscnn")
    kinds = [graph.ops[i].kind for i in graph.stages[0].ops]
    assert "STRIDED_SLICE" in kinds
    assert "STRIDED_SLICE" not in [graph.ops[i].kind for i in graph.stages[1].ops]


def test_residual_crossing_the_stage_boundary_stays_alive():
    graph = compiled("ee_resnet")
    where = stage_of(graph)
    producers = graph.producers()
    crossing = [
        (t, op.index)
        for op in graph.ops
        if op.kind == "ADD" and where.get(op.index) == 1
        for t in op.inputs
        if where.get(producers.get(t)) == 0
    ]
    assert crossing, "ee_resnet has an ADD in stage 1 reading a stage-0 tensor"
    step = {op: n for n, op in enumerate(graph.plan.schedule)}
    buffers = {b.tensor: b for b in graph.plan.buffers}
    for tensor, add in crossing:
        root = graph.aliases.get(tensor, tensor)
        assert buffers[graph.plan.buffer_of[root]].last >= step[add]  # its buffer (or in-place group)


def test_exit_softmax_is_deferred_and_decisions_read_its_input():
    graph = compiled("ee_resnet")
    for stage in graph.stages:
        (softmax,) = stage.deferred_ops
        assert graph.ops[softmax].kind == "SOFTMAX"
        assert stage.logits_tensor == graph.ops[softmax].inputs[0]
        assert softmax not in stage.ops


def test_exit_order_override():
    graph = compiled("ee_three_exits", exit_order=("exit1", "exit0", "final"))
    assert [e.name for e in graph.exits] == ["exit1", "exit0", "final"]
    assert sum(s.macs for s in graph.stages) == sum(op_macs(graph, op.index) for op in graph.ops)


def test_unknown_exit_name_is_a_clear_error():
    with pytest.raises(TinyexitError, match="--exits names 'exit7', which is not an exit of the model"):
        compiled("ee_three_exits", exit_order=("exit7", "exit0", "final"))


def test_model_without_signature_names_outputs_by_position():
    graph = read_model(fixture_path("ee_nosig"))
    assert sorted(e.name for e in graph.exits) == ["output_0", "output_1"]


def test_mlperf_model_is_one_stage():
    graph = compile_graph(read_model(mlperf_path("kws")))
    assert len(graph.stages) == 1
    assert graph.stages[0].macs == 2_656_768


@pytest.mark.parametrize("name", ["ee_resnet", "ee_dscnn"])
def test_sample_stopped_at_exit0_ran_only_stage0(name, generated):
    from tinyexit.firmware_sim.host import trace_host

    model = fixture_path(name)
    lib = generated(model, trace=True, policy="exit:0")
    graph = compiled(name, trace=True, policy="exit:0")
    tensors = trace_host(lib, random_inputs(model, 1, seed=3)[0])
    stage0_outputs = [graph.ops[i].outputs[0] for i in graph.stages[0].ops]
    stage1_outputs = [graph.ops[i].outputs[0] for i in graph.stages[1].ops + graph.stages[1].deferred_ops]
    # The arena starts zeroed and a trace build gives every tensor its own bytes:
    # a tensor no kernel wrote is still all zeros.
    assert all(np.any(tensors[t] != 0) for t in stage0_outputs)
    assert all(not np.any(tensors[t] != 0) for t in stage1_outputs)
