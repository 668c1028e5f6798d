"""Put what `make example` measured into README.md, so its figures are never typed by hand.

    python scripts/readme_example.py [build/example] [README.md]

Replaces the lines between `<!-- example:NAME -->` and `<!-- /example:NAME -->`
with a table made from build/example/NAME/report.json (`make example` writes
report/, report-ecg/, report-image/), and `<!-- example:calib -->` with the
policy the Quick start's calibrate step wrote. A marker whose report is missing
is left as it is and named on stderr.

`<!-- example:search -->` holds the "Searching for exits" table: one row per
search folder in SEARCH_TASKS, from NAME/report.json (what `tinyexit search`
wrote), NAME/compare/report.json (`tinyexit compare` of the chosen model and
policy, beside `none`, on fresh data) and NAME/compare-backbone/report.json (the backbone
alone, NAME/backbone.tflite, policy none, on the same data). A row whose
reports are missing keeps the README's old row for that task.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path


def table(report: dict) -> list[str]:
    exits = report["meta"]["exits"]
    head = ["| policy | accuracy | agreement with final | exits (" + " / ".join(exits) + ") | mean instructions "
            "| mean ms (est.) | saving vs none |", "|---|---:|---:|---|---:|---:|---:|"]  # fmt: skip
    rows = []
    for p in report["policies"]:
        accuracy = "-" if p["accuracy"] is None else f"{100 * p['accuracy']:.1f}%"
        shares = " / ".join(f"{100 * s:.0f}%" for s in p["exit_shares"])
        ms = "-" if p.get("mean_time_ms") is None else f"{p['mean_time_ms']:.2f}"
        saving = "-" if p["saving_vs_none"] is None else f"{100 * p['saving_vs_none']:.1f}%"
        rows.append(f"| `{p['policy']}` | {accuracy} | {100 * p['agreement']:.1f}% | {shares} | "
                    f"{p['mean_instructions']:,.0f} | {ms} | {saving} |")  # fmt: skip
    samples = report["meta"]["samples"]
    return head + rows + ["", f"({samples:,} samples of {report['meta']['data']}, {report['meta']['board']}; "
                          f"written by scripts/readme_example.py from `make example`'s report.json)"]  # fmt: skip


SEARCH_TASKS = (  # folder under the example folder, the task as the table's first cell names it
    ("search-kws", "keywords"),
    ("search-image", "Fashion-MNIST"),
    ("search-kws-stream", "keyword stream"),
    ("search-ecg", "ECG rhythm stream"),
)
SEARCH_HEAD = [
    "| task, backbone | exits after (policy) | accuracy: early-exit / backbone int8 "
    "| mean instructions: early-exit / backbone | saving | search time (2 cores) |",
    "|---|---|---|---|---|---|",
]


def _minutes(seconds: float) -> str:
    minutes, rest = divmod(int(round(seconds)), 60)
    return f"{minutes} min {rest} s" if minutes else f"{rest} s"


def search_row(task: str, search: dict, chosen: dict, backbone: dict) -> str:
    """One row of the search table from the three report.json files of one search."""
    policy = search["chosen"]["policy"]
    ee = next(p for p in chosen["policies"] if p["policy"] == policy)
    base = next(p for p in backbone["policies"] if p["policy"] == "none")
    meta = search["meta"]
    which = "test samples" if chosen["meta"].get("split") == "test" else "fresh samples"
    what = f"{task} ({chosen['meta']['samples']:,} {which} of {chosen['meta']['data']}), {meta['backbone']}"
    if meta.get("stream"):
        what += ", `--stream`"
    exits = ", ".join(search["chosen"]["exits"])
    accuracy = lambda p: "-" if p["accuracy"] is None else f"{100 * p['accuracy']:.1f}%"  # noqa: E731
    saving = 1.0 - ee["mean_instructions"] / base["mean_instructions"]
    return (f"| {what} | {exits} (`{search['chosen']['policy']}`) | {accuracy(ee)} / {accuracy(base)} | "
            f"{ee['mean_instructions']:,.0f} / {base['mean_instructions']:,.0f} | {100 * saving:.1f}% | "
            f"{_minutes(meta['seconds'])} |")  # fmt: skip


def search_table(old: str, example: Path, missing: list[str]) -> str:
    """The search table: a row per task from its reports, or the old row of that task if they are missing."""
    old_rows = [line for line in old.splitlines() if line.startswith("| ") and not line.startswith("| task")]
    rows = []
    for folder, task in SEARCH_TASKS:
        paths = [example / folder / "report.json", example / folder / "compare" / "report.json",
                 example / folder / "compare-backbone" / "report.json"]  # fmt: skip
        absent = [str(p) for p in paths if not p.is_file()]
        if absent:
            missing.extend(absent)
            rows += [line for line in old_rows if line.startswith(f"| {task} (")]
            continue
        rows.append(search_row(task, *(json.loads(p.read_text()) for p in paths)))
    return "\n".join(SEARCH_HEAD + rows)


def fill(readme: str, example: Path) -> tuple[str, list[str]]:
    missing = []

    def replace(match: re.Match) -> str:
        name = match.group(1)
        if name == "search":
            body = [search_table(match.group(2), example, missing)]
        elif name == "calib":
            path = example / "calib.txt"
            body = [f"`{path.read_text().strip()}`"] if path.is_file() else None
        else:
            path = example / name / "report.json"
            body = table(json.loads(path.read_text())) if path.is_file() else None
        if body is None:
            missing.append(str(path))
            return match.group(0)
        return f"<!-- example:{name} -->\n" + "\n".join(body) + f"\n<!-- /example:{name} -->"

    text = re.sub(r"<!-- example:([\w-]+) -->\n(.*?)<!-- /example:\1 -->", replace, readme, flags=re.S)
    return text, missing


def main(argv: list[str]) -> int:
    example = Path(argv[1]) if len(argv) > 1 else Path("build/example")
    readme = Path(argv[2]) if len(argv) > 2 else Path(__file__).resolve().parents[1] / "README.md"
    text, missing = fill(readme.read_text(), example)
    for path in missing:
        print(f"readme_example: {path} not found; its README figures are left as they were", file=sys.stderr)
    readme.write_text(text)
    print(f"updated {readme} from {example}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
