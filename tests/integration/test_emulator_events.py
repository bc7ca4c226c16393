"""S3 event notifications of new Data Exports manifests to the manifest SQS queue."""

from __future__ import annotations

import json
from urllib.parse import unquote_plus

import pytest

pytestmark = pytest.mark.integration


def receive_records(aws) -> list[dict]:
    """Drain the manifest queue and return the S3 event records (skipping s3:TestEvent messages)."""
    sqs = aws.client("sqs")
    records = []
    while True:
        messages = sqs.receive_message(
            QueueUrl=aws.resources["manifest_queue_url"], MaxNumberOfMessages=10, WaitTimeSeconds=0
        ).get("Messages", [])
        if not messages:
            return records
        for message in messages:
            body = json.loads(message["Body"])
            records.extend(body.get("Records", []))
            sqs.delete_message(
                QueueUrl=aws.resources["manifest_queue_url"], ReceiptHandle=message["ReceiptHandle"]
            )


def test_manifest_put_sends_event(aws) -> None:
    root = aws.config.export_root
    receive_records(aws)
    s3 = aws.client("s3")
    manifest_key = f"{root}/metadata/BILLING_PERIOD=2026-04/{aws.config.export_name}-Manifest.json"
    s3.put_object(
        Bucket=aws.config.export_bucket, Key=f"{root}/data/BILLING_PERIOD=2026-04/x.parquet", Body=b"x"
    )
    s3.put_object(Bucket=aws.config.export_bucket, Key=f"{root}/metadata/other.json", Body=b"{}")
    s3.put_object(Bucket=aws.config.export_bucket, Key=manifest_key, Body=b"{}")
    records = receive_records(aws)
    assert len(records) == 1
    record = records[0]
    assert record["eventSource"] == "aws:s3"
    assert record["eventName"].startswith("ObjectCreated:")
    assert record["s3"]["bucket"]["name"] == aws.config.export_bucket
    assert unquote_plus(record["s3"]["object"]["key"]) == manifest_key


def test_manifest_configuration_provisioned(aws) -> None:
    from focus_emulator.provision import provision

    provision(aws.endpoint_url, aws.config)
    configuration = aws.client("s3").get_bucket_notification_configuration(Bucket=aws.config.export_bucket)
    (queue,) = configuration["QueueConfigurations"]
    assert queue["QueueArn"] == aws.resources["manifest_queue_arn"]
    rules = {rule["Name"]: rule["Value"] for rule in queue["Filter"]["Key"]["FilterRules"]}
    assert rules == {"prefix": f"{aws.config.export_root}/metadata/", "suffix": "-Manifest.json"}
