"""Lint of every detection file: header keys and values, Trino syntax, columns read and output shape."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
import sqlglot
from sqlglot import exp
from tests.sql.conftest import COLUMNS, DATABASE, TABLE, run_detection

from focus_pipeline.config import Thresholds
from focus_pipeline.detections import (
    OUTPUT_COLUMNS,
    REQUIRED_KEYS,
    SCHEDULES,
    SEVERITIES,
    WORKLOADS,
    detection_params,
    load_detections,
    render_sql,
)
from focus_pipeline.focus_schema import AWS_FOCUS_1_2_COLUMNS

pytestmark = pytest.mark.unit

DETECTIONS = load_detections()
IDS = [d.id for d in DETECTIONS]
EXPECTED_IDS = {
    "new_region",
    "new_service",
    "egress_spike",
    "orphaned_search_ocu",
    "idle_sagemaker_endpoint",
    "commitment_drift",
}


def rendered(detection) -> str:
    params = detection_params(
        detection,
        billing_period="2026-10",
        as_of=dt.datetime(2026, 10, 15),
        thresholds=Thresholds(),
        database=DATABASE,
        table=TABLE,
    )
    return render_sql(detection, params)


def test_all_detections_present():
    assert set(IDS) == EXPECTED_IDS
    assert len(IDS) == len(set(IDS))


@pytest.mark.parametrize("detection", DETECTIONS, ids=IDS)
def test_header_values(detection):
    assert detection.path.stem == detection.id
    assert detection.severity in SEVERITIES
    assert detection.workload in WORKLOADS
    assert detection.schedule in SCHEDULES
    assert detection.status in {"stable", "experimental"}
    assert all(getattr(detection, key) not in (None, "", []) for key in REQUIRED_KEYS)
    assert all(url.startswith("https://") for url in detection.references)
    assert set(detection.required_columns) <= set(AWS_FOCUS_1_2_COLUMNS)
    if detection.lookback_threshold is not None:
        default = dataclasses.asdict(Thresholds())[detection.lookback_threshold]
        assert default == detection.lookback_days


@pytest.mark.parametrize("detection", DETECTIONS, ids=IDS)
def test_sql_parses_as_trino(detection):
    tree = sqlglot.parse_one(rendered(detection), read="trino")
    assert isinstance(tree, exp.Query)


@pytest.mark.parametrize("detection", DETECTIONS, ids=IDS)
def test_reads_only_required_columns(detection):
    tree = sqlglot.parse_one(rendered(detection), read="trino")
    table_columns = {c.name.lower() for c in tree.find_all(exp.Column)} & set(COLUMNS)
    required = {c.lower() for c in detection.required_columns} | {"billing_period"}
    assert table_columns <= required, sorted(table_columns - required)
    assert {c.lower() for c in detection.required_columns} <= table_columns


@pytest.mark.parametrize("detection", DETECTIONS, ids=IDS)
def test_prunes_partitions(detection):
    assert "billing_period IN ('2026-" in rendered(detection)


@pytest.mark.parametrize("detection", DETECTIONS, ids=IDS)
def test_output_columns_on_empty_table(detection):
    result = run_detection(detection, [], billing_period="2026-10", as_of=dt.datetime(2026, 10, 15))
    assert tuple(result.names) == OUTPUT_COLUMNS
    assert result.rows == []
