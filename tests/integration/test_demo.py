"""``make demo`` end to end: the summary shows every detection, a quarantine and one snapshot per period."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
DETECTIONS = {
    "new_region",
    "new_service",
    "egress_spike",
    "orphaned_search_ocu",
    "idle_sagemaker_endpoint",
    "commitment_drift",
}


@pytest.fixture(scope="module")
def summary(tmp_path_factory: pytest.TempPathFactory) -> dict:
    output = tmp_path_factory.mktemp("demo")
    environment = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW")}
    environment["PYTHONPATH"] = os.pathsep.join([str(REPO / "plugins"), str(REPO / "devtools"), str(REPO)])
    completed = subprocess.run(
        [sys.executable, "-m", "focus_demo", "--output", str(output), "--months", "4", "--accounts", "8"],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    return json.loads((output / "summary.json").read_text())


def test_demo_promotes_and_quarantines(summary):
    statuses = Counter(delivery["status"] for delivery in summary["deliveries"])
    assert statuses == {"promoted": 6, "quarantined": 1}


def test_demo_current_equals_latest_valid_delivery(summary):
    promoted = [delivery for delivery in summary["deliveries"] if delivery["status"] == "promoted"]
    latest = {delivery["billing_period"]: delivery for delivery in promoted}
    assert sorted(summary["current"]) == sorted(latest)
    for period, current in summary["current"].items():
        assert current["execution_id"] == latest[period]["execution_id"]
        assert current["rows"] == latest[period]["rows"]
        assert current["billed_cost"] == latest[period]["billed_cost"]


def test_demo_alerts_every_detection(summary):
    alerted = {finding["detection_id"] for finding in summary["findings"] if finding["alerted"]}
    assert alerted == DETECTIONS


def test_demo_alerts_each_fingerprint_once(summary):
    alerted = [
        (finding["billing_period"], finding["fingerprint"])
        for finding in summary["findings"]
        if finding["alerted"]
    ]
    assert len(alerted) == len(set(alerted))
    listed = sum(notification["finding_count"] for notification in summary["notifications"])
    assert listed == len(alerted)


def test_demo_reports_quarantine(summary):
    subjects = [notification["subject"] for notification in summary["notifications"]]
    assert sum(subject.startswith("FOCUS delivery quarantined") for subject in subjects) == 1


def test_demo_idle_endpoint_checked_in_cloudwatch(summary):
    endpoints = [
        finding for finding in summary["findings"] if finding["detection_id"] == "idle_sagemaker_endpoint"
    ]
    assert len(endpoints) == 1
    assert endpoints[0]["entity"]["resource_id"].endswith(":endpoint/churn-model-staging")
    assert json.loads(endpoints[0]["evidence"])["cloudwatch_status"] == "idle"
