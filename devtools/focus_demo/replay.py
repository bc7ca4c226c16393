"""Replay export files a user downloaded from S3, or a FOCUS CSV, through the delivery DAG.

An export folder is searched for ``*-Manifest.json`` files; each manifest's data files are found in
the folder by name, uploaded to the emulated export bucket under the keys the manifest lists, and the
manifest is written last, as AWS does. A CSV file (FOCUS 1.0 or 1.2 columns, such as the FinOps
Foundation's sample data) becomes one Parquet delivery of the billing period it covers.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from focus_pipeline.config import PipelineConfig
from focus_pipeline.exports import billing_period_of_key, parse_s3_uri


def _run_time(billing_period: str) -> datetime:
    """Return a run time that has the billing period in scope: the 2nd of the next month."""
    year, month = (int(part) for part in billing_period.split("-"))
    return datetime(year + month // 12, month % 12 + 1, 2, tzinfo=UTC)


def land_export_folder(folder: Path, s3: Any, config: PipelineConfig) -> list[str]:
    """Upload every delivery of a downloaded export folder; return their billing periods in order."""
    manifests = sorted(folder.rglob("*-Manifest.json"))
    if not manifests:
        raise SystemExit(
            f"No *-Manifest.json under {folder}: point EXPORT at the export's folder "
            "(the one holding data/ and metadata/)."
        )
    by_name = {
        path.name: path for path in folder.rglob("*") if path.is_file() and not path.name.endswith(".json")
    }
    periods = []
    for manifest_path in manifests:
        manifest = json.loads(manifest_path.read_text())
        period = billing_period_of_key(manifest_path.relative_to(folder).as_posix()) or billing_period_of_key(
            parse_s3_uri(manifest["dataFiles"][0])[1]
        )
        if period is None:
            raise SystemExit(
                f"Cannot tell the billing period of {manifest_path}: it is not under BILLING_PERIOD=YYYY-MM."
            )
        data_files = []
        for uri in manifest["dataFiles"]:
            _, key = parse_s3_uri(uri)
            local = by_name.get(Path(key).name)
            if local is None:
                raise SystemExit(f"Data file {Path(key).name} listed in {manifest_path} is not in {folder}.")
            target_key = f"{config.export_root}/data/BILLING_PERIOD={period}/{Path(key).name}"
            s3.put_object(Bucket=config.export_bucket, Key=target_key, Body=local.read_bytes())
            data_files.append(f"s3://{config.export_bucket}/{target_key}")
        manifest["dataFiles"] = data_files
        manifest_key = (
            f"{config.export_root}/metadata/BILLING_PERIOD={period}/{config.export_name}-Manifest.json"
        )
        s3.put_object(Bucket=config.export_bucket, Key=manifest_key, Body=json.dumps(manifest).encode())
        periods.append(period)
    return periods


def land_csv(path: Path, s3: Any, config: PipelineConfig) -> str:
    """Convert a FOCUS CSV into one Parquet delivery and land it; return its billing period."""
    import io

    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from focus_replay import csv_to_delivery_table

    table = csv_to_delivery_table(path)
    first_start = pc.min(table.column("BillingPeriodStart")).as_py()
    period = f"{first_start.year}-{first_start.month:02d}"
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="snappy")
    key = f"{config.export_root}/data/BILLING_PERIOD={period}/{config.export_name}-00001.snappy.parquet"
    s3.put_object(Bucket=config.export_bucket, Key=key, Body=buffer.getvalue())
    manifest = {
        "executionId": str(uuid.uuid4()),
        "exportArn": "arn:aws:bcm-data-exports:us-east-1:000000000000:export/replay",
        "columns": [{"name": field.name, "type": str(field.type)} for field in table.schema],
        "dataFiles": [f"s3://{config.export_bucket}/{key}"],
        "additionalOutputFiles": [],
    }
    manifest_key = f"{config.export_root}/metadata/BILLING_PERIOD={period}/{config.export_name}-Manifest.json"
    s3.put_object(Bucket=config.export_bucket, Key=manifest_key, Body=json.dumps(manifest).encode())
    return period


def replay(path: Path, aws: Any, config: PipelineConfig, dags: dict[str, Any], queue_url: str) -> list[dict]:
    """Land the user's export (folder or CSV), run the delivery DAG on each delivery, return messages."""
    from focus_demo.__main__ import drain_queue, run_dag

    s3 = aws("s3")
    path = path.expanduser().resolve()
    if not path.exists():
        raise SystemExit(f"EXPORT {path} does not exist: give an export folder or a FOCUS CSV file.")
    notifications: list[dict] = []
    if path.is_file():
        periods = [land_csv(path, s3, config)]
    else:
        periods = land_export_folder(path, s3, config)
    for period in periods:
        states = run_dag(dags["focus_delivery"], _run_time(period) + timedelta(minutes=5))
        messages = drain_queue(aws("sqs"), queue_url)
        notifications.extend(messages)
        print(f"{period}: promote {states.get('promote_snapshot')}, finish {states.get('finish_delivery')}")
        for message in messages:
            print(f"    SNS: {message.get('Subject')}")
    return notifications
