"""`python -m tinyexit`: the same as the `tinyexit` command."""

from .cli.main import main

main()
