"""The delivery sensor and the start of the delivery DAG: incomplete deliveries, both sensor modes,
quiet periods and listing errors."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import pytest
from tests.integration.delivery_harness import (
    delivery_records,
    land_delivery,
    received_messages,
    run_dag,
    task_failure_alerts,
)
from tests.integration.focus_rows import focus_row, focus_table

pytestmark = pytest.mark.integration

APRIL_RUN = datetime(2026, 4, 10, 12, tzinfo=UTC)
MANIFEST_PATTERN = "exports/focus-export/metadata/*/*-Manifest.json"
DATA_FOLDER = "exports/focus-export/data/BILLING_PERIOD=2026-04/"


@pytest.fixture
def sensor_env(aws, monkeypatch):
    """Let the sensor's check_fn read the pipeline configuration outside a task."""
    monkeypatch.setenv("AIRFLOW_VAR_FOCUS_PIPELINE_CONFIG", json.dumps({"poll_seconds": 0.05}))
    return aws


def make_sensor(**kwargs):
    from focus_pipeline.airflow_support import DeliveryManifestSensor

    kwargs.setdefault("aws_conn_id", "aws_default")
    return DeliveryManifestSensor(
        task_id="wait_for_delivery",
        bucket_name="focus-billing-exports",
        bucket_key=MANIFEST_PATTERN,
        poke_interval=0.1,
        timeout=5,
        **kwargs,
    )


def mark_processed(aws, manifest: dict) -> None:
    """Write the delivery log record of an already promoted delivery."""
    key = f"deliveries/billing_period=2026-04/{manifest['executionId']}.json"
    record = {"billing_period": "2026-04", "execution_id": manifest["executionId"], "status": "promoted"}
    aws.client("s3").put_object(Bucket=aws.config.bucket, Key=key, Body=json.dumps(record).encode())


def test_sensor_waits_for_complete_delivery(sensor_env):
    aws = sensor_env
    s3 = aws.client("s3")
    previous = land_delivery(aws, focus_table([focus_row(0)]), "2026-04")
    mark_processed(aws, previous)
    # A new refresh has started: only its temporary file exists, the old manifest is still there.
    s3.delete_object(Bucket=aws.config.export_bucket, Key=previous["dataFiles"][0].split("/", 3)[3])
    s3.put_object(Bucket=aws.config.export_bucket, Key=DATA_FOLDER + "part-00000.parquet.tmp", Body=b"PAR1")
    sensor = make_sensor()
    context = {"data_interval_end": APRIL_RUN}

    assert sensor.poke(context) is False

    # The new manifest lists a file that is not written yet: still incomplete.
    missing = f"s3://{aws.config.export_bucket}/{DATA_FOLDER}focus-export-00002.snappy.parquet"
    land_delivery(aws, focus_table([focus_row(1)]), "2026-04", extra_manifest_files=[missing])
    assert sensor.poke(context) is False

    land_delivery(aws, focus_table([focus_row(2)]), "2026-04")
    assert sensor.poke(context) is True


def test_sensor_modes_share_payload(sensor_env):
    # The deferrable S3KeyTrigger runs on aiobotocore (MWAA 3.3.1 preinstalls 3.9.0).
    pytest.importorskip("aiobotocore", reason="the deferrable S3KeyTrigger needs aiobotocore")
    from airflow.sdk.exceptions import TaskDeferred

    aws = sensor_env
    land_delivery(aws, focus_table([focus_row(0)]), "2026-04")
    land_delivery(aws, focus_table([focus_row(1)]), "2026-03")
    context = {"data_interval_end": APRIL_RUN}
    from focus_pipeline.airflow_support import check_for_delivery

    payloads: dict[str, list] = {}

    def capture(mode):
        def check_fn(files, **kwargs):
            payloads[mode] = files
            return check_for_delivery(files, **kwargs)

        return check_fn

    poke_sensor = make_sensor(check_fn=capture("poke"))
    assert poke_sensor.poke(context) is True

    deferred_sensor = make_sensor(check_fn=capture("deferrable"), deferrable=True)
    with pytest.raises(TaskDeferred) as deferred:
        deferred_sensor._defer()
    trigger = deferred.value.trigger

    async def first_event():
        async for event in trigger.run():
            return event.payload

    event = asyncio.run(first_event())
    assert event["status"] == "running", event
    deferred_sensor.execute_complete(context, event)

    def normalised(files):
        return sorted(
            (item["Key"], item["Size"], datetime.fromisoformat(str(item["LastModified"])).astimezone(UTC))
            for item in files
        )

    assert len(payloads["poke"]) == 2
    assert normalised(payloads["deferrable"]) == normalised(payloads["poke"])


def test_sensor_unreachable_endpoint_fails(sensor_env, monkeypatch):
    from botocore.exceptions import EndpointConnectionError

    closed = {
        "conn_type": "aws",
        "login": "testing",
        "password": "testing",
        # Port 9 (discard) is closed on loopback: every request is refused at once.
        "extra": {"region_name": "us-east-1", "endpoint_url": "http://127.0.0.1:9"},
    }
    monkeypatch.setenv("AIRFLOW_CONN_AWS_CLOSED", json.dumps(closed))
    sensor = make_sensor(aws_conn_id="aws_closed", botocore_config={"retries": {"max_attempts": 1}})

    with pytest.raises(EndpointConnectionError):
        sensor.poke({"data_interval_end": APRIL_RUN})


def test_sensor_unknown_connection_fails(sensor_env):
    from airflow.sdk.exceptions import AirflowNotFoundException

    sensor = make_sensor(aws_conn_id="aws_no_such_connection")

    with pytest.raises(AirflowNotFoundException):
        sensor.poke({"data_interval_end": APRIL_RUN})


def test_quiet_period_skips_downstream(aws, airflow_db):
    run, states = run_dag("focus_delivery", APRIL_RUN)

    assert states["wait_for_delivery"] == "skipped"
    downstream = {task: state for task, state in states.items() if task != "wait_for_delivery"}
    assert set(downstream.values()) == {"skipped"}
    assert str(run.state) != "failed"
    messages = received_messages(aws)
    assert all("no new delivery" in message["Message"].lower() for message in messages)
    assert delivery_records(aws) == []


def test_listing_error_fails_and_alerts(aws, airflow_db):
    land_delivery(aws, focus_table([focus_row(0)]), "2026-04")

    run, states = run_dag("focus_delivery", APRIL_RUN, config={"export_bucket": "focus-no-such-bucket"})

    assert states["wait_for_delivery"] == "failed"
    assert str(getattr(run.state, "value", run.state)) == "failed"
    alerts = task_failure_alerts(received_messages(aws))
    assert len(alerts) >= 1
    assert "wait_for_delivery" in alerts[0]["Subject"]
    assert "NoSuchBucket" in alerts[0]["Message"]
    assert delivery_records(aws) == []


def test_sensor_fails_on_long_incomplete_delivery(sensor_env, monkeypatch):
    aws = sensor_env
    monkeypatch.setenv(
        "AIRFLOW_VAR_FOCUS_PIPELINE_CONFIG",
        json.dumps({"poll_seconds": 0.05, "incomplete_delivery_hours": 0}),
    )
    manifest = land_delivery(aws, focus_table([focus_row(0)]), "2026-04")
    aws.client("s3").delete_object(
        Bucket=aws.config.export_bucket, Key=manifest["dataFiles"][0].split("/", 3)[3]
    )

    with pytest.raises(RuntimeError, match="has waited more than 0 hours for its data files"):
        make_sensor().poke({"data_interval_end": APRIL_RUN})


def test_sensor_passes_invalid_manifest_on(sensor_env):
    aws = sensor_env
    key = f"{aws.config.export_root}/metadata/BILLING_PERIOD=2026-04/{aws.config.export_name}-Manifest.json"
    aws.client("s3").put_object(Bucket=aws.config.export_bucket, Key=key, Body=b"{not json")

    assert make_sensor().poke({"data_interval_end": APRIL_RUN}) is True
