"""The Makefile fragment drops into a CubeMX-style Makefile: included before
`all:`, plain `make` still links the application, and its library rule builds
the static library when asked for by name."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from conftest import FIXTURES

from tinyexit.codegen.pipeline import generate

# The shape of the Makefile STM32CubeMX writes (sources, flags, `all:` first
# among its rules, objects flattened into BUILD_DIR through vpath), with the
# host gcc standing in for arm-none-eabi-gcc so the result runs here.
CUBEMX_MAKEFILE = """\
TARGET = app
BUILD_DIR = build
C_SOURCES = Core/Src/main.c
C_INCLUDES = -ICore/Inc

include lib/kws/kws.mk
C_SOURCES += $(KWS_SOURCES)
C_INCLUDES += $(KWS_INCLUDES)

CC = gcc
CFLAGS = $(C_INCLUDES) -std=c99 -O2 -Wall -Wextra -Werror

all: $(BUILD_DIR)/$(TARGET).elf

OBJECTS = $(addprefix $(BUILD_DIR)/,$(notdir $(C_SOURCES:.c=.o)))
vpath %.c $(sort $(dir $(C_SOURCES)))

$(BUILD_DIR)/%.o: %.c Makefile | $(BUILD_DIR)
\t$(CC) -c $(CFLAGS) $< -o $@

$(BUILD_DIR)/$(TARGET).elf: $(OBJECTS) Makefile
\t$(CC) $(OBJECTS) -o $@

$(BUILD_DIR):
\tmkdir $@

clean:
\t-rm -fR $(BUILD_DIR)
"""

MAIN_C = """\
#include <stdio.h>
#include <string.h>
#include "kws.h"

int main(void)
{
    memset(kws_input(), 0, KWS_INPUT_BYTES);
    int k = kws_run();
    printf("exit %d label %d\\n", k, kws_label(k));
    return 0;
}
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("cubemx")
    generate(FIXTURES / "ee_dscnn.tflite", root / "lib" / "kws", name="kws", board="nucleo-l4r5zi")
    (root / "Core" / "Src").mkdir(parents=True)
    (root / "Core" / "Inc").mkdir(parents=True)
    (root / "Core" / "Src" / "main.c").write_text(MAIN_C)
    (root / "Makefile").write_text(CUBEMX_MAKEFILE)
    return root


def make(root, *args):
    return subprocess.run(["make", "-s", *args], cwd=root, capture_output=True, text=True)


def test_plain_make_links_the_application(project):
    if shutil.which("make") is None or shutil.which("gcc") is None:
        pytest.skip("make and gcc are needed (make install)")
    proc = make(project)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (project / "build" / "app.elf").is_file()
    assert not (project / "build" / "kws" / "libkws.a").exists()
    run = subprocess.run([str(project / "build" / "app.elf")], capture_output=True, text=True)
    assert run.returncode == 0 and run.stdout.startswith("exit "), run.stdout + run.stderr


def test_the_library_rule_builds_when_named(project):
    if shutil.which("arm-none-eabi-gcc") is None:
        pytest.skip("arm-none-eabi-gcc is not installed (make install)")
    proc = make(project, "build/kws/libkws.a")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (project / "build" / "kws" / "libkws.a").stat().st_size > 0
    assert make(project, "-p", "-n").stdout.count(".DEFAULT_GOAL := all") == 1


def test_default_goal_after_all_is_kept(tmp_path):
    """Included after `all:` the fragment leaves `all` the default goal too."""
    generate(FIXTURES / "ee_dscnn.tflite", tmp_path / "lib" / "kws", name="kws", board="nucleo-l4r5zi")
    (tmp_path / "Makefile").write_text("all:\n\t@echo built-all\ninclude lib/kws/kws.mk\n")
    proc = make(tmp_path)
    assert proc.returncode == 0 and proc.stdout.strip() == "built-all", proc.stdout + proc.stderr
