"""Cross-builds, QEMU runs and instruction counts, checked against real values.

- outputs from QEMU equal the host build's byte for byte (generated models, M4 and M7);
- two runs give identical instruction counts; per-block and per-instruction counts agree;
- the plugin's instruction classes agree with objdump on every executed instruction;
- a model that does not fit fails naming the region and the overflow in bytes;
- a guest that hangs or faults is reported with its sample and stage.
Long runs (100 KWS samples, ResNet-8 timing) are in bench/simulate_bench.py.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import textwrap
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from tinyexit.codegen.errors import TinyexitError
from tinyexit.firmware_sim import cycles
from tinyexit.codegen.boards import load_board
from tinyexit.firmware_sim.build import FIRMWARE_DIR, build_firmware, dsp_instruction_count, render_linker_script
from tinyexit.firmware_sim.host import run_host
from tinyexit.firmware_sim.qemu import plugin_path, run, run_library

M4, M7 = "nucleo-l4r5zi", "nucleo-f746zg"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session", autouse=True)
def _plugin():
    plugin_path()  # builds the plugin if `make install` has not


def samples(manifest: dict, n: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).integers(-128, 128, size=(n, *manifest["input"]["shape"]), dtype=np.int8)


def manifest_of(lib: Path) -> dict:
    return json.loads((lib / "manifest.json").read_text())


def assert_same_outputs(host, sim):
    assert set(host.outputs) == set(sim.outputs)
    for name in host.outputs:
        assert host.outputs[name].tobytes() == sim.outputs[name].tobytes(), name
    assert np.array_equal(host.exit_taken, sim.exit_taken)
    assert np.array_equal(host.labels, sim.labels)
    host_arrays, sim_arrays = host.to_arrays(), sim.to_arrays()
    for key, value in host_arrays.items():
        assert sim_arrays[key].tobytes() == value.tobytes(), key


# ---------------------------------------------------------------- stand-in
# A hand-written library with the generator's API, whose exit decision
# depends on the input (stage 0 stops when input[0] < 0), and which can be
# told to hang or fault in one sample and stage.

STANDIN_H = """
#ifndef STANDIN_H
#define STANDIN_H
#include <stdint.h>
#define STANDIN_ARENA_BYTES 64
#define STANDIN_NUM_STAGES 3
#define STANDIN_NUM_EXITS 3
#define STANDIN_INPUT_BYTES 16
#define STANDIN_EXIT0_BYTES 4
#define STANDIN_EXIT1_BYTES 4
#define STANDIN_EXIT2_BYTES 4
#define STANDIN_EXIT0_LOGITS 4
#define STANDIN_EXIT1_LOGITS 4
#define STANDIN_EXIT2_LOGITS 4
int8_t *standin_input(void);
void standin_invoke_stage(int k);
int standin_decide(int k);
int standin_label(int k);
const int8_t *standin_exit_output(int k);
const int8_t *standin_exit_logits(int k);
int standin_run(void);
void standin_reset(void);
#endif
"""

STANDIN_C = """
#include "standin.h"
static int8_t arena[STANDIN_ARENA_BYTES];
int8_t *standin_input(void) { return arena; }
void standin_invoke_stage(int k)
{
    int32_t acc = 0;
    for (int r = 0; r < 50 * (k + 1); ++r) {
        for (int i = 0; i < STANDIN_INPUT_BYTES; ++i) {
            acc += (int32_t)arena[i] * (int32_t)(i - r);
        }
    }
    if (arena[1] == 42 && k == STANDIN_TRAP_STAGE) {
#if STANDIN_TRAP == 1
        volatile int spin = 1;
        while (spin) {
        }
#elif STANDIN_TRAP == 2
        __builtin_trap();
#endif
    }
    for (int j = 0; j < 4; ++j) {
        arena[16 + 4 * k + j] = (int8_t)(acc >> (8 * j));
    }
}
int standin_decide(int k) { return k == 2 || (k == 0 && arena[0] < 0); }
int standin_label(int k) { return arena[16 + 4 * k] & 7; }
const int8_t *standin_exit_output(int k) { return &arena[16 + 4 * k]; }
const int8_t *standin_exit_logits(int k) { return &arena[16 + 4 * k]; }
int standin_run(void)
{
    for (int k = 0;; ++k) {
        standin_invoke_stage(k);
        if (standin_decide(k)) {
            return k;
        }
    }
}
void standin_reset(void) {}
"""


def write_standin(folder: Path, trap: int = 0, trap_stage: int = 1) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "standin.h").write_text(textwrap.dedent(STANDIN_H))
    defines = f"#define STANDIN_TRAP {trap}\n#define STANDIN_TRAP_STAGE {trap_stage}\n"
    (folder / "standin.c").write_text(defines + textwrap.dedent(STANDIN_C))
    manifest = {
        "name": "standin", "prefix": "standin", "arena_bytes": 64, "policy": "input[0] < 0 at exit 0",
        "input": {"shape": [1, 16], "bytes": 16, "dtype": "int8", "scale": 1.0, "zero_point": 0},
        "exits": [{"name": f"exit{k}", "shape": [1, 4], "bytes": 4, "logits": 4, "dtype": "int8", "stage": k} for k in range(3)],
        "stages": [{"index": k, "ops": [k], "macs": 800 * (k + 1)} for k in range(3)],
        "sources": ["standin.c"], "headers": ["standin.h"],
    }  # fmt: skip
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


@pytest.fixture(scope="module")
def standin(tmp_path_factory):
    return write_standin(tmp_path_factory.mktemp("standin") / "lib")


@pytest.fixture(scope="module")
def standin_m4(standin, tmp_path_factory):
    return build_firmware(standin, M4, tmp_path_factory.mktemp("standin-m4"))


def test_exit_mix_counts_only_the_stages_that_ran(standin, standin_m4):
    x = samples(manifest_of(standin), 12, seed=3)
    x[:4, 0, 0] = -5  # these stop at exit 0
    x[4:, 0, 0] = 5
    res = run(standin_m4, M4, x, manifest_of(standin), check=True)
    assert_same_outputs(run_host(standin, x), res)
    assert list(res.exit_taken) == [0] * 4 + [2] * 8
    ran = res.stage_instructions > 0
    assert np.array_equal(ran, np.arange(3)[None, :] <= res.exit_taken[:, None])
    # Stage k loops 50 (k+1) times over 16 bytes: the counts grow with k, the same for every sample.
    full = res.stage_instructions[4:]
    assert (full == full[0]).all() and full[0, 0] < full[0, 1] < full[0, 2]
    assert (res.cycles_est[ran] > res.stage_instructions[ran]).all() and (res.cycles_est[~ran] == 0).all()
    # Stages add up to the sample minus only the harness between markers (the call to tx_run_stage and the
    # loop: a few instructions per stage).
    overhead = res.sample_instructions - res.stage_instructions.sum(axis=1)
    assert ((overhead > 0) & (overhead <= 16 * (res.exit_taken + 1))).all()


def test_flat_profile_adds_up_to_the_run(standin, standin_m4):
    x = samples(manifest_of(standin), 3, seed=8)
    res = run(standin_m4, M4, x, manifest_of(standin), profile=True)
    flat = res.extra["profile"]
    insn = cycles.INDEX["insn"]
    assert sum(int(v[insn]) for v in flat.values()) == res.total_instructions
    assert next(iter(flat)) == "standin_invoke_stage"
    assert flat["standin_invoke_stage"][insn] < res.stage_instructions.sum()  # stages also run decide()
    assert flat["standin_decide"][insn] > 0 and flat["tx_stage_begin"][insn] > 0


def test_counts_are_identical_on_two_runs(standin, standin_m4):
    x = samples(manifest_of(standin), 5, seed=4)
    a = run(standin_m4, M4, x, manifest_of(standin))
    b = run(standin_m4, M4, x, manifest_of(standin))
    assert np.array_equal(a.stage_classes, b.stage_classes) and a.total_instructions == b.total_instructions


def test_hung_guest_is_stopped_and_located(tmp_path):
    lib = write_standin(tmp_path / "lib", trap=1, trap_stage=1)
    built = build_firmware(lib, M4, tmp_path)
    x = samples(manifest_of(lib), 3, seed=5)
    x[:, 0, 0] = 5
    x[2, 0, 1] = 42
    with pytest.raises(TinyexitError) as err:
        run(built, M4, x, manifest_of(lib), timeout=3)
    assert err.value.message == (
        f"{built.elf.name} on QEMU mps2-an386 did not finish within 3 s and was stopped: "
        "the guest hung in sample 2, stage 1"
    )


def test_faulting_guest_is_reported(tmp_path):
    lib = write_standin(tmp_path / "lib", trap=2, trap_stage=0)
    built = build_firmware(lib, M7, tmp_path)
    x = samples(manifest_of(lib), 2, seed=6)
    x[1, 0, 1] = 42
    with pytest.raises(TinyexitError, match=r"the guest faulted in sample 1, stage 0: HardFault pc=[0-9a-f]{8}"):
        run(built, M7, x, manifest_of(lib))


# ------------------------------------------------------- generated models


@pytest.fixture(scope="module")
def ee_lib(tmp_path_factory):
    from tinyexit.codegen.pipeline import generate

    return generate(FIXTURES / "ee_three_exits.tflite", tmp_path_factory.mktemp("ee") / "lib").out_dir


@pytest.mark.parametrize("board", [M4, M7])
def test_generated_model_matches_host_on_qemu(ee_lib, board, tmp_path):
    manifest = manifest_of(ee_lib)
    x = samples(manifest, 4)
    built = build_firmware(ee_lib, board, tmp_path)
    first = run(built, board, x, manifest, check=True)
    assert_same_outputs(run_host(ee_lib, x), first)
    stages = len(manifest["stages"])
    assert first.stage_instructions.shape == (4, stages) and first.stage_instructions.dtype == np.int64
    again = run(built, board, x, manifest)
    assert np.array_equal(first.stage_instructions, again.stage_instructions)
    assert np.array_equal(first.cycles_est, again.cycles_est)


@pytest.mark.parametrize("model", ["ic", "kws", "ee_resnet", "ee_dscnn"])
def test_models_match_host_and_count_identically_on_m4_and_m7(model, tmp_path):
    from tinyexit.codegen.pipeline import generate
    from conftest import mlperf_path

    path = mlperf_path(model) if model in ("ic", "kws") else FIXTURES / f"{model}.tflite"
    lib = generate(path, tmp_path / "lib").out_dir
    manifest = manifest_of(lib)
    x = samples(manifest, 2)
    host = run_host(lib, x)
    for board in (M4, M7):
        built = build_firmware(lib, board, tmp_path / board)
        # The kernels' DSP paths (SMLAD on int16 pairs) are compiled in on both cores...
        assert dsp_instruction_count(built.elf).get("smlad", 0) > 0
        a = run(built, board, x, manifest)
        b = run(built, board, x, manifest)
        assert_same_outputs(host, a)
        assert np.array_equal(a.stage_classes, b.stage_classes)
        assert (a.stage_instructions.sum(axis=1) > manifest["macs"]).all()
        overhead = a.sample_instructions - a.stage_instructions.sum(axis=1)
        assert ((overhead > 0) & (overhead <= 12 * (a.exit_taken + 1))).all()  # only the harness's marker calls
        # ...and every sample executes them.
        assert (a.stage_classes[..., cycles.INDEX["simd_mac"]].sum(axis=1) > 0).all()


# ------------------------------------------------ the plugin's decoder

DECODER_PROBE = """
#include <arm_acle.h>
#include <stdint.h>
#include <stdio.h>
volatile int32_t sink;
__attribute__((noinline)) int32_t probe(const int8_t *a, const int8_t *b, int n, int32_t *out)
{
    int32_t acc = 0;
    int64_t l = 0;
    for (int i = 0; i < n; i += 4) {
        int32_t x = *(const int32_t *)(const void *)(a + i), y = *(const int32_t *)(const void *)(b + i);
        int32_t x1 = __sxtb16(x), y1 = __sxtb16(y);
        acc = __smlad(x1, y1, acc);
        acc = __smlsd(x1, y1, acc);
        l = __smlald(x1, y1, l);
        acc += __qadd(acc, x) + __ssat(acc, 8) + __usat(acc, 8) + __smlabb(x, y, acc);
        acc += __sadd16(x, y) + __uxtb16(y) + __ssat16(x, 7) + __smuad(x, y);
        acc = acc * x + (int32_t)(((int64_t)x * y) >> 32) + acc / (y | 1) + (int32_t)((uint32_t)acc / ((uint32_t)y | 1u));
        out[i & 7] = acc;
    }
    float f = (float)acc;
    f = f * 1.5f + 2.0f;
    f = __builtin_sqrtf(f / 3.0f);
    sink = (int32_t)f + (int32_t)l;
    switch (n & 7) {
    case 0: return acc;
    case 1: return acc + 1;
    case 2: return acc * 3;
    case 3: return acc - 7;
    case 4: return acc ^ 5;
    case 5: return acc | 9;
    default: return 0;
    }
}
int main(void)
{
    static int8_t a[64], b[64];
    int32_t out[8];
    for (int i = 0; i < 64; ++i) {
        a[i] = (int8_t)(i * 7);
        b[i] = (int8_t)(i * 13 + 1);
    }
    int32_t s = 0;
    for (int n = 1; n < 64; n += 3) {
        s += probe(a, b, n, out);
    }
    printf("%ld\\n", (long)s);
    return 0;
}
"""

ONE = {
    "load": ("ldr", "ldrb", "ldrh", "ldrsb", "ldrsh", "ldrex", "ldrexb", "ldrexh"),
    "store": ("str", "strb", "strh", "strex", "strexb", "strexh"),
    "lsm": ("ldm", "ldmia", "ldmdb", "stm", "stmia", "stmdb", "push", "pop", "ldrd", "strd", "vpush", "vpop",
            "vldmia", "vstmia", "vldmdb", "vstmdb"),
    "mul": ("mul", "muls", "smulbb", "smulbt", "smultb", "smultt", "smulwb", "smulwt", "smuad", "smuadx",
            "smusd", "smusdx", "smmul", "usad8"),
    "mac": ("mla", "mls", "smlabb", "smlabt", "smlatb", "smlatt", "smlawb", "smlawt", "smlad", "smladx", "smlsd",
            "smlsdx", "smmla", "smmls", "usada8"),
    "mul_long": ("smull", "umull"),
    "mac_long": ("smlal", "umlal", "umaal", "smlald", "smlaldx", "smlsld", "smlsldx"),
    "div": ("sdiv", "udiv"),
    "fp_mac": ("vmla", "vmls", "vnmla", "vnmls", "vfma", "vfms", "vfnma", "vfnms"),
    "fp_div": ("vdiv", "vsqrt"),
    "sys": ("bkpt", "svc", "dsb", "dmb", "isb", "nop", "wfi", "msr", "mrs", "udf", "pld", "pli"),
}  # fmt: skip
CONDS = "eq|ne|cs|hs|cc|lo|mi|pl|vs|vc|hi|ls|ge|lt|gt|le"


def expected_classes(mnemonic: str, operands: str) -> set[str]:
    base = mnemonic.split(".")[0]
    m = re.fullmatch(rf"(\w+?)({CONDS})", base)
    if m and any(m.group(1) in names for names in ONE.values()):
        base = m.group(1)  # conditional in an IT block
    if base in ("vldr", "vstr"):
        return {"lsm"} if operands.startswith("d") else {"load" if base == "vldr" else "store"}
    for cls, names in ONE.items():
        if base in names:
            return {cls}
    if base.startswith("v"):
        return {"fp"}
    return set()


@pytest.mark.parametrize("board", [M4, "nucleo-u575zi-q"])
def test_decoder_agrees_with_objdump(board, tmp_path):
    b = load_board(board)
    for name in ("tx_startup.c", "tx_io_semihost.c", "tx_io.h"):
        shutil.copyfile(FIRMWARE_DIR / name, tmp_path / name)
    (tmp_path / "probe.c").write_text(DECODER_PROBE)
    render_linker_script(b, "qemu", tmp_path / "link.ld")
    elf = tmp_path / "probe.elf"
    subprocess.run(
        ["arm-none-eabi-gcc", *b.cflags, "-O2", "-std=gnu99", "-nostartfiles", "--specs=nano.specs",
         "--specs=rdimon.specs", "-T", "link.ld", "-I.", "probe.c", "tx_startup.c", "tx_io_semihost.c", "-o", str(elf), "-lm"],
        cwd=tmp_path, check=True,
    )  # fmt: skip
    plugin = f"{plugin_path()},out=events.bin,dump=dump.txt"
    proc = subprocess.run(
        ["qemu-system-arm", "-M", b.qemu_machine, "-nographic", "-monitor", "none", "-serial", "none",
         "-semihosting-config", "enable=on,target=native", "-icount", "shift=0", "-plugin", plugin, "-kernel", str(elf)],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    listing = subprocess.run(["arm-none-eabi-objdump", "-d", str(elf)], capture_output=True, text=True).stdout
    insns = {}
    for line in listing.splitlines():
        m = re.match(r"\s*([0-9a-f]+):\t([0-9a-f]{4}(?: [0-9a-f]{4})?)\s*\t(\S+)\s*(.*)", line)
        if m:
            insns[int(m.group(1), 16)] = (m.group(3), m.group(4), 4 if " " in m.group(2) else 2)
    checked, seen = 0, set()
    keys = set(ONE) | {"fp"}
    for line in (tmp_path / "dump.txt").read_text().splitlines():
        parts = line.split()
        addr, size = int(parts[0], 16), int(parts[1])
        mnemonic, operands, length = insns[addr]
        got = {p.split("=")[0] for p in parts[2:] if "=" in p} & keys
        assert size == length, line
        assert got == expected_classes(mnemonic, operands), f"{line}  <- {mnemonic} {operands}"
        is_branch = any(p.startswith("branch=") for p in parts[2:])
        writes_pc = operands.split(",")[0].strip() == "pc" or (
            mnemonic.startswith(("pop", "ldm")) and re.search(r"\bpc\}", operands)
        )
        assert is_branch == (bool(re.fullmatch(rf"(b|bl|bx|blx|cbz|cbnz|tbb|tbh)({CONDS})?(\.[nw])?", mnemonic))
                             or bool(writes_pc)), line  # fmt: skip
        checked += 1
        seen |= got
    assert checked > 1000
    assert {"load", "store", "lsm", "mul", "mac", "mul_long", "mac_long", "div", "fp_mac", "fp_div"} <= seen


# -------------------------------------------------------- fit and tools


def tiny_board(tmp_path: Path, flash: int, ram: int, qemu_ram: int = 0x400000) -> Path:
    text = (Path(load_board(M4).path).read_text()
            .replace('name = "nucleo-l4r5zi"', 'name = "tiny"')
            .replace("size = 0x200000          # 2 MiB", f"size = {flash}")
            .replace("size = 0xA0000           # 640 KiB", f"size = {ram}")
            .replace("size = 0x400000\n\n# Renode", f"size = {qemu_ram}\n\n# Renode"))  # fmt: skip
    path = tmp_path / "tiny.toml"
    path.write_text(text)
    return path


def test_model_too_big_names_region_and_overflow(standin, standin_m4, tmp_path):
    need_ram, need_flash = standin_m4.ram_used, standin_m4.flash_used
    board = tiny_board(tmp_path, flash=0x100000, ram=need_ram - 1000)
    with pytest.raises(TinyexitError) as err:
        build_firmware(standin, board, tmp_path / "a")
    assert err.value.message.startswith("standin does not fit tiny: RAM overflowed by 1,000 bytes")
    board = tiny_board(tmp_path, flash=need_flash - 4096, ram=0x10000)
    with pytest.raises(TinyexitError, match="standin does not fit tiny: FLASH overflowed by 4,096 bytes"):
        build_firmware(standin, board, tmp_path / "b")
    # When even the QEMU machine's map is too small the linker says so, and we pass it on.
    board = tiny_board(tmp_path, flash=0x100000, ram=0x10000, qemu_ram=need_ram - 8)
    with pytest.raises(TinyexitError, match=r"does not fit QEMU mps2-an386's RAM: RAM overflowed by \d+ bytes"):
        build_firmware(standin, board, tmp_path / "c")


def test_missing_tools_name_the_install_command(standin, monkeypatch, tmp_path):
    real_which = shutil.which
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None if name.startswith("arm-none-eabi") else real_which(name))
    with pytest.raises(TinyexitError, match="arm-none-eabi-gcc is not installed; .*apt-get install .*gcc-arm-none-eabi"):
        build_firmware(standin, M4, tmp_path)
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None if name == "qemu-system-arm" else real_which(name))
    from tinyexit.firmware_sim.qemu import qemu_binary

    with pytest.raises(TinyexitError, match="qemu-system-arm is not installed; install it: .*apt-get install"):
        qemu_binary()


def test_timing_model_weights():
    counts = np.zeros(len(cycles.CLASSES), np.int64)
    i = cycles.INDEX
    counts[i["insn"]], counts[i["load"]], counts[i["ls_after_load"]] = 10, 4, 3
    counts[i["lsm"]], counts[i["lsm_words"]], counts[i["br_cond_taken_imm"]], counts[i["div"]] = 1, 5, 2, 1
    # M4: 10 + 1 per unpipelined load (1) + 5 words + 2 x P(2) + 6 for the divide
    assert cycles.estimate(counts, "cortex-m4") == 10 + 1 + 5 + 4 + 6
    assert cycles.estimate(counts, "m4-simple") == 10 + 4 + 5 + 4 + 6
    assert cycles.estimate(counts, "cortex-m7") == 10 + 2.5 + 2 + 6


# -------------------------------------------------- UART, Renode, project files


@pytest.mark.parametrize("board", ["stm32f405", M7])
def test_uart_build_matches_host(standin, board):
    from tinyexit.firmware_sim.renode import run_uart_in_qemu

    x = samples(manifest_of(standin), 3, seed=7)
    assert_same_outputs(run_host(standin, x), run_uart_in_qemu(standin, board, x))


def test_renode_files_and_missing_renode(standin, tmp_path, monkeypatch):
    from tinyexit.firmware_sim.renode import run as renode_run
    from tinyexit.firmware_sim.renode import expected_uart, write_renode_files

    x = samples(manifest_of(standin), 2)
    built = build_firmware(standin, "nucleo-l4r5zi", tmp_path, memory_map="board", io="uart", inputs=x)
    files = write_renode_files(built, tmp_path, expected_uart(standin, x))
    repl, resc, robot = files.repl.read_text(), files.resc.read_text(), files.robot.read_text()
    assert 'cpuType: "cortex-m4"' in repl and "lpuart1: UART.STM32F7_USART @ sysbus 0x40008000" in repl
    assert "size: 0xA0000" in repl
    assert f"$elf?=$ORIGIN/{built.elf.name}" in resc and "sysbus.lpuart1 CreateFileBackend $log true" in resc
    assert robot.rstrip().endswith("Wait For Line On Uart     ^TX EXIT 0$    treatAsRegex=true")
    assert f"include @${{CURDIR}}/{files.resc.name}" in robot
    x1 = samples(manifest_of(standin), 1)
    f7 = write_renode_files(build_firmware(standin, M7, tmp_path / "f7", memory_map="board", io="uart", inputs=x1),
                            tmp_path / "f7", expected_uart(standin, x1))  # fmt: skip
    assert f7.repl.read_text().count('using "platforms/cpus/stm32f746.repl"') == 1
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(TinyexitError, match="Renode is not installed .*github.com/renode/renode/releases"):
        renode_run(standin, M4, samples(manifest_of(standin), 1))


APP = """
#include <stdint.h>
#include <string.h>
#include "{prefix}.h"
int main(void)
{{
    memset({prefix}_input(), 3, {PREFIX}_INPUT_BYTES);
    int k = {prefix}_run();
    const int8_t *y = {prefix}_exit_output(k);
    return (k >= 0 && k < {PREFIX}_NUM_STAGES && y != 0) ? 0 : 1;
}}
"""

TOOLCHAIN_CMAKE = """
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR arm)
set(CMAKE_C_COMPILER arm-none-eabi-gcc)
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)
"""


def test_project_files_build_an_application(ee_lib, tmp_path):
    from tinyexit.codegen.project import write_project_files

    board = load_board(M4)
    lib = tmp_path / "model"
    shutil.copytree(ee_lib, lib)
    written = {p.name for p in write_project_files(lib, board)}
    prefix = manifest_of(lib)["prefix"]
    assert written == {"CMakeLists.txt", f"{prefix}.mk", "compiler_flags.txt", "STM32CubeIDE.txt"}
    cube = (lib / "STM32CubeIDE.txt").read_text()
    assert " ".join(board.cflags) in cube and f"{prefix}_run()" in cube
    app = tmp_path / "app.c"
    app.write_text(APP.format(prefix=prefix, PREFIX=prefix.upper()))
    glue = ["tx_startup.c", "tx_io_semihost.c"]
    for name in glue + ["tx_io.h"]:
        shutil.copyfile(FIRMWARE_DIR / name, tmp_path / name)
    render_linker_script(board, "qemu", tmp_path / "link.ld")
    link = [*board.cflags, "-nostartfiles", "--specs=nano.specs", "--specs=rdimon.specs", "-T", "link.ld"]
    cc = ["arm-none-eabi-gcc", "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror"]

    # 1. compiler_flags.txt, as an IDE would pass them.
    flags = (lib / "compiler_flags.txt").read_text().split()
    sources = [str(lib / s) for s in manifest_of(lib)["sources"]]
    subprocess.run([*cc, *flags, *link, f"-I{lib}", "-I.", "app.c", *glue, *sources, "-o", "flags.elf"],
                   cwd=tmp_path, check=True)  # fmt: skip
    # 2. the Makefile fragment's static library.
    (tmp_path / "Makefile").write_text(f"include model/{prefix}.mk\nall: $({prefix.upper()}_LIB)\n")
    subprocess.run(["make", "-s", "all"], cwd=tmp_path, check=True)
    archive = tmp_path / "build" / prefix / f"lib{prefix}.a"
    subprocess.run([*cc, *link, f"-I{lib}", "-I.", "app.c", *glue, str(archive), "-o", "make.elf"],
                   cwd=tmp_path, check=True)  # fmt: skip
    # 3. the CMake static library target.
    if shutil.which("cmake") is None:
        pytest.skip("cmake is not installed (apt-get install cmake)")
    (tmp_path / "toolchain.cmake").write_text(TOOLCHAIN_CMAKE)
    subprocess.run(["cmake", "-S", str(lib), "-B", "cmake-build", f"-DCMAKE_TOOLCHAIN_FILE={tmp_path / 'toolchain.cmake'}"],
                   cwd=tmp_path, check=True, capture_output=True)  # fmt: skip
    subprocess.run(["cmake", "--build", "cmake-build"], cwd=tmp_path, check=True, capture_output=True)
    subprocess.run([*cc, *link, f"-I{lib}", "-I.", "app.c", *glue, f"cmake-build/lib{prefix}.a", "-o", "cmake.elf"],
                   cwd=tmp_path, check=True)  # fmt: skip
    # The application runs: the model's _run() returns a valid exit in QEMU.
    for elf in ("flags.elf", "make.elf", "cmake.elf"):
        proc = subprocess.run(
            ["qemu-system-arm", "-M", board.qemu_machine, "-nographic", "-monitor", "none", "-serial", "none",
             "-semihosting-config", "enable=on,target=native", "-kernel", elf],
            cwd=tmp_path, capture_output=True, timeout=60,
        )  # fmt: skip
        assert proc.returncode == 0, (elf, proc.stderr)


# ------------------------------------------------------------------ CLI


def test_simulate_and_build_commands(tmp_path):
    from tinyexit.cli.main import app

    model = FIXTURES / "ee_three_exits.tflite"
    runner = CliRunner()
    result = runner.invoke(app, ["simulate", str(model), "--board", M4, "--samples", "3", "-o", str(tmp_path / "r.npz")],
                           env={"COLUMNS": "200"})  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "cycles_est is an estimate" in result.output and "flash wait states" in result.output
    arrays = np.load(tmp_path / "r.npz")
    assert arrays["stage_instructions"].shape == (3, 3) and arrays["stage_instructions"].dtype == np.int64
    for k in range(3):
        assert f"{arrays['stage_instructions'][0, k]:,}" in result.output
    # Time and energy estimates: cycles_est at 120 MHz, x 3.3 V x 13.2 mA (boards/nucleo-l4r5zi.toml [power]).
    cycles0 = arrays["cycles_est"][0].sum()
    assert f"{cycles0 * 1e3 / 120e6:.3f}" in result.output
    assert f"{cycles0 / 120e6 * 3.3 * 13.2 * 1e3:,.2f}" in result.output
    assert "uJ (est.)" in result.output and "time and energy are estimates" in result.output
    result = runner.invoke(app, ["build", str(model), "--board", M7, "-o", str(tmp_path / "fw")], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert re.search(r"flash\s+[\d,]+\s+1,048,576", result.output)
    names = {p.name for p in (tmp_path / "fw").iterdir()}
    assert {"ee_three_exits-nucleo-f746zg-qemu.elf", "ee_three_exits-nucleo-f746zg-board.elf", "nucleo-f746zg.repl",
            "ee_three_exits-nucleo-f746zg-board.resc", "ee_three_exits-nucleo-f746zg-board.robot", "lib",
            "nucleo-f746zg.ld"} <= names  # fmt: skip
    assert not any(n.startswith("build-") for n in names)
    result = runner.invoke(app, ["build", str(model), "--board", "nucleo-nope", "-o", str(tmp_path / "x")])
    assert result.exit_code != 0 and not (tmp_path / "x").exists()
