"""One module per exit-policy kind; each defines `KIND` (codegen/policies/kind.py).

    none.py               none
    exit.py               exit:K
    confidence.py         confidence:TAU     } per-exit thresholds; what they
    margin.py             margin:M           } share is in threshold.py
    entropy.py            entropy:H          }
    patience.py           patience:T
    difference.py         difference:D       temporal
    temporal_patience.py  temporal-patience:P  temporal

codegen/policies/registry.py maps the names to these; the C of each is in
templates/library/policies/<module>.c.j2. docs/adding-a-policy.md adds one.
"""
