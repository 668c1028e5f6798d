"""Generated files: deterministic, strict-C99 clean, integer only on a core without an FPU."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from conftest import fixture_path, mlperf_path
from test_kernels_conv import fc_model

from tinyexit.codegen.emitter import (add_slow, gemm_direct, gemm_g2, gemm_odd, gemm_slow, gemv_last_unit,
                                      left_out_paths, rows_loop)
from tinyexit.codegen.pipeline import compile_graph, generate
from tinyexit.codegen.options import Options
from tinyexit.codegen.reader import read_model
from tinyexit.codegen.passes.plan_memory import overlaps

ARM_GCC = shutil.which("arm-none-eabi-gcc")


def files_of(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


# The MLPerf Tiny models (skipped without ../shared) and the repository's own
# early-exit models, so every clone checks the contracts.
MODELS = ["ic", "kws", "vww", "ad", "ee_resnet", "ee_dscnn", "ee_three_exits", "ee_trained_blobs"]


def model_path(key: str):
    return fixture_path(key) if key.startswith("ee_") else mlperf_path(key)


@pytest.mark.parametrize("key", MODELS)
def test_same_model_and_options_give_identical_files(key, tmp_path):
    model = model_path(key)
    policy = "none" if key in ("ic", "kws", "vww", "ad") else "entropy:0.4"
    generate(model, tmp_path / "a", options=Options(policy=policy))
    generate(model, tmp_path / "b", options=Options(policy=policy))
    assert files_of(tmp_path / "a") == files_of(tmp_path / "b")


@pytest.mark.parametrize("key", MODELS)
def test_library_links_no_float_helpers_on_cortex_m0plus(key, generated, tmp_path):
    assert ARM_GCC, "arm-none-eabi-gcc is installed by `make install`"
    policy = "none" if key in ("ic", "kws", "vww", "ad") else "entropy:0.4"
    lib = generated(model_path(key), policy=policy)
    objects = []
    for src in sorted(lib.glob("*.c")):
        obj = tmp_path / (src.stem + ".o")
        subprocess.run(
            [ARM_GCC, "-mcpu=cortex-m0plus", "-mthumb", "-mfloat-abi=soft", "-std=c99", "-O2",
             "-Wall", "-Wextra", "-Werror", "-c", str(src), "-o", str(obj)],
            check=True, capture_output=True, text=True,
        )
        objects.append(str(obj))
    undefined = subprocess.run(
        ["arm-none-eabi-nm", "-u", *objects], check=True, capture_output=True, text=True
    ).stdout.split()
    float_helpers = sorted({s for s in undefined if s.startswith(("__aeabi_f", "__aeabi_d"))})
    assert float_helpers == []
    assert "malloc" not in undefined


# tx_conv2d_gemm_s8 layers whose columns hold 4k + 2 groups of 4 elements: KWS's first convolution (10x4
# over 1 channel: 40 elements, 10 groups; gemm_odd) and VWW's first pointwise layer (8 channels: 2 groups;
# gemm_g2); IC's layers all hold 4k groups and AD has no convolution. A library leaves out the copies of
# pairs_wide's loop no layer of it needs (TX_CONV2D_GEMM_NO_ODD, TX_CONV2D_GEMM_NO_G2: flash).
GEMM_ODD = {"ic": [], "kws": [10], "vww": [], "ad": []}
GEMM_G2 = {"ic": 0, "kws": 0, "vww": 1, "ad": 0}


@pytest.mark.parametrize("key", ["ic", "kws", "vww", "ad"])
def test_gemm_loop_copies_only_in_libraries_that_use_them(key, generated):
    graph = compile_graph(read_model(mlperf_path(key)))
    calls = [c for cs in graph.calls.values() for c in cs]
    odd = [c.params["col_words"] // 2 for c in calls if gemm_odd(c)]
    assert odd == GEMM_ODD[key]
    assert sum(gemm_g2(c) for c in calls) == GEMM_G2[key]
    common = (generated(mlperf_path(key), policy="none") / "tx_common.h").read_text()
    assert ("#define TX_CONV2D_GEMM_NO_ODD 1" in common) == (not odd)
    assert ("#define TX_CONV2D_GEMM_NO_G2 1" in common) == (not GEMM_G2[key])


# Every int8-weight GEMM layer of the MLPerf models has {m, c, r} records (rq_fast) and every ADD
# (IC's three) the fast table path, so their libraries leave both 64-bit requantization paths out.
ADD_CALLS = {"ic": 3, "kws": 0, "vww": 0, "ad": 0}


@pytest.mark.parametrize("key", ["ic", "kws", "vww", "ad"])
def test_mlperf_libraries_leave_the_64_bit_requantization_out(key, generated):
    graph = compile_graph(read_model(mlperf_path(key)))
    calls = [c for cs in graph.calls.values() for c in cs]
    assert not any(gemm_slow(c) or add_slow(c) for c in calls)
    assert sum(c.kernel == "add_lut_s8" and c.params["rq_fast"] == 1 for c in calls) == ADD_CALLS[key]
    common = (generated(mlperf_path(key), policy="none") / "tx_common.h").read_text()
    assert "#define TX_CONV2D_GEMM_MR_ONLY 1" in common and "#define TX_ADD_LUT_FAST_ONLY 1" in common


# ee_resnet's tx_conv2d_rows_s8 layers: the 3x3 stem over 3 channels (frame_c 4), the 3x3 layers over 6
# (frame_c 6) and the 1x1 exit head over 6; the library leaves out the one loop no layer takes and the C
# block, which no layer needs on a DSP core (TX_CONV2D_ROWS_NO_C4_K1, TX_CONV2D_ROWS_ASM_ONLY: flash).
def test_rows_loops_only_in_libraries_that_use_them(tmp_path):
    graph = compile_graph(read_model(fixture_path("ee_resnet")))
    calls = [c for cs in graph.calls.values() for c in cs]
    assert sorted({rows_loop(c) for c in calls if c.kernel == "conv2d_rows_s8"}) == ["C4_K3", "C6_K1", "C6_K3"]
    assert [d for d in left_out_paths(calls) if "ROWS" in d] == ["TX_CONV2D_ROWS_NO_C4_K1",
                                                                   "TX_CONV2D_ROWS_ASM_ONLY"]
    lib = generate(fixture_path("ee_resnet"), tmp_path / "lib", options=Options(optimize="size")).out_dir
    common = (lib / "tx_common.h").read_text()
    assert "#define TX_CONV2D_ROWS_NO_C4_K1 1" in common and "#define TX_CONV2D_ROWS_ASM_ONLY 1" in common
    assert "#define TX_CONV2D_ROWS_NO_C6_K3" not in common


# The gemv's single-unit loop (an odd last unit) is compiled only into libraries with such a layer: the
# ECG-style exit head 2048 -> 5 has one, IC's 64 -> 10 classifier has none (TX_GEMV_NO_LAST_UNIT: flash).
@pytest.mark.parametrize("units", [5, 10])
def test_gemv_last_unit_only_in_libraries_that_use_it(units, tmp_path):
    path = tmp_path / "fc.tflite"
    path.write_bytes(fc_model(seed=3, depth=64, units=units))
    lib = generate(path, tmp_path / "lib", options=Options(optimize="size")).out_dir
    graph = compile_graph(read_model(path))
    (call,) = [c for cs in graph.calls.values() for c in cs if c.kernel == "fully_connected_gemv_s8"]
    assert gemv_last_unit(call) == (units % 2 == 1)
    assert ("#define TX_GEMV_NO_LAST_UNIT 1" in (lib / "tx_common.h").read_text()) == (units % 2 == 0)


# The planned arena of each MLPerf model with the default int8 weights (tensors and kernel scratch), in bytes.
PLANNED_ARENA = {"ic": 50_400, "kws": 10_308, "vww": 55_728, "ad": 768}


@pytest.mark.parametrize("key", ["ic", "kws", "vww", "ad"])
def test_memory_plan_has_no_overlapping_live_tensors(key, generated):
    graph = compile_graph(read_model(mlperf_path(key)))
    assert overlaps(graph.plan.buffers) == []
    end = max(b.offset + b.size for b in graph.plan.buffers)  # the arena rounds it up to a word
    assert graph.plan.arena_bytes == -(-end // 4) * 4 == PLANNED_ARENA[key]


def test_arena_of_a_chain_is_the_two_largest_neighbours():
    """AD is a chain of FC layers: the peak is the 640-byte input beside a 128-byte activation."""
    graph = compile_graph(read_model(mlperf_path("ad")))
    assert graph.plan.arena_bytes == 640 + 128


# Stride-1 1x1 convolutions on tx_conv2d_gemm_s8 (columns widened straight from the input): VWW's 13
# pointwise layers (MobileNet v1), KWS's 4 (DS-CNN); IC's two 1x1 convolutions have stride 2 and AD has
# none, so their libraries leave that path out (TX_CONV2D_GEMM_NO_DIRECT, flash).
GEMM_DIRECT = {"ic": 0, "kws": 4, "vww": 13, "ad": 0}


@pytest.mark.parametrize("key", ["ic", "kws", "vww", "ad"])
def test_gemm_direct_path_only_in_libraries_that_use_it(key, generated):
    graph = compile_graph(read_model(mlperf_path(key)))
    direct = [c for calls in graph.calls.values() for c in calls if gemm_direct(c)]
    assert len(direct) == GEMM_DIRECT[key]
    assert all(c.params["stride_h"] == c.params["stride_w"] == 1 for c in direct)
    common = (generated(mlperf_path(key), policy="none") / "tx_common.h").read_text()
    assert ("#define TX_CONV2D_GEMM_NO_DIRECT 1" in common) == (not direct)
