"""Pure helpers of the benchmark: goals and ratios, minimum bytes from Parquet footers, Athena cost,
and the Markdown page. Nothing here starts a process or sends a request."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

# Athena SQL pricing in us-east-1 (https://aws.amazon.com/athena/pricing/, read 2026): 5 USD per
# TB scanned, where a TB is 10^12 bytes, and every query is billed at least 10 MB.
ATHENA_USD_PER_TB = 5.0
ATHENA_MIN_BYTES_PER_QUERY = 10 * 1000**2
TB = 1000**4
MIB = 1024**2


@dataclass(frozen=True)
class Goal:
    """One measured figure beside its goal: ``value / reference`` must not exceed ``limit``.

    With ``reference`` None the value itself is compared with ``limit``. With ``at_least`` the
    ratio must reach ``limit`` instead (a speed-up).
    """

    name: str
    value: float
    limit: float
    reference: float | None = None
    at_least: bool = False
    unit: str = ""

    @property
    def ratio(self) -> float:
        if self.reference is None:
            return self.value
        if self.reference == 0:
            return math.inf if self.value else 1.0
        return self.value / self.reference

    @property
    def met(self) -> bool:
        return self.ratio >= self.limit if self.at_least else self.ratio <= self.limit

    def goal_text(self) -> str:
        sign = ">=" if self.at_least else "<="
        if self.reference is None:
            return f"{sign} {format_number(self.limit)}{self.unit}"
        return f"ratio {sign} {format_number(self.limit)}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": self.value,
            "reference": self.reference,
            "ratio": None if math.isinf(self.ratio) else round(self.ratio, 4),
            "limit": self.limit,
            "at_least": self.at_least,
            "met": self.met,
        }


def format_number(value: float) -> str:
    """Write a figure with three significant digits, without a trailing ``.0``."""
    if math.isinf(value):
        return "inf"
    if value == 0:
        return "0"
    digits = max(0, 2 - int(math.floor(math.log10(abs(value)))))
    text = f"{value:.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def format_bytes(value: float) -> str:
    """Write a byte count in binary units (KiB, MiB, GiB)."""
    for unit, size in (("GiB", 1024**3), ("MiB", MIB), ("KiB", 1024)):
        if abs(value) >= size:
            return f"{format_number(value / size)} {unit}"
    return f"{int(value)} B"


def verdict(goal: Goal) -> str:
    return "meets" if goal.met else "MISSES"


def minimum_scan_bytes(footers: Iterable[Any], columns: set[str]) -> int:
    """Return the compressed size of the column chunks of ``columns`` (lower-case names) in the
    given Parquet footers (``pyarrow.parquet.FileMetaData``): the least a columnar engine reads."""
    total = 0
    for metadata in footers:
        for group_index in range(metadata.num_row_groups):
            group = metadata.row_group(group_index)
            for column_index in range(group.num_columns):
                chunk = group.column(column_index)
                if chunk.path_in_schema.split(".")[0].lower() in columns:
                    total += chunk.total_compressed_size
    return total


def athena_cost_usd(bytes_per_query: Iterable[int]) -> float:
    """Return what Athena bills for these queries: each at least 10 MB, 5 USD per TB."""
    billed = sum(max(int(scanned), ATHENA_MIN_BYTES_PER_QUERY) for scanned in bytes_per_query)
    return billed / TB * ATHENA_USD_PER_TB


def goals_table(goals: list[Goal], value_format: Any = format_number) -> list[str]:
    """Render goals as Markdown table rows: figure, value, reference, ratio, goal, verdict."""
    lines = ["| Figure | Value | Reference | Ratio | Goal | Verdict |", "|---|---|---|---|---|---|"]
    for goal in goals:
        reference = "" if goal.reference is None else value_format(goal.reference)
        ratio = "" if goal.reference is None else format_number(goal.ratio)
        lines.append(
            f"| {goal.name} | {value_format(goal.value)}{goal.unit} | {reference} | {ratio} "
            f"| {goal.goal_text()} | {verdict(goal)} |"
        )
    return lines


def console_table(rows: list[list[str]]) -> str:
    """Align rows of strings in columns for the terminal; the first row is the header."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)
