"""Cross-build a generated library with the sample harness into a Cortex-M ELF.

    build_firmware(lib_dir, board, out_dir, opt="-O2") -> BuildResult

Sources: the library's C files (from manifest.json, never by parsing C), the
harness and markers (firmware_sim.harness), and the firmware glue in
templates/firmware/ (vector table and reset handler, semihosting or UART I/O,
a linker script rendered for the board). Compiled with arm-none-eabi-gcc,
`-std=c99 -Wall -Wextra -Werror` and the board's flags; newlib-nano.

Memory maps: `memory_map="qemu"` links for the QEMU machine's map (what
firmware_sim.qemu runs); `memory_map="board"` links for the real part (what
Renode, a debugger or a flash tool loads). Either way, flash and RAM use are
checked against the real part's sizes, so a model that would not fit the
board fails here with one line naming the region and the overflow in bytes.

The real-board build (`memory_map="board"`, `io="uart"`, a board file with a
[hardware] table) adds tx_board.c (clock tree, UART pins and baud rate, DWT
cycle counter, rendered from the table) and replaces the empty stage markers
with tx_markers_dwt.c, which prints the cycles of every stage and inference
(firmware_sim.board_log reads them). `write_images` writes its .bin and .hex.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..codegen import __version__
from ..codegen.emitter import template_env
from ..codegen.boards import FAMILIES, Board, Uart, load_board
from ..codegen.errors import TinyexitError
from ..codegen.manifest import load_manifest
from ..codegen.paths import TEMPLATES_DIR

from .harness import input_bytes, write_harness

TOOLCHAIN_INSTALL = (
    "sudo apt-get install -y --no-install-recommends gcc-arm-none-eabi libnewlib-arm-none-eabi "
    "binutils-arm-none-eabi"
)
WARNINGS = ["-std=c99", "-Wall", "-Wextra", "-Werror"]
COMMON = ["-ffunction-sections", "-fdata-sections", "-g"]
MARKERS = ("tx_sample_begin", "tx_sample_end", "tx_stage_begin", "tx_stage_end")
FIRMWARE_DIR = TEMPLATES_DIR / "firmware"
OPT_LEVELS = ("-O0", "-O1", "-O2", "-O3", "-Os", "-Oz", "-Ofast", "-Og")


@dataclass(frozen=True)
class BuildResult:
    elf: Path
    board: Board
    memory_map: str  # "qemu" or "board": the map the ELF is linked for
    io: str  # "semihost" or "uart"
    opt: str
    flash_used: int  # bytes of flash the image needs (code, weights, .data initialisers)
    ram_used: int  # bytes of RAM: .data + .bss (arena) + heap + stack
    flash_limit: int  # the real part's flash
    ram_limit: int  # the real part's RAM block the linker script uses
    sections: dict[str, int]  # section -> size, from arm-none-eabi-size -A
    symbols: dict[str, int]  # marker and layout symbols -> address
    command: tuple[str, ...] = field(compare=False)

    @property
    def markers(self) -> dict[str, int]:
        return {name: self.symbols[name] & ~1 for name in MARKERS}

    def usage_lines(self) -> list[str]:
        """Human-readable flash/RAM use against the board's limits."""
        b = self.board
        return [
            f"flash {self.flash_used:>10,} of {self.flash_limit:>10,} bytes ({100 * self.flash_used / self.flash_limit:5.1f}%)"
            f"  code {self.sections.get('.text', 0):,}, read-only data {self.sections.get('.rodata', 0):,}",
            f"RAM   {self.ram_used:>10,} of {self.ram_limit:>10,} bytes ({100 * self.ram_used / self.ram_limit:5.1f}%)"
            f"  .data+.bss {self.sections.get('.data', 0) + self.sections.get('.bss', 0):,}, "
            f"heap {b.heap_bytes:,}, stack {b.stack_bytes:,}",
        ]


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise TinyexitError(f"{name} is not installed; install the Arm GNU toolchain: {TOOLCHAIN_INSTALL}")
    return path


def check_toolchain() -> str:
    gcc = tool("arm-none-eabi-gcc")
    specs = subprocess.run([gcc, "-print-file-name=nano.specs"], capture_output=True, text=True).stdout.strip()
    if not os.path.isabs(specs):
        raise TinyexitError(f"newlib for arm-none-eabi is not installed (no nano.specs); install it: {TOOLCHAIN_INSTALL}")
    return gcc


def render_linker_script(board: Board, memory_map: str, dest: Path) -> Path:
    flash, ram = board.memory(memory_map)
    label = f"QEMU {board.qemu_machine}" if memory_map == "qemu" else f"{board.mcu}"
    text = template_env().get_template("firmware/linker.ld.j2").render(
        version=__version__,
        board=board,
        map_label=label,
        flash=flash,
        ram=ram,
        stack_bytes=board.stack_bytes,
        heap_bytes=board.heap_bytes,
    )
    dest.write_text(text)
    return dest


def apb_code(divider: int) -> int:
    """An STM32 APB prescaler field (3 bits) for a divider: 1 -> 0, 2 -> 4, 4 -> 5, 8 -> 6, 16 -> 7."""
    return 0 if divider == 1 else 3 + divider.bit_length() - 1


def board_sources(work: Path, board: Board) -> list[Path]:
    """The real part's set-up (tx_board.c from [hardware]) and the cycle-counting markers; returns the C files."""
    hw = board.hardware
    text = template_env().get_template("firmware/tx_board.c.j2").render(
        version=__version__, board=board, hw=hw, family_rm=FAMILIES[hw.family], apb_code=apb_code
    )
    (work / "tx_board.c").write_text(text)
    shutil.copyfile(FIRMWARE_DIR / "tx_board.h", work / "tx_board.h")
    shutil.copyfile(FIRMWARE_DIR / "tx_markers_dwt.c", work / "tx_markers_dwt.c")
    return [work / "tx_board.c", work / "tx_markers_dwt.c"]


def real_board(board: Board, memory_map: str, io: str) -> bool:
    """Whether a build is the real-board firmware: part's map, UART I/O, and a [hardware] table."""
    return memory_map == "board" and io == "uart" and board.hardware is not None


def firmware_sources(work: Path, board: Board, io: str, uart=None, inputs: bytes | None = None,
                     board_init: bool = False) -> list[Path]:
    """Copy or render the firmware glue into `work`; returns the C files (with board_init, tx_board.c too)."""
    shutil.copyfile(FIRMWARE_DIR / "tx_io.h", work / "tx_io.h")
    shutil.copyfile(FIRMWARE_DIR / "tx_startup.c", work / "tx_startup.c")
    files = [work / "tx_startup.c"]
    if io == "semihost":
        shutil.copyfile(FIRMWARE_DIR / "tx_io_semihost.c", work / "tx_io_semihost.c")
        files.append(work / "tx_io_semihost.c")
    elif io == "uart":
        if uart is None:
            raise TinyexitError(f"board {board.name} names no UART for this target; add a uart table to its file")
        env = template_env()
        (work / "tx_io_uart.c").write_text(env.get_template("firmware/tx_io_uart.c.j2").render(uart=uart,
                                                                                               board_init=board_init))
        data = np.frombuffer(inputs or b"", dtype=np.uint8)
        (work / "tx_inputs.c").write_text(env.get_template("firmware/tx_inputs.c.j2").render(data=data))
        files += [work / "tx_io_uart.c", work / "tx_inputs.c"]
        if board_init:
            files += board_sources(work, board)
    else:
        raise ValueError(f"io must be 'semihost' or 'uart', not {io!r}")
    return files


def _first_error(stderr: str) -> str:
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    for ln in lines:
        if "error" in ln.lower():
            return ln
    return lines[0] if lines else "(no output)"


def build_firmware(
    lib_dir: str | Path,
    board: str | Board,
    out_dir: str | Path,
    opt: str = "-O2",
    memory_map: str = "qemu",
    io: str = "semihost",
    inputs: np.ndarray | None = None,
    extra_cflags: tuple[str, ...] = (),
    elf_name: str | None = None,
    harness: Callable[[Path], list[Path]] | None = None,
) -> BuildResult:
    """Build lib_dir + harness for `board` into out_dir; returns the ELF and its memory use.

    io="uart" compiles `inputs` into flash and prints results on the board's
    UART (for simulators without semihosting); `memory_map` picks the QEMU
    machine's map or the real part's (see the module docstring). `harness(work)`
    writes another harness's C files into the build folder and returns them
    (firmware_sim.split's two devices); by default the sample harness.
    """
    lib_dir = Path(lib_dir)
    board = load_board(board)
    if opt not in OPT_LEVELS:
        raise TinyexitError(f"--opt '{opt}' is not one of {', '.join(OPT_LEVELS)}")
    manifest = load_manifest(lib_dir)
    gcc = check_toolchain()
    out_dir = Path(out_dir)
    work = out_dir / f"build-{board.name}-{memory_map}-{io}"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)

    uart = board.qemu_uart if memory_map == "qemu" else board.renode_uart
    on_board = real_board(board, memory_map, io)
    if on_board:
        uart = Uart(kind=board.hardware.uart_kind, base=board.hardware.uart_base, name=board.hardware.uart_name.lower())
    data = input_bytes(inputs, manifest) if inputs is not None else None
    harness = harness(work) if harness is not None else write_harness(lib_dir, work)
    if on_board:  # tx_markers_dwt.c takes the empty markers' place
        harness = [f for f in harness if f.name != "tx_markers.c"]
    glue = firmware_sources(work, board, io, uart, data, board_init=on_board)
    script = render_linker_script(board, memory_map, work / "linker.ld")
    sources = [lib_dir / s for s in manifest["sources"]] + harness + glue

    cflags = [
        *board.cflags,
        opt,
        *WARNINGS,
        *COMMON,
        *(f"-D{d}" for d in board.defines),
        *extra_cflags,
        "-I",
        str(lib_dir),
        "-I",
        str(work),
    ]
    if io == "uart" and memory_map == "qemu":
        cflags.append("-DTX_UART_EXIT_RESET")

    def compile_one(src: Path) -> Path:
        obj = work / (src.stem + ".o")
        proc = subprocess.run([gcc, *cflags, "-c", str(src), "-o", str(obj)], capture_output=True, text=True)
        if proc.returncode != 0:
            raise TinyexitError(f"{src.name}: arm-none-eabi-gcc failed for {board.name}: {_first_error(proc.stderr)}")
        return obj

    with ThreadPoolExecutor(max_workers=max(1, min(len(sources), os.cpu_count() or 1))) as pool:
        objects = list(pool.map(compile_one, sources))

    name = elf_name or f"{manifest['prefix']}-{board.name}-{memory_map}.elf"
    elf = out_dir / name
    specs = ["--specs=nano.specs"] + (["--specs=rdimon.specs"] if io == "semihost" else [])
    link = [
        gcc,
        *board.cflags,
        opt,
        "-nostartfiles",
        *specs,
        "-T",
        str(script),
        "-Wl,--gc-sections",
        f"-Wl,-Map={work / 'firmware.map'}",
        *map(str, objects),
        "-o",
        str(elf),
    ]
    if io == "uart":
        link += ["-Wl,--start-group", "-lc_nano", "-lgcc", "-Wl,--end-group"]
    proc = subprocess.run(link, capture_output=True, text=True)
    if proc.returncode != 0:
        overflow = re.search(r"region `(\w+)' overflowed by (\d+) bytes", proc.stderr)
        if overflow:
            region, by = overflow.group(1), int(overflow.group(2))
            where = f"QEMU {board.qemu_machine}'s" if memory_map == "qemu" else f"{board.name}'s"
            raise TinyexitError(
                f"{manifest['prefix']} does not fit {where} {region}: {region} overflowed by {by:,} bytes; "
                + (_flash_advice(manifest.get("optimize", "speed")) if region == "FLASH"
                   else f"use a board with more {region}, or a smaller model")
            )
        raise TinyexitError(f"linking for {board.name} failed: {_first_error(proc.stderr)}")

    sections = section_sizes(elf)
    symbols = elf_symbols(elf)
    missing = [m for m in MARKERS if m not in symbols]
    if missing:
        raise TinyexitError(f"{elf.name}: no {', '.join(missing)} symbol; the harness must link tx_markers.c")
    flash, ram = board.memory(memory_map)
    flash_used = symbols["_sidata"] + (symbols["_edata"] - symbols["_sdata"]) - flash.origin
    ram_used = symbols["_estack"] - ram.origin
    result = BuildResult(
        elf=elf,
        board=board,
        memory_map=memory_map,
        io=io,
        opt=opt,
        flash_used=flash_used,
        ram_used=ram_used,
        flash_limit=board.flash.size,
        ram_limit=board.ram.size,
        sections=sections,
        symbols=symbols,
        command=tuple(link),
    )
    check_fit(result, manifest["prefix"], manifest.get("optimize", "speed"))
    return result


def _flash_advice(optimize: str) -> str:
    """What to do when the image does not fit flash: --optimize size first, if it is not in use."""
    if optimize != "size":
        return "generate with --optimize size (int8 weights, about half the weight flash), use a board with more " \
               "flash, or a smaller model"
    return "use a board with more flash or a smaller model"


def check_fit(result: BuildResult, prefix: str, optimize: str = "speed") -> None:
    """Fail with one line when the image does not fit the real part."""
    b = result.board
    if result.flash_used > result.flash_limit:
        raise TinyexitError(
            f"{prefix} does not fit {b.name}: FLASH overflowed by {result.flash_used - result.flash_limit:,} bytes "
            f"(needs {result.flash_used:,} of {result.flash_limit:,}); {_flash_advice(optimize)}"
        )
    if result.ram_used > result.ram_limit:
        raise TinyexitError(
            f"{prefix} does not fit {b.name}: RAM overflowed by {result.ram_used - result.ram_limit:,} bytes "
            f"(needs {result.ram_used:,} of {result.ram_limit:,}, including {b.stack_bytes:,} stack and "
            f"{b.heap_bytes:,} heap); use a board with more RAM or a smaller model"
        )


def write_images(elf: Path) -> tuple[Path, Path]:
    """<elf>.bin (raw flash image from the first loaded address) and <elf>.hex (Intel HEX), with objcopy."""
    objcopy = tool("arm-none-eabi-objcopy")
    images = (elf.with_suffix(".bin"), elf.with_suffix(".hex"))
    for image, fmt in zip(images, ("binary", "ihex")):
        proc = subprocess.run([objcopy, "-O", fmt, str(elf), str(image)], capture_output=True, text=True)
        if proc.returncode != 0:
            raise TinyexitError(f"{elf.name}: arm-none-eabi-objcopy -O {fmt} failed: {_first_error(proc.stderr)}")
    return images


def flash_commands(images: tuple[Path, Path], board: Board) -> list[str]:
    """How to flash the board image: st-flash (stlink tools) with the .bin, STM32CubeProgrammer with the .hex."""
    binary, intel_hex = images
    return [
        f"st-flash --reset write {binary} 0x{board.flash.origin:08x}",
        f"STM32_Programmer_CLI -c port=SWD -w {intel_hex} -v -rst",
    ]


def section_sizes(elf: Path) -> dict[str, int]:
    """Section -> size in bytes, from `arm-none-eabi-size -A`."""
    out = subprocess.run([tool("arm-none-eabi-size"), "-A", str(elf)], capture_output=True, text=True, check=True)
    sizes = {}
    for line in out.stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0].startswith(".") and parts[1].isdigit():
            sizes[parts[0]] = int(parts[1])
    return sizes


def elf_symbols(elf: Path) -> dict[str, int]:
    """Global and local symbol -> address, from `arm-none-eabi-nm`."""
    out = subprocess.run([tool("arm-none-eabi-nm"), str(elf)], capture_output=True, text=True, check=True)
    symbols = {}
    for line in out.stdout.splitlines():
        parts = line.split()
        if len(parts) == 3:
            symbols[parts[2]] = int(parts[0], 16)
    return symbols


def dsp_instruction_count(elf: Path) -> dict[str, int]:
    """Static count of DSP-extension multiply/SIMD mnemonics in the ELF (to check kernels use them)."""
    out = subprocess.run(
        [tool("arm-none-eabi-objdump"), "-d", "--no-show-raw-insn", str(elf)], capture_output=True, text=True, check=True
    )
    wanted = ("smlad", "smladx", "smuad", "smlsd", "smusd", "sxtb16", "sxtab16", "uxtb16", "smlabb", "smlatt",
              "smlabt", "smlatb", "ssat16", "usat16", "qadd16", "sadd16", "ssub16", "pkhbt", "pkhtb", "smlal",
              "smmulr", "smmlar")
    counts = dict.fromkeys(wanted, 0)
    for line in out.stdout.splitlines():
        parts = line.split("\t")
        if len(parts) >= 2:
            mnemonic = parts[1].strip().split(".")[0]
            if mnemonic in counts:
                counts[mnemonic] += 1
    return {k: v for k, v in counts.items() if v}
