"""A before/after table of two runs of the suite (``--compare BEFORE.json``).

Rows are matched by their workload label. Whether a target is met is worked
out again, before and after, against the *current* targets
(:mod:`benchmarks.targets`), so that a JSON written before the targets
changed compares fairly.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from benchmarks.common import format_table, machine_line
from benchmarks.targets import TARGETS, met_text, target_met

__all__ = ["HEADERS", "compare_report", "load_result"]

HEADERS = ["workload", "ratio before", "ratio after", "target", "met before", "met after"]


def load_result(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The results a run wrote with ``--json``."""
    result = json.loads(Path(path).read_text(encoding="utf-8"))
    if result.get("benchmark") != "suite" or "rows" not in result:
        raise ValueError(f"{path} was not written by `python -m benchmarks.suite --json`")
    return result


def _met(row: dict[str, Any] | None) -> str:
    if row is None:
        return "-"
    try:
        return met_text(row, target_met(row))
    except KeyError:  # a row of an older suite, or of a workload since removed
        return "-"


def _merged_order(later: list[dict[str, Any]], earlier: list[dict[str, Any]]) -> list[str]:
    """The labels of ``later``, each label only in ``earlier`` after the last one of
    its workload (at the end if the workload is not in ``later``)."""
    labels = [row["workload"] for row in later]
    ids = [row["id"] for row in later]
    for row in earlier:
        if row["workload"] in labels:
            continue
        same = [i for i, wid in enumerate(ids) if wid == row["id"]]
        position = same[-1] + 1 if same else len(labels)
        labels.insert(position, row["workload"])
        ids.insert(position, row["id"])
    return labels


def _describe(name: str, result: dict[str, Any]) -> str:
    return (
        f"{name}: N = {result['instances']:,}, {result['queries']:,} queries; "
        f"{machine_line(result['machine'])}"
    )


def compare_report(before: dict[str, Any], after: dict[str, Any]) -> str:
    """The two runs described, then one line per workload row of either run."""
    earlier = {row["workload"]: row for row in before["rows"]}
    later = {row["workload"]: row for row in after["rows"]}
    labels = _merged_order(after["rows"], before["rows"])
    grouped = {row["id"] for row in [*before["rows"], *after["rows"]] if row.get("total")}
    table = []
    for label in labels:
        old, new = earlier.get(label), later.get(label)
        row = new or old
        assert row is not None
        indent = row.get("informative") or (row["id"] in grouped and not row.get("total"))
        target = TARGETS.get(row["id"])
        table.append(
            [
                ("  " if indent else "") + label,
                None if old is None else round(old["ratio"], 3),
                None if new is None else round(new["ratio"], 3),
                target.text if target else "-",
                _met(old),
                _met(new),
            ]
        )
    lines = [_describe("before", before), _describe("after", after)]
    if before["instances"] != after["instances"]:
        lines.append(
            f"warning: N differs ({before['instances']:,} before, {after['instances']:,} "
            "after): ratios depend on N, compare runs of the same size"
        )
    lines += [
        "met: against the current targets, before and after; (yes)/(no): informative rows",
        "",
        format_table(HEADERS, table),
    ]
    return "\n".join(lines)
