"""Board files: the five STM32 boards, their QEMU machines, and one-line errors for bad files."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from tinyexit.codegen.errors import TinyexitError
from tinyexit.codegen.boards import QEMU_MACHINES, Power, list_boards, load_board

KIB = 1024
MIB = 1024 * 1024

# name: (core, clock MHz, flash, linker RAM block, QEMU machine) from the issue and the reference manuals.
EXPECTED = {
    "nucleo-l4r5zi": ("cortex-m4", 120, 2 * MIB, 640 * KIB, "mps2-an386"),
    "nucleo-f746zg": ("cortex-m7", 216, 1 * MIB, 320 * KIB, "mps2-an500"),
    "nucleo-h7a3zi-q": ("cortex-m7", 280, 2 * MIB, 1 * MIB, "mps2-an500"),
    "stm32f405": ("cortex-m4", 168, 1 * MIB, 128 * KIB, "netduinoplus2"),
    "nucleo-u575zi-q": ("cortex-m33", 160, 2 * MIB, 768 * KIB, "mps2-an505"),
}

GOOD = """
name = "{name}"
mcu = "TESTMCU"
core = "cortex-m4"
clock_hz = 80_000_000
cflags = ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=soft"]
[memory.flash]
origin = 0x08000000
size = 0x40000
[memory.ram]
origin = 0x20000000
size = 0x10000
[qemu]
machine = "mps2-an386"
[qemu.memory.flash]
origin = 0x0
size = 0x400000
[qemu.memory.ram]
origin = 0x20000000
size = 0x400000
[renode]
platform = ""
"""

POWER = """
[power]
supply_v = 3.0
run_ma = 8.0
sleep_ua = 1.5
source = "DS00000 Table 1"
"""

# name: (supply V, run mA at the board clock, sleep uA), as in each board file's [power] comment.
EXPECTED_POWER = {
    "nucleo-l4r5zi": (3.3, 13.2, 2.8),
    "nucleo-f746zg": (3.3, 102.0, 350.0),
    "nucleo-h7a3zi-q": (3.3, 33.6, 32.0),
    "nucleo-u575zi-q": (3.3, 3.12, 1.9),
    "stm32f405": (3.3, 40.0, 300.0),
}


def test_every_board_matches_the_part():
    boards = {b.name: b for b in list_boards()}
    assert set(EXPECTED) <= set(boards)
    for name, (core, mhz, flash, ram, machine) in EXPECTED.items():
        b = boards[name]
        assert (b.core, b.clock_hz, b.flash.size, b.ram.size, b.qemu_machine) == (core, mhz * 10**6, flash, ram, machine)
        assert f"-mcpu={core}" in b.cflags and "-mthumb" in b.cflags
        assert QEMU_MACHINES[b.qemu_machine] == core
        # The QEMU map must hold anything that fits the part, so fit is decided by the part's sizes.
        assert b.qemu_flash.size >= b.flash.size and b.qemu_ram.size >= b.ram.size
        assert b.renode_uart is not None and b.renode_uart.name


def test_every_board_compiles_the_dsp_paths():
    import subprocess

    for b in list_boards():
        macros = subprocess.run(["arm-none-eabi-gcc", *b.cflags, "-dM", "-E", "-"], input="", capture_output=True,
                                text=True, check=True).stdout  # fmt: skip
        assert "#define __ARM_FEATURE_DSP 1" in macros, b.name
        assert ("#define __ARM_FP " in macros) == b.has_fpu, b.name


def test_extra_ram_blocks_are_listed():
    assert load_board("stm32f405").extra["ccm"].size == 64 * KIB
    h7 = load_board("nucleo-h7a3zi-q")
    assert h7.ram.size + sum(r.size for r in h7.extra.values()) >= 1_376 * KIB  # "1.4 MB"


def test_renode_platforms_are_renode_paths_or_generated():
    for b in list_boards():
        assert b.renode_platform == "" or b.renode_platform.startswith("platforms/cpus/")


def test_board_from_a_path(tmp_path):
    path = tmp_path / "my-board.toml"
    path.write_text(GOOD.format(name="my-board"))
    b = load_board(str(path))
    assert b.name == "my-board" and b.ram.size == 64 * KIB and not b.has_fpu


@pytest.mark.parametrize(
    "edit, expected",
    [
        (lambda t: t.replace('mcu = "TESTMCU"\n', ""), "mcu is missing"),
        (lambda t: t.replace('core = "cortex-m4"', 'core = "cortex-m0plus"'), "core 'cortex-m0plus' is not supported"),
        (lambda t: t.replace("clock_hz = 80_000_000", 'clock_hz = "fast"'), "clock_hz must be an integer"),
        (lambda t: t.replace("size = 0x10000", "size = 0"), "memory.ram.size must be positive"),
        (lambda t: t.replace('machine = "mps2-an386"', 'machine = "mps2-an500"'), "runs a cortex-m7"),
        (lambda t: t.replace('"-mcpu=cortex-m4", ', ""), "cflags must contain -mcpu=cortex-m4"),
        (lambda t: t.replace("[memory.flash]", "[memory.flash"), "not valid TOML"),
        (lambda t: t.replace('name = "bad"', 'name = "other"'), "differs from the file name"),
    ],
)
def test_bad_board_file_is_one_line(tmp_path, edit, expected):
    path = tmp_path / "bad.toml"
    path.write_text(edit(GOOD.format(name="bad")))
    with pytest.raises(TinyexitError) as err:
        load_board(path)
    message = err.value.message
    assert expected in message and str(path) in message and "\n" not in message


def test_unknown_board_names_the_known_ones():
    with pytest.raises(TinyexitError, match="unknown board 'nucleo-nope'; known boards: .*nucleo-l4r5zi"):
        load_board("nucleo-nope")


def test_boards_command_lists_every_board():
    from tinyexit.cli.main import app

    result = CliRunner().invoke(app, ["boards"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for name, (_, mhz, _, _, machine) in EXPECTED.items():
        assert name in result.output and machine in result.output and f"{mhz} MHz" in result.output
        v, ma, ua = EXPECTED_POWER[name]
        assert f"{v:g} V, {ma:g} mA, {ua:g} uA" in result.output


def test_every_board_has_electrical_data_with_its_source():
    for b in list_boards():
        if b.name not in EXPECTED_POWER:
            continue
        p = b.power
        assert (p.supply_v, p.run_ma, p.sleep_ua) == EXPECTED_POWER[b.name], b.name
        assert p.source.startswith("DS"), b.name  # the datasheet's document number
        assert "[power]" in b.path.read_text() and "# Electrical data" in b.path.read_text()


def test_time_and_energy_from_known_cycles():
    b = load_board("nucleo-l4r5zi")
    # 120 M cycles at 120 MHz = 1 s; 1 s x 3.3 V x 13.2 mA = 43.56 mJ.
    assert b.time_ms(120_000_000) == 1000.0
    assert b.energy_uj(120_000_000) == pytest.approx(43_560.0, rel=1e-12)
    # 1,000,000 cycles: 8.3333 ms, 363.0 uJ.
    assert b.energy_uj(1_000_000) == pytest.approx(363.0, rel=1e-12)
    m7 = load_board("nucleo-f746zg")
    assert m7.energy_uj(216_000) == pytest.approx(1e-3 * 3.3 * 102.0 * 1e3, rel=1e-12)  # 1 ms at 216 MHz
    p = Power(supply_v=3.0, run_ma=10.0, sleep_ua=0.0, source="x")
    assert p.energy_uj(50_000_000, 100_000_000) == pytest.approx(0.5 * 3.0 * 10.0e-3 * 1e6, rel=1e-12)


def test_board_without_power_has_no_energy(tmp_path):
    path = tmp_path / "quiet.toml"
    path.write_text(GOOD.format(name="quiet"))
    b = load_board(path)
    assert b.power is None and b.energy_uj(1000) is None and b.time_ms(80_000) == 1.0
    path.write_text(GOOD.format(name="quiet") + POWER)
    assert load_board(path).energy_uj(80_000_000) == pytest.approx(24_000.0)


@pytest.mark.parametrize(
    "edit, expected",
    [
        (lambda t: t.replace("supply_v = 3.0", 'supply_v = "3V"'), "power.supply_v must be a number"),
        (lambda t: t.replace("supply_v = 3.0", "supply_v = 33.0"), "power.supply_v 33 V is outside 0.9..5.5 V"),
        (lambda t: t.replace("run_ma = 8.0", "run_ma = 0"), "power.run_ma 0 mA is outside"),
        (lambda t: t.replace("run_ma = 8.0", "run_ma = nan"), "power.run_ma nan mA is outside"),
        (lambda t: t.replace("run_ma = 8.0\n", ""), "power.run_ma is missing"),
        (lambda t: t.replace("sleep_ua = 1.5", "sleep_ua = -1"), "power.sleep_ua -1 uA is outside"),
        (lambda t: t.replace("sleep_ua = 1.5", "sleep_ua = true"), "power.sleep_ua must be a number"),
        (lambda t: t.replace('source = "DS00000 Table 1"', 'source = " "'), "power.source is empty"),
        (lambda t: t.replace('source = "DS00000 Table 1"\n', ""), "power.source is missing"),
    ],
)
def test_bad_power_table_is_one_line(tmp_path, edit, expected):
    path = tmp_path / "bad.toml"
    path.write_text(edit(GOOD.format(name="bad") + POWER))
    with pytest.raises(TinyexitError) as err:
        load_board(path)
    message = err.value.message
    assert expected in message and str(path) in message and "\n" not in message
