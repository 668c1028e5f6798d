"""Boards: one TOML file per board in boards/, read with tomllib.

A board file names the part (core, compiler flags, clock), the part's own
flash and RAM (used for the board linker script and for every "does it fit"
check), the QEMU machine that runs the same core with that machine's memory
map (used to link the ELF that QEMU runs), the Renode platform, the
part's electrical data for the time and energy estimates (`[power]`), and
what the firmware for the real part sets up (`[hardware]`: PLL, wait states,
the ST-LINK virtual COM port's UART and pins; templates/firmware/tx_board.c.j2). See
boards/nucleo-l4r5zi.toml for a commented example; a user adds a board by
adding a file there, or by passing a path to a .toml file wherever a board
name is accepted.

Every problem with a board file is a one-line TinyexitError naming the file
and the key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .errors import TinyexitError, did_you_mean
from .paths import BOARDS_DIR

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

# Cores tinyexit has compiler flags, a QEMU model and a timing model for.
CORES = ("cortex-m3", "cortex-m4", "cortex-m7", "cortex-m33")
UART_KINDS = ("cmsdk", "stm32-usart-v1", "stm32-usart-v2")
# Clock trees the real-board firmware (templates/firmware/tx_board.c.j2) knows, by reference manual.
FAMILIES = {
    "stm32f4": "RM0090",
    "stm32f7": "RM0385",
    "stm32l4+": "RM0432",
    "stm32h7ab": "RM0455",
    "stm32u5": "RM0456",
}
APB_DIVIDERS = (1, 2, 4, 8, 16)
QEMU_MACHINES = {
    "mps2-an385": "cortex-m3",
    "mps2-an386": "cortex-m4",
    "mps2-an500": "cortex-m7",
    "mps2-an505": "cortex-m33",
    "netduinoplus2": "cortex-m4",
    "olimex-stm32-h405": "cortex-m4",
    "stm32vldiscovery": "cortex-m3",
}


@dataclass(frozen=True)
class Region:
    """A contiguous memory region: start address and size in bytes."""

    origin: int
    size: int

    @property
    def end(self) -> int:
        return self.origin + self.size


@dataclass(frozen=True)
class Uart:
    """A UART the firmware can print to when semihosting is not available."""

    kind: str  # one of UART_KINDS: register layout
    base: int
    name: str = ""  # peripheral name in the simulator's platform (Renode)
    model: str = ""  # Renode peripheral type, e.g. UART.STM32F7_USART


@dataclass(frozen=True)
class Enable:
    """A peripheral clock-enable bit: RCC register offset and bit number."""

    offset: int
    bit: int


@dataclass(frozen=True)
class Hardware:
    """What the firmware for the real part sets up (`[hardware]` in the board file).

    The board ELF (memory_map "board", io "uart") starts on the internal
    oscillator, runs the PLL from it to `sysclk_hz`, sets the flash wait states
    and voltage scaling for that clock, and prints over the ST-LINK virtual COM
    port's UART. If a step does not complete (a PLL that never locks, a
    simulator with no clock model) it stays on `reset_hz` and prints that clock
    instead, so the reported clock is always the one the part ran at.
    """

    family: str  # one of FAMILIES: which clock-tree sequence the template uses
    reference: str  # reference manual and board user manual the values come from
    hsi_hz: int  # the internal oscillator feeding the PLL
    reset_hz: int  # SYSCLK after reset (and when the PLL set-up does not complete)
    pll_m: int
    pll_n: int
    pll_div: int  # the output that drives SYSCLK (P on F4/F7/H7, R on L4+/U5)
    pll_q: int
    flash_latency: int  # wait states at sysclk_hz
    apb1_div: int
    apb2_div: int
    uart_name: str  # e.g. LPUART1: the ST-LINK virtual COM port's UART
    uart_kind: str  # stm32-usart-v1 or stm32-usart-v2 register layout
    uart_base: int
    uart_bus: str  # "apb1" or "apb2": whose clock the UART's kernel clock is at reset selection
    uart_enable: Enable
    lpuart: bool  # LPUART: BRR = 256 * f / baud
    port: str  # GPIO port letter of the TX/RX pins
    port_base: int
    port_enable: Enable
    tx_pin: int
    rx_pin: int
    af: int  # alternate function number of both pins
    baud: int
    caches: bool  # Cortex-M7: enable the L1 instruction and data caches; U5: the ICACHE

    @property
    def sysclk_hz(self) -> int:
        """The clock the firmware sets: hsi_hz / pll_m * pll_n / pll_div."""
        return self.hsi_hz * self.pll_n // (self.pll_m * self.pll_div)

    def uart_clock_hz(self, pll: bool = True) -> int:
        """The UART's kernel clock: its APB clock at sysclk_hz, or reset_hz (bus prescalers 1) without the PLL."""
        if not pll:
            return self.reset_hz
        return self.sysclk_hz // (self.apb1_div if self.uart_bus == "apb1" else self.apb2_div)

    def brr(self, kernel_hz: int) -> int:
        """BRR for `baud` at a kernel clock, rounded to nearest (16x oversampling; LPUART 256 * f / baud)."""
        scale = 256 if self.lpuart else 1
        return (scale * kernel_hz + self.baud // 2) // self.baud


@dataclass(frozen=True)
class Power:
    """Typical electrical data of the part, for time and energy ESTIMATES.

    Energy per inference = cycles_est / clock_hz * supply_v * run_ma: the
    datasheet's typical run-mode current at the board's clock (CPU running from
    flash, peripherals off), times the supply voltage. It leaves out flash wait
    states beyond the timing model, peripherals, caches and the rest of the
    board; `sleep_ua` (the part's low-power mode between inferences) is listed
    for duty-cycle budgets and is not part of the per-inference figure.
    """

    supply_v: float  # supply voltage, V
    run_ma: float  # typical run-mode current at clock_hz, mA
    sleep_ua: float  # typical low-power (sleep/stop) current, uA
    source: str  # datasheet and table the figures come from

    def time_ms(self, cycles, clock_hz: int):
        """Milliseconds at clock_hz (scalar or array)."""
        return cycles * 1e3 / clock_hz

    def energy_uj(self, cycles, clock_hz: int):
        """Microjoules: seconds * V * A * 1e6 = cycles / clock_hz * V * mA * 1e3 (scalar or array)."""
        return cycles / clock_hz * self.supply_v * self.run_ma * 1e3


@dataclass(frozen=True)
class Board:
    name: str
    description: str
    mcu: str
    core: str
    clock_hz: int
    cflags: tuple[str, ...]
    defines: tuple[str, ...]
    stack_bytes: int
    heap_bytes: int
    flash: Region  # the part's flash
    ram: Region  # the part's RAM the linker script uses (largest contiguous block)
    extra: dict[str, Region]  # other RAM blocks of the part, listed for the user
    qemu_machine: str
    qemu_flash: Region
    qemu_ram: Region
    qemu_uart: Uart | None
    renode_platform: str  # path inside Renode, e.g. platforms/cpus/stm32f4.repl; "" when Renode has none
    renode_overrides: str  # .repl text applied on top of renode_platform
    renode_cpu_type: str
    renode_uart: Uart | None
    path: Path = field(compare=False)
    power: Power | None = None  # [power]: electrical data for time/energy estimates; None when the file has none
    hardware: Hardware | None = None  # [hardware]: clock and UART set-up of the real part; None: none written

    def time_ms(self, cycles):
        """Milliseconds at the board's clock for a number (or array) of cycles."""
        return cycles * 1e3 / self.clock_hz

    def energy_uj(self, cycles):
        """Estimated microjoules for cycles at the board's clock, or None when the board file has no [power]."""
        return None if self.power is None else self.power.energy_uj(cycles, self.clock_hz)

    def memory(self, memory_map: str) -> tuple[Region, Region]:
        """(flash, ram) for 'board' (the real part) or 'qemu' (the QEMU machine's map)."""
        if memory_map == "board":
            return self.flash, self.ram
        if memory_map == "qemu":
            return self.qemu_flash, self.qemu_ram
        raise ValueError(f"memory map must be 'board' or 'qemu', not {memory_map!r}")

    @property
    def has_fpu(self) -> bool:
        return any(f.startswith("-mfpu=") for f in self.cflags) and "-mfloat-abi=soft" not in self.cflags


def boards_dirs() -> list[Path]:
    return [BOARDS_DIR]


def list_boards() -> list[Board]:
    """Every board in boards/, by name."""
    files = sorted(p for d in boards_dirs() if d.is_dir() for p in d.glob("*.toml"))
    return sorted((load_board(p) for p in files), key=lambda b: b.name)


def board_names() -> list[str]:
    return sorted(p.stem for d in boards_dirs() if d.is_dir() for p in d.glob("*.toml"))


def load_board(name: str | Path) -> Board:
    """A board by name (a file in boards/) or by path to a .toml file."""
    if isinstance(name, Board):
        return name
    text = str(name)
    if text.endswith(".toml") or "/" in text:
        path = Path(text)
        if not path.is_file():
            raise TinyexitError(f"board file {path} does not exist")
    else:
        path = next((d / f"{text}.toml" for d in boards_dirs() if (d / f"{text}.toml").is_file()), None)
        if path is None:
            known = ", ".join(board_names()) or "(none)"
            raise TinyexitError(f"unknown board '{text}'{did_you_mean(text, board_names())}; known boards: {known} "
                                "(or pass a path to a .toml file)")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise TinyexitError(f"{path}: not valid TOML ({exc}); fix the file") from None
    except OSError as exc:
        raise TinyexitError(f"{path}: cannot read ({exc.strerror})") from None
    return _parse(data, path)


class _Reader:
    """Typed access to a TOML table with one-line errors naming file and key."""

    def __init__(self, path: Path, data: dict, where: str = ""):
        self.path, self.data, self.where = path, data, where

    def fail(self, key: str, what: str) -> TinyexitError:
        return TinyexitError(f"{self.path}: {self.where}{key} {what}; fix the board file")

    def get(self, key: str, kind, default=None, required: bool = True):
        if key not in self.data:
            if required and default is None:
                raise self.fail(key, "is missing")
            return default
        value = self.data[key]
        if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
            raise self.fail(key, f"must be an integer, not {value!r}")
        if kind is float and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise self.fail(key, f"must be a number, not {value!r}")
        if kind is str and not isinstance(value, str):
            raise self.fail(key, f"must be a string, not {value!r}")
        if kind is list and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            raise self.fail(key, "must be a list of strings")
        if kind is dict and not isinstance(value, dict):
            raise self.fail(key, "must be a table")
        return value

    def table(self, key: str, required: bool = True) -> "_Reader | None":
        value = self.get(key, dict, required=required)
        if value is None:
            return None
        return _Reader(self.path, value, f"{self.where}{key}.")

    def region(self, key: str) -> Region:
        t = self.table(key)
        origin = t.get("origin", int)
        size = t.get("size", int)
        if origin < 0 or origin + size > 2**32:
            raise t.fail("origin", f"0x{origin:X} + size 0x{size:X} is outside the 32-bit address space")
        if size <= 0:
            raise t.fail("size", "must be positive")
        return Region(origin, size)

    def power(self, key: str) -> Power | None:
        t = self.table(key, required=False)
        if t is None:
            return None
        values = {}
        for name, low, high, unit in (("supply_v", 0.9, 5.5, "V"), ("run_ma", 0.0, 2000.0, "mA"),
                                      ("sleep_ua", 0.0, 100_000.0, "uA")):
            v = float(t.get(name, float))
            inside = low <= v <= high if name == "sleep_ua" else low < v <= high  # sleep current may be 0
            if not inside:
                raise t.fail(name, f"{v:g} {unit} is outside {low:g}..{high:g} {unit}")
            values[name] = v
        source = t.get("source", str)
        if not source.strip():
            raise t.fail("source", "is empty; name the datasheet and table the figures come from")
        return Power(source=source, **values)

    def enable(self, key: str) -> Enable:
        t = self.table(key)
        offset, bit = t.get("offset", int), t.get("bit", int)
        if not (0 <= offset < 0x400 and offset % 4 == 0):
            raise t.fail("offset", f"0x{offset:X} is not a word offset inside the RCC block (0..0x3FC)")
        if not 0 <= bit < 32:
            raise t.fail("bit", f"{bit} is not a bit of a 32-bit register")
        return Enable(offset, bit)

    def hardware(self, key: str, clock_hz: int) -> Hardware | None:
        t = self.table(key, required=False)
        if t is None:
            return None
        family = t.get("family", str)
        if family not in FAMILIES:
            raise t.fail("family", f"'{family}' is not one of {', '.join(FAMILIES)}")
        pll = t.table("pll")
        uart = t.table("uart")
        pins = t.table("pins")
        kind = uart.get("kind", str)
        if kind not in UART_KINDS[1:]:
            raise uart.fail("kind", f"'{kind}' is not one of {', '.join(UART_KINDS[1:])}")
        bus = uart.get("bus", str)
        if bus not in ("apb1", "apb2"):
            raise uart.fail("bus", f"'{bus}' is not apb1 or apb2")
        port = pins.get("port", str)
        if len(port) != 1 or not "A" <= port <= "K":
            raise pins.fail("port", f"'{port}' is not a GPIO port letter A..K")
        for name in ("apb1_div", "apb2_div"):
            if t.get(name, int) not in APB_DIVIDERS:
                raise t.fail(name, f"must be one of {', '.join(map(str, APB_DIVIDERS))}")
        hw = Hardware(
            family=family, reference=t.get("reference", str), hsi_hz=t.get("hsi_hz", int),
            reset_hz=t.get("reset_hz", int), pll_m=pll.get("m", int), pll_n=pll.get("n", int),
            pll_div=pll.get("div", int), pll_q=pll.get("q", int, 2, required=False),
            flash_latency=t.get("flash_latency", int), apb1_div=t.get("apb1_div", int), apb2_div=t.get("apb2_div", int),
            uart_name=uart.get("name", str), uart_kind=kind, uart_base=uart.get("base", int), uart_bus=bus,
            uart_enable=uart.enable("enable"), lpuart=bool(uart.data.get("lpuart", False)), port=port,
            port_base=pins.get("base", int), port_enable=pins.enable("enable"), tx_pin=pins.get("tx", int),
            rx_pin=pins.get("rx", int), af=pins.get("af", int), baud=t.get("baud", int, 115200, required=False),
            caches=bool(t.data.get("caches", False)),
        )  # fmt: skip
        for name in ("hsi_hz", "reset_hz", "baud"):
            if getattr(hw, name) <= 0:
                raise t.fail(name, "must be positive")
        if min(hw.pll_m, hw.pll_n, hw.pll_div, hw.pll_q) <= 0:
            raise pll.fail("m", "n, div and q must be positive")
        if hw.sysclk_hz > clock_hz:
            raise pll.fail("n", f"gives {hw.sysclk_hz:,} Hz (hsi_hz / m * n / div), above the board's clock_hz "
                                f"{clock_hz:,}")  # fmt: skip
        for pin in ("tx", "rx"):
            if not 0 <= pins.get(pin, int) < 16:
                raise pins.fail(pin, "must be a pin number 0..15")
        if not 0 <= hw.af < 16:
            raise pins.fail("af", "must be an alternate function 0..15")
        if not 0 <= hw.flash_latency < 16:
            raise t.fail("flash_latency", "must be 0..15 wait states")
        for pll in (True, False):
            brr = hw.brr(hw.uart_clock_hz(pll))
            low, high = (0x300, 1 << 20) if hw.lpuart else (16, 1 << 16)
            if not low <= brr < high:
                raise uart.fail("bus", f"gives BRR {brr} at a {hw.uart_clock_hz(pll):,} Hz kernel clock for "
                                       f"{hw.baud} baud, outside {low}..{high - 1}")  # fmt: skip
        return hw

    def uart(self, key: str) -> Uart | None:
        t = self.table(key, required=False)
        if t is None:
            return None
        kind = t.get("kind", str)
        if kind not in UART_KINDS:
            raise t.fail("kind", f"'{kind}' is not one of {', '.join(UART_KINDS)}")
        return Uart(kind=kind, base=t.get("base", int), name=t.get("name", str, ""), model=t.get("model", str, ""))


def _parse(data: dict, path: Path) -> Board:
    r = _Reader(path, data)
    name = r.get("name", str)
    if name != path.stem:
        raise r.fail("name", f"'{name}' differs from the file name '{path.stem}'")
    core = r.get("core", str)
    if core not in CORES:
        raise r.fail("core", f"'{core}' is not supported; use one of {', '.join(CORES)}")
    cflags = tuple(r.get("cflags", list))
    if f"-mcpu={core}" not in cflags:
        raise r.fail("cflags", f"must contain -mcpu={core} for core {core}")
    clock = r.get("clock_hz", int)
    if clock <= 0:
        raise r.fail("clock_hz", "must be positive")
    mem = r.table("memory")
    extra_table = mem.table("extra", required=False)
    extra = {k: extra_table.region(k) for k in extra_table.data} if extra_table else {}
    qemu = r.table("qemu")
    machine = qemu.get("machine", str)
    if machine not in QEMU_MACHINES:
        raise qemu.fail("machine", f"'{machine}' is not one of {', '.join(QEMU_MACHINES)}")
    if QEMU_MACHINES[machine] != core:
        raise qemu.fail("machine", f"'{machine}' runs a {QEMU_MACHINES[machine]}, not the board's {core}")
    qmem = qemu.table("memory")
    renode = r.table("renode")
    board = Board(
        name=name,
        description=r.get("description", str, name),
        mcu=r.get("mcu", str),
        core=core,
        clock_hz=clock,
        cflags=cflags,
        defines=tuple(r.get("defines", list, [], required=False)),
        stack_bytes=r.get("stack_bytes", int, 16384),
        heap_bytes=r.get("heap_bytes", int, 8192),
        flash=mem.region("flash"),
        ram=mem.region("ram"),
        extra=extra,
        qemu_machine=machine,
        qemu_flash=qmem.region("flash"),
        qemu_ram=qmem.region("ram"),
        qemu_uart=qemu.uart("uart"),
        renode_platform=renode.get("platform", str, ""),
        renode_overrides=renode.get("platform_overrides", str, ""),
        renode_cpu_type=renode.get("cpu_type", str, core),
        renode_uart=renode.uart("uart"),
        path=path,
        power=r.power("power"),
        hardware=r.hardware("hardware", clock),
    )
    for key in ("stack_bytes", "heap_bytes"):
        if getattr(board, key) < 0:
            raise r.fail(key, "must not be negative")
    return board
