"""The firmware for the real boards and `tinyexit measure`, tested by what runs without a board.

- every board file's [hardware] table: the PLL gives the board's clock, the UART is the ST-LINK
  virtual COM port's (the Nucleo user manuals), BRR from the real kernel clock;
- every board's ELF, .bin and .hex build under the strict warning flags, with the vector table
  at the start of flash and the clock/UART set-up linked in (and not in the QEMU build);
- tx_board.c compiled on the host against a model of the registers whose ready flags answer: the PLL
  path, and the PLL, supply, flash, GPIO and UART values of the reference manuals;
- the print routine (tx_markers_dwt.c) compiled on the host with a known counter, and the whole
  board firmware run in QEMU (the STM32F405 board map is QEMU's netduinoplus2 map): its log parses
  into the host build's outputs, exits and per-stage lines;
- `measure --from-log` writes simulate's npz and JSON keys; a truncated log, a missing, busy or
  silent port are one-line errors.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from tinyexit.cli.main import app
from tinyexit.codegen.boards import list_boards, load_board
from tinyexit.codegen.errors import TinyexitError
from tinyexit.codegen.manifest import load_manifest
from tinyexit.codegen.options import make_options
from tinyexit.codegen.pipeline import generate
from tinyexit.firmware_sim.board_log import (BoardRun, format_board_log, parse_board_log, record_bytes,
                                             results_bytes)
from tinyexit.firmware_sim.build import FIRMWARE_DIR, board_sources, build_firmware, elf_symbols, write_images
from tinyexit.firmware_sim.harness import RunResult
from tinyexit.firmware_sim.host import run_host
from tinyexit.firmware_sim.serial_port import read_lines

FIXTURES = Path(__file__).resolve().parent / "fixtures"
MODEL = FIXTURES / "ee_three_exits.tflite"
POLICY = "confidence:0.6"
STRICT = ("-Wconversion", "-Wsign-conversion", "-Wshadow", "-Wcast-align", "-Wpedantic")  # with -Wall -Wextra -Werror
BOARDS = [b.name for b in list_boards()]

# board: (VCP UART, TX pin, RX pin, AF, its kernel clock at the full clock in Hz), from the Nucleo user
# manuals (UM2179, UM1974, UM2408, UM2861; the STM32CubeU5 BSP names USART1 on PA9/PA10) and each
# board file's bus prescalers.
VCP = {
    "nucleo-l4r5zi": ("LPUART1", "PG7", "PG8", 8, 120_000_000),
    "nucleo-f746zg": ("USART3", "PD8", "PD9", 7, 54_000_000),
    "nucleo-h7a3zi-q": ("USART3", "PD8", "PD9", 7, 140_000_000),
    "nucleo-u575zi-q": ("USART1", "PA9", "PA10", 7, 160_000_000),
    "stm32f405": ("USART1", "PA9", "PA10", 7, 84_000_000),
}


@pytest.fixture(scope="module")
def lib(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("board-lib")
    return generate(MODEL, out / "lib", options=make_options(POLICY, None, "size")).out_dir


def samples(lib: Path, n: int, seed: int = 5) -> np.ndarray:
    shape = load_manifest(lib)["input"]["shape"]
    return np.random.default_rng(seed).integers(-128, 128, size=(n, *shape), dtype=np.int8)


# ------------------------------------------------------------------ board files


@pytest.mark.parametrize("name", BOARDS)
def test_hardware_table_sets_the_board_clock_and_its_vcp_uart(name):
    board = load_board(name)
    hw = board.hardware
    assert hw is not None
    assert hw.sysclk_hz == board.clock_hz == hw.hsi_hz * hw.pll_n // (hw.pll_m * hw.pll_div)
    uart, tx, rx, af, kernel = VCP[name]
    assert (hw.uart_name, f"P{hw.port}{hw.tx_pin}", f"P{hw.port}{hw.rx_pin}", hw.af) == (uart, tx, rx, af)
    assert hw.uart_clock_hz() == kernel
    # BRR: 16x oversampling f / baud, LPUART 256 f / baud, rounded; the baud it gives is within 1 %.
    scale = 256 if hw.lpuart else 1
    assert hw.brr(kernel) == round(scale * kernel / 115200)
    assert abs(scale * kernel / hw.brr(kernel) - 115200) / 115200 < 0.01
    assert abs(scale * hw.reset_hz / hw.brr(hw.uart_clock_hz(pll=False)) - 115200) / 115200 < 0.01
    # The UART Renode models for the part is the same peripheral.
    assert board.renode_uart.base == hw.uart_base


def test_bad_hardware_table_is_one_line(tmp_path):
    text = (Path(load_board("stm32f405").path)).read_text().replace("n = 168,", "n = 200,")
    path = tmp_path / "stm32f405.toml"
    path.write_text(text)
    with pytest.raises(TinyexitError) as err:
        load_board(path)
    assert str(err.value) == (f"{path}: hardware.pll.n gives 200,000,000 Hz (hsi_hz / m * n / div), above the "
                              "board's clock_hz 168,000,000; fix the board file")  # fmt: skip


# ------------------------------------------------------------------ builds


@pytest.mark.parametrize("name", BOARDS)
def test_board_elf_bin_and_hex_build_under_strict_flags(lib, name, tmp_path):
    board = load_board(name)
    built = build_firmware(lib, board, tmp_path, memory_map="board", io="uart", inputs=samples(lib, 2),
                           extra_cflags=STRICT)  # fmt: skip
    binary, intel_hex = write_images(built.elf)
    image = binary.read_bytes()
    symbols = elf_symbols(built.elf)
    # The vector table starts the flash image: initial stack pointer, then the reset handler (Thumb).
    sp, reset = np.frombuffer(image[:8], "<u4")
    assert sp == symbols["_estack"] and reset == symbols["Reset_Handler"] | 1
    assert symbols["tx_vector_table"] == board.flash.origin
    assert len(image) == built.flash_used
    # The Intel HEX holds the same bytes at the flash address.
    assert hex_bytes(intel_hex.read_text()) == (board.flash.origin, image)
    # The clock/UART set-up and the cycle-counting markers are linked in and called at reset.
    assert {"tx_board_init", "tx_stage_begin", "tx_sample_end"} <= set(symbols)
    dis = subprocess.run(["arm-none-eabi-objdump", "-d", str(built.elf)], capture_output=True, text=True).stdout
    io_init = dis[dis.index("<tx_io_init>:"):]
    assert "<tx_board_init>" in io_init[: io_init.index("\n\n")]
    # The QEMU build of the same board has none of it.
    qemu = build_firmware(lib, board, tmp_path / "qemu", memory_map="qemu", io="uart", inputs=samples(lib, 1))
    assert "tx_board_init" not in elf_symbols(qemu.elf)


def hex_bytes(text: str) -> tuple[int, bytes]:
    """(first address, contiguous data) of an Intel HEX file."""
    base, data, start = 0, bytearray(), None
    for line in text.split():
        raw = bytes.fromhex(line[1:])
        assert sum(raw) % 256 == 0, line
        count, addr, kind, payload = raw[0], int.from_bytes(raw[1:3], "big"), raw[3], raw[4 : 4 + raw[0]]
        assert len(payload) == count
        if kind == 4:
            base = int.from_bytes(payload, "big") << 16
        elif kind == 0:
            start = base + addr if start is None else start
            assert base + addr == start + len(data)
            data += payload
    return start, bytes(data)


# ------------------------------------------------------------------ the print routine


DRIVER = r"""
#include <stdint.h>
#include <stdio.h>
#include "tx_io.h"
#include "tx_markers.h"
static uint32_t now = 4294967000u; /* wraps during the first sample's stage 0 */
uint32_t tx_test_cycles(void) { return now; }
void tx_io_message(const char *text) { fputs(text, stdout); }
static void spend(uint32_t n) { now += n; }
int main(void)
{
    static const int exits[3] = {0, 2, 1};
    puts("TX CLOCK 120000000");
    for (int i = 0; i < 3; ++i) {
        tx_sample_begin();
        spend(7u);
        for (int k = 0; k <= exits[i]; ++k) {
            tx_stage_begin(k);
            spend(1000u * (uint32_t)(k + 1) + (uint32_t)i);
            tx_stage_end(k);
            spend(3u);
        }
        tx_sample_end();
        spend(50000u); /* printing, outside the spans */
    }
    return 0;
}
"""


def test_print_routine_on_the_host_gives_lines_the_parser_reads(lib, tmp_path):
    if shutil.which("gcc") is None:
        pytest.skip("gcc is not installed")
    for name in ("tx_markers_dwt.c", "tx_io.h"):
        shutil.copyfile(FIRMWARE_DIR / name, tmp_path / name)
    shutil.copyfile(FIRMWARE_DIR.parent / "harness" / "tx_markers.h", tmp_path / "tx_markers.h")
    (tmp_path / "driver.c").write_text(DRIVER)
    (tmp_path / "counter.h").write_text("#include <stdint.h>\nuint32_t tx_test_cycles(void);\n")
    subprocess.run(["gcc", "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-DTX_CYCLES()=tx_test_cycles()",
                    "-include", "counter.h", "-o", "driver", "driver.c", "tx_markers_dwt.c"],
                   cwd=tmp_path, check=True, capture_output=True)  # fmt: skip
    printed = subprocess.run(["./driver"], cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    manifest = load_manifest(lib)
    run = zero_run(manifest, [0, 2, 1])
    log = printed.splitlines() + [f"TXR {results_bytes(run, manifest).hex()}", "TX EXIT 0"]
    parsed = parse_board_log(log, manifest, "driver")
    assert parsed.clock_hz == 120_000_000
    assert parsed.stage_cycles.tolist() == [[1000, 0, 0], [1001, 2001, 3001], [1002, 2002, 0]]
    # The whole inference: 7 + the stages + 3 after each, across the counter's wrap in sample 0.
    assert parsed.sample_cycles.tolist() == [7 + 1000 + 3, 7 + 1001 + 2001 + 3001 + 9, 7 + 1002 + 2002 + 6]
    assert np.array_equal(parsed.run.exit_taken, [0, 2, 1])


def zero_run(manifest: dict, exits: list[int]) -> RunResult:
    n = len(exits)
    outputs = {e["name"]: np.zeros((n, *e["shape"]), e["dtype"]) for e in manifest["exits"]}
    logits = {e["name"]: np.zeros((n, e["logits"]), np.int8) for e in manifest["exits"]}
    return RunResult(exit_taken=np.array(exits, np.int8), labels=np.array([3, 1, 4][:n], np.int16),
                     outputs=outputs, logits=logits)  # fmt: skip


def test_log_format_round_trip(lib):
    manifest = load_manifest(lib)
    run = zero_run(manifest, [2, 0, 1])
    run.outputs["exit0"][1, 0] = 77
    stage = np.array([[11, 22, 33], [44, 0, 0], [55, 66, 0]], np.int64)
    original = BoardRun(run=run, clock_hz=160_000_000, stage_cycles=stage, sample_cycles=np.array([70, 45, 125]))
    lines = format_board_log(original, manifest)
    again = parse_board_log(["garbage before reset", "TX CLOCK 4000000", "TXS 0 9"] + lines, manifest, "log")
    assert again.clock_hz == 160_000_000  # the last run only
    for key, value in original.to_arrays().items():
        assert np.array_equal(again.to_arrays()[key], value), key
    assert again.time_ms(160_000).item() == 1.0


def test_truncated_and_lost_lines_are_one_line(lib):
    manifest = load_manifest(lib)
    lines = format_board_log(BoardRun(zero_run(manifest, [2, 1]), 120_000_000, np.array([[5, 6, 7], [8, 9, 0]]),
                                      np.array([20, 19])), manifest)  # fmt: skip
    cut = lines[: lines.index("TX EXIT 0") - 1]
    with pytest.raises(TinyexitError) as err:
        parse_board_log(cut, manifest, "cap.txt")
    assert str(err.value) == ("cap.txt: the log ends before 'TX EXIT' (2 samples timed, 1 results read); capture "
                              "from reset until the firmware prints 'TX EXIT 0'")  # fmt: skip
    with pytest.raises(TinyexitError, match=r"^cap.txt: sample 1 ran stage 1 but has no 'TXC 1 1' line; lines were lost"):
        parse_board_log([ln for ln in lines if ln != "TXC 1 1 9"], manifest, "cap.txt")
    record = record_bytes(manifest)
    with pytest.raises(TinyexitError, match=rf"^cap.txt: {2 * record - 1} result bytes are not a whole number of "
                                            rf"{record}-byte samples"):  # fmt: skip
        parse_board_log([ln[:-2] if ln.startswith("TXR") and ln is lines[-2] else ln for ln in lines], manifest,
                        "cap.txt")  # fmt: skip
    with pytest.raises(TinyexitError, match=r"^cap.txt: no 'TX CLOCK' line"):
        parse_board_log(lines[1:], manifest, "cap.txt")
    with pytest.raises(TinyexitError, match=r"^cap.txt: the board faulted after 1 samples: HardFault pc=0800"):
        parse_board_log(lines[:5] + ["TX FAULT HardFault pc=08000123"], manifest, "cap.txt")


# ------------------------------------------------------------------ the firmware in QEMU


def test_board_firmware_runs_in_qemu_and_measure_reads_its_log(lib, tmp_path):
    """netduinoplus2 maps the STM32F405's flash and SRAM where the part has them, so the real-board ELF runs.

    QEMU models no RCC and no DWT: the PLL never locks, so the firmware must report its reset clock (16 MHz,
    not the 168 MHz it asked for), and the counter reads 0; outputs and exits must be the host build's.
    """
    board = load_board("stm32f405")
    x = samples(lib, 4)
    built = build_firmware(lib, board, tmp_path, memory_map="board", io="uart", inputs=x,
                           extra_cflags=("-DTX_UART_EXIT_RESET",))  # fmt: skip
    proc = subprocess.run(["qemu-system-arm", "-M", board.qemu_machine, "-nographic", "-monitor", "none", "-serial",
                           "stdio", "-icount", "shift=0", "-no-reboot", "-kernel", str(built.elf)],
                          capture_output=True, timeout=120)  # fmt: skip
    log = proc.stdout.decode()
    manifest = load_manifest(lib)
    parsed = parse_board_log(log.splitlines(), manifest, "qemu")
    host = run_host(lib, x)
    for key, value in host.to_arrays().items():
        assert parsed.run.to_arrays()[key].tobytes() == value.tobytes(), key
    assert parsed.clock_hz == board.hardware.reset_hz == 16_000_000
    stage_lines = [tuple(map(int, m)) for m in re.findall(r"^TXC (\d+) (\d+) \d+$", log, re.M)]
    assert stage_lines == [(i, k) for i in range(4) for k in range(int(host.exit_taken[i]) + 1)]

    (tmp_path / "board.log").write_text(log)
    np.save(tmp_path / "x.npy", x)
    runner = CliRunner()
    args = ["measure", str(MODEL), "--board", "stm32f405", "--policy", POLICY, "--from-log", str(tmp_path / "board.log")]
    result = runner.invoke(app, [*args, "-o", str(tmp_path / "m.npz"), "--inputs", str(tmp_path / "x.npy")],
                           env={"COLUMNS": "120"})  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "measured on the board" in result.output and "board ran at 16 MHz, not the 168 MHz" in result.output
    assert "the cycle counter read 0 throughout: this log is not from a board" in " ".join(result.output.split())
    assert f"outputs: identical to the host build's on all 4 samples of {tmp_path / 'x.npy'}" in result.output
    np.save(tmp_path / "other.npy", samples(lib, 4, seed=6))
    other = runner.invoke(app, [*args, "--inputs", str(tmp_path / "other.npy")])
    assert isinstance(other.exception, TinyexitError)
    assert re.match(r"the board's outputs differ from the host build's in [1-4] of 4 samples \(first: sample \d\)",
                    str(other.exception))  # fmt: skip
    arrays = np.load(tmp_path / "m.npz")
    assert set(host.to_arrays()) | {"stage_cycles", "sample_cycles", "clock_hz"} == set(arrays.files)
    assert arrays["stage_cycles"].shape == (4, 3) and int(arrays["clock_hz"]) == 16_000_000
    measured = json.loads(runner.invoke(app, [*args, "--json"]).output)
    simulated = runner.invoke(app, ["simulate", str(MODEL), "--board", "stm32f405", "--policy", POLICY, "--samples",
                                    "1", "--json"])  # fmt: skip
    assert simulated.exit_code == 0, simulated.output
    simulated = json.loads(simulated.output)
    assert set(measured) == set(simulated)
    assert set(measured["stages"][0]) == set(simulated["stages"][0])
    assert set(measured["samples"][0]) == set(simulated["samples"][0])
    assert measured["timing_model"] == measured["cycles_source"] == "measured on the board (DWT cycle counter)"
    assert [s["exit_taken"] for s in measured["samples"]] == host.exit_taken.tolist()
    assert measured["clock_hz"] == 16_000_000


# ------------------------------------------------------------------ the serial port


def test_missing_port_is_one_line():
    proc = subprocess.run([sys.executable, "-m", "tinyexit", "measure", str(MODEL), "--board", "nucleo-l4r5zi",
                           "--port", "/dev/ttyNOPE9"], capture_output=True, text=True)  # fmt: skip
    assert proc.returncode == 2
    assert proc.stdout == ""  # no "press the board's reset button" for a port that is not there
    assert proc.stderr == ("error: serial port /dev/ttyNOPE9 does not exist; plug in the board's ST-LINK USB and "
                           "check `ls /dev/ttyACM*`\n")  # fmt: skip


def test_serial_reader_on_a_pty(lib):
    """A pseudo-terminal stands in for the ST-LINK port: lines through termios, then busy and silent ports."""
    manifest = load_manifest(lib)
    lines = format_board_log(BoardRun(zero_run(manifest, [1]), 120_000_000, np.array([[5, 6, 0]]), np.array([12])),
                             manifest)  # fmt: skip
    master, slave = os.openpty()
    port = os.ttyname(slave)
    try:
        # Written once the reader has opened (and flushed) the port, as a board prints after its reset.
        text = ("\r\n".join(["noise", *lines, "after"]) + "\r\n").encode()
        got = read_lines(port, timeout=10, on_open=lambda: os.write(master, text))
        assert got == ["noise", *lines]
        assert parse_board_log(got, manifest, port).stage_cycles.tolist() == [[5, 6, 0]]
        with pytest.raises(TinyexitError) as err:
            read_lines(port, timeout=0.3)
        assert str(err.value) == (f"no 'TX EXIT' line from {port} within 0 s (0 lines read); flash the board "
                                  "firmware, start `tinyexit measure`, then press the board's reset button")
        holder = os.open(port, os.O_RDONLY | os.O_NOCTTY | os.O_NONBLOCK)
        fcntl.flock(holder, fcntl.LOCK_EX)
        try:
            with pytest.raises(TinyexitError) as err:
                read_lines(port, timeout=1)
            assert str(err.value) == (f"serial port {port} is busy: another program (a terminal, ModemManager) "
                                      "has it open; close it")  # fmt: skip
        finally:
            os.close(holder)
    finally:
        os.close(master)
        os.close(slave)


def test_build_command_writes_bin_and_hex_and_says_how_to_flash(tmp_path):
    result = CliRunner().invoke(app, ["build", str(MODEL), "--board", "nucleo-u575zi-q", "--policy", POLICY, "-o",
                                      str(tmp_path / "fw")], env={"COLUMNS": "250"})  # fmt: skip
    assert result.exit_code == 0, result.output
    stem = tmp_path / "fw" / "ee_three_exits-nucleo-u575zi-q-board"
    assert stem.with_suffix(".bin").read_bytes()[:8] == subprocess.run(
        ["arm-none-eabi-objcopy", "-O", "binary", "-j", ".isr_vector", str(stem.with_suffix(".elf")), "/dev/stdout"],
        capture_output=True, check=True).stdout[:8]  # fmt: skip
    assert hex_bytes(stem.with_suffix(".hex").read_text())[0] == 0x08000000
    assert f"st-flash --reset write {stem}.bin 0x08000000" in result.output
    assert f"STM32_Programmer_CLI -c port=SWD -w {stem}.hex -v -rst" in result.output
    assert (f"tinyexit measure {MODEL} --board nucleo-u575zi-q --policy '{POLICY}' --port /dev/ttyACM0"
            in result.output)  # fmt: skip
    assert "160 MHz, results and DWT cycles on USART1 at 115200 baud" in result.output


# ------------------------------------------------------------------ tx_board.c on a register model

REGMODEL = r"""
#include <stdint.h>
#include <stdio.h>
#include "tx_board.h"

/* Every register is a slot that keeps what was written; on each access the
 * rules below make the part's ready flags answer as the hardware does. */
struct slot { uint32_t addr, value; };
static struct slot slots[256];
static int used;
struct rule { uint32_t addr, always, src, shift; };
static const struct rule rules[] = { RULES };

static uint32_t *slot(uint32_t addr)
{
    for (int i = 0; i < used; ++i) {
        if (slots[i].addr == addr) {
            return &slots[i].value;
        }
    }
    slots[used].addr = addr;
    return &slots[used++].value;
}

/* At the first access that finds SYSCLK on the PLL: were the wait states and the
 * supply (voltage scale, over-drive, boost) already set? */
static const uint32_t order[] = { ORDER }; /* switch register, status mask, PLL status, then (reg, mask, value)... */
static int seen_switch;

static void check_order(void)
{
    for (unsigned i = 3; i < sizeof order / sizeof order[0]; i += 3) {
        if ((*slot(order[i]) & order[i + 1]) != order[i + 2]) {
            printf("early %08lx\n", (unsigned long)order[i]);
        }
    }
}

volatile uint32_t *tx_test_reg(uint32_t addr)
{
    uint32_t *v = slot(addr);
    for (unsigned i = 0; i < sizeof rules / sizeof rules[0]; ++i) {
        if (rules[i].addr == addr) {
            *v |= rules[i].always;
            if (rules[i].src) {
                *v = (*v & ~(rules[i].src << rules[i].shift)) | ((*v & rules[i].src) << rules[i].shift);
            }
        }
    }
    if (addr == order[0] && (*v & order[1]) == order[2] && !seen_switch) {
        seen_switch = 1;
        check_order();
    }
    return v;
}

int main(void)
{
    static const uint32_t preset[][2] = { PRESET };
    for (unsigned i = 0; i < sizeof preset / sizeof preset[0]; ++i) {
        *slot(preset[i][0]) = preset[i][1];
    }
    const uint32_t clock = tx_board_init();
    printf("clock %lu\n", (unsigned long)clock);
    for (int i = 0; i < used; ++i) {
        printf("%08lx %08lx\n", (unsigned long)slots[i].addr, (unsigned long)slots[i].value);
    }
    return 0;
}
"""

# Ready flags each family's reference manual describes, as (register, bits that read 1 once asked,
# the switch field SW, the shift to its status SWS), and reset values that matter.
READY = {
    "stm32f4": ([(0x40023800, (1 << 1) | (1 << 25), 0, 0), (0x40023808, 0, 0x3, 2)], []),
    "stm32f7": ([(0x40023800, (1 << 1) | (1 << 25), 0, 0), (0x40023808, 0, 0x3, 2),
                 (0x40007004, (1 << 16) | (1 << 17), 0, 0)], []),
    "stm32l4+": ([(0x40021000, (1 << 10) | (1 << 25), 0, 0), (0x40021008, 0, 0x3, 2)], [(0x40007080, 1 << 8)]),
    "stm32h7ab": ([(0x58024400, (1 << 2) | (1 << 25), 0, 0), (0x58024410, 0, 0x7, 3), (0x58024804, 1 << 13, 0, 0),
                   (0x58024818, 1 << 13, 0, 0)], [(0x5802480C, 0x6)]),
    "stm32u5": ([(0x46020C00, (1 << 10) | (1 << 25), 0, 0), (0x46020C1C, 0, 0x3, 2),
                 (0x4602080C, (1 << 15) | (1 << 14), 0, 0)], []),
}  # fmt: skip

# board: register -> value after tx_board_init, from the field layouts in the reference manuals
# (PLL words: M, N, P/R, Q as each manual encodes them; supply and voltage-scaling bits).
EXPECTED_REGISTERS = {
    "stm32f405": {0x40023804: 0x07002A08, 0x40007000: 1 << 14},  # PLLCFGR M8 N168 P2 Q7 HSI; PWR_CR.VOS
    "nucleo-f746zg": {0x40023804: 0x09003608, 0x40007000: (3 << 14) | (1 << 16) | (1 << 17)},  # M8 N216 P2 Q9; OD
    "nucleo-l4r5zi": {0x4002100C: 0x01001E12, 0x40007080: 0, 0x40007004: 1 << 9},  # M2 N30 R2 HSI16; boost; IOSV
    "nucleo-h7a3zi-q": {0x58024428: 0x40, 0x5802442C: 0x1000C, 0x58024430: 0x01010222,  # DIVM1 4; RGE 3; N35 P2
                        0x5802480C: 0x4, 0x58024818: (3 << 14) | (1 << 13)},  # direct SMPS; VOS0 ready
    "nucleo-u575zi-q": {0x46020C28: 0x4000E, 0x46020C34: 0x01010213,  # HSI16 RGE3 M1 REN; N20 R2
                        0x4602080C: (3 << 16) | (1 << 18) | (1 << 15) | (1 << 14)},  # range 1, booster
}  # fmt: skip


# board: (clock switch register, SWS mask, SWS = PLL), then what must hold when SYSCLK reaches the PLL:
# (register, mask, value): the flash wait states, and the supply the clock needs.
SWITCH_ORDER = {
    "stm32f405": (0x40023808, 0xC, 0x8, 0x40023C00, 0xF, 5, 0x40007000, 1 << 14, 1 << 14),
    "nucleo-f746zg": (0x40023808, 0xC, 0x8, 0x40023C00, 0xF, 7, 0x40007000, 0x3C000, 0x3C000),
    "nucleo-l4r5zi": (0x40021008, 0xC, 0xC, 0x40022000, 0xF, 5, 0x40007080, 1 << 8, 0, 0x40021008, 0xF0, 0x80),
    "nucleo-h7a3zi-q": (0x58024410, 0x38, 0x18, 0x52002000, 0xF, 6, 0x58024818, 0xC000, 0xC000),
    "nucleo-u575zi-q": (0x46020C1C, 0xC, 0xC, 0x40022000, 0xF, 4, 0x4602080C, 0x70000, 0x70000, 0x46020C20, 0xF,
                        0x8),
}  # fmt: skip


@pytest.mark.parametrize("name", BOARDS)
def test_clock_and_uart_set_up_on_a_register_model(name, tmp_path):
    """tx_board.c compiled on the host against registers whose ready flags answer: the PLL path is taken,
    the clock it returns is the board's, and the PLL, flash, supply, GPIO and UART registers hold the
    manuals' values."""
    if shutil.which("gcc") is None:
        pytest.skip("gcc is not installed")
    board = load_board(name)
    hw = board.hardware
    board_sources(tmp_path, board)
    rules, preset = READY[hw.family]
    source = (REGMODEL.replace("RULES", ", ".join("{0x%X, 0x%X, 0x%X, %d}" % r for r in rules))
              .replace("PRESET", ", ".join("{0x%X, 0x%X}" % p for p in preset) or "{0, 0}")
              .replace("ORDER", ", ".join("0x%X" % v for v in SWITCH_ORDER[name])))  # fmt: skip
    (tmp_path / "model.c").write_text(source)
    (tmp_path / "regs.h").write_text("#include <stdint.h>\nvolatile uint32_t *tx_test_reg(uint32_t addr);\n")
    subprocess.run(["gcc", "-std=c99", "-O1", "-Wall", "-Wextra", "-Werror", "-include", "regs.h",
                    "-DTX_REG(a)=(*tx_test_reg(a))", "-DTX_BARRIER(text)=", "-o", "model", "model.c", "tx_board.c"],
                   cwd=tmp_path, check=True, capture_output=True)  # fmt: skip
    out = subprocess.run(["./model"], cwd=tmp_path, capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[0] == f"clock {board.clock_hz}"  # no "early" line: wait states and supply set before the switch
    regs = {int(a, 16): int(v, 16) for a, v in (line.split() for line in out[1:] if line)}
    for addr, value in EXPECTED_REGISTERS[name].items():
        assert regs[addr] == value, hex(addr)
    uart, tx, rx, af, kernel = VCP[name]
    scale = 256 if hw.lpuart else 1
    v1 = hw.uart_kind == "stm32-usart-v1"
    assert regs[hw.uart_base + (0x08 if v1 else 0x0C)] == round(scale * kernel / 115200)  # BRR
    assert regs[hw.uart_base + (0x0C if v1 else 0x00)] == ((1 << 13) | (1 << 3) if v1 else (1 << 0) | (1 << 3))
    for pin in (int(tx[2:]), int(rx[2:])):
        assert (regs[hw.port_base] >> (2 * pin)) & 3 == 2  # MODER: alternate function
        assert (regs[hw.port_base + (0x20 if pin < 8 else 0x24)] >> (4 * (pin % 8))) & 0xF == af
    rcc = {"stm32f4": 0x40023800, "stm32f7": 0x40023800, "stm32l4+": 0x40021000, "stm32h7ab": 0x58024400,
           "stm32u5": 0x46020C00}[hw.family]  # fmt: skip
    assert regs[rcc + hw.uart_enable.offset] >> hw.uart_enable.bit & 1
    assert regs[rcc + hw.port_enable.offset] >> hw.port_enable.bit & 1
    flash_acr = {"stm32h7ab": 0x52002000, "stm32f4": 0x40023C00, "stm32f7": 0x40023C00}.get(hw.family, 0x40022000)
    assert regs[flash_acr] & 0xF == hw.flash_latency
    assert regs[0xE000EDFC] >> 24 & 1 and regs[0xE0001000] & 1  # DEMCR.TRCENA, DWT_CTRL.CYCCNTENA
    assert (0xE0001FB0 in regs) == (board.core == "cortex-m7")  # the M7's DWT lock opened


def test_measure_turns_cycles_into_ms_at_the_reported_clock(lib, tmp_path):
    manifest = load_manifest(lib)
    stage = np.array([[1_200_000, 2_400_000, 3_600_000], [600_000, 0, 0]], np.int64)
    run = BoardRun(zero_run(manifest, [2, 0]), 120_000_000, stage, np.array([7_300_000, 650_000]))
    (tmp_path / "cap.txt").write_text("\n".join(format_board_log(run, manifest)) + "\n")
    args = ["measure", str(MODEL), "--board", "nucleo-l4r5zi", "--policy", POLICY, "--from-log", str(tmp_path / "cap.txt")]
    report = json.loads(CliRunner().invoke(app, [*args, "--json"]).output)
    # stage 0: (1.2 M + 0.6 M) / 2 over the two samples that ran it; stages 1 and 2: one sample each.
    assert [(s["samples"], s["cycles_est"], s["ms"]) for s in report["stages"]] == [
        (2, 900_000.0, 7.5), (1, 2_400_000.0, 20.0), (1, 3_600_000.0, 30.0)]
    assert [(s["exit_taken"], s["cycles_est"], s["instructions"]) for s in report["samples"]] == [
        (2, 7_300_000.0, None), (0, 650_000.0, None)]
    table = CliRunner().invoke(app, args, env={"COLUMNS": "120"}).output
    assert re.search(r"^\s+0\s+exit0\s+2/2\s+[\d,]+\s+900,000\s+7\.500\s", table, re.M)
    assert re.search(r"^\s+0\s+2 \(final\)\s+3\s+7,300,000\s+60\.833$", table, re.M)
    assert "mean per sample: 3,975,000 cycles, 33.125 ms at 120 MHz" in table
    assert "board ran at" not in table  # 120 MHz is the clock the board file sets up
