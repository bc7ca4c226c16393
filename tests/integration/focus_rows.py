"""Build small FOCUS_1_2_AWS rows and Parquet files for tests (April 2026 unless overridden)."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from focus_pipeline.focus_schema import AWS_FOCUS_1_2_COLUMNS

# Arrow type of each Hive type AWS delivers.
ARROW_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "double": pa.float64(),
    "timestamp": pa.timestamp("ms", tz="UTC"),
    "map<string,string>": pa.map_(pa.string(), pa.string()),
    "map<string,double>": pa.map_(pa.string(), pa.float64()),
    "bigint": pa.int64(),
}

APRIL = datetime(2026, 4, 1, tzinfo=UTC)
MAY = datetime(2026, 5, 1, tzinfo=UTC)


def focus_row(index: int = 0, **overrides: Any) -> dict[str, Any]:
    """Return one valid April 2026 usage row; ``index`` makes rows distinct by ResourceId."""
    start = datetime(2026, 4, 1 + index % 28, tzinfo=UTC)
    row: dict[str, Any] = {name: None for name in AWS_FOCUS_1_2_COLUMNS}
    row.update(
        {
            "BilledCost": 0.5,
            "BillingAccountId": "012345678901",
            "BillingAccountName": "payer",
            "BillingAccountType": "Billing Account",
            "BillingCurrency": "USD",
            "BillingPeriodStart": APRIL,
            "BillingPeriodEnd": MAY,
            "ChargeCategory": "Usage",
            "ChargeDescription": "EC2 instance hours",
            "ChargeFrequency": "Usage-Based",
            "ChargePeriodStart": start,
            "ChargePeriodEnd": start.replace(hour=1),
            "ContractedCost": 0.5,
            "ContractedUnitPrice": 0.5,
            "EffectiveCost": 0.5,
            "InvoiceIssuerName": "Amazon Web Services, Inc.",
            "ListCost": 0.5,
            "ListUnitPrice": 0.5,
            "PricingCategory": "Standard",
            "PricingQuantity": 1.0,
            "PricingUnit": "Hrs",
            "ProviderName": "AWS",
            "PublisherName": "Amazon Web Services, Inc.",
            "RegionId": "us-east-1",
            "ResourceId": f"i-{index:017x}",
            "ServiceCategory": "Compute",
            "ServiceName": "Amazon Elastic Compute Cloud",
            "SkuId": "SKU1",
            "SkuMeter": "BoxUsage:m6i.large",
            "SkuPriceId": "SKU1.PRICE",
            "SubAccountId": "000011112222",
            "Tags": [("team", "data")],
            "SkuPriceDetails": [("InstanceType", "m6i.large")],
            "x_Discounts": [],
            "x_Operation": "RunInstances",
            "x_ServiceCode": "AmazonEC2",
        }
    )
    row.update(overrides)
    return row


def focus_table(rows: list[dict[str, Any]], schema: dict[str, str] | None = None) -> pa.Table:
    """Build an Arrow table of ``rows`` with ``schema`` (Hive types), FOCUS_1_2_AWS by default."""
    schema = schema if schema is not None else AWS_FOCUS_1_2_COLUMNS
    arrow_schema = pa.schema([(name, ARROW_TYPES[kind]) for name, kind in schema.items()])
    columns = {name: [row.get(name) for row in rows] for name in schema}
    return pa.table(columns, schema=arrow_schema)


def parquet_bytes(table: pa.Table) -> bytes:
    """Write ``table`` as Snappy Parquet, as AWS Data Exports do, and return the bytes."""
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="snappy")
    return buffer.getvalue()
