"""Detection loading, parameters, rendering, missing columns and baseline mode."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from focus_pipeline import detections as module
from focus_pipeline.config import Thresholds
from focus_pipeline.detections import (
    DetectionError,
    detection_params,
    is_baseline,
    load_detections,
    missing_columns,
    render_sql,
)

pytestmark = pytest.mark.unit

REPO_SQL = Path(__file__).resolve().parents[2] / "include" / "sql" / "detections"


@pytest.fixture(scope="module")
def by_id():
    return {d.id: d for d in load_detections()}


def params(detection, as_of, period="2026-10", **thresholds):
    return detection_params(
        detection,
        billing_period=period,
        as_of=as_of,
        thresholds=Thresholds(**thresholds),
        database="focus_billing",
        table="focus_current",
    )


def test_load_default_dir_and_workload():
    assert len(load_detections()) == 6
    assert {d.id for d in load_detections(workload="cost")} == {
        "orphaned_search_ocu",
        "idle_sagemaker_endpoint",
        "commitment_drift",
    }


def test_default_dir_falls_back_to_dags_folder(tmp_path, monkeypatch):
    dags = tmp_path / "dags"
    shutil.copytree(REPO_SQL, dags / "include" / "sql" / "detections")
    plugin = tmp_path / "plugins" / "focus_pipeline" / "detections.py"
    monkeypatch.setattr(module, "__file__", str(plugin))
    monkeypatch.setenv("AIRFLOW__CORE__DAGS_FOLDER", str(dags))
    assert module.default_sql_dir() == dags / "include" / "sql" / "detections"


def test_default_dir_missing_names_candidates(tmp_path, monkeypatch):
    monkeypatch.setattr(module, "__file__", str(tmp_path / "a" / "b" / "detections.py"))
    monkeypatch.setenv("AIRFLOW__CORE__DAGS_FOLDER", str(tmp_path / "nodags"))
    with pytest.raises(DetectionError, match="nodags"):
        module.default_sql_dir()


def test_bad_header_names_file_and_key(tmp_path):
    text = (REPO_SQL / "new_region.sql").read_text().replace("severity: high\n", "")
    (tmp_path / "new_region.sql").write_text(text)
    with pytest.raises(DetectionError, match=r"new_region\.sql.*'severity'"):
        load_detections(tmp_path)


def test_header_id_must_match_file(tmp_path):
    shutil.copy(REPO_SQL / "new_region.sql", tmp_path / "other.sql")
    with pytest.raises(DetectionError, match="differs from the file name"):
        load_detections(tmp_path)


def test_file_without_header(tmp_path):
    (tmp_path / "x.sql").write_text("SELECT 1")
    with pytest.raises(DetectionError, match="missing metadata header"):
        load_detections(tmp_path)


def test_per_delivery_window(by_id):
    values = params(by_id["new_region"], dt.datetime(2026, 10, 20, 6, 30, tzinfo=dt.UTC))
    assert values["window_start"] == "2026-10-01 00:00:00"
    assert values["window_end"] == "2026-10-20 06:30:00"
    assert values["lookback_start"] == "2026-07-03 00:00:00"
    assert values["periods_sql"] == "'2026-07', '2026-08', '2026-09', '2026-10'"


def test_per_delivery_window_capped_at_period_end(by_id):
    values = params(by_id["new_service"], dt.datetime(2026, 11, 3, 8, 0))
    assert values["window_end"] == "2026-11-01 00:00:00"
    assert values["periods_sql"] == "'2026-09', '2026-10'"


def test_daily_window_and_threshold_lookback(by_id):
    values = params(
        by_id["orphaned_search_ocu"], dt.date(2026, 11, 2), period="2026-11", ocu_lookback_days=10
    )
    assert values["window_start"] == "2026-11-02 00:00:00"
    assert values["window_end"] == "2026-11-03 00:00:00"
    assert values["lookback_start"] == "2026-10-23 00:00:00"
    assert values["periods_sql"] == "'2026-10', '2026-11'"


def test_previous_period_across_year(by_id):
    values = params(by_id["commitment_drift"], dt.date(2027, 1, 5), period="2027-01")
    assert values["previous_billing_period"] == "2026-12"


def test_invalid_period_and_scope(by_id):
    with pytest.raises(DetectionError, match="'2026-13'"):
        params(by_id["new_region"], dt.date(2026, 10, 5), period="2026-13")
    with pytest.raises(DetectionError, match="new_service_scope"):
        params(by_id["new_service"], dt.date(2026, 10, 5), new_service_scope="global")


def test_render_strict_undefined(by_id):
    values = params(by_id["new_region"], dt.date(2026, 10, 5))
    del values["window_end"]
    with pytest.raises(DetectionError, match="window_end"):
        render_sql(by_id["new_region"], values)


def test_missing_columns_case_insensitive(by_id):
    detection = by_id["egress_spike"]
    catalog = {c.lower() for c in detection.required_columns} - {"skumeter"}
    assert missing_columns(detection, catalog) == ["SkuMeter"]
    assert missing_columns(detection, set(detection.required_columns)) == []


def test_baseline_mode(by_id):
    detection = by_id["new_region"]
    assert is_baseline(detection, "2026-09", "2026-10-01 00:00:00")
    assert not is_baseline(detection, "2026-07", dt.datetime(2026, 10, 1))
    assert is_baseline(detection, "2026-07", dt.datetime(2026, 10, 1), lookback=100)
