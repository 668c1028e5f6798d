"""Where the data that ships inside the package lives: templates/ and boards/.

Both folders are packages of their own (`tinyexit.templates`,
`tinyexit.boards`), installed with the wheel and found with
importlib.resources, so tinyexit works from any folder, installed or
editable.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

TEMPLATES_DIR = Path(str(resources.files("tinyexit.templates")))
BOARDS_DIR = Path(str(resources.files("tinyexit.boards")))
