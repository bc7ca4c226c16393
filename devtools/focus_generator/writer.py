"""Write deliveries in the AWS Data Exports layout, to a local folder or an S3 bucket.

Layout under ``<export_prefix>/<export_name>/``::

    data/BILLING_PERIOD=YYYY-MM/[<ts>-<executionId>/]<export>-0000N.snappy.parquet
    metadata/BILLING_PERIOD=YYYY-MM/<export>-Manifest.json

The ``<ts>-<executionId>/`` folder exists only in CREATE_NEW_REPORT mode. In OVERWRITE_REPORT
mode the data files of the period are replaced in place and stale ones are deleted. The manifest
is written after every data file.
"""

from __future__ import annotations

import io
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from focus_generator.generate import Delivery, GeneratorConfig

log = logging.getLogger(__name__)

TEST_OBJECT = "aws-programmatic-access-test-object"
TMP_FILE = "part-00000.parquet.tmp"


@dataclass(frozen=True)
class S3Target:
    """An S3 bucket to write to, through a boto3 S3 client the caller created."""

    client: Any
    bucket: str


def export_root(config: GeneratorConfig) -> str:
    """Return ``<export_prefix>/<export_name>`` without a trailing slash."""
    return "/".join(part for part in (config.export_prefix.strip("/"), config.export_name) if part)


def hive_type(arrow_type: pa.DataType) -> str:
    """Return the Glue (Hive) type name of an Arrow type, as the manifest's ``columns`` lists it."""
    if pa.types.is_map(arrow_type):
        return f"map<{hive_type(arrow_type.key_type)},{hive_type(arrow_type.item_type)}>"
    if pa.types.is_struct(arrow_type):
        inner = ",".join(f"{f.name}:{hive_type(f.type)}" for f in arrow_type)
        return f"struct<{inner}>"
    if pa.types.is_timestamp(arrow_type):
        return "timestamp"
    if pa.types.is_floating(arrow_type):
        return "double"
    if pa.types.is_int32(arrow_type):
        return "int"
    if pa.types.is_int64(arrow_type):
        return "bigint"
    if pa.types.is_null(arrow_type):
        return "void"
    return "string"


def _partition(delivery: Delivery, config: GeneratorConfig) -> str:
    lower = config.partition_key_case == "lower" or "lower_case_partition" in delivery.faults
    key = "billing_period" if lower else "BILLING_PERIOD"
    return f"{key}={delivery.billing_period}"


def data_folder(delivery: Delivery, config: GeneratorConfig) -> str:
    """Return the key prefix (ending in ``/``) of the delivery's data files."""
    folder = f"{export_root(config)}/data/{_partition(delivery, config)}/"
    if config.overwrite_mode == "CREATE_NEW_REPORT":
        folder += f"{delivery.snapshot_folder}/"
    return folder


def manifest_key(delivery: Delivery, config: GeneratorConfig) -> str:
    return f"{export_root(config)}/metadata/{_partition(delivery, config)}/{config.export_name}-Manifest.json"


def export_arn(config: GeneratorConfig) -> str:
    return f"arn:aws:bcm-data-exports:us-east-1:{config.payer_account_id}:export/{config.export_name}"


def _parquet_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    # Without the stored Arrow schema, readers see the Parquet types only, as in AWS's files
    # (dictionary-encoded string columns then read back as plain strings).
    pq.write_table(table, sink, compression="snappy", store_schema=False)
    return sink.getvalue()


class _Writer:
    """Put, list and delete objects under a local folder or an S3 bucket."""

    def __init__(self, target: Path | S3Target, config: GeneratorConfig) -> None:
        self.target = target
        self.bucket = target.bucket if isinstance(target, S3Target) else config.export_bucket

    def put(self, key: str, body: bytes) -> None:
        if isinstance(self.target, S3Target):
            self.target.client.put_object(Bucket=self.bucket, Key=key, Body=body)
            return
        path = Path(self.target) / key
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename, so a reader of the folder never sees a half-written file.
        partial = path.with_name(path.name + ".partial")
        partial.write_bytes(body)
        partial.replace(path)

    def list(self, prefix: str) -> list[str]:
        if isinstance(self.target, S3Target):
            paginator = self.target.client.get_paginator("list_objects_v2")
            keys: list[str] = []
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                keys.extend(item["Key"] for item in page.get("Contents", []))
            return keys
        root = Path(self.target)
        folder = root / prefix
        if not folder.is_dir():
            return []
        return [str(path.relative_to(root)) for path in folder.rglob("*") if path.is_file()]

    def delete(self, key: str) -> None:
        if isinstance(self.target, S3Target):
            self.target.client.delete_object(Bucket=self.bucket, Key=key)
        else:
            (Path(self.target) / key).unlink(missing_ok=True)

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"


def build_manifest(delivery: Delivery, config: GeneratorConfig, data_uris: list[str]) -> dict[str, Any]:
    """Return the manifest: executionId, exportArn, columns, dataFiles and additionalOutputFiles."""
    return {
        "executionId": delivery.execution_id,
        "exportArn": export_arn(config),
        "columns": [{"name": f.name, "type": hive_type(f.type)} for f in delivery.table.schema],
        "dataFiles": data_uris,
        "additionalOutputFiles": [],
    }


def write_delivery(
    delivery: Delivery, *, target: Path | S3Target, config: GeneratorConfig, files: int = 1
) -> dict[str, Any]:
    """Write the delivery's data files, then its manifest, and return the manifest.

    The table is split into ``files`` Parquet files of about equal row counts (snappy). Layout
    faults on the delivery change what is written: ``tmp_file_only`` writes only
    ``part-00000.parquet.tmp`` and no manifest (and returns an empty dict),
    ``missing_data_file`` lists one more data file than it writes, ``test_object`` also writes
    the root object ``aws-programmatic-access-test-object``, and ``lower_case_partition`` writes
    ``billing_period=``. Fills ``delivery.manifest`` and ``delivery.data_keys``.
    """
    if files < 1:
        raise ValueError(f"files must be at least 1, got {files}.")
    if isinstance(target, str):
        target = Path(target)
    writer = _Writer(target, config)
    folder = data_folder(delivery, config)

    if "test_object" in delivery.faults:
        writer.put(f"{export_root(config)}/{TEST_OBJECT}", b"")
    if "tmp_file_only" in delivery.faults:
        key = folder + TMP_FILE
        writer.put(key, _parquet_bytes(delivery.table.slice(0, delivery.table.num_rows // 2)))
        delivery.data_keys = [key]
        delivery.manifest = {}
        log.info("Wrote only %s for %s (no manifest)", key, delivery.billing_period)
        return {}

    stale = writer.list(folder) if config.overwrite_mode == "OVERWRITE_REPORT" else []
    rows = delivery.table.num_rows
    keys: list[str] = []
    for number in range(1, files + 1):
        first = rows * (number - 1) // files
        last = rows * number // files
        key = f"{folder}{config.export_name}-{number:05d}.snappy.parquet"
        writer.put(key, _parquet_bytes(delivery.table.slice(first, last - first)))
        keys.append(key)
    for key in stale:
        if key not in keys:
            writer.delete(key)

    uris = [writer.uri(key) for key in keys]
    if "missing_data_file" in delivery.faults:
        uris.append(writer.uri(f"{folder}{config.export_name}-{files + 1:05d}.snappy.parquet"))
    manifest = build_manifest(delivery, config, uris)
    writer.put(manifest_key(delivery, config), json.dumps(manifest, indent=2).encode())
    delivery.manifest = manifest
    delivery.data_keys = keys
    log.info(
        "Wrote %s delivery %s: %d rows in %d files",
        delivery.billing_period,
        delivery.execution_id,
        rows,
        files,
    )
    return manifest
