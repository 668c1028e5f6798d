"""Board files: the five STM32 boards, their QEMU machines, and one-line errors for bad files."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from tinyexit.codegen.errors import TinyexitError
from tinyexit.codegen.boards import QEMU_MACHINES, list_boards, load_board

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
