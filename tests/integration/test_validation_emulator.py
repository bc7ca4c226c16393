"""Delivery validation against the emulator: footers through S3, the GX suite through PyAthena."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pyarrow as pa
import pytest
from tests.integration.focus_rows import focus_row, focus_table, parquet_bytes

from focus_pipeline.focus_schema import AWS_FOCUS_1_2_COLUMNS
from focus_pipeline.validation import validate_delivery

pytestmark = pytest.mark.integration

PERIOD = "2026-04"
FILE_NAME = "focus-export-00001.snappy.parquet"


def stage(aws, table, delivery: str, period: str = PERIOD) -> list[dict]:
    """Put one data file into a snapshot folder and return the folder listing."""
    prefix = f"{aws.config.snapshots_prefix}/billing_period={period}/delivery={delivery}/"
    body = parquet_bytes(table)
    aws.client("s3").put_object(Bucket=aws.config.bucket, Key=prefix + FILE_NAME, Body=body)
    return [{"key": prefix + FILE_NAME, "size": len(body)}]


def crawl(aws) -> None:
    glue = aws.client("glue")
    glue.start_crawler(Name=aws.config.crawler_name)
    for _ in range(200):
        if glue.get_crawler(Name=aws.config.crawler_name)["Crawler"]["State"] == "READY":
            return
        time.sleep(0.05)
    raise AssertionError("crawler did not finish within 10 seconds")


def validate(aws, staged, delivery: str, current: dict | None = None, period: str = PERIOD):
    return validate_delivery(
        config=aws.config,
        billing_period=period,
        delivery=delivery,
        execution_id=delivery.rsplit("-", 1)[-1],
        staged_files=staged,
        manifest_files=[f"s3://focus-billing-exports/exports/focus-export/data/{FILE_NAME}"],
        current=current,
        endpoint_url=aws.endpoint_url,
        poll_interval=0.05,
    )


def test_valid_delivery_passes_and_is_stored(aws):
    rows = [focus_row(i) for i in range(10)]
    rows.append(focus_row(100, ChargeCategory="Credit", BilledCost=-1.0, EffectiveCost=-1.0))
    staged = stage(aws, focus_table(rows), "20260410T080000Z-e1")
    crawl(aws)

    report = validate(aws, staged, "20260410T080000Z-e1")

    assert report.failures == []
    assert report.outcome == "passed"
    assert report.success
    assert report.stats["rows"] == 11
    assert report.stats["billed_cost"] == pytest.approx(4.0)
    assert report.stats["duplicate_rows"] == 0
    assert report.stats["max_charge_period_start"].startswith("2026-04-17")
    key = "validation/billing_period=2026-04/delivery=20260410T080000Z-e1/validation.json"
    stored = json.loads(aws.client("s3").get_object(Bucket=aws.config.bucket, Key=key)["Body"].read())
    assert stored["report"]["outcome"] == "passed"
    assert stored["great_expectations"]["success"] is True


def test_drift_column_warns_and_duplicates_fail(aws):
    schema = {**AWS_FOCUS_1_2_COLUMNS, "x_NewThing": "string"}
    rows = [focus_row(i, x_NewThing="new") for i in range(1000)]
    tax = dict(ChargeCategory="Tax", ResourceId=None, CommitmentDiscountId=None, SkuId=None, x_NewThing=None)
    duplicates = [focus_row(2000 + i, **tax) for i in range(20)]
    staged = stage(aws, focus_table(rows + duplicates + duplicates, schema), "20260410T140000Z-e2")
    crawl(aws)

    report = validate(aws, staged, "20260410T140000Z-e2")

    assert report.outcome == "failed"
    assert not report.success
    assert report.stats["rows"] == 1040
    assert report.stats["duplicate_rows"] == 20
    checks = [failure["expectation"] for failure in report.failures]
    assert checks == ["no_duplicate_rows"]
    assert report.failures[0]["observed"] == 20
    assert "added column x_NewThing (drift)" in report.warnings
    assert report.column_diff["added"] == ["x_NewThing"]
    assert "no_duplicate_rows" in report.summary()


def test_shrunk_delivery_is_regressed(aws):
    rows = [focus_row(i * 28 + i % 5) for i in range(50)]  # ChargePeriodStart 1 to 5 April
    staged = stage(aws, focus_table(rows), "20260410T200000Z-e3")
    crawl(aws)
    current = {"rows": 90, "billed_cost": 45.0, "max_charge_period_start": "2026-04-09 00:00:00"}

    report = validate(aws, staged, "20260410T200000Z-e3", current=current)

    assert report.failures == []
    assert report.outcome == "regressed"
    assert not report.success
    assert report.stats["max_charge_period_start"] == "2026-04-05 00:00:00"
    assert any("max ChargePeriodStart went back" in warning for warning in report.warnings)
    assert any("row count shrank from 90 to 50" in warning for warning in report.warnings)


def test_struct_discounts_fails_before_queries(aws):
    table = focus_table([focus_row(i, x_Discounts=None) for i in range(3)])
    struct = pa.array([{"total": -0.1}] * 3, type=pa.struct([("total", pa.float64())]))
    table = table.set_column(table.schema.get_field_index("x_Discounts"), "x_Discounts", struct)
    staged = stage(aws, table, "20260411T080000Z-e4")

    report = validate(aws, staged, "20260411T080000Z-e4")

    assert report.outcome == "failed"
    assert report.failures[0]["column"] == "x_Discounts"
    assert report.failures[0]["message"] == "x_Discounts is struct<total:double>, expected map<string,double>"
    assert report.stats == {}


def test_missing_billed_cost_with_extra_column_fails(aws):
    schema = {name: kind for name, kind in AWS_FOCUS_1_2_COLUMNS.items() if name != "BilledCost"}
    schema["x_Other"] = "double"
    staged = stage(aws, focus_table([focus_row(0, x_Other=1.0)], schema), "20260411T090000Z-e5")

    report = validate(aws, staged, "20260411T090000Z-e5")

    assert report.outcome == "failed"
    assert [failure["message"] for failure in report.failures] == ["BilledCost missing"]
    assert report.column_diff["missing"] == ["BilledCost"]


def test_empty_delivery_is_valid(aws):

    schema = pa.schema([(name, pa.null()) for name in AWS_FOCUS_1_2_COLUMNS])
    staged = stage(aws, pa.Table.from_batches([], schema=schema), "20260501T010000Z-e6", period="2026-05")

    report = validate(aws, staged, "20260501T010000Z-e6", period="2026-05")

    assert report.outcome == "passed"
    assert report.success
    assert report.stats["rows"] == 0
    assert report.stats["billed_cost"] == 0.0
    assert "no charges yet" in report.summary()
    assert any(warning.startswith("empty delivery: BilledCost is void") for warning in report.warnings)


def test_unlisted_file_in_snapshot_fails(aws):
    staged = stage(aws, focus_table([focus_row(0)]), "20260412T080000Z-e7")
    staged.append({"key": staged[0]["key"].replace(FILE_NAME, "part-00000.parquet.tmp"), "size": 3})

    report = validate(aws, staged, "20260412T080000Z-e7")

    assert report.outcome == "failed"
    assert report.failures[0]["expectation"] == "no_extra_files"


def query_count(aws) -> int:
    athena = aws.client("athena")
    return len(athena.list_query_executions(WorkGroup=aws.config.workgroup)["QueryExecutionIds"])


def test_passing_delivery_costs_three_queries(aws):
    staged = stage(aws, focus_table([focus_row(i) for i in range(30)]), "20260413T080000Z-e8")
    crawl(aws)
    before = query_count(aws)

    report = validate(aws, staged, "20260413T080000Z-e8")

    assert report.outcome == "passed"
    # The row-rules expectation's rows and row count, and the stats query.
    assert query_count(aws) - before == 3


def test_broken_row_rules_name_each_check_and_column(aws):
    rows = [focus_row(i) for i in range(20)]
    rows += [focus_row(100 + i, BillingCurrency=None) for i in range(3)]
    rows += [focus_row(200 + i, ChargeCategory="Refund") for i in range(2)]
    rows.append(focus_row(300, ChargeFrequency="Sometimes"))
    march = datetime(2026, 3, 31, tzinfo=UTC)
    rows.append(focus_row(400, ChargePeriodStart=march, ChargePeriodEnd=march.replace(hour=1)))
    june = datetime(2026, 6, 1, tzinfo=UTC)
    rows.append(focus_row(500, ChargePeriodEnd=june))
    staged = stage(aws, focus_table(rows), "20260413T090000Z-e9")
    crawl(aws)
    before = query_count(aws)

    report = validate(aws, staged, "20260413T090000Z-e9")

    assert report.outcome == "failed"
    found = {(f["expectation"], f["column"]): f for f in report.failures}
    assert list(found) == [
        ("not_null", "BillingCurrency"),
        ("value_set", "ChargeCategory"),
        ("value_set", "ChargeFrequency"),
        ("charge_period_start_in_billing_period", "ChargePeriodStart"),
        ("charge_period_end_in_billing_period", "ChargePeriodEnd"),
    ]
    assert found[("not_null", "BillingCurrency")]["message"] == "BillingCurrency has 3 NULL values"
    category = found[("value_set", "ChargeCategory")]
    assert category["observed"] == 2
    assert category["message"] == "ChargeCategory has 2 values outside the allowed set, e.g. ['Refund']"
    assert "Sometimes" in found[("value_set", "ChargeFrequency")]["message"]
    start = found[("charge_period_start_in_billing_period", "ChargePeriodStart")]
    assert start["message"] == "ChargePeriodStart inside 2026-04: 1 rows outside"
    assert found[("charge_period_end_in_billing_period", "ChargePeriodEnd")]["observed"] == 1
    assert report.stats["rows"] == 28
    # One more query than a passing delivery: the violation counts per rule.
    assert query_count(aws) - before == 4
