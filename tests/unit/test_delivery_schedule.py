"""The delivery DAG's schedule: hourly, plus manifest events when a queue is configured."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

DAG_FILE = Path(__file__).resolve().parents[2] / "dags" / "focus_delivery.py"


def parse_delivery_dag():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAG_FILE))
    assert bag.import_errors == {}
    return bag.dags["focus_delivery"]


def test_schedule_hourly_without_queue(monkeypatch):
    monkeypatch.delenv("FOCUS_MANIFEST_QUEUE_URL", raising=False)
    from airflow.timetables.trigger import CronTriggerTimetable

    dag = parse_delivery_dag()
    assert isinstance(dag.timetable, CronTriggerTimetable)
    assert dag.timetable.summary == "0 * * * *"


def test_schedule_adds_manifest_events(monkeypatch):
    monkeypatch.setenv(
        "FOCUS_MANIFEST_QUEUE_URL", "http://127.0.0.1:5000/123456789012/focus-export-manifests"
    )
    from airflow.timetables.assets import AssetOrTimeSchedule

    dag = parse_delivery_dag()
    assert isinstance(dag.timetable, AssetOrTimeSchedule)
    names = [key.name for key, _ in dag.timetable.asset_condition.iter_assets()]
    assert names == ["focus_manifest_events"]
