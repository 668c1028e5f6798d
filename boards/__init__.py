"""One TOML file per board (codegen/boards.py reads them).

Data, not code: this file only makes the folder a package so the wheel ships
it and importlib.resources finds it (codegen/paths.py).
"""
