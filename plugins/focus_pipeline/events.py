"""Event-driven delivery runs: an Asset whose SQS watcher fires when S3 reports a new manifest.

The export bucket sends an S3 event notification to an SQS queue for every object created under
``<export_root>/metadata/`` whose key ends in ``-Manifest.json``. The Asset of
``manifest_event_asset`` watches that queue with the common-messaging ``MessageQueueTrigger``
(scheme ``sqs``), which runs the Amazon provider's ``SqsSensorTrigger`` in the triggerer. A DAG
scheduled on ``AssetOrTimeSchedule(timetable=..., assets=manifest_event_asset(...))`` then runs
when a manifest arrives as well as on its timetable.

An event only starts a run. The run's sensor and ``select_delivery`` still decide which delivery
is processed, so a duplicate event (SQS delivers at least once) processes nothing twice.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote_plus

from airflow.sdk import Asset, AssetWatcher

MANIFEST_SUFFIX = "-Manifest.json"
# Environment variable, then Airflow configuration option, that hold the manifest queue URL.
QUEUE_URL_ENV = "FOCUS_MANIFEST_QUEUE_URL"
QUEUE_URL_SECTION = "focus_pipeline"
QUEUE_URL_OPTION = "manifest_queue_url"
ASSET_NAME = "focus_manifest_events"
ASSET_URI = "focus://manifest_events"
WATCHER_NAME = "focus_manifest_queue"
# JSONPath (jsonpath-ng ``ext`` syntax) that the SQS trigger applies to each message body. It
# matches the same messages as is_manifest_event: an S3 ObjectCreated record whose key ends in
# -Manifest.json. An s3:TestEvent body has no Records, so it never matches.
MANIFEST_EVENT_FILTER = (
    'Records[?eventSource == "aws:s3" & eventName =~ "^ObjectCreated:"'
    ' & s3.object.key =~ "-Manifest\\.json$"]'
)
# Long polling: each ReceiveMessage call waits up to 20 seconds (the SQS maximum) for a message,
# and an empty call is followed by a pause of WAITER_DELAY_SECONDS. A watcher therefore sends
# about two requests a minute, about 86,000 a month (an estimate from these two numbers).
WAIT_TIME_SECONDS = 20
WAITER_DELAY_SECONDS = 10
MAX_MESSAGES = 10


def manifest_queue_url() -> str | None:
    """Return the manifest queue URL from the environment or the Airflow configuration, else None.

    The value builds the DAG's schedule, so it is read when the DAG file is parsed. It cannot come
    from the ``focus_pipeline_config`` Variable, because reading a Variable at parse time queries
    the metadata database or the secrets backend on every parse of the file.
    """
    url = os.environ.get(QUEUE_URL_ENV, "").strip()
    if url:
        return url
    from airflow.sdk.configuration import conf

    configured = conf.get(QUEUE_URL_SECTION, QUEUE_URL_OPTION, fallback=None) or ""
    return configured.strip() or None


def manifest_event_asset(queue_url: str, aws_conn_id: str) -> Asset:
    """Build the Asset whose watcher reads S3 manifest events from the SQS queue at ``queue_url``.

    The trigger deletes each matching message once it has read it and leaves other messages in the
    queue, such as the s3:TestEvent that S3 sends when the notification is configured. Those come
    back after each visibility timeout until the queue's redrive policy or retention removes them.
    """
    from airflow.providers.common.messaging.triggers.msg_queue import MessageQueueTrigger

    if not queue_url:
        raise ValueError(f"Missing manifest queue URL: set {QUEUE_URL_ENV} or leave the schedule time-only.")
    # The scheme selects the SQS provider without matching the URL against the AWS host pattern,
    # so a local emulator's queue URL works too.
    trigger = MessageQueueTrigger(
        scheme="sqs",
        sqs_queue=queue_url,
        aws_conn_id=aws_conn_id,
        max_messages=MAX_MESSAGES,
        wait_time_seconds=WAIT_TIME_SECONDS,
        waiter_delay=WAITER_DELAY_SECONDS,
        message_filtering="jsonpath-ext",
        message_filtering_config=MANIFEST_EVENT_FILTER,
    )
    return Asset(
        name=ASSET_NAME,
        uri=ASSET_URI,
        watchers=[AssetWatcher(name=WATCHER_NAME, trigger=trigger)],
    )


def manifest_event_keys(message: Mapping[str, Any] | str) -> list[tuple[str, str]]:
    """Return the (bucket, key) of each manifest that an SQS message reports as created.

    ``message`` is an SQS message (a mapping with ``Body``) or its body text. Keys are URL-decoded,
    as S3 encodes them in event notifications. A body that is not an S3 event, including the
    ``s3:TestEvent`` message, returns an empty list.
    """
    body = message.get("Body", "") if isinstance(message, Mapping) else message
    try:
        event = json.loads(body)
    except (TypeError, ValueError):
        return []
    if not isinstance(event, dict) or event.get("Event") == "s3:TestEvent":
        return []
    found = []
    for record in event.get("Records") or []:
        if not isinstance(record, dict):
            continue
        if record.get("eventSource") != "aws:s3":
            continue
        if not str(record.get("eventName", "")).startswith("ObjectCreated:"):
            continue
        s3 = record.get("s3") or {}
        key = unquote_plus(str((s3.get("object") or {}).get("key", "")))
        if key.endswith(MANIFEST_SUFFIX):
            found.append((str((s3.get("bucket") or {}).get("name", "")), key))
    return found


def is_manifest_event(message: Mapping[str, Any] | str) -> bool:
    """Return whether an SQS message is an S3 ObjectCreated event for a ``-Manifest.json`` key."""
    return bool(manifest_event_keys(message))
