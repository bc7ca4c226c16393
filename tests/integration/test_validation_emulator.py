"""Delivery validation against the emulator: footers through S3, the GX suite through PyAthena."""

from __future__ import annotations

import json
import time

import pytest

from focus_pipeline.focus_schema import AWS_FOCUS_1_2_COLUMNS
from focus_pipeline.validation import validate_delivery
from tests.integration.focus_rows import focus_row, focus_table, parquet_bytes

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
