"""The delivery DAG end to end against the emulator: promotion, replacement, idempotency, alerts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from tests.integration.delivery_harness import (
    athena_scalar,
    current_partitions,
    delivery_records,
    land_delivery,
    received_messages,
    run_dag,
)
from tests.integration.focus_rows import focus_row, focus_table

pytestmark = pytest.mark.integration

APRIL_RUN = datetime(2026, 4, 10, 12, tzinfo=UTC)


def april_rows(count: int, start: int = 0, cost: float = 0.5) -> list[dict]:
    return [focus_row(index, BilledCost=cost) for index in range(start, start + count)]


def test_clean_delivery_is_promoted(aws, airflow_db):
    manifest = land_delivery(aws, focus_table(april_rows(40)), "2026-04")

    run, states = run_dag("focus_delivery", APRIL_RUN)

    assert states["promote_snapshot"] == "success"
    assert states["finish_delivery"] == "success"
    current = current_partitions(aws)
    assert list(current) == ["2026-04"]
    assert current["2026-04"]["execution_id"] == manifest["executionId"]
    assert current["2026-04"]["rows"] == "40"
    assert athena_scalar(aws, "SELECT count(*) FROM focus_current WHERE billing_period = '2026-04'") == "40"
    records = delivery_records(aws)
    assert [record["status"] for record in records] == ["promoted"]
    assert records[0]["rows"] == 40
    assert records[0]["billed_cost"] == pytest.approx(20.0)


def test_three_deliveries_same_day_keep_the_last(aws, airflow_db):
    first = april_rows(1000)
    second = first + april_rows(20, start=1000)
    third = [dict(row) for row in second]
    for row in third[:5]:
        row["BilledCost"] = row["BilledCost"] + 0.30

    for hour, rows in ((8, first), (14, second), (20, third)):
        manifest = land_delivery(
            aws, focus_table(rows), "2026-04", delivered_at=datetime(2026, 4, 20, hour, tzinfo=UTC)
        )
        _, states = run_dag("focus_delivery", datetime(2026, 4, 20, hour, 5, tzinfo=UTC))
        assert states["promote_snapshot"] == "success"

    current = current_partitions(aws)["2026-04"]
    assert current["execution_id"] == manifest["executionId"]
    assert current["rows"] == "1020"
    assert float(current["billed_cost"]) == pytest.approx(511.50)
    total = athena_scalar(
        aws, "SELECT round(sum(billedcost), 2) FROM focus_current WHERE billing_period = '2026-04'"
    )
    assert float(total) == pytest.approx(511.50)
    count = athena_scalar(aws, "SELECT count(*) FROM focus_current WHERE billing_period = '2026-04'")
    assert count == "1020"
    assert [record["status"] for record in delivery_records(aws)] == ["promoted"] * 3


def test_same_delivery_twice_changes_nothing(aws, airflow_db):
    land_delivery(aws, focus_table(april_rows(30)), "2026-04")
    run_dag("focus_delivery", APRIL_RUN)
    before = current_partitions(aws)
    received_messages(aws)

    _, states = run_dag("focus_delivery", APRIL_RUN)

    assert states["wait_for_delivery"] == "skipped"
    assert states["promote_snapshot"] == "skipped"
    after = current_partitions(aws)
    assert after["2026-04"]["execution_id"] == before["2026-04"]["execution_id"]
    assert after["2026-04"]["promoted_at"] == before["2026-04"]["promoted_at"]
    assert received_messages(aws) == []


def test_create_new_report_folders_not_summed(aws, airflow_db):
    first = april_rows(30)
    land_delivery(
        aws,
        focus_table(first),
        "2026-04",
        mode="CREATE_NEW_REPORT",
        delivered_at=datetime(2026, 4, 9, 8, tzinfo=UTC),
    )
    run_dag("focus_delivery", datetime(2026, 4, 9, 8, 5, tzinfo=UTC))
    second = first + april_rows(5, start=30)
    manifest = land_delivery(
        aws,
        focus_table(second),
        "2026-04",
        mode="CREATE_NEW_REPORT",
        partition_key="billing_period",
        delivered_at=datetime(2026, 4, 9, 14, tzinfo=UTC),
    )

    _, states = run_dag("focus_delivery", datetime(2026, 4, 9, 14, 5, tzinfo=UTC))

    assert states["promote_snapshot"] == "success"
    current = current_partitions(aws)["2026-04"]
    assert current["execution_id"] == manifest["executionId"]
    assert current["rows"] == "35"
    count = athena_scalar(aws, "SELECT count(*) FROM focus_current WHERE billing_period = '2026-04'")
    assert count == "35"
