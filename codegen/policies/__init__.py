"""Exit policies in one home.

    spec.py       policy strings: parse and check against a model's exits
    reference.py  the float64 rules, and numpy replicas of the device's integer rules
    tables.py     exp / x*exp / ln tables and their bit widths
    lowering.py   float thresholds -> integer constants and tables for the C
    calibrate.py  thresholds under an accuracy budget (empirical, CRC, LTT)

The C helpers the decisions call are hand-written in
templates/kernels/tx_policy.{h,c}; the per-model template holds only
constants and calls.
"""
