"""Alert messages of findings: counts, listed findings, a quiet run, FIFO ids, backfill policy."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from focus_pipeline import findings
from focus_pipeline.airflow_support import alerts_enabled
from focus_pipeline.config import PipelineConfig

pytestmark = pytest.mark.unit

FIFO_TOPIC = "arn:aws:sns:us-east-1:123456789012:focus-alerts.fifo"
DETECTION = SimpleNamespace(id="new_region", severity="high", workload="security")


def make_findings(count: int) -> list[dict]:
    rows = [
        {
            "billing_period": "2026-04",
            "sub_account_id": "000011112222",
            "region_id": f"eu-west-{index}",
            "amount": "1.5",
            "evidence": "{}",
        }
        for index in range(count)
    ]
    return findings.rows_to_findings(rows, detection=DETECTION, status=findings.NEW, execution_id="e1")


def test_message_counts_every_finding():
    messages = findings.build_messages(make_findings(3), config=PipelineConfig(), context_line="ctx")

    assert len(messages) == 1
    assert messages[0]["finding_count"] == 3
    assert messages[0]["message"].startswith("3 new new_region findings (high).")
    assert len([line for line in messages[0]["message"].splitlines() if line.startswith("- [high]")]) == 3
    assert messages[0]["subject"] == "FOCUS security: 3 new_region findings (2026-04)"
    assert "message_group_id" not in messages[0]


def test_quiet_run_builds_no_message():
    assert findings.build_messages([], config=PipelineConfig(), context_line="ctx") == []


def test_fifo_message_ids_are_stable():
    config = PipelineConfig(topic_arn=FIFO_TOPIC)

    first = findings.build_messages(make_findings(2), config=config, context_line="a")
    second = findings.build_messages(make_findings(2), config=config, context_line="b")

    assert first[0]["message_group_id"] == "new_region"
    assert len(first[0]["message_deduplication_id"]) == 64
    assert first[0]["message_deduplication_id"] == second[0]["message_deduplication_id"]


def test_long_listing_fits_sns_limits():
    messages = findings.build_messages(make_findings(500), config=PipelineConfig(), context_line="ctx")

    assert len(messages[0]["message"].encode()) <= findings.MAX_MESSAGE_BYTES
    assert len(messages[0]["subject"]) <= findings.MAX_SUBJECT
    assert "... and 450 more." in messages[0]["message"]


@pytest.mark.parametrize(
    ("run_type", "alert_on_backfill", "conf", "expected"),
    [
        ("manual", False, {}, True),
        ("scheduled", False, {}, True),
        ("backfill", False, {}, False),
        ("backfill", True, {}, True),
        ("backfill", False, {"alert": True}, True),
    ],
)
def test_backfill_alert_policy(run_type, alert_on_backfill, conf, expected):
    from airflow.utils.types import DagRunType

    run_type = DagRunType(run_type) if run_type != "scheduled" else DagRunType.SCHEDULED
    context = {"dag_run": SimpleNamespace(run_type=run_type, conf=conf)}

    assert alerts_enabled(context, PipelineConfig(alert_on_backfill=alert_on_backfill)) is expected


class MarkerListingHook:
    """The one S3Hook call select_unalerted makes: listing the alerted markers of a period."""

    def __init__(self, keys: list[str]):
        self.keys = keys

    def list_keys(self, bucket, prefix):
        return [key for key in self.keys if key.startswith(prefix)]


def test_not_evaluated_alerts_once_per_period(monkeypatch):
    from focus_pipeline import findings, pipeline
    from focus_pipeline.config import PipelineConfig

    config = PipelineConfig()
    skipped = [
        {
            "detection_id": "new_service",
            "billing_period": "2026-12",
            "status": "not evaluated: x_ServiceCode absent",
        },
        {
            "detection_id": "new_region",
            "billing_period": "2026-12",
            "status": "not evaluated: RegionId absent",
        },
    ]
    already = findings.not_evaluated_marker(skipped[1])["fingerprint"]
    hook = MarkerListingHook([findings.alerted_prefix(config, "2026-12") + f"{already}.json"])
    monkeypatch.setattr(pipeline, "s3_hook", lambda _config: hook)

    requests = pipeline.prepare_alerts(
        config, recorded=[], delivery_alerts=[], alerts_enabled=True, context_line="", not_evaluated=skipped
    )

    assert len(requests) == 1
    assert requests[0]["subject"] == "FOCUS detection not evaluated: new_service (2026-12)"
    assert "not evaluated: x_ServiceCode absent" in requests[0]["message"]
    assert requests[0]["message_attributes"] == {
        "workload": "pipeline",
        "severity": "low",
        "detection_id": "new_service",
    }
    assert [item["fingerprint"] for item in requests[0]["findings"]] == [
        findings.not_evaluated_marker(skipped[0])["fingerprint"]
    ]


def test_backfill_still_sends_delivery_alerts(monkeypatch):
    from focus_pipeline import pipeline
    from focus_pipeline.config import PipelineConfig

    monkeypatch.setattr(pipeline, "s3_hook", lambda _config: MarkerListingHook([]))
    quarantine = {
        "subject": "FOCUS delivery quarantined: 2026-12 e1",
        "message": "m",
        "message_attributes": {},
    }

    requests = pipeline.prepare_alerts(
        PipelineConfig(), recorded=[], delivery_alerts=[quarantine], alerts_enabled=False, context_line=""
    )

    assert requests == [quarantine]
