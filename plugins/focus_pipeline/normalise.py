"""Rewrite a delivery whose columns or types differ from FOCUS_1_2_AWS into the canonical schema.

The rewrite runs in Athena, never in the worker: a temporary external table is created over the
raw staged files, ``UNLOAD (SELECT <the 60 columns, cast or parsed>)`` writes Parquet into the
snapshot folder, and the temporary table is dropped. The raw files are only read.

What is rewritten:

- FOCUS 1.0 exports: ``SkuMeter`` comes from ``x_UsageType``, the other columns added after 1.0
  become typed NULLs, and ``x_CostCategories`` entries are merged into ``Tags`` (AWS moved cost
  categories into ``Tags`` in FOCUS_1_2_AWS). On a key present in both, the tag wins.
- Timestamps delivered as ISO 8601 text (``T`` or space separator, ``Z``, ``+00:00`` or no zone)
  or as integers since the epoch (seconds, milliseconds, microseconds or nanoseconds, distinguished
  by magnitude) become ``timestamp(3)`` in UTC. A value that does not parse becomes NULL, which
  fails the not-null check of the validation suite on that column.
- Numbers in other numeric types or in text become ``double``, integer ids become text, and
  ``map<string,string>`` columns delivered as JSON text become maps.

Other differences (a struct where a map is expected, a missing 1.2 column) are not rewritten: the
validation suite reports them and the delivery is quarantined.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any

from focus_pipeline.config import PipelineConfig
from focus_pipeline.focus_schema import (
    ADDED_AFTER_1_0,
    AWS_FOCUS_1_2_COLUMNS,
    DOUBLE,
    MAP_DOUBLE,
    MAP_STRING,
    STRING,
    TIMESTAMP,
    detect_focus_version,
)
from focus_pipeline.validation import normalise_type_name, resolve_aws_access

log = logging.getLogger(__name__)

# Trino type of each Hive type of FOCUS_1_2_AWS, for casts in the SELECT.
TRINO_TYPES: dict[str, str] = {
    STRING: "varchar",
    DOUBLE: "double",
    TIMESTAMP: "timestamp(3)",
    MAP_STRING: "map(varchar, varchar)",
    MAP_DOUBLE: "map(varchar, double)",
}

_NUMERIC = re.compile(r"^(float|double|tinyint|smallint|int|integer|bigint|decimal(\(\d+,\d+\))?)$")
_INTEGER = re.compile(r"^(tinyint|smallint|int|integer|bigint)$")
_EPOCH = "TIMESTAMP '1970-01-01 00:00:00.000'"
_TERMINAL_STATES = {"SUCCEEDED", "FAILED", "CANCELLED"}


class NormalisationError(RuntimeError):
    """Raised when an Athena statement of the normalisation fails or the target is not empty."""


def _lower_map(file_schema: dict[str, str]) -> dict[str, str]:
    return {name.lower(): normalise_type_name(kind) for name, kind in file_schema.items()}


def _ident(name: str) -> str:
    return '"' + name.lower().replace('"', '""') + '"'


def _can_convert(found: str, expected: str) -> bool:
    if expected == TIMESTAMP:
        return found == STRING or found == "date" or bool(_INTEGER.match(found))
    if expected == DOUBLE:
        return found == STRING or bool(_NUMERIC.match(found))
    if expected == STRING:
        return bool(_INTEGER.match(found))
    if expected == MAP_STRING:
        return found == STRING
    return False


def needs_normalisation(file_schema: dict[str, str]) -> list[str]:
    """Return why a delivery must be rewritten before promotion; empty when it is canonical.

    Only differences this module can rewrite are listed; the validation suite reports the rest.
    """
    types = _lower_map(file_schema)
    reasons = []
    if detect_focus_version(list(file_schema)) == "1.0":
        reasons.append("FOCUS 1.0 export: SkuMeter from x_UsageType, columns added after 1.0 as NULL")
    if "x_costcategories" in types:
        reasons.append("x_CostCategories merged into Tags")
    for name, expected in AWS_FOCUS_1_2_COLUMNS.items():
        found = types.get(name.lower())
        if found is not None and found != expected and _can_convert(found, expected):
            reasons.append(f"{name} is {found}, expected {expected}")
    return reasons


def _timestamp_from_text(column: str) -> str:
    # Only UTC designators are stripped; another offset fails the cast and becomes NULL.
    text = f"replace(regexp_replace(trim({column}), '(Z|[+-]00:?00)$', ''), 'T', ' ')"
    return f"CAST(try_cast({text} AS timestamp(6)) AS timestamp(3))"


def _timestamp_from_epoch(column: str) -> str:
    # Magnitude distinguishes the unit for dates between 1973 and 5138: below 1e11 seconds, below
    # 1e14 milliseconds, below 1e17 microseconds, otherwise nanoseconds.
    millis = (
        f"CASE WHEN abs({column}) < 100000000000 THEN {column} * 1000 "
        f"WHEN abs({column}) < 100000000000000 THEN {column} "
        f"WHEN abs({column}) < 100000000000000000 THEN CAST(floor({column} / 1000.0) AS bigint) "
        f"ELSE CAST(floor({column} / 1000000.0) AS bigint) END"
    )
    return f"date_add('millisecond', {millis}, {_EPOCH})"


def _convert(column: str, found: str, expected: str) -> str:
    """Return the Trino expression that turns ``column`` of type ``found`` into ``expected``."""
    if found == expected or not _can_convert(found, expected):
        return column
    if expected == TIMESTAMP:
        if found == STRING:
            return _timestamp_from_text(column)
        if found == "date":
            return f"CAST({column} AS timestamp(3))"
        return _timestamp_from_epoch(column)
    if expected == DOUBLE and found == STRING:
        # NOTE: unparseable text becomes NULL, which validation catches only on not-null columns.
        return f"try_cast({column} AS double)"
    if expected == MAP_STRING:
        return f"try_cast(json_parse({column}) AS map(varchar, varchar))"
    return f"CAST({column} AS {TRINO_TYPES[expected]})"


def _tags_expression(types: dict[str, str]) -> str:
    tags = _convert(_ident("Tags"), types["tags"], MAP_STRING) if "tags" in types else None
    categories = _convert(_ident("x_CostCategories"), types["x_costcategories"], MAP_STRING)
    empty = "CAST(MAP() AS map(varchar, varchar))"
    if tags is None:
        return categories
    # map_concat keeps the last value of a repeated key, so tags come last and win.
    return (
        f"CASE WHEN {tags} IS NULL AND {categories} IS NULL THEN NULL "
        f"ELSE map_concat(coalesce({categories}, {empty}), coalesce({tags}, {empty})) END"
    )


def build_normalise_sql(file_schema: dict[str, str], source_table: str) -> str:
    """Return the Trino SELECT that reads ``source_table`` and returns the canonical columns.

    The 60 FOCUS_1_2_AWS columns come first, in order and with their canonical names; any other
    added column except the FOCUS 1.0 ``x_UsageType`` and ``x_CostCategories`` follows unchanged,
    so that drift stays visible. ``file_schema`` is the raw files' ``{column: type}``.
    """
    types = _lower_map(file_schema)
    is_1_0 = detect_focus_version(list(file_schema)) == "1.0"
    consumed = set()
    items = []
    for name, expected in AWS_FOCUS_1_2_COLUMNS.items():
        lower = name.lower()
        found = types.get(lower)
        if name == "Tags" and "x_costcategories" in types:
            expression = _tags_expression(types)
            consumed.add("x_costcategories")
        elif found is not None:
            expression = _convert(_ident(name), found, expected)
        elif name == "SkuMeter" and "x_usagetype" in types:
            expression = _convert(_ident("x_UsageType"), types["x_usagetype"], STRING)
            consumed.add("x_usagetype")
        elif is_1_0 and name in ADDED_AFTER_1_0:
            expression = f"CAST(NULL AS {TRINO_TYPES[expected]})"
        else:
            # A missing 1.2 column stays missing, so validation names it instead of seeing NULLs.
            continue
        consumed.add(lower)
        items.append(f'{expression} AS "{name}"')
    items += [_ident(name) for name in file_schema if name.lower() not in consumed | {"x_usagetype"}]
    select_list = ",\n  ".join(items)
    return f"SELECT\n  {select_list}\nFROM {source_table}"


def build_create_table_sql(file_schema: dict[str, str], table: str, location: str) -> str:
    """Return the Hive DDL of a temporary external Parquet table over the raw files at ``location``."""
    canonical = {name.lower(): kind for name, kind in AWS_FOCUS_1_2_COLUMNS.items()}
    declared = []
    for name, kind in file_schema.items():
        type_name = normalise_type_name(kind)
        if type_name in ("void", "null"):
            # A writer that saw no values types the column as null, which Glue and Athena cannot
            # declare; every value is NULL, so it reads as the canonical type (string otherwise).
            type_name = canonical.get(name.lower(), "string")
        declared.append(f"`{name.lower()}` {type_name}")
    columns = ",\n  ".join(declared)
    return f"CREATE EXTERNAL TABLE {table} (\n  {columns}\n)\nSTORED AS PARQUET\nLOCATION '{location}'"


def build_unload_sql(select_sql: str, target_location: str) -> str:
    """Wrap a SELECT in Athena's UNLOAD to Snappy-compressed Parquet at ``target_location``."""
    return f"UNLOAD ({select_sql})\nTO '{target_location}'\nWITH (format = 'PARQUET', compression = 'SNAPPY')"


def temporary_table_name(delivery: str) -> str:
    """Return the name of the temporary table of a delivery (letters, digits and underscores)."""
    return "tmp_normalise_" + re.sub(r"[^a-z0-9]+", "_", delivery.lower()).strip("_")


def _run_statement(
    athena: Any, sql: str, config: PipelineConfig, poll_interval: float, timeout: float
) -> str:
    """Run one Athena statement and wait for it; raise NormalisationError unless it succeeds."""
    response = athena.start_query_execution(
        QueryString=sql,
        QueryExecutionContext={"Database": config.database},
        WorkGroup=config.workgroup,
        ResultConfiguration={"OutputLocation": config.athena_output},
    )
    query_id = response["QueryExecutionId"]
    deadline = time.monotonic() + timeout
    while True:
        status = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"]
        if status["State"] in _TERMINAL_STATES:
            break
        if time.monotonic() > deadline:
            # Stop it, so an UNLOAD does not go on writing into the snapshot folder after the task failed.
            athena.stop_query_execution(QueryExecutionId=query_id)
            raise NormalisationError(
                f"Athena query {query_id} timed out after {timeout:.0f} s in state {status['State']} "
                "and was stopped; raise the timeout if the delivery is large."
            )
        time.sleep(poll_interval)
    if status["State"] != "SUCCEEDED":
        reason = status.get("StateChangeReason", "no reason given")
        raise NormalisationError(f"Athena query {query_id} {status['State']}: {reason}")
    return query_id


def _drop_table(glue: Any, database: str, table_name: str) -> None:
    """Delete the temporary table from the Glue catalog; its files are never touched (external table)."""
    try:
        glue.delete_table(DatabaseName=database, Name=table_name)
    except glue.exceptions.EntityNotFoundException:
        return
    log.info("Dropped the temporary table %s.%s", database, table_name)


def _split_s3_uri(uri: str) -> tuple[str, str]:
    match = re.match(r"^s3://([^/]+)/?(.*)$", uri)
    if not match:
        raise ValueError(f"Invalid S3 location {uri!r}: expected s3://bucket/prefix/.")
    return match.group(1), match.group(2)


def normalise_delivery(
    *,
    config: PipelineConfig,
    delivery: str,
    file_schema: dict[str, str],
    source_location: str,
    target_location: str,
    endpoint_url: str | None = None,
    poll_interval: float = 1.0,
    timeout: float = 900.0,
) -> list[dict[str, Any]]:
    """Rewrite the raw files at ``source_location`` into canonical Parquet at ``target_location``.

    :param file_schema: the raw files' ``{column: type}`` from their Parquet footers.
    :param source_location: ``s3://`` folder holding only the raw files of this delivery.
    :param target_location: empty ``s3://`` folder (the snapshot folder) for the output.
    :param endpoint_url: Athena and S3 endpoint; None uses the connection's (None on AWS).
    :return: the written objects as ``{"key", "size"}``, ready for ``validate_delivery``.
    """
    import boto3

    access = resolve_aws_access(config, endpoint_url)
    client_options = {
        "region_name": access.region_name,
        "endpoint_url": access.endpoint_url,
        "aws_access_key_id": access.access_key,
        "aws_secret_access_key": access.secret_key,
        "aws_session_token": access.token,
    }
    s3 = boto3.client("s3", **client_options)
    athena = boto3.client("athena", **client_options)
    glue = boto3.client("glue", **client_options)
    target_bucket, target_prefix = _split_s3_uri(target_location.rstrip("/") + "/")
    existing = s3.list_objects_v2(Bucket=target_bucket, Prefix=target_prefix, MaxKeys=1).get("KeyCount", 0)
    if existing:
        raise NormalisationError(
            f"{target_location} is not empty, and UNLOAD writes only into an empty folder; "
            "validate the files already there, or stage the delivery into a new snapshot folder."
        )

    table_name = temporary_table_name(delivery)
    table = f"{config.database}.{table_name}"
    log.info(
        "Normalising delivery %s from %s: %s", delivery, source_location, needs_normalisation(file_schema)
    )
    # A retry after a failed run finds the table of that run.
    _drop_table(glue, config.database, table_name)
    create_sql = build_create_table_sql(file_schema, table, source_location.rstrip("/") + "/")
    _run_statement(athena, create_sql, config, poll_interval, timeout)
    try:
        unload_sql = build_unload_sql(build_normalise_sql(file_schema, table), target_location)
        query_id = _run_statement(athena, unload_sql, config, poll_interval, timeout)
    finally:
        _drop_table(glue, config.database, table_name)

    paginator = s3.get_paginator("list_objects_v2")
    written = [
        {"key": item["Key"], "size": item["Size"]}
        for page in paginator.paginate(Bucket=target_bucket, Prefix=target_prefix)
        for item in page.get("Contents", [])
    ]
    log.info(
        "Normalised delivery %s into %s (%d files, query %s)",
        delivery,
        target_location,
        len(written),
        query_id,
    )
    return written
