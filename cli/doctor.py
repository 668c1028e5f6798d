"""`tinyexit doctor`: what each capability needs, what this machine has, how to get the rest."""

from __future__ import annotations

import importlib.util
import os
import shutil
from dataclasses import dataclass

import typer

from ..codegen.errors import TinyexitError
from ..firmware_sim.build import TOOLCHAIN_INSTALL, check_toolchain
from ..firmware_sim.host import compiler
from ..firmware_sim.qemu import QEMU_INSTALL, plugin_build_dir, plugin_path, qemu_binary
from .common import console
from .tables import Column, Table, render, terminal_width

PIP_TRAIN = "pip install 'tinyexit[train]'"
PIP_TEST = "pip install 'tinyexit[test]'"


@dataclass(frozen=True)
class Check:
    capability: str  # what the user wants to do
    needs: str  # what that takes
    found: str  # what is here ("" when missing)
    install: str  # how to get it when missing


def _probe(fn) -> str:
    """fn() -> what was found; a TinyexitError means missing."""
    try:
        return fn()
    except TinyexitError:
        return ""


def _module(name: str) -> str:
    spec = importlib.util.find_spec(name)
    return spec.origin or name if spec else ""


def _plugin() -> str:
    built = plugin_build_dir() / "tx_count.so"
    override = os.environ.get("TINYEXIT_QEMU_PLUGIN")
    if override:
        return override if os.path.isfile(override) else ""
    return str(built) if built.is_file() else ""


def checks() -> list[Check]:
    """Every capability and what it needs, probed without building or importing anything heavy."""
    return [
        Check("generate, inspect", "Python packages numpy, jinja2, tflite", _module("tflite"), "pip install tinyexit"),
        Check("run --target host", "a C compiler (cc, or $CC)", _probe(compiler), "sudo apt-get install -y gcc"),
        Check("build, simulate", "arm-none-eabi-gcc with newlib-nano", _probe(check_toolchain), TOOLCHAIN_INSTALL),
        Check("simulate, compare", "qemu-system-arm", _probe(qemu_binary), QEMU_INSTALL),
        Check("simulate, compare", "the tx_count QEMU plugin (built on first use)", _plugin(),
              "tinyexit doctor --build-plugin (needs qemu-system-arm, make, a C compiler; fetches QEMU's plugin header once)"),
        Check("run --target renode", "renode", shutil.which("renode") or "", "https://renode.io (optional)"),
        Check("data, augment, zoo", "TensorFlow", _module("tensorflow"), PIP_TRAIN),
        Check("bit-exactness tests", "the tflite-micro interpreter", _module("tflite_micro"), PIP_TEST),
    ]


def doctor(
    build_plugin: bool = typer.Option(False, "--build-plugin", help="Build the QEMU counting plugin now"),
) -> None:
    """List what each capability needs, what is found, and the install command for what is missing."""
    term = console()
    if build_plugin:
        term.print(f"QEMU plugin: {plugin_path()}")
    table = Table([Column("capability", wrap=True), Column("needs", wrap=True), Column("found", wrap=True),
                   Column("to install", detail=True)], title="tinyexit doctor")  # fmt: skip
    for c in checks():
        table.add(c.capability, c.needs, c.found or "MISSING", "" if c.found else c.install)
    print(render(table, terminal_width()))
