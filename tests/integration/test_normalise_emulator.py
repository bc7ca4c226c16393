"""Normalisation through the emulator's Athena: temporary table, UNLOAD, and the canonical output."""

from __future__ import annotations

import io

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from tests.integration.focus_rows import focus_row, focus_table, parquet_bytes

from focus_pipeline.focus_schema import AWS_FOCUS_1_0_COLUMNS
from focus_pipeline.normalise import NormalisationError, needs_normalisation, normalise_delivery
from focus_pipeline.validation import arrow_type_to_hive, diff_schema

pytestmark = pytest.mark.integration

RAW_PREFIX = "focus/raw/billing_period=2026-04/delivery=20260402T080000Z-n1/"
SNAPSHOT_PREFIX = "focus/snapshots/billing_period=2026-04/delivery=20260402T080000Z-n1/"


def focus_1_0_table() -> pa.Table:
    """Three FOCUS 1.0 rows whose ChargePeriodStart is ISO text in three forms."""
    schema = {**AWS_FOCUS_1_0_COLUMNS, "ChargePeriodStart": "string"}
    starts = ["2026-04-01T00:00:00Z", "2026-04-01T00:00:00+00:00", "2026-04-01 00:00:00.123456"]
    rows = [
        focus_row(
            i,
            ChargePeriodStart=start,
            x_UsageType="USE1-BoxUsage:m6i.large",
            x_CostCategories=[("project", "alpha")],
        )
        for i, start in enumerate(starts)
    ]
    return focus_table(rows, schema)


def test_focus_1_0_delivery_becomes_canonical(aws):
    s3 = aws.client("s3")
    table = focus_1_0_table()
    s3.put_object(
        Bucket=aws.config.bucket, Key=RAW_PREFIX + "focus-00001.snappy.parquet", Body=parquet_bytes(table)
    )
    file_schema = {f.name: arrow_type_to_hive(f.type) for f in table.schema}
    assert needs_normalisation(file_schema)

    written = normalise_delivery(
        config=aws.config,
        delivery="20260402T080000Z-n1",
        file_schema=file_schema,
        source_location=f"s3://{aws.config.bucket}/{RAW_PREFIX}",
        target_location=f"s3://{aws.config.bucket}/{SNAPSHOT_PREFIX}",
        endpoint_url=aws.endpoint_url,
        poll_interval=0.05,
    )

    assert len(written) == 1
    body = s3.get_object(Bucket=aws.config.bucket, Key=written[0]["key"])["Body"].read()
    output = pq.read_table(io.BytesIO(body))
    output_schema = {f.name: arrow_type_to_hive(f.type) for f in output.schema}
    diff = diff_schema(output_schema)
    assert diff.to_dict() == {"added": [], "missing": [], "retyped": {}}
    assert needs_normalisation(output_schema) == []
    values = output.to_pylist()
    names = {name.lower(): name for name in output.column_names}
    starts = [row[names["chargeperiodstart"]] for row in values]
    assert [value.strftime("%Y-%m-%d %H:%M") for value in starts] == ["2026-04-01 00:00"] * 3
    assert {row[names["skumeter"]] for row in values} == {"USE1-BoxUsage:m6i.large"}
    assert all(row[names["invoiceid"]] is None for row in values)
    tags = dict(values[0][names["tags"]])
    assert tags == {"team": "data", "project": "alpha"}
    raw = s3.list_objects_v2(Bucket=aws.config.bucket, Prefix=RAW_PREFIX)["Contents"]
    assert [item["Key"] for item in raw] == [RAW_PREFIX + "focus-00001.snappy.parquet"]


def test_normalise_rejects_non_empty_target(aws):
    s3 = aws.client("s3")
    s3.put_object(Bucket=aws.config.bucket, Key=SNAPSHOT_PREFIX + "existing.parquet", Body=b"x")
    with pytest.raises(NormalisationError, match="is not empty"):
        normalise_delivery(
            config=aws.config,
            delivery="20260402T080000Z-n1",
            file_schema=dict(AWS_FOCUS_1_0_COLUMNS),
            source_location=f"s3://{aws.config.bucket}/{RAW_PREFIX}",
            target_location=f"s3://{aws.config.bucket}/{SNAPSHOT_PREFIX}",
            endpoint_url=aws.endpoint_url,
        )
