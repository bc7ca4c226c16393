"""The manifest Asset's SQS watcher against the emulator: the S3 event of a new manifest fires its
trigger, while the s3:TestEvent, other objects and other event kinds do not."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from focus_pipeline.events import is_manifest_event, manifest_event_asset, manifest_event_keys

pytestmark = pytest.mark.integration

# The trigger's aiobotocore client. MWAA 3.3.1 preinstalls aiobotocore 3.9.0, but the project's
# lock file does not list it, so these tests skip in an environment built from that file alone.
pytest.importorskip("aiobotocore", reason="aiobotocore is not installed; the SQS trigger needs it")

FIRE_TIMEOUT_SECONDS = 30
# Long enough for at least one ReceiveMessage call of the trigger to return, and shorter than its
# 20 second long poll plus the 10 second pause, so a silent trigger is cancelled while waiting.
SILENCE_TIMEOUT_SECONDS = 5


async def first_event(trigger: Any) -> Any:
    async for event in trigger.run():
        return event
    return None


def run_trigger(aws: Any, timeout: float) -> Any:
    """Run the watcher trigger of the manifest Asset until its first event or ``timeout`` seconds."""
    asset = manifest_event_asset(aws.resources["manifest_queue_url"], aws.config.aws_conn_id)
    (watcher,) = asset.watchers
    return asyncio.run(asyncio.wait_for(first_event(watcher.trigger), timeout))


def queue_counts(aws: Any) -> tuple[int, int]:
    """Return the queue's (visible, in flight) message counts."""
    attributes = aws.client("sqs").get_queue_attributes(
        QueueUrl=aws.resources["manifest_queue_url"],
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]), int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def s3_event(key: str, bucket: str, event_name: str = "ObjectCreated:Put") -> str:
    record = {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "eventName": event_name,
        "s3": {"bucket": {"name": bucket}, "object": {"key": key, "size": 2}},
    }
    return json.dumps({"Records": [record]})


def manifest_key(aws: Any, period: str = "2026-04") -> str:
    root = aws.config.export_root
    return f"{root}/metadata/BILLING_PERIOD={period}/{aws.config.export_name}-Manifest.json"


def test_provision_sends_test_event(aws) -> None:
    message = aws.client("sqs").receive_message(
        QueueUrl=aws.resources["manifest_queue_url"], MaxNumberOfMessages=10, WaitTimeSeconds=0
    )["Messages"]
    bodies = [json.loads(item["Body"]) for item in message]
    assert [body.get("Event") for body in bodies] == ["s3:TestEvent"]
    assert not is_manifest_event(message[0])


def test_manifest_put_fires_trigger(aws) -> None:
    s3 = aws.client("s3")
    root = aws.config.export_root
    bucket = aws.config.export_bucket
    s3.put_object(Bucket=bucket, Key=f"{root}/data/BILLING_PERIOD=2026-04/part-0.parquet", Body=b"x")
    s3.put_object(Bucket=bucket, Key=manifest_key(aws), Body=b"{}")

    event = run_trigger(aws, FIRE_TIMEOUT_SECONDS)

    assert event is not None
    assert event.payload["status"] == "success"
    batch = event.payload["message_batch"]
    assert len(batch) == 1
    assert manifest_event_keys(batch[0]) == [(bucket, manifest_key(aws))]


def test_manifest_message_deleted_after_event(aws) -> None:
    aws.client("s3").put_object(Bucket=aws.config.export_bucket, Key=manifest_key(aws), Body=b"{}")
    assert queue_counts(aws) == (2, 0)

    run_trigger(aws, FIRE_TIMEOUT_SECONDS)

    # The manifest event is deleted; the test event stays, invisible until its visibility timeout ends.
    assert queue_counts(aws) == (0, 1)


def test_test_event_and_other_objects_do_not_fire(aws) -> None:
    s3 = aws.client("s3")
    root = aws.config.export_root
    bucket = aws.config.export_bucket
    s3.put_object(Bucket=bucket, Key=f"{root}/data/BILLING_PERIOD=2026-04/part-0.parquet", Body=b"x")
    s3.put_object(Bucket=bucket, Key=f"{root}/metadata/BILLING_PERIOD=2026-04/other.json", Body=b"{}")
    # Only the s3:TestEvent reached the queue: the notification's filter drops the other objects.
    assert queue_counts(aws) == (1, 0)

    with pytest.raises(TimeoutError):
        run_trigger(aws, SILENCE_TIMEOUT_SECONDS)

    # The trigger received the test event and left it in the queue.
    assert queue_counts(aws) == (0, 1)


@pytest.mark.parametrize(
    ("key_suffix", "event_name"),
    [
        ("data/BILLING_PERIOD=2026-04/part-0.parquet", "ObjectCreated:Put"),
        ("metadata/BILLING_PERIOD=2026-04/focus-export-Manifest.json", "ObjectRemoved:Delete"),
    ],
)
def test_other_s3_events_do_not_fire(aws, key_suffix: str, event_name: str) -> None:
    # Sent to the queue directly, past the notification's filter, to check the trigger's own filter.
    key = f"{aws.config.export_root}/{key_suffix}"
    aws.client("sqs").send_message(
        QueueUrl=aws.resources["manifest_queue_url"],
        MessageBody=s3_event(key, aws.config.export_bucket, event_name),
    )

    with pytest.raises(TimeoutError):
        run_trigger(aws, SILENCE_TIMEOUT_SECONDS)

    assert queue_counts(aws) == (0, 2)


def test_duplicate_events_share_one_event(aws) -> None:
    # The emulator returns both copies from one ReceiveMessage call, so one trigger event carries
    # both. SQS may return them in separate calls, which gives two trigger events.
    body = s3_event(manifest_key(aws), aws.config.export_bucket)
    sqs = aws.client("sqs")
    for _ in range(2):
        sqs.send_message(QueueUrl=aws.resources["manifest_queue_url"], MessageBody=body)

    event = run_trigger(aws, FIRE_TIMEOUT_SECONDS)

    batch = event.payload["message_batch"]
    assert [manifest_event_keys(message) for message in batch] == [
        [(aws.config.export_bucket, manifest_key(aws))]
    ] * 2
