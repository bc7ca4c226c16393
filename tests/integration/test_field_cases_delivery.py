"""Hard deliveries through the delivery DAG: regressions, quarantines, FOCUS versions, empty
periods, credits, timestamp forms, a crash before promotion, and a real FOCUS 1.0 sample."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from tests.integration.delivery_harness import (
    athena_scalar,
    current_partitions,
    delivery_alerts,
    delivery_records,
    land_delivery,
    received_messages,
    run_dag,
)
from tests.integration.focus_rows import focus_row, focus_table

from focus_generator import apply_fault, to_focus_1_0

pytestmark = pytest.mark.integration

APRIL_RUN = datetime(2026, 4, 10, 12, tzinfo=UTC)
SAMPLE_CSV = Path(__file__).resolve().parents[2].parent / "shared" / "samples" / "focus_1.0_sample_1000.csv"


def state(run) -> str:
    return str(getattr(run.state, "value", run.state))


def day_rows(days: int, per_day: int, cost: float = 0.5) -> list[dict]:
    rows = []
    for day in range(days):
        start = datetime(2026, 4, 1 + day, tzinfo=UTC)
        for serial in range(per_day):
            rows.append(
                focus_row(
                    day * per_day + serial,
                    BilledCost=cost,
                    ChargePeriodStart=start + timedelta(hours=serial % 24),
                    ChargePeriodEnd=start + timedelta(hours=serial % 24 + 1),
                )
            )
    return rows


def test_shrunk_delivery_is_held_back(aws, airflow_db):
    full = land_delivery(aws, focus_table(day_rows(9, 100)), "2026-04")
    run_dag("focus_delivery", APRIL_RUN)
    received_messages(aws)

    land_delivery(aws, focus_table(day_rows(5, 100)), "2026-04")
    run, states = run_dag("focus_delivery", APRIL_RUN)

    assert states["promote_snapshot"] == "skipped"
    assert states["finish_delivery"] == "failed"
    assert state(run) == "failed"
    current = current_partitions(aws)["2026-04"]
    assert current["execution_id"] == full["executionId"]
    assert current["rows"] == "900"
    assert athena_scalar(aws, "SELECT count(*) FROM focus_current WHERE billing_period = '2026-04'") == "900"
    assert [record["status"] for record in delivery_records(aws)] == ["promoted", "regressed"]
    warnings = delivery_alerts(received_messages(aws), "regressed")
    assert len(warnings) == 1
    assert warnings[0]["MessageAttributes"]["severity"]["Value"] == "medium"
    assert "ChargePeriodStart" in warnings[0]["Message"]


def tax_rows(count: int) -> list[dict]:
    """Tax rows whose ResourceId, CommitmentDiscountId and SkuId are NULL, distinct by cost."""
    return [
        focus_row(
            index,
            ChargeCategory="Tax",
            ChargeFrequency="One-Time",
            ResourceId=None,
            CommitmentDiscountId=None,
            SkuId=None,
            SkuPriceId=None,
            BilledCost=0.01 * (index + 1),
            x_ServiceCode="AmazonEC2",
        )
        for index in range(count)
    ]


def test_broken_deliveries_are_quarantined(aws, airflow_db):
    good = land_delivery(aws, focus_table([focus_row(i) for i in range(40)]), "2026-04")
    run_dag("focus_delivery", APRIL_RUN)
    received_messages(aws)
    unique = focus_table([focus_row(i) for i in range(990)] + tax_rows(10))
    cases = {
        "struct_discounts": ("x_Discounts", "struct"),
        "duplicate_rows": ("20", "duplicate"),
        "missing_billed_cost": ("BilledCost", "missing"),
    }

    for fault, (named, word) in cases.items():
        land_delivery(aws, apply_fault(unique, fault), "2026-04")
        run, states = run_dag("focus_delivery", APRIL_RUN)

        assert states["promote_snapshot"] == "skipped", fault
        assert states["run_security_detections"] != "success", fault
        assert state(run) == "failed", fault
        alerts = delivery_alerts(received_messages(aws), "quarantined")
        assert len(alerts) == 1, fault
        assert named in alerts[0]["Message"], (fault, alerts[0]["Message"])
        assert word in alerts[0]["Message"].lower(), (fault, alerts[0]["Message"])
        assert current_partitions(aws)["2026-04"]["execution_id"] == good["executionId"], fault

    statuses = [record["status"] for record in delivery_records(aws)]
    assert statuses == ["promoted", "quarantined", "quarantined", "quarantined"]
    assert athena_scalar(aws, "SELECT count(*) FROM focus_current WHERE billing_period = '2026-04'") == "40"


def march_row(index: int, **overrides) -> dict:
    start = datetime(2026, 3, 1 + index % 28, tzinfo=UTC)
    values = {
        "BillingPeriodStart": datetime(2026, 3, 1, tzinfo=UTC),
        "BillingPeriodEnd": datetime(2026, 4, 1, tzinfo=UTC),
        "ChargePeriodStart": start,
        "ChargePeriodEnd": start + timedelta(hours=1),
        "SkuMeter": "USE1-BoxUsage:m6i.large",
    }
    return focus_row(index, **{**values, **overrides})


def test_focus_1_0_then_1_2(aws, airflow_db):
    march = to_focus_1_0(focus_table([march_row(i) for i in range(30)]))
    land_delivery(aws, march, "2026-03")
    _, march_states = run_dag("focus_delivery", APRIL_RUN)
    march_messages = received_messages(aws)
    land_delivery(aws, focus_table([focus_row(i) for i in range(30)]), "2026-04")
    _, april_states = run_dag("focus_delivery", APRIL_RUN)

    assert march_states["promote_snapshot"] == "success"
    assert april_states["promote_snapshot"] == "success"
    assert list(current_partitions(aws)) == ["2026-03", "2026-04"]
    drift = delivery_alerts(march_messages, "drift")
    assert len(drift) == 1
    assert "x_UsageType" in drift[0]["Message"]
    assert "BillingAccountType" in drift[0]["Message"]
    for states in (march_states, april_states):
        detection_states = {k: v for k, v in states.items() if k.startswith("run_security_detections[")}
        assert detection_states
        assert set(detection_states.values()) == {"success"}
    sku_meter = "SELECT max(skumeter) FROM focus_current WHERE billing_period = '2026-03'"
    assert athena_scalar(aws, sku_meter) == "USE1-BoxUsage:m6i.large"
    both = "SELECT count(*) FROM focus_current WHERE billing_period IN ('2026-03', '2026-04')"
    assert athena_scalar(aws, both) == "60"
    with pytest.raises(AssertionError, match="(?i)x_usagetype"):
        athena_scalar(aws, "SELECT x_usagetype FROM focus_current")


def test_empty_first_of_month(aws, airflow_db):
    land_delivery(aws, focus_table([focus_row(i) for i in range(20)]), "2026-04")
    run_dag("focus_delivery", APRIL_RUN)
    received_messages(aws)
    glue = aws.client("glue")
    columns_before = glue.get_table(DatabaseName="focus_billing", Name="focus_current")["Table"][
        "StorageDescriptor"
    ]["Columns"]

    land_delivery(aws, apply_fault(focus_table([focus_row(0)]), "empty"), "2026-05")
    run, states = run_dag("focus_delivery", datetime(2026, 5, 1, 1, tzinfo=UTC))

    assert states["promote_snapshot"] == "success"
    assert states["finish_delivery"] == "success"
    assert state(run) == "success"
    assert current_partitions(aws)["2026-05"]["rows"] == "0"
    columns_after = glue.get_table(DatabaseName="focus_billing", Name="focus_current")["Table"][
        "StorageDescriptor"
    ]["Columns"]
    assert columns_after == columns_before
    over_both = (
        "SELECT count(*) FROM focus_current WHERE billing_period IN ('2026-04', '2026-05') "
        "AND billedcost >= 0"
    )
    assert athena_scalar(aws, over_both) == "20"
    messages = received_messages(aws)
    assert all("no charges yet" in message["Message"] for message in messages)
    assert all("100%" not in message["Message"] for message in messages)


def test_purchase_and_credit_net(aws, airflow_db):
    land_delivery(aws, apply_fault(focus_table([focus_row(0)]), "purchase_and_credit"), "2026-04")

    run, states = run_dag("focus_delivery", APRIL_RUN)

    assert states["promote_snapshot"] == "success"
    assert state(run) == "success"
    assert float(current_partitions(aws)["2026-04"]["billed_cost"]) == pytest.approx(250.00)
    total = "SELECT round(sum(billedcost), 2) FROM focus_current WHERE billing_period = '2026-04'"
    assert float(athena_scalar(aws, total)) == pytest.approx(250.00)
    assert task_failures(received_messages(aws)) == []


def task_failures(messages: list[dict]) -> list[dict]:
    return [m for m in messages if m["MessageAttributes"]["severity"]["Value"] == "high"]


def test_timestamp_forms_become_utc(aws, airflow_db):
    rows = [focus_row(i, ChargePeriodStart=datetime(2026, 4, 1, tzinfo=UTC)) for i in range(6)]
    forms = ["2026-04-01T00:00:00Z", "2026-04-01T00:00:00+00:00", "2026-04-01 00:00:00.123456"] * 2
    text_table = focus_table(rows)
    position = text_table.column_names.index("ChargePeriodStart")
    text_table = text_table.set_column(position, "ChargePeriodStart", pa.array(forms, pa.string()))
    # Microseconds first: the text forms end 123 ms later, so the second delivery does not regress.
    deliveries = {
        "int64_micro_timestamps": apply_fault(focus_table(rows), "int64_micro_timestamps"),
        "string_timestamps": text_table,
    }
    for name, table in deliveries.items():
        land_delivery(aws, table, "2026-04")
        _, states = run_dag("focus_delivery", APRIL_RUN)

        assert states["promote_snapshot"] == "success", name
        bounds = (
            "SELECT concat(cast(min(chargeperiodstart) AS varchar), '|', "
            "cast(max(chargeperiodstart) AS varchar)) FROM focus_current WHERE billing_period = '2026-04'"
        )
        low, high = athena_scalar(aws, bounds).split("|")
        assert low.startswith("2026-04-01 00:00:00"), (name, low)
        assert high.startswith("2026-04-01 00:00:00"), (name, high)
    received_messages(aws)

    text = pa.array(["2026-04-01T00:00:00Z"] * 5 + ["1st of April"], pa.string())
    broken = focus_table(rows)
    broken = broken.set_column(broken.column_names.index("ChargePeriodStart"), "ChargePeriodStart", text)
    land_delivery(aws, broken, "2026-04")
    run, states = run_dag("focus_delivery", APRIL_RUN)

    assert states["promote_snapshot"] != "success"
    assert state(run) == "failed"
    messages = received_messages(aws)
    assert any("ChargePeriodStart" in message["Message"] for message in messages)
    assert current_partitions(aws)["2026-04"]["rows"] == "6"


def test_crash_before_promote_is_retried(aws, airflow_db, monkeypatch):
    from focus_pipeline import pipeline

    manifest = land_delivery(aws, focus_table([focus_row(i) for i in range(25)]), "2026-04")

    def crash(*args, **kwargs):
        raise RuntimeError("worker lost before promotion")

    with monkeypatch.context() as patch:
        patch.setattr(pipeline, "promote", crash)
        crashed, states = run_dag("focus_delivery", APRIL_RUN)
    assert states["promote_snapshot"] == "failed"
    assert state(crashed) == "failed"
    assert current_partitions(aws) == {}
    assert [record["status"] for record in delivery_records(aws)] == ["staged"]

    run, states = run_dag("focus_delivery", APRIL_RUN)

    assert states["promote_snapshot"] == "success"
    assert state(run) == "success"
    current = current_partitions(aws)["2026-04"]
    assert current["execution_id"] == manifest["executionId"]
    assert athena_scalar(aws, "SELECT count(*) FROM focus_current WHERE billing_period = '2026-04'") == "25"
    records = delivery_records(aws)
    assert len(records) == 1
    assert records[0]["status"] == "promoted"


@pytest.mark.skipif(not SAMPLE_CSV.is_file(), reason="the FOCUS 1.0 sample CSV is not available")
def test_real_focus_1_0_sample_replays(aws, airflow_db):
    import pyarrow.compute as pc

    from focus_replay import csv_to_delivery_table

    table = csv_to_delivery_table(SAMPLE_CSV)
    assert table.num_rows == 942
    assert "51738928782" in table.column("SubAccountId").to_pylist()
    expected = round(pc.sum(table.column("BilledCost")).as_py(), 6)
    land_delivery(aws, table, "2024-09")

    run, states = run_dag("focus_delivery", datetime(2024, 10, 2, tzinfo=UTC))

    assert states["promote_snapshot"] == "success"
    assert state(run) == "success"
    assert current_partitions(aws)["2024-09"]["rows"] == "942"
    total = "SELECT round(sum(billedcost), 6) FROM focus_current WHERE billing_period = '2024-09'"
    assert float(athena_scalar(aws, total)) == pytest.approx(expected)
    assert expected == pytest.approx(18.006639)
    account = (
        "SELECT count(*) FROM focus_current WHERE billing_period = '2024-09' AND subaccountid = '51738928782'"
    )
    assert int(athena_scalar(aws, account)) > 0
