"""tinyexit: early-exit int8 TFLite models to standalone C for Cortex-M,
measured in a simulator.

The package maps the repository's folders under one import root:

    tinyexit.codegen       codegen/       reader -> IR -> passes -> emitter; exit policies
    tinyexit.templates     templates/     jinja2 templates and hand-written C kernels (data)
    tinyexit.boards        boards/        one TOML file per board (data)
    tinyexit.firmware_sim  firmware_sim/  build and run generated code: host, QEMU, Renode
    tinyexit.evaluation    evaluation/    compare policies: reports, plots, calibration
    tinyexit.modelmaking   modelmaking/   early-exit models from Keras backbones (TensorFlow)
    tinyexit.cli           cli/           the `tinyexit` command

Imports go one way: cli and this API -> modelmaking, evaluation ->
firmware_sim -> codegen (docs/architecture.md).
"""

import sys

try:
    from .api import compare, generate, run
    from .codegen import __version__
    from .codegen.errors import TinyexitError
except KeyboardInterrupt:  # Ctrl-C while Python loads tinyexit (the command's start-up): one line, exit 130
    print("interrupted", file=sys.stderr)
    raise SystemExit(130) from None

__all__ = ["TinyexitError", "__version__", "compare", "generate", "run"]
