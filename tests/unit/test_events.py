"""Manifest events: the S3 event check, the trigger's JSONPath filter, the Asset and its watcher,
and where the queue URL comes from."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest
from airflow.providers.amazon.aws.utils.sqs import filter_messages

from focus_pipeline import events

pytestmark = pytest.mark.unit

QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/focus-export-manifests"
MANIFEST_KEY = "exports/focus-export/metadata/BILLING_PERIOD=2026-04/focus-export-Manifest.json"
ENCODED_MANIFEST_KEY = "exports/focus-export/metadata/BILLING_PERIOD%3D2026-04/focus-export-Manifest.json"


def s3_body(key: str, event_name: str = "ObjectCreated:Put", source: str = "aws:s3") -> str:
    record = {
        "eventSource": source,
        "eventName": event_name,
        "s3": {"bucket": {"name": "focus-billing-exports"}, "object": {"key": key}},
    }
    return json.dumps({"Records": [record]})


TEST_EVENT = json.dumps(
    {"Service": "Amazon S3", "Event": "s3:TestEvent", "Time": "2026-04-02T00:00:00.000Z", "Bucket": "b"}
)
# (case, message body, whether it reports a created manifest)
BODIES: list[tuple[str, str, bool]] = [
    ("put manifest", s3_body(MANIFEST_KEY), True),
    ("encoded key", s3_body(ENCODED_MANIFEST_KEY), True),
    ("multipart upload", s3_body(MANIFEST_KEY, "ObjectCreated:CompleteMultipartUpload"), True),
    ("copy", s3_body(MANIFEST_KEY, "ObjectCreated:Copy"), True),
    ("removed manifest", s3_body(MANIFEST_KEY, "ObjectRemoved:Delete"), False),
    ("data file", s3_body("exports/focus-export/data/BILLING_PERIOD=2026-04/part-0.parquet"), False),
    ("other json", s3_body("exports/focus-export/metadata/other.json"), False),
    ("suffix not last", s3_body("exports/x-Manifest.json.tmp"), False),
    ("other source", s3_body(MANIFEST_KEY, source="aws:sqs"), False),
    ("test event", TEST_EVENT, False),
    ("no records", json.dumps({"Records": []}), False),
]


def message(body: str) -> dict[str, Any]:
    return {"MessageId": "1", "ReceiptHandle": "r", "Body": body}


@pytest.mark.parametrize(("case", "body", "expected"), BODIES, ids=[case for case, _, _ in BODIES])
def test_is_manifest_event(case: str, body: str, expected: bool) -> None:
    assert events.is_manifest_event(message(body)) is expected
    assert events.is_manifest_event(body) is expected


@pytest.mark.parametrize(("case", "body", "expected"), BODIES, ids=[case for case, _, _ in BODIES])
def test_trigger_filter_matches_helper(case: str, body: str, expected: bool) -> None:
    matched = filter_messages([message(body)], "jsonpath-ext", None, events.MANIFEST_EVENT_FILTER)
    assert bool(matched) is expected


@pytest.mark.parametrize("body", ["", "not json", "[1, 2]", "null", json.dumps({"Records": [1]})])
def test_is_manifest_event_malformed_body(body: str) -> None:
    assert not events.is_manifest_event(message(body))


def test_manifest_event_keys_decoded() -> None:
    keys = events.manifest_event_keys(message(s3_body(ENCODED_MANIFEST_KEY)))
    assert keys == [("focus-billing-exports", MANIFEST_KEY)]


def test_asset_watcher_serializes_sqs_trigger() -> None:
    asset = events.manifest_event_asset(QUEUE_URL, "aws_default")
    assert asset.name == events.ASSET_NAME
    (watcher,) = asset.watchers
    assert watcher.name == events.WATCHER_NAME
    classpath, kwargs = watcher.trigger.serialize()
    assert classpath == "airflow.providers.amazon.aws.triggers.sqs.SqsSensorTrigger"
    assert kwargs["sqs_queue"] == QUEUE_URL
    assert kwargs["aws_conn_id"] == "aws_default"
    assert kwargs["message_filtering"] == "jsonpath-ext"
    assert kwargs["message_filtering_config"] == events.MANIFEST_EVENT_FILTER
    assert kwargs["delete_message_on_reception"] is True
    assert kwargs["wait_time_seconds"] == 20


def test_asset_accepts_emulator_queue_url() -> None:
    asset = events.manifest_event_asset("http://127.0.0.1:5000/123456789012/focus-export-manifests", "aws_x")
    _, kwargs = asset.watchers[0].trigger.serialize()
    assert kwargs["sqs_queue"].startswith("http://127.0.0.1:5000/")
    assert kwargs["aws_conn_id"] == "aws_x"


def test_asset_rejects_empty_queue_url() -> None:
    with pytest.raises(ValueError, match=events.QUEUE_URL_ENV):
        events.manifest_event_asset("", "aws_default")


def test_asset_or_time_schedule_serializes() -> None:
    from airflow.sdk import DAG
    from airflow.serialization.serialized_objects import DagSerialization
    from airflow.timetables.assets import AssetOrTimeSchedule
    from airflow.timetables.trigger import CronTriggerTimetable

    schedule = AssetOrTimeSchedule(
        timetable=CronTriggerTimetable("0 * * * *", timezone="UTC"),
        assets=events.manifest_event_asset(QUEUE_URL, "aws_default"),
    )
    with DAG("manifest_events_schedule", schedule=schedule, start_date=datetime(2024, 1, 1)) as dag:
        pass
    timetable = DagSerialization.to_dict(dag)["dag"]["timetable"]["__var"]
    (watcher,) = timetable["asset_condition"]["watchers"]
    assert watcher["trigger"]["kwargs"]["sqs_queue"] == QUEUE_URL
    assert timetable["timetable"]["__var"]["expression"] == "0 * * * *"


def test_queue_url_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(events.QUEUE_URL_ENV, f" {QUEUE_URL} ")
    monkeypatch.setenv(
        "AIRFLOW__FOCUS_PIPELINE__MANIFEST_QUEUE_URL", "http://127.0.0.1:1/123456789012/other-queue"
    )
    assert events.manifest_queue_url() == QUEUE_URL


def test_queue_url_from_airflow_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(events.QUEUE_URL_ENV, raising=False)
    monkeypatch.setenv("AIRFLOW__FOCUS_PIPELINE__MANIFEST_QUEUE_URL", QUEUE_URL)
    assert events.manifest_queue_url() == QUEUE_URL


@pytest.mark.parametrize("value", [None, "", "  "])
def test_queue_url_unset(monkeypatch: pytest.MonkeyPatch, value: str | None) -> None:
    monkeypatch.delenv("AIRFLOW__FOCUS_PIPELINE__MANIFEST_QUEUE_URL", raising=False)
    if value is None:
        monkeypatch.delenv(events.QUEUE_URL_ENV, raising=False)
    else:
        monkeypatch.setenv(events.QUEUE_URL_ENV, value)
    assert events.manifest_queue_url() is None
