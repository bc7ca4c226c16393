"""Glue crawlers that read Parquet footers from moto's S3 and write tables and partitions to moto's Glue.

moto 5.2.5 models a crawler as metadata only. ``install()`` replaces its start, state and
``GetCrawlerMetrics`` handling so that StartCrawler runs a real crawl in a background thread.
"""

from __future__ import annotations

import io
import json
import logging
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import pyarrow.parquet as pq
from moto.glue.exceptions import CrawlerRunningException
from moto.glue.models import FakeCrawler, GlueBackend
from moto.glue.responses import GlueResponse

from focus_emulator import store
from focus_emulator.types import UnsupportedTypeError, glue_type_from_arrow

log = logging.getLogger(__name__)

# A crawl reports RUNNING for at least this long so that pollers observe the state change.
MIN_RUNNING_SECONDS = 0.3

PARQUET_SERDE = {
    "SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
    "Parameters": {"serialization.format": "1"},
}
PARQUET_INPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_OUTPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"


def glob_to_regex(pattern: str) -> re.Pattern[str]:
    """Compile a Glue exclusion glob: ``**`` crosses folders, ``*`` and ``?`` stay within one."""
    out, index = [], 0
    while index < len(pattern):
        if pattern.startswith("**/", index):
            out.append("(?:.*/)?")
            index += 3
        elif pattern.startswith("**", index):
            out.append(".*")
            index += 2
        elif pattern[index] == "*":
            out.append("[^/]*")
            index += 1
        elif pattern[index] == "?":
            out.append("[^/]")
            index += 1
        else:
            out.append(re.escape(pattern[index]))
            index += 1
    return re.compile("^" + "".join(out) + "$")


def is_excluded(relative_key: str, exclusions: list[str]) -> bool:
    return any(glob_to_regex(pattern).match(relative_key) for pattern in exclusions)


@dataclass
class FileSchema:
    obj: store.S3Object
    partition: tuple[tuple[str, str], ...]
    columns: dict[str, str]
    row_count: int


@dataclass
class CrawlResult:
    tables_created: int = 0
    tables_updated: int = 0
    tables_deleted: int = 0
    type_conflicts: list[str] = field(default_factory=list)


def read_file_schema(obj: store.S3Object, relative_key: str, account_id: str) -> FileSchema | None:
    """Read one object's Parquet footer; return None for objects that are not Parquet."""
    if obj.size < 12:
        return None
    body = store.read_object(obj.bucket, obj.key, account_id)
    if body[:4] != b"PAR1" or body[-4:] != b"PAR1":
        return None
    metadata = pq.read_metadata(io.BytesIO(body))
    schema = metadata.schema.to_arrow_schema()
    columns: dict[str, str] = {}
    for arrow_field in schema:
        name = arrow_field.name.lower()
        if name not in columns:
            columns[name] = glue_type_from_arrow(arrow_field.type)
    partition = []
    for index, folder in enumerate(relative_key.split("/")[:-1]):
        key, sep, value = folder.partition("=")
        partition.append((key.lower(), value) if sep else (f"partition_{index}", folder))
    return FileSchema(obj, tuple(partition), columns, metadata.num_rows)


def table_name_for(path: str, table_prefix: str) -> str:
    _, key = store.split_s3_uri(path)
    folder = key.rstrip("/").rsplit("/", 1)[-1] if key.strip("/") else store.split_s3_uri(path)[0]
    return re.sub(r"[^a-z0-9_]", "_", f"{table_prefix or ''}{folder}".lower())


def crawl(backend: GlueBackend, crawler: FakeCrawler) -> CrawlResult:
    """Crawl every S3 target of a crawler into its database and return what changed."""
    result = CrawlResult()
    configuration = json.loads(crawler.configuration) if crawler.configuration else {}
    inherit = (
        configuration.get("CrawlerOutput", {}).get("Partitions", {}).get("AddOrUpdateBehavior")
        == "InheritFromTable"
    )
    policy = crawler.schema_change_policy or {}
    for target in (crawler.targets or {}).get("S3Targets", []):
        path = target["Path"].rstrip("/") + "/"
        bucket, prefix = store.split_s3_uri(path)
        exclusions = target.get("Exclusions", [])
        files = []
        for obj in store.list_objects(bucket, prefix, backend.account_id):
            relative = obj.key[len(prefix) :]
            if obj.size == 0 or obj.key.endswith("/") or is_excluded(relative, exclusions):
                continue
            try:
                schema = read_file_schema(obj, relative, backend.account_id)
            except (OSError, UnsupportedTypeError) as err:
                log.warning("Crawler %s skipped %s: %s", crawler.name, obj.uri, err)
                continue
            if schema is not None:
                files.append(schema)
        if not files:
            continue
        _write_table(backend, crawler, path, files, inherit, policy, result)
    return result


def _write_table(
    backend: GlueBackend,
    crawler: FakeCrawler,
    path: str,
    files: list[FileSchema],
    inherit: bool,
    policy: dict[str, str],
    result: CrawlResult,
) -> None:
    name = table_name_for(path, crawler.table_prefix)
    partition_keys = [key for key, _ in files[0].partition]
    crawled: dict[str, str] = {}
    for file_schema in files:
        for column, kind in file_schema.columns.items():
            if column in partition_keys:
                continue
            if column not in crawled:
                crawled[column] = kind
            elif crawled[column] != kind:
                conflict = f"{column}: {crawled[column]} vs {kind} in {file_schema.obj.uri}"
                result.type_conflicts.append(conflict)
                log.warning("Crawler %s found a type conflict on %s", crawler.name, conflict)

    database = backend.get_database(crawler.database_name)
    existing = database.tables.get(name)
    if existing is None:
        columns = [{"Name": column, "Type": kind} for column, kind in crawled.items()]
    else:
        columns = _apply_schema_change(existing.as_dict(), crawled, policy)

    table_input = {
        "Name": name,
        "StorageDescriptor": _storage_descriptor(columns, path),
        "PartitionKeys": [{"Name": key, "Type": "string"} for key in partition_keys],
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {
            "classification": "parquet",
            "typeOfData": "file",
            "UPDATED_BY_CRAWLER": crawler.name,
            "recordCount": str(sum(f.row_count for f in files)),
            "objectCount": str(len(files)),
        },
    }
    if result.type_conflicts:
        table_input["Parameters"]["emulator_type_conflicts"] = json.dumps(result.type_conflicts)
    if existing is None:
        backend.create_table(crawler.database_name, name, table_input)
        result.tables_created += 1
    else:
        backend.update_table(crawler.database_name, name, table_input)
        result.tables_updated += 1

    table = backend.get_table(crawler.database_name, name)
    table_types = {column["Name"]: column["Type"] for column in columns}
    by_partition: dict[tuple[tuple[str, str], ...], list[FileSchema]] = {}
    for file_schema in files:
        by_partition.setdefault(file_schema.partition, []).append(file_schema)
    for partition, members in by_partition.items():
        if not partition:
            continue
        own: dict[str, str] = {}
        for member in members:
            for column, kind in member.columns.items():
                own.setdefault(column, kind)
        if inherit:
            # The partition takes the table schema except where its own files disagree on a type.
            part_columns = [
                {"Name": column, "Type": own.get(column, kind) if column in own else kind}
                for column, kind in table_types.items()
            ]
        else:
            part_columns = [{"Name": column, "Type": kind} for column, kind in own.items()]
        location = path + "/".join(f"{key}={value}" for key, value in partition) + "/"
        values = [value for _, value in partition]
        partition_input = {"Values": values, "StorageDescriptor": _storage_descriptor(part_columns, location)}
        if str(values) in table.partitions:
            table.update_partition(values, partition_input)
        else:
            table.create_partition(partition_input)


def _apply_schema_change(
    table: dict[str, Any], crawled: dict[str, str], policy: dict[str, str]
) -> list[dict[str, Any]]:
    """Merge crawled columns into a table's columns following the crawler's SchemaChangePolicy."""
    current = [dict(column) for column in table["StorageDescriptor"]["Columns"]]
    if policy.get("UpdateBehavior", "UPDATE_IN_DATABASE") == "LOG":
        return current
    delete_behavior = policy.get("DeleteBehavior", "DEPRECATE_IN_DATABASE")
    merged = []
    known = set()
    for column in current:
        known.add(column["Name"])
        if column["Name"] in crawled:
            # A column that reappears is no longer deprecated.
            parameters = {k: v for k, v in column.get("Parameters", {}).items() if k != "deprecated"}
            column.pop("Parameters", None)
            if parameters:
                column["Parameters"] = parameters
            merged.append(column)
        elif delete_behavior == "DELETE_FROM_DATABASE":
            continue
        elif delete_behavior == "DEPRECATE_IN_DATABASE":
            column["Parameters"] = {**column.get("Parameters", {}), "deprecated": "true"}
            merged.append(column)
        else:
            merged.append(column)
    merged.extend({"Name": name, "Type": kind} for name, kind in crawled.items() if name not in known)
    return merged


def _storage_descriptor(columns: list[dict[str, Any]], location: str) -> dict[str, Any]:
    return {
        "Columns": columns,
        "Location": location,
        "InputFormat": PARQUET_INPUT,
        "OutputFormat": PARQUET_OUTPUT,
        "SerdeInfo": PARQUET_SERDE,
        "Compressed": False,
        "StoredAsSubDirectories": False,
    }


# ---- moto patches -------------------------------------------------------------------------------


def _state(crawler: FakeCrawler) -> dict[str, Any]:
    if not hasattr(crawler, "_emulator"):
        crawler._emulator = {"state": "READY", "last_crawl": None, "metrics": None, "lock": threading.Lock()}
    return crawler._emulator


def _start_crawler(self: FakeCrawler) -> None:
    state = _state(self)
    with state["lock"]:
        if state["state"] != "READY":
            raise CrawlerRunningException(f"Crawler with name {self.name} has already started")
        state["state"] = "RUNNING"
    thread = threading.Thread(target=_run_crawl, args=(self,), name=f"crawl-{self.name}", daemon=True)
    thread.start()


def _run_crawl(crawler: FakeCrawler) -> None:
    state = _state(crawler)
    started = time.time()
    last_crawl: dict[str, Any] = {"StartTime": started, "LogGroup": "/aws-glue/crawlers"}
    log.info("Crawler %s started", crawler.name)
    try:
        result = crawl(crawler.backend, crawler)
        last_crawl["Status"] = "SUCCEEDED"
    except Exception as err:  # noqa: BLE001 - any crawl error becomes the crawl's FAILED status
        log.exception("Crawler %s failed", crawler.name)
        result = CrawlResult()
        last_crawl["Status"] = "FAILED"
        last_crawl["ErrorMessage"] = f"Internal Service Exception: {err}"
    remaining = MIN_RUNNING_SECONDS - (time.time() - started)
    if remaining > 0:
        time.sleep(remaining)
    runtime = time.time() - started
    state["metrics"] = {
        "CrawlerName": crawler.name,
        "TimeLeftSeconds": 0.0,
        "StillEstimating": False,
        "LastRuntimeSeconds": runtime,
        "MedianRuntimeSeconds": runtime,
        "TablesCreated": result.tables_created,
        "TablesUpdated": result.tables_updated,
        "TablesDeleted": result.tables_deleted,
    }
    state["type_conflicts"] = result.type_conflicts
    state["last_crawl"] = last_crawl
    crawler.crawl_elapsed_time = 0
    with state["lock"]:
        state["state"] = "READY"
    log.info("Crawler %s finished with status %s", crawler.name, last_crawl["Status"])


def _status(self: FakeCrawler) -> str:
    return _state(self)["state"]


_original_as_dict = FakeCrawler.as_dict


def _as_dict(self: FakeCrawler) -> dict[str, Any]:
    data = _original_as_dict(self)
    state = _state(self)
    data["State"] = state["state"]
    data.pop("LastCrawl", None)
    if state["last_crawl"] is not None:
        data["LastCrawl"] = dict(state["last_crawl"])
    if state["state"] == "RUNNING":
        data["CrawlElapsedTime"] = 1
    return data


def _get_crawler_metrics(self: GlueResponse) -> str:
    names = self.parameters.get("CrawlerNameList") or [c.name for c in self.glue_backend.get_crawlers()]
    metrics = []
    for name in names:
        crawler = self.glue_backend.get_crawler(name)
        found = _state(crawler)["metrics"]
        metrics.append(
            found
            or {
                "CrawlerName": name,
                "TimeLeftSeconds": 0.0,
                "StillEstimating": _state(crawler)["state"] == "RUNNING",
                "LastRuntimeSeconds": 0.0,
                "MedianRuntimeSeconds": 0.0,
                "TablesCreated": 0,
                "TablesUpdated": 0,
                "TablesDeleted": 0,
            }
        )
    return json.dumps({"CrawlerMetricsList": metrics})


def install() -> None:
    """Patch moto's Glue crawler model and responses (idempotent)."""
    FakeCrawler.start_crawler = _start_crawler
    FakeCrawler.status = property(_status)
    FakeCrawler.as_dict = _as_dict
    GlueResponse.get_crawler_metrics = _get_crawler_metrics
