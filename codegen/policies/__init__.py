"""Exit policies in one home.

    kinds/        one module per policy kind (none, exit, confidence, margin,
                  entropy, patience, difference, temporal_patience); each
                  parses, lowers, summarizes and runs its own rule and ends in
                  `KIND`; threshold.py holds what the per-exit threshold kinds share
    kind.py       PolicyKind, ThresholdRule, IntegerForm: what a kind is
    registry.py   KINDS and FORMS: kind and integer-form names -> their objects
    spec.py       parse_policy: policy strings, checked against a model's exits
    lowering.py   lower_policy: float thresholds -> integer constants and tables for the C
    reference.py  run_float / run_integer: the float64 rules and numpy replicas of the C
    data.py       PolicySpec, LoweredPolicy and their parts, plain data
    runs.py       what the runs share; replicas of templates/kernels/tx_policy.c
    tables.py     exp / x*exp / ln tables and their bit widths
    calibrate.py  thresholds under an accuracy budget (empirical, CRC, LTT)

The C helpers the decisions call are hand-written in
templates/kernels/tx_policy.{h,c}; each kind's template
(templates/library/policies/<kind>.c.j2) holds only constants, state and
calls. docs/adding-a-policy.md adds a kind.
"""
