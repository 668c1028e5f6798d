"""Plain-text tables that fit the terminal without cutting a name or a number.

A table is columns plus rows of strings. `render(table, width)` lays it out
in `width` characters, trying in order until it fits:

1. every column at its natural width (two spaces between columns);
2. `detail` columns leave the grid and go on an indented line under their
   row ("QEMU mps2-an386, Renode generated ...");
3. `wrap` columns break after spaces, commas, slashes and underscores,
   widest first, down to their longest unbreakable piece.

Numbers and short names are never shortened or cut: when nothing else helps
the line is simply longer than `width`. Headers break at spaces onto as many
lines as needed. The output has no colour or box characters, so it reads the
same in a terminal, a pipe and a CI log.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field

GAP = "  "


@dataclass(frozen=True)
class Column:
    name: str
    right: bool = False  # right-align (numbers)
    wrap: bool = False  # may break over lines after spaces, commas, slashes, underscores
    detail: bool = False  # may move to a line under the row when the grid is too wide


@dataclass
class Table:
    columns: list[Column]
    title: str = ""
    caption: str = ""
    rows: list[list[str]] = field(default_factory=list)

    def add(self, *cells: object) -> None:
        if len(cells) != len(self.columns):
            raise ValueError(f"row has {len(cells)} cells for {len(self.columns)} columns")
        self.rows.append([str(c) for c in cells])


_BREAK = re.compile(r"(?<=[ ,/_])")


def _pieces(text: str) -> list[str]:
    """Pieces a wrapping cell may break between: after a space, comma, slash or underscore."""
    return [p for p in _BREAK.split(text) if p]


def _min_width(text: str) -> int:
    return max((len(p.rstrip()) for p in _pieces(text)), default=0)


def _wrap(text: str, width: int) -> list[str]:
    lines, line = [], ""
    for piece in _pieces(text):
        if line and len((line + piece).rstrip()) > width:
            lines.append(line.rstrip())
            line = piece.lstrip()
        else:
            line += piece
    if line or not lines:
        lines.append(line.rstrip())
    return lines


def _header_lines(name: str, width: int) -> list[str]:
    return _wrap(name, width) if " " in name else [name]


def _header_min(name: str) -> int:
    return max(len(w) for w in name.split(" "))


def _grid_width(widths: list[int]) -> int:
    return sum(widths) + len(GAP) * (len(widths) - 1)


def render(table: Table, width: int = 80) -> str:
    """The table as text lines of at most `width` characters where the content allows."""
    cols = table.columns
    grid = list(range(len(cols)))
    cell_max = {i: max((len(r[i]) for r in table.rows), default=0) for i in grid}
    widths = {i: max(len(cols[i].name), cell_max[i]) for i in grid}
    if _grid_width([widths[i] for i in grid]) > width:  # headers break at spaces
        widths = {i: max(_header_min(cols[i].name), cell_max[i]) for i in grid}
    if _grid_width([widths[i] for i in grid]) > width:  # detail columns go under their row
        grid = [i for i in grid if not cols[i].detail]
    floor = {i: max([_header_min(cols[i].name)] + [_min_width(r[i]) for r in table.rows]) for i in grid}
    while _grid_width([widths[i] for i in grid]) > width:  # wrapping cells, widest first
        candidates = [i for i in grid if cols[i].wrap and widths[i] > floor[i]]
        if not candidates:
            break
        widths[max(candidates, key=lambda i: widths[i])] -= 1
    details = [i for i in range(len(cols)) if i not in grid]
    out: list[str] = []
    if table.title:
        out.extend(_wrap(table.title, width))
    headers = [_header_lines(table.columns[i].name, widths[i]) for i in grid]
    depth = max(len(h) for h in headers)
    for line in range(depth):
        cells = []
        for i, h in zip(grid, headers):
            text = h[line - (depth - len(h))] if line >= depth - len(h) else ""
            cells.append(_align(text, widths[i], table.columns[i].right))
        out.append(GAP.join(cells).rstrip())
    out.append(GAP.join("-" * widths[i] for i in grid))
    for row in table.rows:
        wrapped = [_wrap(row[i], widths[i]) if table.columns[i].wrap else [row[i]] for i in grid]
        for line in range(max(len(w) for w in wrapped)):
            cells = [_align(w[line] if line < len(w) else "", widths[i], table.columns[i].right)
                     for i, w in zip(grid, wrapped)]  # fmt: skip
            out.append(GAP.join(cells).rstrip())
        extra = [f"{table.columns[i].name}: {row[i]}" for i in details if row[i]]
        if extra:
            for line in _wrap("; ".join(extra), max(20, width - 4)):
                out.append("    " + line)
    if table.caption:
        out.extend(_wrap(table.caption, width))
    return "\n".join(out)


def lines(text: str, width: int) -> str:
    """A long sentence broken at spaces, commas and slashes into lines of at most `width`."""
    return "\n".join(_wrap(text, width))


def terminal_width() -> int:
    """Columns of the terminal (or $COLUMNS); 80 when stdout is a pipe or a file."""
    return shutil.get_terminal_size((80, 24)).columns


def _align(text: str, width: int, right: bool) -> str:
    return text.rjust(width) if right else text.ljust(width)


def shape(dims) -> str:
    """[1, 49, 10, 1] -> '1x49x10x1': a shape in as few characters as it takes."""
    return "x".join(str(d) for d in dims)
