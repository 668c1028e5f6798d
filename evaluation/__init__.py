"""Evaluation: exit policies compared by accuracy and simulator-measured cost.

    data.py         x and y from a .npz (train or test split)
    compare.py      every policy on the host build and in QEMU -> rows
    report.py       report.md / .csv / .json and the --baseline gate
    plot.py         accuracy against cost, the Pareto front marked
    calibration.py  thresholds under an accuracy budget, on a model's host run
"""
