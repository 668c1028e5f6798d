"""The `tinyexit` command line: the only layer that wires the others together.

    main.py      the typer app, --version, errors -> one line and exit 2
    common.py    options shared by several commands, input loading, the console
    generate.py  inspect, generate
    simulate.py  boards, build, simulate, run
    evaluate.py  calibrate, compare
    models.py    data, augment, zoo
    doctor.py    doctor: what each capability needs, what is found
"""
