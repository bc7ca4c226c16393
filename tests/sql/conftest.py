"""DuckDB stand-in for the focus_current Glue table, a fixture row builder and a detection runner."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import duckdb
import pytest
import sqlglot

from focus_pipeline.config import Thresholds
from focus_pipeline.detections import Detection, detection_params, load_detections, render_sql
from focus_pipeline.focus_schema import AWS_FOCUS_1_2_COLUMNS, DOUBLE, MAP_DOUBLE, MAP_STRING, TIMESTAMP

try:
    from focus_emulator.sql import SESSION_SETUP, translate_trino_to_duckdb
except ImportError:  # The emulator's translator is optional for these tests: plain sqlglot is close.
    SESSION_SETUP = ("SET TimeZone = 'UTC'",)

    def translate_trino_to_duckdb(sql: str, schema: dict[str, dict[str, str]] | None = None) -> str:
        return sqlglot.transpile(sql, read="trino", write="duckdb")[0]


DATABASE = "focus_billing"
TABLE = "focus_current"
_DUCKDB_TYPES = {
    DOUBLE: "DOUBLE",
    TIMESTAMP: "TIMESTAMP",
    MAP_STRING: "MAP(VARCHAR, VARCHAR)",
    MAP_DOUBLE: "MAP(VARCHAR, DOUBLE)",
}
COLUMNS: dict[str, str] = {name.lower(): kind for name, kind in AWS_FOCUS_1_2_COLUMNS.items()}
COLUMNS["billing_period"] = "string"
GLUE_SCHEMA = {f"{DATABASE}.{TABLE}": COLUMNS, TABLE: COLUMNS}

ACCOUNT = "012345678901"
OTHER_ACCOUNT = "109876543210"

_DEFAULTS: dict[str, Any] = {
    "billingaccountid": "999999999999",
    "billingaccountname": "payer",
    "billingaccounttype": "Billing Account",
    "billingcurrency": "USD",
    "subaccountid": ACCOUNT,
    "subaccountname": "workload",
    "subaccounttype": "Linked Account",
    "chargecategory": "Usage",
    "chargefrequency": "Usage-Based",
    "chargedescription": "fixture row",
    "pricingcategory": "Standard",
    "providername": "AWS",
    "publishername": "Amazon Web Services, Inc.",
    "invoiceissuername": "Amazon Web Services, Inc.",
    "regionid": "us-east-1",
    "regionname": "US East (N. Virginia)",
    "servicename": "Amazon Elastic Compute Cloud",
    "servicecategory": "Compute",
    "x_servicecode": "AmazonEC2",
    "skumeter": "USE1-BoxUsage:m5.large",
    "consumedquantity": 1.0,
    "consumedunit": "Hours",
    "pricingquantity": 1.0,
    "pricingunit": "Hours",
}


def row(**values: Any) -> dict[str, Any]:
    """Build one focus_current row: realistic EC2 usage of 1 USD for one hour unless overridden.

    Keys are column names in any case; ``start`` is a shortcut for ChargePeriodStart ('YYYY-MM-DD'
    or 'YYYY-MM-DD HH:MM:SS') and ``cost`` sets BilledCost and EffectiveCost together.
    """
    lowered = {key.lower(): value for key, value in values.items()}
    start = lowered.pop("start", "2026-10-05 00:00:00")
    cost = lowered.pop("cost", 1.0)
    if isinstance(start, str):
        start = dt.datetime.fromisoformat(start)
    result = dict(_DEFAULTS)
    result.update(
        chargeperiodstart=start,
        chargeperiodend=start + dt.timedelta(hours=1),
        billedcost=cost,
        effectivecost=cost,
        listcost=cost,
        contractedcost=cost,
    )
    result.update(lowered)
    unknown = set(result) - set(COLUMNS)
    assert not unknown, f"unknown fixture columns: {sorted(unknown)}"
    period_start = dt.datetime(result["chargeperiodstart"].year, result["chargeperiodstart"].month, 1)
    result.setdefault("billing_period", period_start.strftime("%Y-%m"))
    result.setdefault("billingperiodstart", period_start)
    result.setdefault(
        "billingperiodend",
        dt.datetime(period_start.year + period_start.month // 12, period_start.month % 12 + 1, 1),
    )
    return result


def create_table(rows: list[dict[str, Any]]) -> duckdb.DuckDBPyConnection:
    """Return an in-memory DuckDB with focus_billing.focus_current holding ``rows``."""
    connection = duckdb.connect()
    for statement in SESSION_SETUP:
        connection.execute(statement)
    columns_sql = ", ".join(f"{name} {_DUCKDB_TYPES.get(kind, 'VARCHAR')}" for name, kind in COLUMNS.items())
    connection.execute(f"CREATE SCHEMA {DATABASE}")
    connection.execute(f"CREATE TABLE {DATABASE}.{TABLE} ({columns_sql})")
    names = list(COLUMNS)
    placeholders = ", ".join("?" for _ in names)
    if rows:
        connection.executemany(
            f"INSERT INTO {DATABASE}.{TABLE} VALUES ({placeholders})",
            [[r.get(name) for name in names] for r in rows],
        )
    return connection


@pytest.fixture(scope="session")
def detections() -> dict[str, Detection]:
    return {d.id: d for d in load_detections()}


class DetectionRun:
    """The rendered SQL, its DuckDB translation, the result rows and the cursor description."""

    def __init__(self, sql: str, duckdb_sql: str, rows: list[dict[str, Any]], names: list[str]):
        self.sql = sql
        self.duckdb_sql = duckdb_sql
        self.rows = rows
        self.names = names

    def evidence(self, index: int = 0) -> dict[str, Any]:
        return json.loads(self.rows[index]["evidence"])


def run_detection(
    detection: Detection,
    rows: list[dict[str, Any]],
    *,
    billing_period: str,
    as_of: dt.datetime | dt.date,
    **threshold_overrides: Any,
) -> DetectionRun:
    """Render ``detection``, translate it to DuckDB and run it over ``rows``."""
    thresholds = Thresholds(**threshold_overrides)
    params = detection_params(
        detection,
        billing_period=billing_period,
        as_of=as_of,
        thresholds=thresholds,
        database=DATABASE,
        table=TABLE,
    )
    sql = render_sql(detection, params)
    duckdb_sql = translate_trino_to_duckdb(sql, schema=GLUE_SCHEMA)
    connection = create_table(rows)
    cursor = connection.execute(duckdb_sql)
    names = [column[0] for column in cursor.description]
    result = [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]
    connection.close()
    return DetectionRun(sql, duckdb_sql, result, names)
