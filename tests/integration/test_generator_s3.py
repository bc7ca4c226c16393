"""Write generated deliveries to moto's S3 server on 127.0.0.1 and read them back."""

from __future__ import annotations

import json
import socket

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from moto.server import ThreadedMotoServer

from focus_generator import GeneratorConfig, S3Target, apply_fault, generate_history, write_delivery
from focus_generator.__main__ import main

pytestmark = pytest.mark.integration

BUCKET = "focus-billing-exports"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def endpoint():
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture(scope="module")
def s3(endpoint):
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    return client


def test_history_written_to_s3(s3):
    config = GeneratorConfig(deliveries_in_last_day=2, faults={"test_object"})
    deliveries = generate_history(config)
    for delivery in deliveries:
        write_delivery(delivery, target=S3Target(s3, BUCKET), config=config, files=2)
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET, Prefix="exports/")["Contents"]]
    manifests = [key for key in keys if key.endswith("-Manifest.json")]
    assert len(manifests) == 3
    assert "exports/focus-export/aws-programmatic-access-test-object" in keys
    body = s3.get_object(
        Bucket=BUCKET, Key="exports/focus-export/metadata/BILLING_PERIOD=2026-05/focus-export-Manifest.json"
    )
    manifest = json.loads(body["Body"].read())
    assert manifest["executionId"] == deliveries[-1].execution_id
    rows = 0
    for uri in manifest["dataFiles"]:
        key = uri.removeprefix(f"s3://{BUCKET}/")
        data = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        rows += pq.read_table(pa.BufferReader(data)).num_rows
    assert rows == deliveries[-1].table.num_rows


def test_overwrite_mode_deletes_stale_files(s3):
    config = GeneratorConfig(
        deliveries_in_last_day=2, overwrite_mode="OVERWRITE_REPORT", export_prefix="overwrite"
    )
    deliveries = generate_history(config)
    write_delivery(deliveries[-2], target=S3Target(s3, BUCKET), config=config, files=3)
    write_delivery(
        apply_fault(deliveries[-1], "missing_data_file"), target=S3Target(s3, BUCKET), config=config
    )
    prefix = "overwrite/focus-export/data/BILLING_PERIOD=2026-05/"
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix)["Contents"]]
    assert keys == [prefix + "focus-export-00001.snappy.parquet"]


def test_cli_writes_to_endpoint(endpoint, s3, capsys):
    code = main(
        [
            "--s3-endpoint",
            endpoint,
            "--bucket",
            BUCKET,
            "--export-prefix",
            "cli",
            "--months",
            "1",
            "--deliveries",
            "1",
        ]
    )
    assert code == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 1
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET, Prefix="cli/")["Contents"]]
    assert len(keys) == 2
