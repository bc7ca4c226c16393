"""Pure helpers of the benchmark: goals, number formatting, minimum bytes and Athena cost."""

from __future__ import annotations

import math

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from focus_bench.report import (
    ATHENA_MIN_BYTES_PER_QUERY,
    Goal,
    athena_cost_usd,
    format_bytes,
    format_number,
    goals_table,
    minimum_scan_bytes,
)

pytestmark = pytest.mark.unit


def test_goal_ratio_at_most():
    goal = Goal("bytes", 300.0, 2.0, reference=100.0)
    assert goal.ratio == 3.0
    assert not goal.met
    assert goal.goal_text() == "ratio <= 2"


def test_goal_ratio_at_least():
    goal = Goal("speed-up", 60.0, 5.0, reference=10.0, at_least=True)
    assert goal.ratio == 6.0
    assert goal.met
    assert goal.goal_text() == "ratio >= 5"


def test_goal_without_reference():
    goal = Goal("memory", 400.0, 512.0)
    assert goal.ratio == 400.0
    assert goal.met


def test_goal_zero_reference():
    assert math.isinf(Goal("x", 1.0, 1.2, reference=0.0).ratio)
    assert Goal("x", 0.0, 1.2, reference=0.0).met
    assert Goal("x", 1.0, 1.2, reference=0.0).to_dict()["ratio"] is None


@pytest.mark.parametrize(
    ("value", "text"),
    [(0, "0"), (1.0, "1"), (1.2345, "1.23"), (35.44, "35.4"), (1234.5, "1234"), (0.00271, "0.00271")],
)
def test_format_number(value, text):
    assert format_number(value) == text


def test_format_bytes():
    assert format_bytes(512) == "512 B"
    assert format_bytes(1536) == "1.5 KiB"
    assert format_bytes(5 * 1024**3) == "5 GiB"


def test_goals_table_marks_missed_goal():
    lines = goals_table([Goal("bytes", 3.0, 2.0, reference=1.0)])
    assert lines[2] == "| bytes | 3 | 1 | 3 | ratio <= 2 | MISSES |"


def test_minimum_scan_bytes_counts_named_columns(tmp_path):
    table = pa.table({"A": list(range(1000)), "B": [str(i) for i in range(1000)], "C": [1.0] * 1000})
    pq.write_table(table, tmp_path / "one.parquet", row_group_size=300)
    metadata = pq.read_metadata(tmp_path / "one.parquet")
    sizes = {"a": 0, "b": 0, "c": 0}
    for group in range(metadata.num_row_groups):
        for column in range(metadata.num_columns):
            chunk = metadata.row_group(group).column(column)
            sizes[chunk.path_in_schema.lower()] += chunk.total_compressed_size

    assert minimum_scan_bytes([metadata], {"a", "c"}) == sizes["a"] + sizes["c"]
    assert minimum_scan_bytes([metadata, metadata], {"b"}) == 2 * sizes["b"]
    assert minimum_scan_bytes([metadata], set()) == 0


def test_athena_cost_bills_ten_megabytes_minimum():
    assert athena_cost_usd([0]) == pytest.approx(ATHENA_MIN_BYTES_PER_QUERY / 1e12 * 5)
    assert athena_cost_usd([10**12]) == pytest.approx(5.0)
    assert athena_cost_usd([]) == 0.0
