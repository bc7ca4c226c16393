"""Validate one staged FOCUS delivery before promotion, with the checks pushed down to Athena.

The checks run in this order, and a failing step keeps the later query steps from running:

1. Manifest (S3 listing, no query): every manifest data file was staged and is non-empty, and the
   snapshot folder contains no other file.
2. Schema (Parquet footers only): the 60 FOCUS_1_2_AWS columns are present with the AWS types.
   The footers are read because a Glue partition that inherits the table schema hides the file's
   own types. Added columns are drift warnings.
3. Great Expectations suite on the delivery's partition of ``focus_snapshots``, run as SQL by
   Athena through PyAthena. One expectation checks that no row breaks a row rule: not-null
   columns, value sets, and charge periods inside the billing period. One stats query also
   counts fully identical rows. Only when a row rule is broken does one more query count the
   violations per rule and column.
4. Regression against the current snapshot of the same billing period.

The worker never reads the data: it reads footers, and Athena returns aggregates and at most a
sample of unexpected values.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode, urlsplit

from focus_pipeline.config import PipelineConfig
from focus_pipeline.focus_schema import (
    ALLOWED_VALUES,
    AWS_FOCUS_1_2_COLUMNS,
    AWS_NULLABLE_GAPS,
    SNAPSHOT_PARTITION_KEYS,
    detect_focus_version,
)

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.fs as pafs

log = logging.getLogger(__name__)

PASSED = "passed"
FAILED = "failed"
REGRESSED = "regressed"

# FOCUS 1.2 columns that the specification declares "MUST NOT be null" for every row.
FOCUS_NOT_NULL_COLUMNS: frozenset[str] = frozenset(
    {
        "BilledCost",
        "BillingAccountId",
        "BillingAccountName",
        "BillingCurrency",
        "BillingPeriodEnd",
        "BillingPeriodStart",
        "ChargeCategory",
        "ChargeFrequency",
        "ChargePeriodEnd",
        "ChargePeriodStart",
        "ContractedCost",
        "ContractedUnitPrice",
        "EffectiveCost",
        "InvoiceIssuerName",
        "ListCost",
        "ListUnitPrice",
        "PricingUnit",
        "ProviderName",
        "PublisherName",
        "ServiceCategory",
        "ServiceName",
        "SkuId",
        "SkuPriceId",
    }
)

# The not-null checks of the suite: the FOCUS rule minus the gaps AWS documents.
REQUIRED_NOT_NULL_COLUMNS: tuple[str, ...] = tuple(
    name for name in AWS_FOCUS_1_2_COLUMNS if name in FOCUS_NOT_NULL_COLUMNS - AWS_NULLABLE_GAPS
)

_BILLING_PERIOD = re.compile(r"^(\d{4})-(\d{2})$")

# Check name of the expectation that covers every row rule.
ROW_RULES_CHECK = "row_rules"
# Rows the row-rules expectation returns at most; the failure path counts them all.
UNEXPECTED_ROWS_LIMIT = 20


@dataclass
class ColumnDiff:
    """Difference between a delivery's columns and FOCUS_1_2_AWS, by canonical column name."""

    added: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    # Column -> {"found": type in the files, "expected": FOCUS_1_2_AWS type}.
    retyped: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def blocking(self) -> bool:
        """True when a required column is missing or has another type."""
        return bool(self.missing or self.retyped)

    def messages(self) -> list[str]:
        """Return one sentence per missing or retyped column, naming the column."""
        lines = [f"{name} missing" for name in self.missing]
        for name, types in self.retyped.items():
            lines.append(f"{name} is {types['found']}, expected {types['expected']}")
        return lines

    def to_dict(self) -> dict[str, Any]:
        return {"added": list(self.added), "missing": list(self.missing), "retyped": dict(self.retyped)}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ColumnDiff:
        return cls(
            added=list(values.get("added", [])),
            missing=list(values.get("missing", [])),
            retyped=dict(values.get("retyped", {})),
        )


@dataclass
class ValidationReport:
    """Outcome of validating one delivery; ``success`` is true only when it may be promoted."""

    billing_period: str
    delivery: str
    execution_id: str
    success: bool
    outcome: str
    failures: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    focus_version: str = "1.2"
    column_diff: dict[str, Any] = field(default_factory=dict)
    # s3:// URI of the stored validation.json, once stored.
    result_uri: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ValidationReport:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{name: value for name, value in values.items() if name in known})

    def summary(self) -> str:
        """Short alert text: the outcome, the failed checks with their messages, and the warnings."""
        head = f"Delivery {self.delivery} of {self.billing_period}: {self.outcome}"
        rows = self.stats.get("rows")
        if rows == 0:
            head += " (no charges yet)"
        elif rows is not None:
            head += f" ({rows} rows, BilledCost {self.stats.get('billed_cost', 0.0):.2f})"
        lines = [head]
        for failure in self.failures:
            lines.append(f"- {failure['expectation']}: {failure['message']}")
        for warning in self.warnings:
            lines.append(f"- warning: {warning}")
        return "\n".join(lines)


def _failure(expectation: str, message: str, column: str | None = None, observed: Any = None) -> dict:
    return {"expectation": expectation, "column": column, "message": message, "observed": observed}


# Schema --------------------------------------------------------------------------------------


def normalise_type_name(type_name: str) -> str:
    """Write a Hive, Glue or Trino type name in the Hive form FOCUS_1_2_AWS uses.

    ``varchar(n)`` becomes ``string``, ``timestamp(3)`` becomes ``timestamp``, Trino's
    ``map(varchar, double)`` becomes ``map<string,double>``; spaces and case are dropped.
    """
    # Hand-written: sqlglot parses Trino types but writes them back in Trino's form, not Hive's.
    text = type_name.strip().lower().replace(" ", "")
    text = re.sub(r"\b(varchar|char)(\(\d+\))?", "string", text)
    text = re.sub(r"\btimestamp\(\d+\)", "timestamp", text)
    text = re.sub(r"\b(map|array|row|struct)\(", r"\1<", text)
    text = text.replace(")", ">") if re.search(r"\b(map|array|row|struct)<", text) else text
    return text


def arrow_type_to_hive(data_type: pa.DataType) -> str:
    """Return the Hive type name Glue gives a Parquet column of this Arrow type."""
    import pyarrow as pa
    import pyarrow.types as pat

    if pat.is_string(data_type) or pat.is_large_string(data_type) or pat.is_string_view(data_type):
        return "string"
    if pat.is_timestamp(data_type):
        return "timestamp"
    if pat.is_map(data_type):
        return f"map<{arrow_type_to_hive(data_type.key_type)},{arrow_type_to_hive(data_type.item_type)}>"
    if pat.is_struct(data_type):
        fields = ",".join(f"{f.name}:{arrow_type_to_hive(f.type)}" for f in data_type)
        return f"struct<{fields}>"
    if pat.is_list(data_type) or pat.is_large_list(data_type):
        return f"array<{arrow_type_to_hive(data_type.value_type)}>"
    if pat.is_decimal(data_type):
        return f"decimal({data_type.precision},{data_type.scale})"
    simple = {
        pa.float64(): "double",
        pa.float32(): "float",
        pa.int64(): "bigint",
        pa.int32(): "int",
        pa.int16(): "smallint",
        pa.int8(): "tinyint",
        pa.bool_(): "boolean",
        pa.date32(): "date",
        pa.binary(): "binary",
        pa.null(): "void",
    }
    return simple.get(data_type, str(data_type))


def diff_schema(file_schema: dict[str, str]) -> ColumnDiff:
    """Compare a delivery's ``{column: type}`` with FOCUS_1_2_AWS, matching names case-insensitively.

    Types may be Hive, Glue or Trino names. Columns beyond the 60 are ``added`` (drift), absent
    ones ``missing``, and present ones with another type ``retyped``.
    """
    by_lower = {name.lower(): (name, normalise_type_name(kind)) for name, kind in file_schema.items()}
    diff = ColumnDiff()
    for name, expected in AWS_FOCUS_1_2_COLUMNS.items():
        found = by_lower.pop(name.lower(), None)
        if found is None:
            diff.missing.append(name)
        elif found[1] != expected:
            diff.retyped[name] = {"found": found[1], "expected": expected}
    diff.added = sorted(original for original, _ in by_lower.values())
    return diff


def read_file_schemas(paths: list[str], filesystem: pafs.FileSystem) -> tuple[dict[str, str], int, list[str]]:
    """Read the Parquet footers of ``paths`` (``bucket/key`` for S3) without reading any data.

    Returns the columns and Hive types of the first file, the total row count from all footers,
    and one message per later file whose columns or types differ from the first.
    """
    import pyarrow.parquet as pq

    schema: dict[str, str] = {}
    rows = 0
    disagreements: list[str] = []
    for index, path in enumerate(paths):
        with filesystem.open_input_file(path) as handle:
            metadata = pq.ParquetFile(handle).metadata
        arrow_schema = metadata.schema.to_arrow_schema()
        file_schema = {f.name: arrow_type_to_hive(f.type) for f in arrow_schema}
        rows += metadata.num_rows
        if index == 0:
            schema = file_schema
        elif file_schema != schema:
            disagreements.append(f"{path} has other columns or types than {paths[0]}")
    return schema, rows, disagreements


def schema_failures(diff: ColumnDiff) -> list[dict[str, Any]]:
    """Return one blocking failure per missing or retyped column."""
    failures = [_failure("column_exists", f"{name} missing", column=name) for name in diff.missing]
    for name, types in diff.retyped.items():
        message = f"{name} is {types['found']}, expected {types['expected']}"
        failures.append(_failure("column_type", message, column=name, observed=types["found"]))
    return failures


# Manifest ------------------------------------------------------------------------------------


def _file_name(key_or_uri: str) -> str:
    return key_or_uri.rstrip("/").rsplit("/", 1)[-1]


def check_manifest(staged_files: list[dict[str, Any]], manifest_files: list[str]) -> list[dict[str, Any]]:
    """Check the staged listing against the manifest's ``dataFiles``, matching by file name.

    ``staged_files`` is the listing of the snapshot folder (``key`` and ``size`` per object).
    Every manifest file must be staged with a size above zero, and no other file may be staged.
    """
    staged = {_file_name(item["key"]): int(item.get("size", 0)) for item in staged_files}
    expected = {_file_name(uri) for uri in manifest_files}
    failures = []
    for name in sorted(expected):
        if name not in staged:
            failures.append(_failure("manifest_file_staged", f"{name} listed in the manifest was not staged"))
        elif staged[name] <= 0:
            failures.append(_failure("manifest_file_not_empty", f"{name} is empty (0 bytes)", observed=0))
    for name in sorted(set(staged) - expected):
        failures.append(
            _failure("no_extra_files", f"{name} is in the snapshot folder but not in the manifest")
        )
    return failures


# Regression ----------------------------------------------------------------------------------


def check_regression(stats: dict[str, Any], current: dict[str, Any] | None, tolerance: float) -> list[str]:
    """Compare a delivery's stats with the current snapshot of its billing period.

    Returns one message per regression: max ChargePeriodStart earlier than the current one, or
    row count or Usage BilledCost below the current value by more than ``tolerance`` (a share).
    Usage cost, not the total, is compared because AWS adds credits and refunds to a closed month,
    and a credit that lowers the total is a restatement, not a lost part of the snapshot. An empty
    current snapshot never counts as a regression baseline for the shares.
    """
    if not current:
        return []
    messages = []
    new_max, old_max = stats.get("max_charge_period_start"), current.get("max_charge_period_start")
    if new_max is not None and old_max is not None and str(new_max) < str(old_max):
        messages.append(f"max ChargePeriodStart went back from {old_max} to {new_max}")
    elif new_max is None and old_max is not None:
        messages.append(f"max ChargePeriodStart went back from {old_max} to none (empty delivery)")
    for key, label in (("rows", "row count"), ("usage_cost", "Usage BilledCost")):
        old, new = current.get(key), stats.get(key)
        if old is None or new is None or old <= 0:
            continue
        if new < old * (1.0 - tolerance):
            messages.append(
                f"{label} shrank from {old} to {new} ({(old - new) / old:.1%}, tolerance {tolerance:.1%})"
            )
    return messages


# Great Expectations suite --------------------------------------------------------------------


def period_bounds(billing_period: str) -> tuple[date, date]:
    """Return the first day of ``YYYY-MM`` and the first day of the next month."""
    match = _BILLING_PERIOD.match(billing_period)
    if not match:
        raise ValueError(f"Invalid billing period {billing_period!r}: expected YYYY-MM, e.g. 2026-04.")
    year, month = int(match.group(1)), int(match.group(2))
    if not 1 <= month <= 12:
        raise ValueError(f"Invalid billing period {billing_period!r}: month must be 01 to 12.")
    return date(year, month, 1), date(year + month // 12, month % 12 + 1, 1)


def _quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _column(name: str) -> str:
    """Quote a column as Athena stores it: Glue lower-cases every column name."""
    return '"' + name.lower() + '"'


def build_batch_query(config: PipelineConfig, billing_period: str, delivery: str) -> str:
    """Return the SELECT over the delivery's partition of the snapshot table (the GX batch)."""
    return (
        f'SELECT * FROM "{config.database}"."{config.snapshots_table}" '
        f"WHERE billing_period = {_quote_literal(billing_period)} AND delivery = {_quote_literal(delivery)}"
    )


def build_stats_sql(config: PipelineConfig, billing_period: str, delivery: str, columns: list[str]) -> str:
    """Return one Athena query for rows, total BilledCost, max ChargePeriodStart and duplicate rows.

    Duplicate rows count every row beyond the first of a group of fully identical rows; GROUP BY
    treats NULLs as equal, and Athena groups map columns by their entries.
    """
    batch = build_batch_query(config, billing_period, delivery)
    group_by = ", ".join(_column(name) for name in columns)
    return (
        "SELECT s.row_count, s.billed_cost, s.max_charge_period_start, d.duplicate_rows, s.usage_cost FROM "
        f"(SELECT count(*) AS row_count, sum({_column('BilledCost')}) AS billed_cost, "
        f"sum(CASE WHEN {_column('ChargeCategory')} = 'Usage' THEN {_column('BilledCost')} ELSE 0 END) "
        "AS usage_cost, "
        f"max({_column('ChargePeriodStart')}) AS max_charge_period_start FROM ({batch}) AS b) AS s "
        "CROSS JOIN (SELECT coalesce(sum(n - 1), 0) AS duplicate_rows FROM "
        f"(SELECT count(*) AS n FROM ({batch}) AS b GROUP BY {group_by} HAVING count(*) > 1) AS g) AS d"
    )


@dataclass(frozen=True)
class RowRule:
    """One row-level check of the suite; a row breaks it when ``violation`` (Athena SQL) is true."""

    # Name of the failure the report gives, e.g. ``not_null`` or ``value_set``.
    check: str
    # Canonical FOCUS column name.
    column: str
    violation: str
    description: str
    # Allowed values of a ``value_set`` rule; NULL is always allowed, as in GX's set expectations.
    allowed: tuple[str, ...] = ()


def build_row_rules(billing_period: str) -> list[RowRule]:
    """Return the row-level rules: not-null columns, value sets and charge periods in the period."""
    start, end = period_bounds(billing_period)
    rules = [
        RowRule("not_null", column, f"{_column(column)} IS NULL", f"{column} is not NULL")
        for column in REQUIRED_NOT_NULL_COLUMNS
    ]
    for column, allowed in ALLOWED_VALUES.items():
        value_set = tuple(sorted(value for value in allowed if value is not None))
        listed = ", ".join(_quote_literal(value) for value in value_set)
        rules.append(
            RowRule(
                "value_set",
                column,
                f"{_column(column)} IS NOT NULL AND {_column(column)} NOT IN ({listed})",
                f"{column} in {list(value_set)}",
                allowed=value_set,
            )
        )
    start_literal = f"TIMESTAMP '{start.isoformat()} 00:00:00'"
    end_literal = f"TIMESTAMP '{end.isoformat()} 00:00:00'"
    charge_start, charge_end = _column("ChargePeriodStart"), _column("ChargePeriodEnd")
    rules.append(
        RowRule(
            "charge_period_start_in_billing_period",
            "ChargePeriodStart",
            f"{charge_start} < {start_literal} OR {charge_start} >= {end_literal}",
            f"ChargePeriodStart inside {billing_period}",
        )
    )
    rules.append(
        RowRule(
            "charge_period_end_in_billing_period",
            "ChargePeriodEnd",
            f"{charge_end} > {end_literal}",
            f"ChargePeriodEnd not after the end of {billing_period}",
        )
    )
    return rules


def build_row_rules_query(rules: list[RowRule]) -> str:
    """Return the GX ``unexpected_rows_query``: at most UNEXPECTED_ROWS_LIMIT rows that break a rule.

    The LIMIT lets Athena stop at the first broken rows. The query names only the rule columns,
    so it reads only their column chunks.
    """
    columns = ", ".join(dict.fromkeys(_column(rule.column) for rule in rules))
    condition = " OR ".join(f"({rule.violation})" for rule in rules)
    return f"SELECT {columns} FROM {{batch}} WHERE {condition} LIMIT {UNEXPECTED_ROWS_LIMIT}"


def build_violation_counts_sql(
    config: PipelineConfig, billing_period: str, delivery: str, rules: list[RowRule]
) -> str:
    """Return one Athena query that counts the rows breaking each rule (column ``v<i>`` for rule i).

    A ``value_set`` rule also gets ``s<i>``: a JSON array of up to 5 of its distinct unexpected
    values, sorted.
    """
    batch = build_batch_query(config, billing_period, delivery)
    selects = []
    for index, rule in enumerate(rules):
        selects.append(f"count_if({rule.violation}) AS v{index}")
        if rule.check == "value_set":
            values = f"array_agg(DISTINCT {_column(rule.column)}) FILTER (WHERE {rule.violation})"
            selects.append(f"json_format(CAST(slice(array_sort({values}), 1, 5) AS JSON)) AS s{index}")
    return f"SELECT {', '.join(selects)} FROM ({batch}) AS b"


def build_expectation_suite(billing_period: str, columns: list[str], name: str = "focus_delivery") -> Any:
    """Build the GX suite for one delivery; ``columns`` are the delivery's data columns.

    The suite is one UnexpectedRowsExpectation over all row rules (two Athena queries: the rows
    and their count), so a passing delivery costs few queries. When it fails,
    ``build_violation_counts_sql`` counts the violations per rule. Duplicate rows are counted by
    the stats query (``build_stats_sql``), which reads every column anyway.
    """
    import great_expectations as gx

    del columns  # The rules name only FOCUS columns, which the schema step checked.
    rules = build_row_rules(billing_period)
    expectation = gx.expectations.UnexpectedRowsExpectation(
        unexpected_rows_query=build_row_rules_query(rules),
        description=f"No row breaks a not-null, value-set or charge-period rule of {billing_period}",
        meta={"check": ROW_RULES_CHECK, "column": None},
    )
    return gx.ExpectationSuite(name=name, expectations=[expectation])


def rule_failures(rules: list[RowRule], counts: dict[str, Any]) -> list[dict[str, Any]]:
    """Turn the row of ``build_violation_counts_sql`` (by column name) into one failure per broken rule."""
    failures = []
    for index, rule in enumerate(rules):
        observed = int(counts.get(f"v{index}") or 0)
        if observed == 0:
            continue
        if rule.check == "not_null":
            message = f"{rule.column} has {observed} NULL values"
        elif rule.check == "value_set":
            sample = json.loads(counts.get(f"s{index}") or "[]")
            message = f"{rule.column} has {observed} values outside the allowed set, e.g. {sample}"
        else:
            message = f"{rule.description}: {observed} rows outside"
        failures.append(_failure(rule.check, message, column=rule.column, observed=observed))
    return failures


def duplicate_failures(stats: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the ``no_duplicate_rows`` failure when the stats count duplicate rows."""
    observed = int(stats.get("duplicate_rows") or 0)
    if observed == 0:
        return []
    message = f"{observed} duplicate rows (fully identical, NULLs compare equal)"
    return [_failure("no_duplicate_rows", message, observed=observed)]


def failures_from_gx_result(
    result: dict[str, Any],
    duplicate_rows: int | None = None,
    rule_violations: list[dict[str, Any]] | None = None,
) -> list[dict]:
    """Turn the failed expectations of a GX result (as a JSON dict) into report failures.

    ``rule_violations`` are the ``rule_failures`` that replace a failed row-rules expectation.
    Without them, that expectation gives one failure with its count of broken rows (at most
    UNEXPECTED_ROWS_LIMIT).
    """
    failures = []
    for item in result.get("results", []):
        if item.get("success"):
            continue
        config = item.get("expectation_config", {})
        meta = config.get("meta") or {}
        check = meta.get("check") or config.get("type", "expectation")
        column = meta.get("column")
        details = item.get("result") or {}
        exception = (item.get("exception_info") or {}).get("exception_message")
        if exception:
            failures.append(_failure(check, f"check could not run: {exception}", column=column))
            continue
        observed = details.get("unexpected_count", details.get("observed_value"))
        if check == ROW_RULES_CHECK and rule_violations:
            failures += rule_violations
            continue
        if check == ROW_RULES_CHECK and rule_violations is not None:
            message = f"{observed} rows break a row rule, but no rule counted a violation"
        elif check == ROW_RULES_CHECK:
            message = f"{observed} rows break a row rule"
        elif check == "not_null":
            message = f"{column} has {observed} NULL values"
        elif check == "value_set":
            sample = details.get("partial_unexpected_list", [])[:5]
            message = f"{column} has {observed} values outside the allowed set, e.g. {sample}"
        elif check == "no_duplicate_rows":
            observed = duplicate_rows if duplicate_rows is not None else observed
            message = f"{observed} duplicate rows (fully identical, NULLs compare equal)"
        else:
            message = f"{config.get('description') or check}: {observed} rows outside"
        failures.append(_failure(check, message, column=column, observed=observed))
    return failures


# Connections ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class AwsAccess:
    """Credentials, region and endpoint taken from the Airflow AWS connection."""

    access_key: str | None
    secret_key: str | None
    token: str | None
    region_name: str
    endpoint_url: str | None

    def __repr__(self) -> str:
        return f"AwsAccess(region_name={self.region_name!r}, endpoint_url={self.endpoint_url!r})"


def resolve_aws_access(config: PipelineConfig, endpoint_url: str | None = None) -> AwsAccess:
    """Read credentials and the endpoint from the ``config.aws_conn_id`` Airflow connection.

    ``endpoint_url`` overrides the connection's own ``endpoint_url`` extra; both are None on AWS.
    """
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    hook = AwsBaseHook(aws_conn_id=config.aws_conn_id, client_type="athena")
    credentials = hook.get_credentials(region_name=config.region_name)
    endpoint = endpoint_url or hook.conn_config.endpoint_url
    region = hook.conn_region_name or config.region_name
    return AwsAccess(credentials.access_key, credentials.secret_key, credentials.token, region, endpoint)


def athena_sqlalchemy_url(config: PipelineConfig, access: AwsAccess, poll_interval: float = 1.0) -> str:
    """Return the PyAthena SQLAlchemy URL; it carries no credentials (they go in ``connect_args``).

    ``poll_interval`` is the time in seconds between two status requests of a running query.
    """
    query = {
        "s3_staging_dir": config.athena_output,
        "work_group": config.workgroup,
        "poll_interval": str(poll_interval),
    }
    if access.endpoint_url:
        query["endpoint_url"] = access.endpoint_url
    host = f"athena.{access.region_name}.amazonaws.com:443"
    return f"awsathena+rest://@{host}/{quote(config.database)}?{urlencode(query)}"


def athena_connect_args(access: AwsAccess) -> dict[str, Any]:
    args: dict[str, Any] = {"region_name": access.region_name}
    if access.access_key:
        args["aws_access_key_id"] = access.access_key
        args["aws_secret_access_key"] = access.secret_key
    if access.token:
        args["aws_session_token"] = access.token
    return args


def footer_filesystem(access: AwsAccess) -> pafs.S3FileSystem:
    """Return a pyarrow S3 filesystem on the connection's endpoint (used to read footers only)."""
    import pyarrow.fs as pafs

    options: dict[str, Any] = {
        "access_key": access.access_key,
        "secret_key": access.secret_key,
        "session_token": access.token,
        "region": access.region_name,
    }
    if access.endpoint_url:
        parts = urlsplit(access.endpoint_url)
        options["endpoint_override"] = parts.netloc
        options["scheme"] = parts.scheme or "https"
    return pafs.S3FileSystem(**{key: value for key, value in options.items() if value is not None})


def s3_client(access: AwsAccess) -> Any:
    import boto3

    return boto3.client(
        "s3",
        region_name=access.region_name,
        endpoint_url=access.endpoint_url,
        aws_access_key_id=access.access_key,
        aws_secret_access_key=access.secret_key,
        aws_session_token=access.token,
    )


# Running -------------------------------------------------------------------------------------


def _run_suite(
    config: PipelineConfig,
    access: AwsAccess,
    billing_period: str,
    delivery: str,
    columns: list[str],
    poll_interval: float,
) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
    """Run the GX suite and the stats query in Athena, and count violations per rule if needed.

    Returns the GX result dict, the stats, and the failures of the row rules. A passing delivery
    costs three queries: the row-rules expectation's rows and row count, and the stats.
    """
    import great_expectations as gx
    import sqlalchemy as sa

    context = gx.get_context(mode="ephemeral")
    datasource = context.data_sources.add_sql(
        name="athena",
        connection_string=athena_sqlalchemy_url(config, access, poll_interval),
        kwargs={"connect_args": athena_connect_args(access)},
    )
    asset = datasource.add_query_asset(
        name="delivery", query=build_batch_query(config, billing_period, delivery)
    )
    batch_definition = asset.add_batch_definition_whole_table("delivery")
    suite = context.suites.add(build_expectation_suite(billing_period, columns))
    batch = batch_definition.get_batch()
    result = batch.validate(suite, result_format="BASIC").to_json_dict()

    stats_sql = build_stats_sql(config, billing_period, delivery, columns)
    rules = build_row_rules(billing_period)
    violations: list[dict[str, Any]] = []
    with datasource.get_engine().connect() as connection:
        row = connection.execute(sa.text(stats_sql)).one()
        if _row_rules_failed(result):
            counts_sql = build_violation_counts_sql(config, billing_period, delivery, rules)
            counts = connection.execute(sa.text(counts_sql)).one()._asdict()
            violations = rule_failures(rules, counts)
            log.info("Delivery %s breaks %d row rules", delivery, len(violations))
    max_start = row[2]
    stats = {
        "rows": int(row[0] or 0),
        "billed_cost": float(row[1] or 0.0),
        "max_charge_period_start": max_start.isoformat(sep=" ") if max_start is not None else None,
        "duplicate_rows": int(row[3] or 0),
        "usage_cost": float(row[4] or 0.0),
    }
    return result, stats, violations


def _row_rules_failed(result: dict[str, Any]) -> bool:
    """Return True when the row-rules expectation ran and found rows that break a rule."""
    for item in result.get("results", []):
        meta = (item.get("expectation_config") or {}).get("meta") or {}
        if meta.get("check") == ROW_RULES_CHECK:
            raised = (item.get("exception_info") or {}).get("exception_message")
            return not item.get("success") and not raised
    return False


def validate_delivery(
    *,
    config: PipelineConfig,
    billing_period: str,
    delivery: str,
    execution_id: str,
    staged_files: list[dict[str, Any]],
    manifest_files: list[str],
    current: dict[str, Any] | None,
    endpoint_url: str | None = None,
    raw_files: list[dict[str, Any]] | None = None,
    poll_interval: float = 1.0,
) -> ValidationReport:
    """Validate one staged delivery and store ``validation.json`` beside its snapshot.

    :param staged_files: listing of the snapshot folder, ``{"key", "size"}`` per object in
        ``config.bucket``; their footers give the schema that is checked.
    :param manifest_files: the manifest's ``dataFiles`` (``s3://`` URIs).
    :param current: ``rows``, ``billed_cost`` and ``max_charge_period_start`` of the current
        snapshot of the period, or None when the period has none.
    :param endpoint_url: Athena and S3 endpoint; None uses the connection's (None on AWS).
    :param raw_files: for a normalised delivery, the staged raw files (``key``, ``size`` and an
        optional ``bucket``). The manifest is checked against them, and their schema gives the
        FOCUS version and the column diff, while ``staged_files`` hold the normalised output.
    :param poll_interval: seconds between two status requests of a running Athena query.
    """
    period_bounds(billing_period)
    access = resolve_aws_access(config, endpoint_url)
    filesystem = footer_filesystem(access)
    log.info("Validating delivery %s of %s (%d staged files)", delivery, billing_period, len(staged_files))

    failures = check_manifest(raw_files if raw_files is not None else staged_files, manifest_files)
    warnings: list[str] = []

    # Athena's UNLOAD writes the files of a normalised delivery without a file name extension.
    data_paths = [
        f"{config.bucket}/{item['key']}"
        for item in staged_files
        if (raw_files is not None or item["key"].endswith(".parquet")) and int(item.get("size", 0)) > 0
    ]
    schema, footer_rows, disagreements = read_file_schemas(data_paths, filesystem)
    failures += [_failure("files_share_schema", message) for message in disagreements]
    diff = diff_schema(schema)

    reported_diff, reported_schema = diff, schema
    if raw_files is not None:
        raw_paths = [f"{item.get('bucket', config.bucket)}/{item['key']}" for item in raw_files]
        reported_schema, _, _ = read_file_schemas(raw_paths, filesystem)
        reported_diff = diff_schema(reported_schema)
        warnings.append("delivery was normalised: " + "; ".join(reported_diff.messages() or ["types only"]))
    warnings += [f"added column {name} (drift)" for name in reported_diff.added]

    if footer_rows == 0 and data_paths:
        # An empty file carries no values to misread, so its types cannot break a query.
        warnings += [f"empty delivery: {message}" for message in diff.messages()]
    else:
        failures += schema_failures(diff)

    report = ValidationReport(
        billing_period=billing_period,
        delivery=delivery,
        execution_id=execution_id,
        success=False,
        outcome=FAILED,
        warnings=warnings,
        focus_version=detect_focus_version(list(reported_schema)),
        column_diff=reported_diff.to_dict(),
    )
    gx_result: dict[str, Any] | None = None
    if failures:
        log.info("Skipping the query checks of %s: %d manifest or schema failures", delivery, len(failures))
    elif footer_rows == 0:
        # No rows: nothing for the suite to check, and no charges yet is a valid state.
        # NOTE: the row count comes from the footers, so a footer that lies is not cross-checked.
        report.stats = {
            "rows": 0,
            "billed_cost": 0.0,
            "max_charge_period_start": None,
            "duplicate_rows": 0,
            "usage_cost": 0.0,
        }
    else:
        columns = [name for name in schema if name.lower() not in SNAPSHOT_PARTITION_KEYS]
        gx_result, report.stats, violations = _run_suite(
            config, access, billing_period, delivery, columns, poll_interval
        )
        failures += failures_from_gx_result(gx_result, rule_violations=violations)
        failures += duplicate_failures(report.stats)
        if report.stats["rows"] != footer_rows:
            # Athena read another row count than the staged files hold: the catalog does not show
            # this delivery whole yet (a crawl that started before staging ended). That is a task
            # error to retry, not a verdict on the delivery.
            raise RuntimeError(
                f"Athena counted {report.stats['rows']} rows in delivery {delivery} of {billing_period} but "
                f"its files hold {footer_rows}; the crawl has not cataloged it whole. Retry the task."
            )

    report.failures = failures
    regressions = check_regression(report.stats, current, config.regression_tolerance) if not failures else []
    report.warnings += regressions
    if failures:
        report.outcome = FAILED
    elif regressions:
        report.outcome = REGRESSED
    else:
        report.outcome, report.success = PASSED, True

    store_report(report, config, s3_client(access), gx_result)
    log.info("Validated delivery %s of %s: %s", delivery, billing_period, report.outcome)
    return report


def report_key(config: PipelineConfig, billing_period: str, delivery: str) -> str:
    prefix = config.validation_prefix.strip("/")
    return f"{prefix}/billing_period={billing_period}/delivery={delivery}/validation.json"


def store_report(
    report: ValidationReport,
    config: PipelineConfig,
    s3_client: Any,
    gx_result: dict[str, Any] | None = None,
) -> str:
    """Write the report and the GX result JSON to the validation prefix; return the s3:// URI."""
    key = report_key(config, report.billing_period, report.delivery)
    uri = f"s3://{config.bucket}/{key}"
    report.result_uri = uri
    body = {"report": report.to_dict(), "great_expectations": gx_result}
    s3_client.put_object(
        Bucket=config.bucket,
        Key=key,
        Body=json.dumps(body, indent=2, default=str).encode("utf-8"),
        ContentType="application/json",
    )
    log.info("Stored the validation result of %s at %s", report.delivery, uri)
    return uri
