"""jinja2 templates for every generated file, and the hand-written C kernels.

Data, not code: this file only makes the folder a package so the wheel ships
it and importlib.resources finds it (codegen/paths.py).
"""
