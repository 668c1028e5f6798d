"""The fast kernels' DSP paths on an emulated Cortex-M4, byte for byte.

The host build (portable C) is checked against TFLM by test_kernels_conv.py
and test_bit_exact.py; here the same libraries are built for nucleo-l4r5zi
(Cortex-M4, __ARM_FEATURE_DSP: SMLAD / SXTB16 / SMLABB paths) and run in QEMU
on a few samples: every output must equal the host build's, and for one-op
models TFLM's as well. The ELF must actually contain the DSP instructions.
"""

from __future__ import annotations

import subprocess


import numpy as np
import pytest
from conftest import mlperf_path
from kernel_harness import run_tflm
from kernel_models import conv_model, depthwise_model, pool_model, residual_add_model, slice_model
from test_kernels_conv import fc_model
from test_kernels_fixedpoint import mean_model

from tinyexit.codegen.pipeline import generate
from tinyexit.codegen.ops import prepare_op
from tinyexit.codegen.options import Options
from tinyexit.codegen.reader import parse_model, read_model
from tinyexit.firmware_sim.build import build_firmware, dsp_instruction_count, tool
from tinyexit.codegen.manifest import load_manifest
from tinyexit.firmware_sim.host import run_host
from tinyexit.firmware_sim.qemu import plugin_path, run

BOARD = "nucleo-l4r5zi"

ONE_OP = {
    # (model, the kernel prepare must pick)
    "conv_gemm_gather_3x3_c3": (lambda: conv_model(seed=1, in_shape=(1, 9, 7, 3), out_c=5, stride=(2, 1)),
                                "conv2d_gemm_s8"),
    "conv_gemm_3x3_c8_zp_min": (lambda: conv_model(seed=2, in_shape=(1, 6, 7, 8), out_c=6, in_zp=-128,
                                                   activation="RELU"), "conv2d_gemm_s8"),
    "conv_gemm_pointwise_c16_odd": (lambda: conv_model(seed=3, in_shape=(1, 5, 5, 16), kernel=(1, 1), out_c=9),
                                    "conv2d_gemm_s8"),
    "depthwise_c4_s1_batch_2": (lambda: depthwise_model(seed=4, in_shape=(2, 7, 6, 12), activation="RELU6"),
                                "depthwise_conv2d_c4_s8"),
    "depthwise_c4_s3": (lambda: depthwise_model(seed=5, in_shape=(1, 8, 9, 8), stride=(3, 3)),
                        "depthwise_conv2d_c4_s8"),
    # The planar 3x3 kernel's four inline-asm blocks: stride 1 / 2 along its lines, with the activation
    # clamp and without (the range is all of int8), odd and even lines, rows and columns.
    "depthwise_3x3_columns_s1_relu": (lambda: depthwise_model(seed=9, in_shape=(1, 25, 5, 8), activation="RELU"),
                                      "depthwise_conv2d_3x3_s8"),
    "depthwise_3x3_rows_s1_relu6": (lambda: depthwise_model(seed=10, in_shape=(1, 7, 10, 12), activation="RELU6",
                                                            out_scale_factor=0.2), "depthwise_conv2d_3x3_s8"),
    "depthwise_3x3_rows_s2_zp_min_relu6": (lambda: depthwise_model(seed=11, in_shape=(1, 9, 13, 8), stride=(2, 2),
                                                                   in_zp=-128, activation="RELU6",
                                                                   out_scale_factor=0.2), "depthwise_conv2d_3x3_s8"),
    "depthwise_3x3_columns_s1_no_activation": (lambda: depthwise_model(seed=15, in_shape=(1, 25, 5, 8)),
                                               "depthwise_conv2d_3x3_s8"),
    "depthwise_3x3_rows_s2_no_activation": (lambda: depthwise_model(seed=16, in_shape=(1, 9, 13, 8), stride=(2, 2)),
                                            "depthwise_conv2d_3x3_s8"),
    "depthwise_3x3_columns_s2_relu_n1": (lambda: depthwise_model(seed=12, in_shape=(1, 12, 7, 4), stride=(2, 2),
                                                                 activation="RELU_N1_TO_1", out_scale_factor=0.02),
                                         "depthwise_conv2d_3x3_s8"),
    "depthwise_c4_2x2_s2_direct": (lambda: depthwise_model(seed=8, in_shape=(2, 7, 9, 12), kernel=(2, 2),
                                                           stride=(2, 2)), "depthwise_conv2d_c4_s8"),
    # The exit heads' 2x2 stride-2 kernel, interior and edge windows, with and without the clamp.
    "depthwise_2x2_head_same_odd": (lambda: depthwise_model(seed=17, in_shape=(1, 7, 9, 12), kernel=(2, 2),
                                                            stride=(2, 2)), "depthwise_conv2d_2x2_s8"),
    "depthwise_2x2_head_relu6": (lambda: depthwise_model(seed=18, in_shape=(1, 8, 6, 8), kernel=(2, 2), stride=(2, 2),
                                                         activation="RELU6", out_scale_factor=0.2),
                                 "depthwise_conv2d_2x2_s8"),
    # 1-D layers (one column wide): the column kernel, SSAT (no activation) and clamp paths, generic taps.
    "depthwise_col_3x3_s2_no_activation": (lambda: depthwise_model(seed=20, in_shape=(1, 33, 1, 8), stride=(2, 2)),
                                           "depthwise_conv2d_col_s8"),
    "depthwise_col_3x3_s1_even_interior_zp_max": (lambda: depthwise_model(seed=23, in_shape=(1, 12, 1, 4), in_zp=127),
                                                  "depthwise_conv2d_col_s8"),
    "depthwise_col_3x3_s1_relu6": (lambda: depthwise_model(seed=21, in_shape=(1, 20, 1, 5), activation="RELU6",
                                                           out_scale_factor=0.2), "depthwise_conv2d_col_s8"),
    "depthwise_col_4x3_s3_relu": (lambda: depthwise_model(seed=22, in_shape=(1, 10, 1, 6), kernel=(4, 3),
                                                          stride=(3, 1), activation="RELU"), "depthwise_conv2d_col_s8"),
    # AVERAGE_POOL_2D's and MEAN's 4-channel paths (tx_sum4_s8: SXTAB16, 255 positions at a time).
    "avgpool_c4_global": (lambda: pool_model("AVERAGE_POOL_2D", seed=13, in_shape=(1, 25, 5, 8), padding="VALID",
                                             filter=(25, 5), stride=(1, 1)), "avgpool_s8"),
    "avgpool_c4_3x3_s2": (lambda: pool_model("AVERAGE_POOL_2D", seed=14, in_shape=(1, 7, 9, 12)), "avgpool_s8"),
    # Exit heads of 1-D models: a channel slice and a 1x1 average pool, word / LDM-STM copies.
    "slice_1d_head_blocks_and_word": (lambda: slice_model((1, 16, 1, 40), [0, 0, 0, 0], [1, 16, 1, 36],
                                                          out_shape=(1, 16, 1, 36)), "copy_channels_s8"),
    "avgpool_identity_1x1_1d": (lambda: pool_model("AVERAGE_POOL_2D", seed=19, in_shape=(1, 24, 1, 12),
                                                   filter=(1, 1), stride=(1, 1)), "copy_channels_s8"),
    "mean_c4_272_positions": (lambda: mean_model((1, 16, 17, 8), (1, 2), True, (0.05, 3), (0.04, -7)), "mean_s8"),
    "mean_c4_12_channels": (lambda: mean_model((2, 5, 3, 12), (1, 2), True, (0.05, 3), (0.04, -7)), "mean_s8"),
    # MEAN's byte-stream path (packed: 4 or 8 channels, LDM + 8 SXTAB16 per 16 bytes, 128 chunks at a time).
    "mean_packed_c4_odd_tail_batch_2": (lambda: mean_model((2, 7, 5, 4), (1, 2), False, (0.05, -3), (0.03, 5)),
                                        "mean_s8"),
    "mean_packed_c8_16x16": (lambda: mean_model((1, 16, 16, 8), (1, 2), True, (0.02, 11), (0.02, 11)), "mean_s8"),
    "fc_gemv_odd_units": (lambda: fc_model(seed=6, depth=48, units=9, in_zp=-128), "fully_connected_gemv_s8"),
    # an odd last unit alone (unit_last: every other weight word), after a quad and a pair, or the only unit
    "fc_gemv_units_7": (lambda: fc_model(seed=8, depth=64, units=7, in_zp=5), "fully_connected_gemv_s8"),
    "fc_gemv_one_unit_depth_8": (lambda: fc_model(seed=9, depth=8, units=1), "fully_connected_gemv_s8"),
    "fc_gemv_exit_head_2048x5": (lambda: fc_model(seed=10, depth=2048, units=5, in_zp=-128),
                                 "fully_connected_gemv_s8"),
    "fc_gemm_batch_3": (lambda: fc_model(seed=7, depth=16, units=6, batches=3), "conv2d_gemm_s8"),
}


@pytest.fixture(scope="module", autouse=True)
def _plugin():
    plugin_path()


def _inputs(manifest: dict, n: int, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).integers(-128, 128, size=(n, *manifest["input"]["shape"]), dtype=np.int8)
    x[0] = -128
    return x


DSP_MNEMONIC = {"conv2d_gemm_s8": "smlad", "depthwise_conv2d_c4_s8": "smlabb", "fully_connected_gemv_s8": "smlad",
                "depthwise_conv2d_3x3_s8": "smladx", "depthwise_conv2d_2x2_s8": "smlatt", "avgpool_s8": "sxtab16", "mean_s8": "sxtab16",
                "copy_channels_s8": "ldmdb", "depthwise_conv2d_col_s8": "smmlar"}


def _qemu_equals_host(lib, tmp_path, n: int, dsp: str = "smlad", board: str = BOARD):
    manifest = load_manifest(lib)
    x = _inputs(manifest, n)
    built = build_firmware(lib, board, tmp_path / "fw")
    assert (dsp_instruction_count(built.elf) | ldm_count(built.elf)).get(dsp, 0) > 0, f"no {dsp} in the {board} build"
    sim = run(built, board, x, manifest).to_arrays()
    host = run_host(lib, x).to_arrays()
    for key, value in host.items():
        assert sim[key].tobytes() == value.tobytes(), key
    return x, sim


def ldm_count(elf) -> dict[str, int]:
    """LDMDB / LDMIA in the ELF's .text outside function epilogues (tx_copy_channels_s8's 16-byte blocks)."""
    out = subprocess.run([tool("arm-none-eabi-objdump"), "-d", "--no-show-raw-insn", str(elf)], capture_output=True,
                         text=True, check=True).stdout
    counts: dict[str, int] = {}
    for line in out.splitlines():
        parts = line.split("\t")
        if len(parts) >= 3 and parts[1].strip().split(".")[0] in ("ldmdb", "ldmia") and "sp" not in parts[2]:
            key = parts[1].strip().split(".")[0]
            counts[key] = counts.get(key, 0) + 1
    return counts


# optimize=size (int8 weights widened by SXTB16 in the inner loop) on the GEMM-style cases.
SIZE_CASES = sorted(c for c, (_, kernel) in ONE_OP.items()
                    if kernel in ("conv2d_gemm_s8", "fully_connected_gemv_s8", "depthwise_conv2d_c4_s8",
                                  "depthwise_conv2d_3x3_s8"))


@pytest.mark.parametrize("case, optimize", [(c, "speed") for c in sorted(ONE_OP)] + [(c, "size") for c in SIZE_CASES])
def test_one_op_dsp_path_matches_host_and_tflm(case, optimize, tmp_path):
    make, kernel = ONE_OP[case]
    model = make()
    graph = parse_model(model)
    calls = prepare_op(graph, graph.ops[0], optimize)
    assert [c.kernel for c in calls] == [kernel]
    assert calls[0].params.get("c4", 1) == 1  # pooling and MEAN: the 4-channel path
    if kernel == "mean_s8":  # and MEAN's byte stream for 4 or 8 channels
        assert calls[0].params.get("packed", 0) == int(case.startswith("mean_packed") or "272" in case)
    if kernel in ("conv2d_gemm_s8", "fully_connected_gemv_s8", "depthwise_conv2d_c4_s8"):  # weights by mode
        assert calls[0].params.get("w8", 0) == (optimize == "size")
    path = tmp_path / f"{case}.tflite"
    path.write_bytes(model)
    lib = generate(path, tmp_path / "lib", options=Options(optimize=optimize)).out_dir
    assert load_manifest(lib)["optimize"] == optimize
    # The library compiles only its own layout (TX_W8 in tx_common.h).
    macro = "TX_WEIGHTS_INT8_ONLY" if optimize == "size" else "TX_WEIGHTS_INT16_ONLY"
    assert f"#define {macro} 1" in (lib / "tx_common.h").read_text()
    x, sim = _qemu_equals_host(lib, tmp_path, n=3, dsp=DSP_MNEMONIC[kernel])
    (reference,) = run_tflm(model, [x], 1)
    (exit_name,) = [e["name"] for e in load_manifest(lib)["exits"]]
    assert sim[exit_name].reshape(reference.shape).tobytes() == reference.tobytes()


# The one-input-channel 3x3 kernel (optimize=size only): the asm channel loop (rq_fast, no activation
# to apply: output zero point -128 with RELU, or the range all of int8), the C loop with the clamp,
# the 64-bit records of a left shift; odd out_c, strides, dilation.
C1_ONE_OP = {
    "conv_c1_relu_zp_min_asm": (dict(seed=19, in_shape=(1, 9, 11, 1), out_c=8, activation="RELU"), -128, 1),
    "conv_c1_s2_odd_out_c_asm": (dict(seed=20, in_shape=(1, 8, 7, 1), out_c=5, stride=(2, 2)), None, 1),
    # the row asm: out_c 8 or 4 unrolled (C1_ROW_ALL); a loop test every 4 (out_c 12, 16), 2 (out_c 6 with
    # stride 1x2 and 2 batches, out_c 2) or 1 (out_c 5, 1) channels; small outputs (out_scale_factor 6) put many
    # accumulators near zero.
    "conv_c1_c4_asm_all": (dict(seed=27, in_shape=(1, 5, 8, 1), out_c=4), None, 1),
    "conv_c1_c2_s2x1_asm_loop_2": (dict(seed=28, in_shape=(1, 7, 6, 1), out_c=2, stride=(2, 1)), None, 1),
    "conv_c1_c1_small_out_asm_loop_1": (dict(seed=29, in_shape=(2, 4, 9, 1), out_c=1, out_scale_factor=6.0), None, 1),
    "conv_c1_c12_asm_loop_4": (dict(seed=24, in_shape=(1, 7, 9, 1), out_c=12), None, 1),
    "conv_c1_c6_s1x2_batch_2_asm_loop_2": (dict(seed=25, in_shape=(2, 6, 7, 1), out_c=6, stride=(1, 2)), None, 1),
    "conv_c1_c16_valid_small_out_asm_loop_4": (dict(seed=26, in_shape=(1, 6, 5, 1), out_c=16, padding="VALID",
                                                     out_scale_factor=6.0), None, 1),
    "conv_c1_dilation_2_asm": (dict(seed=23, in_shape=(1, 9, 9, 1), out_c=4, dilation=(2, 2)), None, 1),
    "conv_c1_dilation_relu6_c": (dict(seed=21, in_shape=(1, 9, 10, 1), out_c=3, padding="VALID", dilation=(2, 3),
                                      activation="RELU6"), None, 0),
    "conv_c1_left_shift_records": (dict(seed=22, in_shape=(1, 5, 6, 1), out_c=4, out_scale_factor=0.003), None, 0),
}


@pytest.mark.parametrize("case", sorted(C1_ONE_OP))
def test_conv_c1_matches_host_and_tflm(case, tmp_path):
    kwargs, out_zp, asm = C1_ONE_OP[case]
    model = conv_model(**kwargs, out_zp=out_zp)  # out_zp -128: RELU's clamp is all of int8
    graph = parse_model(model)
    (call,) = prepare_op(graph, graph.ops[0], "size")
    assert call.kernel == "conv2d_c1_s8"
    p = call.params
    assert int(p["rq_fast"] == 1 and (p["act_min"], p["act_max"]) == (-128, 127)) == asm
    path = tmp_path / f"{case}.tflite"
    path.write_bytes(model)
    lib = generate(path, tmp_path / "lib", options=Options(optimize="size")).out_dir
    x, sim = _qemu_equals_host(lib, tmp_path, n=3, dsp="smlad")
    (reference,) = run_tflm(model, [x], 1)
    (exit_name,) = [e["name"] for e in load_manifest(lib)["exits"]]
    assert sim[exit_name].reshape(reference.shape).tobytes() == reference.tobytes()


@pytest.mark.parametrize("key, optimize", [("kws", "speed"), ("ic", "speed"), ("ad", "speed"),
                                           ("kws", "size"), ("ic", "size"), ("ad", "size")])
def test_mlperf_dsp_build_matches_host(key, optimize, generated, tmp_path):
    lib = generated(mlperf_path(key), optimize=optimize)
    manifest = load_manifest(lib)
    assert manifest["optimize"] == optimize
    if optimize == "size":  # every GEMM call took the int8 layout: constants within ~int8 size
        model_bytes = sum(t.nbytes for t in read_model(mlperf_path(key)).tensors if t.is_constant)
        assert manifest["weight_bytes"] < 1.2 * model_bytes
    _qemu_equals_host(lib, tmp_path, n=2)


CORES = {  # arm-none-eabi-gcc flags per core (boards/*.toml use the same)
    "cortex-m0plus": ["-mcpu=cortex-m0plus", "-mthumb", "-mfloat-abi=soft"],
    "cortex-m4": ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"],
    "cortex-m7": ["-mcpu=cortex-m7", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv5-d16"],
    "cortex-m33": ["-mcpu=cortex-m33", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv5-sp-d16"],
}


@pytest.mark.parametrize("core", sorted(CORES))
@pytest.mark.parametrize("opt", ["-O0", "-O2", "-Os"])
def test_every_kernel_compiles_warning_free(core, opt, tmp_path):
    """Strict C99 on every core, including the inline asm's register needs at -O0 and -Os."""
    from tinyexit.codegen.paths import TEMPLATES_DIR

    sources = sorted(str(p) for p in (TEMPLATES_DIR / "kernels").glob("tx_*.c"))
    cmd = ["arm-none-eabi-gcc", *CORES[core], opt, "-std=c99", "-Wall", "-Wextra", "-Werror",
           f"-I{TEMPLATES_DIR / 'kernels'}", "-c", *sources]
    result = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[:2000]


# The int8 GEMM's paths (tx_conv2d_gemm_s8.c conv_w8), each on QEMU against the host build and TFLM:
# (model, rq_fast, wide = no activation to apply). rq_fast + wide full blocks take pairs_wide (the
# asm pair loop), the others dot_3x2_w8 + output_block_mr / output_one.
DEAD_BIAS = [2**30 - 5000, -(2**30), 2**30 - 100, 12345, -777, 2**30 - 2**20, -(2**30) + 3 * 2**18, 2**29]
W8_PATHS = {
    # groups % 4 == 0 (K = 144), 35 pixels (a last block of 2), 4 channel pairs: pairs_wide.
    "w8_pairs_wide_groups_mod4_0": (lambda: conv_model(seed=21, in_shape=(1, 5, 7, 16), out_c=8), 1, 1),
    # groups % 4 == 2 (K = 36 -> 40), odd out_c: pairs_wide, then output_one for the last channel.
    "w8_pairs_wide_groups_mod4_2_odd": (lambda: conv_model(seed=22, in_shape=(1, 6, 6, 4), out_c=7), 1, 1),
    # groups == 2 (pointwise over 8 channels, VWW's first one): pairs_wide's copy without a pass loop;
    # 5 channel pairs.
    "w8_pairs_wide_groups_2": (lambda: conv_model(seed=29, in_shape=(1, 4, 6, 8), kernel=(1, 1), out_c=10), 1, 1),
    # groups == 6 (pointwise over 24 channels: 2 passes, the first entered at its third group).
    "w8_pairs_wide_groups_6": (lambda: conv_model(seed=30, in_shape=(1, 5, 6, 24), kernel=(1, 1), out_c=6), 1, 1),
    # an activation to apply (RELU6): output_block_mr.
    "w8_fast_relu6": (lambda: conv_model(seed=23, in_shape=(1, 5, 6, 8), out_c=6, activation="RELU6"), 1, 0),
    # pointwise, stride 1: each column widened straight from the input (direct), in_c % 8 == 4 (a
    # zero group past each column), 25 pixels (a last block of 1).
    "w8_pointwise_direct_c12": (lambda: conv_model(seed=28, in_shape=(1, 5, 5, 12), kernel=(1, 1), out_c=8), 1, 1),
    # in_c % 4 != 0 at stride 2 (VWW's stem; at stride 1 such layers take conv2d_rows_s8): every window
    # gathered, then widened.
    "w8_gather_c6": (lambda: conv_model(seed=26, in_shape=(1, 7, 7, 6), out_c=6, stride=(2, 2)), 1, 1),
    # (one input channel: a 2x3 kernel, as 3x3 ones take conv2d_c1_s8)
    "w8_gather_c1": (lambda: conv_model(seed=27, in_shape=(1, 8, 8, 1), out_c=8, kernel=(2, 3)), 1, 1),
    # "dead" channels (bias near +-2^30, right shifts beyond 22) moved onto tx_mr by gemm.step_channel.
    "w8_step_channels": (lambda: conv_model(seed=25, in_shape=(1, 5, 6, 8), out_c=8, out_scale_factor=45000.0,
                                            bias_values=DEAD_BIAS), 1, 1),
    # a left shift (multiplier above one): the 64-bit records, output_one.
    "w8_records_left_shift": (lambda: conv_model(seed=24, in_shape=(1, 4, 5, 8), kernel=(1, 1), out_c=6,
                                                 out_scale_factor=0.0015), 0, 1),
}


@pytest.mark.parametrize("case", sorted(W8_PATHS))
def test_int8_gemm_paths_match_host_and_tflm(case, tmp_path):
    make, fast, wide = W8_PATHS[case]
    model = make()
    graph = parse_model(model)
    (call,) = prepare_op(graph, graph.ops[0], "size")
    assert call.kernel == "conv2d_gemm_s8" and call.params["w8"] == 1
    assert call.params.get("rq_fast", 0) == fast
    assert (call.params["act_min"], call.params["act_max"]) == (-128, 127) if wide else call.params["act_min"] > -128
    path = tmp_path / f"{case}.tflite"
    path.write_bytes(model)
    lib = generate(path, tmp_path / "lib", options=Options(optimize="size")).out_dir
    # pairs_wide's copies of its loop for 4k + 2 groups (k >= 1) and for 2 groups are compiled only into
    # the libraries that have such layers
    groups = call.params["col_words"] // 2
    common = (lib / "tx_common.h").read_text()
    assert ("#define TX_CONV2D_GEMM_NO_ODD 1" in common) == (groups % 4 == 0 or groups == 2)
    assert ("#define TX_CONV2D_GEMM_NO_G2 1" in common) == (groups != 2)
    # and the 64-bit records' path only into those with a layer that needs it
    assert ("#define TX_CONV2D_GEMM_MR_ONLY 1" in common) == bool(fast)
    x, sim = _qemu_equals_host(lib, tmp_path, n=3)
    (reference,) = run_tflm(model, [x], 1)
    (exit_name,) = [e["name"] for e in load_manifest(lib)["exits"]]
    assert sim[exit_name].reshape(reference.shape).tobytes() == reference.tobytes()
    assert len(np.unique(reference)) >= 3


# tx_add_lut_s8 on QEMU against the host build and TFLM, in a residual block ADD(x, CONV_1x1(x)):
# (model, rq_fast). rq_fast (size % 4 == 0) takes the word-at-a-time asm loop with its bytewise clamp;
# a library whose ADDs all take it leaves the 64-bit path out (TX_ADD_LUT_FAST_ONLY).
ADD_PATHS = {
    "add_fast_no_activation": (lambda: residual_add_model(31, in_shape=(1, 6, 8, 8)), 1),
    "add_fast_relu_in_place": (lambda: residual_add_model(32, in_shape=(1, 5, 4, 12), activation="RELU",
                                                          out_zp=-20), 1),
    "add_fast_relu6": (lambda: residual_add_model(33, in_shape=(1, 4, 4, 8), activation="RELU6", out_scale=0.03,
                                                  out_zp=-128), 1),
    "add_size_not_multiple_of_4": (lambda: residual_add_model(34, in_shape=(1, 5, 7, 6), activation="RELU"), 0),
}


@pytest.mark.parametrize("case", sorted(ADD_PATHS))
def test_add_paths_match_host_and_tflm(case, tmp_path):
    make, fast = ADD_PATHS[case]
    model = make()
    path = tmp_path / f"{case}.tflite"
    path.write_bytes(model)
    lib = generate(path, tmp_path / "lib", options=Options(optimize="size")).out_dir
    graph = read_model(path)
    (call,) = prepare_op(graph, graph.ops[1], "size")
    assert call.kernel == "add_lut_s8" and call.params["rq_fast"] == fast
    assert ("#define TX_ADD_LUT_FAST_ONLY 1" in (lib / "tx_common.h").read_text()) == bool(fast)
    x, sim = _qemu_equals_host(lib, tmp_path, n=4)
    (reference,) = run_tflm(model, [x], 1)
    (exit_name,) = [e["name"] for e in load_manifest(lib)["exits"]]
    assert sim[exit_name].reshape(reference.shape).tobytes() == reference.tobytes()
    assert len(np.unique(reference)) >= 20
    if call.params["act_min"] > -128:  # the clamp is reached
        assert reference.min() == call.params["act_min"]


# tx_conv2d_rows_s8's four asm loops (3 or 6 channels widened to 4 or 6 values, 1x1 or 3x3 kernels), a short
# last block, stride 2 down the height, two batches; on the M4 and the M7.
ROWS_ONE_OP = {
    "rows_c4_k3_stem": dict(seed=31, in_shape=(1, 12, 12, 3), out_c=6),
    "rows_c6_k3_relu_zp_min": dict(seed=32, in_shape=(1, 12, 12, 6), out_c=6, activation="RELU", out_zp=-128),
    "rows_c6_k1_head": dict(seed=33, in_shape=(1, 12, 12, 6), kernel=(1, 1), out_c=12),
    "rows_c4_k1_short_block": dict(seed=34, in_shape=(1, 4, 7, 3), kernel=(1, 1), out_c=2),
    "rows_c6_k3_s2x1_batch_2_c5": dict(seed=35, in_shape=(2, 7, 8, 5), out_c=4, stride=(2, 1), in_zp=127),
    "rows_c4_k3_short_block_c2": dict(seed=36, in_shape=(1, 9, 7, 2), out_c=8, in_zp=-128),
}


@pytest.mark.parametrize("board", ["nucleo-l4r5zi", "nucleo-f746zg"])
@pytest.mark.parametrize("case", sorted(ROWS_ONE_OP))
def test_conv_rows_matches_host_and_tflm(case, board, tmp_path):
    model = conv_model(**ROWS_ONE_OP[case])
    graph = parse_model(model)
    (call,) = prepare_op(graph, graph.ops[0], "size")
    assert call.kernel == "conv2d_rows_s8"
    assert (call.params["act_min"], call.params["act_max"]) == (-128, 127)  # the asm loops' condition
    path = tmp_path / f"{case}.tflite"
    path.write_bytes(model)
    lib = generate(path, tmp_path / "lib", options=Options(optimize="size")).out_dir
    x, sim = _qemu_equals_host(lib, tmp_path, n=3, dsp="smlad", board=board)
    (reference,) = run_tflm(model, [x], 1)
    (exit_name,) = [e["name"] for e in load_manifest(lib)["exits"]]
    assert sim[exit_name].reshape(reference.shape).tobytes() == reference.tobytes()
    assert len(np.unique(reference)) >= 3
