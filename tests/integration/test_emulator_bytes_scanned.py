"""DataScannedInBytes of the emulator: the column chunks a query needs, summed from the Parquet footers."""

from __future__ import annotations

import io

import pyarrow.parquet as pq
import pytest
from tests.integration.test_emulator_aws import crawl, parquet_bytes, put_snapshot, run_query, sample

pytestmark = pytest.mark.integration

DATA_COLUMNS = {"billedcost", "regionid", "subaccountid"}


def chunk_bytes(body: bytes, columns: set[str]) -> int:
    """Sum total_compressed_size of the column chunks of ``columns`` in one Parquet file."""
    metadata = pq.read_metadata(io.BytesIO(body))
    total = 0
    for group in range(metadata.num_row_groups):
        row_group = metadata.row_group(group)
        for index in range(row_group.num_columns):
            chunk = row_group.column(index)
            if chunk.path_in_schema.lower() in columns:
                total += chunk.total_compressed_size
    return total


def scanned(aws, sql: str) -> int:
    execution = run_query(aws, sql)
    assert execution["Status"]["State"] == "SUCCEEDED", execution["Status"]
    return execution["Statistics"]["DataScannedInBytes"]


@pytest.fixture
def two_periods(aws) -> dict[str, bytes]:
    """Stage one file in 2026-03 and one in 2026-04 and crawl them; return the file bodies."""
    tables = {"2026-03": sample(40), "2026-04": sample(60)}
    for period, table in tables.items():
        put_snapshot(aws, period, table)
    crawl(aws)
    return {period: parquet_bytes(table) for period, table in tables.items()}


def test_select_star_reads_every_column(aws, two_periods):
    expected = sum(chunk_bytes(body, DATA_COLUMNS) for body in two_periods.values())
    assert expected > 0
    assert scanned(aws, "SELECT * FROM focus_snapshots") == expected


def test_count_star_reads_no_data_column(aws, two_periods):
    assert scanned(aws, "SELECT count(*) FROM focus_snapshots") == 0


def test_count_over_star_subquery_reads_no_data_column(aws, two_periods):
    assert scanned(aws, "SELECT count(*) FROM (SELECT * FROM focus_snapshots) AS s") == 0


def test_outer_column_of_star_subquery(aws, two_periods):
    expected = sum(chunk_bytes(body, {"billedcost"}) for body in two_periods.values())
    sql = "SELECT sum(billedcost) FROM (SELECT * FROM focus_snapshots) AS s"
    assert scanned(aws, sql) == expected


def test_star_cte_reads_only_used_columns(aws, two_periods):
    expected = sum(chunk_bytes(body, {"billedcost", "regionid"}) for body in two_periods.values())
    sql = (
        "WITH rows AS (SELECT * FROM focus_snapshots), "
        "per_region AS (SELECT *, billedcost * 2 AS doubled FROM rows) "
        "SELECT regionid, sum(doubled) FROM per_region GROUP BY regionid"
    )
    assert scanned(aws, sql) == expected


def test_pruned_partition_and_column(aws, two_periods):
    expected = chunk_bytes(two_periods["2026-04"], {"regionid"})
    sql = "SELECT regionid FROM focus_snapshots WHERE billing_period = '2026-04'"
    assert scanned(aws, sql) == expected


def test_count_with_partition_filter_reads_nothing(aws, two_periods):
    sql = "SELECT count(*) FROM focus_snapshots WHERE billing_period = '2026-04' AND delivery = 'd1'"
    assert scanned(aws, sql) == 0


def test_distinct_star_subquery_reads_every_column(aws, two_periods):
    # Dropping a column under DISTINCT changes the rows, so Trino keeps every column.
    expected = sum(chunk_bytes(body, DATA_COLUMNS) for body in two_periods.values())
    sql = "SELECT count(billedcost) FROM (SELECT DISTINCT * FROM focus_snapshots) AS s"
    assert scanned(aws, sql) == expected


def test_group_by_columns_of_star_subquery(aws, two_periods):
    body = two_periods["2026-04"]
    expected = chunk_bytes(body, {"regionid", "subaccountid"})
    sql = (
        "SELECT count(*) AS n FROM (SELECT * FROM focus_snapshots WHERE billing_period = '2026-04') AS b "
        "GROUP BY regionid, subaccountid HAVING count(*) > 1"
    )
    assert scanned(aws, sql) == expected


def test_two_pruned_references_read_one_partition(aws, two_periods):
    expected = chunk_bytes(two_periods["2026-04"], {"billedcost"})
    sql = (
        "SELECT n, total FROM "
        "(SELECT count(*) AS n FROM focus_snapshots WHERE billing_period = '2026-04') AS c "
        "CROSS JOIN (SELECT sum(billedcost) AS total FROM focus_snapshots "
        "WHERE billing_period = '2026-04') AS s"
    )
    assert scanned(aws, sql) == expected


def test_references_to_two_partitions_read_both(aws, two_periods):
    expected = chunk_bytes(two_periods["2026-03"], {"billedcost"})
    expected += chunk_bytes(two_periods["2026-04"], {"billedcost"})
    sql = (
        "SELECT a.total AS march, b.total AS april FROM "
        "(SELECT sum(billedcost) AS total FROM focus_snapshots WHERE billing_period = '2026-03') AS a "
        "CROSS JOIN (SELECT sum(billedcost) AS total FROM focus_snapshots "
        "WHERE billing_period = '2026-04') AS b"
    )
    execution = run_query(aws, sql)
    assert execution["Statistics"]["DataScannedInBytes"] == expected
    rows = aws.client("athena").get_query_results(QueryExecutionId=execution["QueryExecutionId"])
    values = [cell["VarCharValue"] for cell in rows["ResultSet"]["Rows"][1]["Data"]]
    assert [float(value) for value in values] == [1.5 * 40 * 41 / 2, 1.5 * 60 * 61 / 2]
