"""In-place memory planning: below the live-activation floor, and only where a kernel allows it.

Every pair of tensors that share arena bytes while both are alive must be an
input and output of one call whose KernelCall.inplace allows exactly that
offset, at the step where the input is last read. Bit-exactness of the
resulting libraries is test_bit_exact.py's job (host) and
test_kernels_qemu.py's (M4).
"""

from __future__ import annotations

import pytest
from conftest import fixture_path, good_fixtures, mlperf_path

from tinyexit.codegen.passes.plan_memory import lifetimes
from tinyexit.codegen.pipeline import compile_graph
from tinyexit.codegen.reader import read_model

# Live-activation floor + 5% (shared/reference/anchors.md, issue 7).
ARENA_TARGETS = {"kws": int(15.6 * 1024 * 1.05), "vww": int(54 * 1024 * 1.05), "ic": int(48 * 1024 * 1.05)}


def check_sharing(graph) -> int:
    """Assert every byte shared by two live tensors is an allowed in-place pair; returns how many pairs share."""
    plan = graph.plan
    spans = {b.tensor: b for b in lifetimes(graph, plan.schedule)}
    allowed = set()
    for step, op_index in enumerate(plan.schedule):
        for call in graph.calls.get(op_index, ()):
            for position, offset in call.inplace.items():
                allowed.add((step, graph.aliases.get(call.inputs[position], call.inputs[position]),
                             graph.aliases.get(call.outputs[0], call.outputs[0]), offset))
    shared = 0
    tensors = sorted(spans)
    for i, a in enumerate(tensors):
        for b in tensors[i + 1:]:
            sa, sb = spans[a], spans[b]
            oa, ob = plan.offsets[a], plan.offsets[b]
            if sa.first <= sb.last and sb.first <= sa.last and oa < ob + sb.size and ob < oa + sa.size:
                src, dst = (a, b) if sa.first < sb.first else (b, a)
                step = spans[src].last
                assert spans[dst].first == step, (src, dst)
                assert (step, src, dst, plan.offsets[src] - plan.offsets[dst]) in allowed, (src, dst)
                shared += 1
    return shared


@pytest.mark.parametrize("key", sorted(ARENA_TARGETS))
def test_mlperf_arena_within_floor_plus_5_percent(key):
    graph = compile_graph(read_model(mlperf_path(key)))
    assert graph.plan.arena_bytes <= ARENA_TARGETS[key]
    check_sharing(graph)


def test_kws_and_vww_share_bytes_in_place():
    for key in ("kws", "vww"):
        assert check_sharing(compile_graph(read_model(mlperf_path(key)))) > 0


@pytest.mark.parametrize("name", good_fixtures())
def test_fixture_plans_share_only_allowed_pairs(name):
    check_sharing(compile_graph(read_model(fixture_path(name))))
