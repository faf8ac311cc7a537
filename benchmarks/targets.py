"""The targets of the suite (issue "Storage engine v2") and whether a row meets them.

Ratios are our time per operation divided by the reference's, the reference
being hand-written redis-py sending one command or script per operation
(*raw-op*) or pipelining them (*raw-pipe*, W1p and W4p). For M the ratio is our
bytes per instance divided by the reference layout's; for W7 the reference's
throughput with 4 processes divided by ours (a time per operation ratio too).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["TARGETS", "Target", "met_text", "target_met"]

#: slack for round trips per operation computed as float averages
_EPSILON = 1e-9


@dataclass(frozen=True)
class Target:
    """A workload's target: the highest ratio, and more."""

    #: highest ratio allowed
    ratio: float
    #: highest round trips per operation (per pipeline for W4p), None: not a target
    round_trips: float | None
    #: as printed in the table
    text: str
    #: the indexes must exactly match the data afterwards (both sides)
    exact: bool = False


TARGETS: dict[str, Target] = {
    "W1": Target(1.3, None, "<=1.3x raw-op"),
    "W1p": Target(1.5, None, "<=1.5x raw-pipe"),
    "W2": Target(1.2, 1, "<=1.2x raw-op, 1 RT"),
    "W3": Target(1.2, 1, "<=1.2x raw-op, 1 RT"),
    "W4": Target(1.2, 1, "<=1.2x raw-op, 1 RT"),
    "W4p": Target(2.0, 1, "<=2x raw-pipe, 1 RT/pipe"),
    "W5": Target(1.3, 1, "<=1.3x raw-op, 1 RT"),
    "W6": Target(1.3, None, "<=1.3x raw-op"),
    "W7": Target(1.3, None, "<=1.3x raw-op, exact", exact=True),
    "M": Target(1.1, None, "<=1.1x ref layout"),
}


def target_met(row: dict[str, Any]) -> bool:
    """Whether ``row`` (a row of the suite's results) meets its workload's target.

    Round trips are those of a pipeline when the row gives them
    (``ours_round_trips_per_pipeline``), else per operation.
    """
    target = TARGETS[row["id"]]
    if row["ratio"] > target.ratio:
        return False
    if target.exact and (row["ours_problems"] or row.get("reference_problems")):
        return False
    if target.round_trips is None:
        return True
    round_trips = row.get("ours_round_trips_per_pipeline", row["ours_round_trips_per_op"])
    return round_trips <= target.round_trips + _EPSILON


def met_text(row: dict[str, Any], met: bool | None) -> str:
    """``yes`` / ``NO`` (``-`` if unknown); in parentheses for an informative row,
    which no target applies to."""
    if met is None:
        return "-"
    if row.get("informative"):
        return "(yes)" if met else "(no)"
    return "yes" if met else "NO"
