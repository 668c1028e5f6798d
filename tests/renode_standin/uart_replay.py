"""Renode's keywords the generated .robot uses, replaying a recorded UART log instead of emulating.

The log is the robot variable ${UART_LOG} (a file). "Wait For Line On Uart" follows Renode's
TerminalTester: it looks at the lines after the last match, skips lines that do not match, and
fails when none does (Renode fails on its timeout); a pattern is a substring, or with
treatAsRegex=true a regular expression searched in the line.
"""

from __future__ import annotations

import re
from pathlib import Path

from robot.libraries.BuiltIn import BuiltIn


class uart_replay:  # noqa: N801 - Robot Framework names a library class after its file
    ROBOT_LIBRARY_SCOPE = "SUITE"

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.position = 0
        self.commands: list[str] = []
        self.tester = ""

    def setup(self) -> None:
        self.commands.clear()

    def teardown(self) -> None:
        pass

    def test_teardown(self) -> None:
        pass

    def execute_command(self, command: str) -> str:
        self.commands.append(command)
        return ""

    def create_terminal_tester(self, uart: str, timeout: float | None = None) -> None:
        self.tester = uart

    def start_emulation(self) -> None:
        if not self.tester:
            raise AssertionError("Start Emulation before Create Terminal Tester")
        self.lines = Path(BuiltIn().get_variable_value("${UART_LOG}")).read_text().splitlines()
        self.position = 0

    def wait_for_line_on_uart(self, content: str, timeout: float | None = None, treatAsRegex: bool = False) -> str:  # noqa: N803
        for i in range(self.position, len(self.lines)):
            line = self.lines[i]
            if re.search(content, line) if treatAsRegex else content in line:
                self.position = i + 1
                return line
        raise AssertionError(f"no line on {self.tester} matches {content!r} after line {self.position}")
