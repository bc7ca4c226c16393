"""The MWAA execution role policy (infra/terraform/iam.tf) against the calls the pipeline makes.

S3 keys come from the pipeline's own key functions with the PipelineConfig defaults, and every
Glue and Athena call is listed with the file that makes it. Each test checks that a statement of
the policy allows the action on that object, table or workgroup, with the ARNs rendered from the
Terraform variable defaults. The tables are checked against the source files, so a new call
without a row here fails too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hcl2
import pytest

from focus_pipeline import delivery_log, exports, findings, layout, normalise, staging, validation
from focus_pipeline.config import PipelineConfig

pytestmark = pytest.mark.unit

REPO_ROOT = Path(__file__).resolve().parents[2]
TERRAFORM_DIR = REPO_ROOT / "infra" / "terraform"
SOURCE_FILES = sorted((REPO_ROOT / "plugins" / "focus_pipeline").glob("*.py")) + sorted(
    (REPO_ROOT / "dags").glob("*.py")
)
OPTIONS = hcl2.SerializationOptions(with_comments=False, explicit_blocks=False, strip_string_quotes=True)

# Values of the data sources, which Terraform reads from the account at plan time.
ACCOUNT_ID = "123456789012"
DATA_VALUES = {
    "data.aws_partition.current.partition": "aws",
    "data.aws_caller_identity.current.account_id": ACCOUNT_ID,
}

CONFIG = PipelineConfig()
PERIOD = "2025-03"
EXECUTION_ID = "00000000-0000-4000-8000-000000000001"
DELIVERY_ID = f"20250304T050607Z-{EXECUTION_ID}"
ACCOUNT = "111122223333"
TEMPORARY_TABLE = normalise.temporary_table_name(DELIVERY_ID)


# --- Terraform ----------------------------------------------------------------------------------


def load_terraform() -> dict[str, list[Any]]:
    """Merge the top-level blocks of every .tf file into lists per block type."""
    merged: dict[str, list[Any]] = {}
    for path in sorted(TERRAFORM_DIR.glob("*.tf")):
        with path.open(encoding="utf-8") as handle:
            parsed = hcl2.load(handle, serialization_options=OPTIONS)
        for block_type, blocks in parsed.items():
            merged.setdefault(block_type, []).extend(blocks if isinstance(blocks, list) else [blocks])
    return merged


TF = load_terraform()
VARIABLES = {name: body.get("default") for block in TF["variable"] for name, body in block.items()}
LOCALS = {name: value for block in TF["locals"] for name, value in block.items()}


def evaluate(expression: str) -> str:
    """Evaluate one expression of the policy's resources with the variables' defaults.

    Only the forms that iam.tf and locals.tf use are known. Any other form raises, so that it gets
    a rule here instead of being matched as text. References to managed resources (the KMS key,
    the topic) stay as written, because their ARNs exist only after apply.
    """
    expression = expression.strip()
    if expression in DATA_VALUES:
        return DATA_VALUES[expression]
    if re.fullmatch(r"var\.\w+", expression):
        return str(VARIABLES[expression.removeprefix("var.")])
    if re.fullmatch(r"local\.\w+", expression):
        return interpolate(LOCALS[expression.removeprefix("local.")])
    if re.fullmatch(r"aws_\w+\.\w+\.\w+", expression):
        return "${" + expression + "}"
    match = re.fullmatch(r"trimsuffix\(([\w.]+), ([\w.]+)\)", expression)
    if match:
        return evaluate(match.group(1)).removesuffix(evaluate(match.group(2)))
    match = re.fullmatch(r'trim\(([\w.]+), "([^"]*)"\)', expression)
    if match:
        return evaluate(match.group(1)).strip(match.group(2))
    match = re.fullmatch(r'element\(split\("/", ([\w.]+)\), length\(split\("/", \1\)\) - 1\)', expression)
    if match:
        return evaluate(match.group(1)).split("/")[-1]
    raise AssertionError(f"test_iam_coverage cannot evaluate the Terraform expression {expression!r}")


def interpolate(text: str) -> str:
    return re.sub(r"\$\{([^{}]*)\}", lambda match: evaluate(match.group(1)), text)


@dataclass(frozen=True)
class Statement:
    sid: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    prefixes: tuple[str, ...] | None  # values of a StringLike s3:prefix condition, if any

    def allows(self, action: str, arn: str, prefix: str | None = None) -> bool:
        if action not in self.actions:
            return False
        if not any(wildcard_match(pattern, arn) for pattern in self.resources):
            return False
        if self.prefixes is None:
            return True
        return prefix is not None and any(wildcard_match(pattern, prefix) for pattern in self.prefixes)


def wildcard_match(pattern: str, value: str) -> bool:
    """Match like IAM: ``*`` is any run of characters, ``?`` one character, the rest is literal."""
    parts = []
    for char in pattern:
        if char == "*":
            parts.append(".*")
        elif char == "?":
            parts.append(".")
        else:
            parts.append(re.escape(char))
    return re.fullmatch("".join(parts), value) is not None


def mwaa_document() -> dict[str, Any]:
    for block in TF["data"]:
        if "aws_iam_policy_document" in block and "mwaa_pipeline" in block["aws_iam_policy_document"]:
            return block["aws_iam_policy_document"]["mwaa_pipeline"]
    raise AssertionError(f"data aws_iam_policy_document.mwaa_pipeline not found in {TERRAFORM_DIR}")


def raw_statements() -> list[dict[str, Any]]:
    document = mwaa_document()
    statements = list(document["statement"])
    for dynamic in document.get("dynamic", []):
        statements.append(dynamic["statement"]["content"][0])
    return statements


def statements() -> list[Statement]:
    """The policy's statements with rendered resources; list-valued expressions are left out."""
    parsed = []
    for raw in raw_statements():
        if not isinstance(raw["resources"], list):
            continue
        prefixes = None
        for condition in raw.get("condition", []):
            if condition["variable"] == "s3:prefix":
                assert condition["test"] == "StringLike", raw["sid"]
                prefixes = tuple(interpolate(value) for value in condition["values"])
        parsed.append(
            Statement(
                sid=raw["sid"],
                actions=tuple(raw["actions"]),
                resources=tuple(interpolate(resource) for resource in raw["resources"]),
                prefixes=prefixes,
            )
        )
    return parsed


STATEMENTS = statements()


def allowed(action: str, arn: str, prefix: str | None = None) -> bool:
    return any(statement.allows(action, arn, prefix) for statement in STATEMENTS)


def s3_arn(bucket: str, key: str = "") -> str:
    return f"arn:aws:s3:::{bucket}" + (f"/{key}" if key else "")


def glue_arns(table: str | None) -> list[str]:
    """The ARNs IAM checks for a Glue call: catalog and database, and the table for table calls."""
    base = f"arn:aws:glue:{CONFIG.region_name}:{ACCOUNT_ID}"
    arns = [f"{base}:catalog", f"{base}:database/{CONFIG.database}"]
    if table is not None:
        arns.append(f"{base}:table/{CONFIG.database}/{table}")
    return arns


def source_text(name: str) -> str:
    for path in SOURCE_FILES:
        if path.name == name:
            return path.read_text(encoding="utf-8")
    raise AssertionError(f"source file {name} not found under plugins/focus_pipeline or dags")


# --- S3 -----------------------------------------------------------------------------------------

SNAPSHOT_FILE = staging.snapshot_prefix(CONFIG, PERIOD, DELIVERY_ID) + "focus-export-00001.snappy.parquet"
RAW_FILE = staging.raw_prefix(CONFIG, PERIOD, DELIVERY_ID) + "focus-export-00001.snappy.parquet"
RECORD = delivery_log.record_key(CONFIG, PERIOD, EXECUTION_ID)
FINDINGS_FILE = findings.findings_key(CONFIG, PERIOD, "new_region", DELIVERY_ID)
ALERT_MARKER = findings.alerted_prefix(CONFIG, PERIOD) + f"{'0' * 32}.json"
REPORT = validation.report_key(CONFIG, PERIOD, DELIVERY_ID)
ATHENA_RESULT = exports.parse_s3_uri(CONFIG.athena_output)[1] + "query-id.csv"
BY_ACCOUNT_FILE = (
    layout.delivery_prefix(CONFIG, PERIOD, DELIVERY_ID) + f"{layout.ACCOUNT_KEY}={ACCOUNT}/part-0"
)
BY_ACCOUNT_MARKER = layout.delivery_prefix(CONFIG, PERIOD, DELIVERY_ID) + layout.MARKER
# Objects of the pipeline bucket: (action, key, what makes the call).
PIPELINE_OBJECT_ACCESS = [
    ("s3:GetObject", SNAPSHOT_FILE, "stage_delivery HEAD, footer reads, Athena reads"),
    ("s3:PutObject", SNAPSHOT_FILE, "staging.stage_delivery copy, normalisation UNLOAD"),
    ("s3:AbortMultipartUpload", SNAPSHOT_FILE, "normalisation UNLOAD"),
    ("s3:GetObject", RAW_FILE, "stage_delivery HEAD, footer reads, Athena reads the temporary table"),
    ("s3:PutObject", RAW_FILE, "staging.stage_delivery copy to staging.raw_prefix"),
    ("s3:GetObject", RECORD, "delivery_log.read_record"),
    ("s3:PutObject", RECORD, "delivery_log.write_record"),
    ("s3:PutObject", FINDINGS_FILE, "findings.write_findings"),
    ("s3:PutObject", ALERT_MARKER, "findings.mark_alerted"),
    ("s3:PutObject", REPORT, "validation.store_report"),
    ("s3:GetObject", ATHENA_RESULT, "GetQueryResults"),
    ("s3:PutObject", ATHENA_RESULT, "every Athena query"),
    ("s3:PutObject", BY_ACCOUNT_FILE, "layout.repartition_snapshot UNLOAD"),
    ("s3:DeleteObject", BY_ACCOUNT_FILE, "layout.repartition_snapshot cleanup"),
    ("s3:AbortMultipartUpload", BY_ACCOUNT_FILE, "layout.repartition_snapshot UNLOAD"),
    ("s3:PutObject", BY_ACCOUNT_MARKER, "layout.repartition_snapshot marker"),
]
# Prefixes the code lists in the pipeline bucket.
PIPELINE_LIST_PREFIXES = [
    RECORD.rsplit("/", 1)[0] + "/",
    f"{CONFIG.deliveries_prefix}/",
    findings.alerted_prefix(CONFIG, PERIOD),
    staging.snapshot_prefix(CONFIG, PERIOD, DELIVERY_ID),
    staging.raw_prefix(CONFIG, PERIOD, DELIVERY_ID),
    layout.delivery_prefix(CONFIG, PERIOD, DELIVERY_ID),
]
MANIFEST = f"{CONFIG.export_root}/metadata/BILLING_PERIOD={PERIOD}/{CONFIG.export_name}-Manifest.json"
DATA_FILE = f"{CONFIG.export_root}/data/BILLING_PERIOD={PERIOD}/{CONFIG.export_name}-00001.snappy.parquet"


def test_default_key_layout() -> None:
    assert staging.raw_prefix(CONFIG, PERIOD, DELIVERY_ID).startswith("focus/raw/")
    assert ALERT_MARKER.startswith("findings_alerted/period=")
    assert BY_ACCOUNT_FILE.startswith("focus/by_account/")
    assert ATHENA_RESULT.startswith("athena-results/")


@pytest.mark.parametrize(("action", "key", "caller"), PIPELINE_OBJECT_ACCESS)
def test_pipeline_object_access_allowed(action: str, key: str, caller: str) -> None:
    assert allowed(action, s3_arn(CONFIG.bucket, key)), f"{action} on s3://{CONFIG.bucket}/{key} ({caller})"


@pytest.mark.parametrize("prefix", PIPELINE_LIST_PREFIXES)
def test_pipeline_listing_allowed(prefix: str) -> None:
    assert allowed("s3:ListBucket", s3_arn(CONFIG.bucket), prefix), prefix


def test_athena_can_find_result_bucket() -> None:
    assert allowed("s3:GetBucketLocation", s3_arn(CONFIG.bucket))


def test_export_reads_allowed() -> None:
    manifest_prefix = exports.manifest_pattern(CONFIG.export_root).split("*", 1)[0]
    assert allowed("s3:ListBucket", s3_arn(CONFIG.export_bucket), manifest_prefix)
    assert allowed("s3:GetObject", s3_arn(CONFIG.export_bucket, MANIFEST))
    assert allowed("s3:GetObject", s3_arn(CONFIG.export_bucket, DATA_FILE))


def test_export_never_written() -> None:
    for action in ("s3:PutObject", "s3:DeleteObject"):
        assert not allowed(action, s3_arn(CONFIG.export_bucket, DATA_FILE)), action


def test_export_listing_outside_export_denied() -> None:
    assert not allowed("s3:ListBucket", s3_arn(CONFIG.export_bucket), "other-export/")


@pytest.mark.parametrize("key", [SNAPSHOT_FILE, RAW_FILE, RECORD, FINDINGS_FILE, ALERT_MARKER, REPORT])
def test_objects_outside_by_account_never_deleted(key: str) -> None:
    assert not allowed("s3:DeleteObject", s3_arn(CONFIG.bucket, key)), key


def test_only_layout_deletes_objects() -> None:
    callers = {
        path.name
        for path in SOURCE_FILES
        if re.search(r"\.delete_(object|objects|keys)\(", path.read_text(encoding="utf-8"))
    }
    assert callers == {"layout.py"}


def test_no_access_outside_pipeline_prefixes() -> None:
    key = "unrelated/object.json"
    for action in ("s3:GetObject", "s3:PutObject", "s3:DeleteObject"):
        assert not allowed(action, s3_arn(CONFIG.bucket, key)), action


# --- Glue ---------------------------------------------------------------------------------------

# Glue calls of the pipeline code: (action, table, file, call). The table is a PipelineConfig field,
# "temporary" for the temporary table of normalisation, or "database" for a database-level call.
GLUE_CALLS = [
    ("glue:GetTable", "current_table", "pipeline.py", "glue.get_table("),
    ("glue:GetTable", "current_table", "promotion.py", "glue_client.get_table("),
    ("glue:GetPartition", "current_table", "promotion.py", "glue_client.get_partition("),
    ("glue:GetPartitions", "current_table", "promotion.py", 'get_paginator("get_partitions")'),
    ("glue:CreatePartition", "current_table", "promotion.py", "glue_client.create_partition("),
    ("glue:UpdatePartition", "current_table", "promotion.py", "glue_client.update_partition("),
    ("glue:GetTable", "findings_table", "findings.py", "glue_client.get_table("),
    ("glue:CreatePartition", "findings_table", "findings.py", "glue_client.create_partition("),
    ("glue:GetTable", "current_table", "layout.py", "Name=config.current_table"),
    ("glue:GetTable", "current_by_account_table", "layout.py", "Name=config.current_by_account_table"),
    ("glue:CreateTable", "current_by_account_table", "layout.py", "glue_client.create_table("),
    ("glue:GetPartitions", "current_by_account_table", "layout.py", 'get_paginator("get_partitions")'),
    ("glue:BatchCreatePartition", "current_by_account_table", "layout.py", "batch_create_partition("),
    ("glue:BatchUpdatePartition", "current_by_account_table", "layout.py", "batch_update_partition("),
    ("glue:DeleteTable", "temporary", "normalise.py", "glue.delete_table("),
]
# Catalog calls Athena makes with the caller's credentials for the pipeline's SQL:
# (action, table as above, file that sends the SQL, text that shows the SQL or its database).
ATHENA_CATALOG_CALLS = [
    ("glue:GetDatabase", "database", "normalise.py", '"Database": config.database'),
    ("glue:GetDatabase", "database", "layout.py", '"Database": config.database'),
    ("glue:GetDatabase", "database", "validation.py", "quote(config.database)"),
    ("glue:GetDatabase", "database", "focus_delivery.py", "focus_config().database"),
    ("glue:GetDatabase", "database", "focus_cost_detections.py", "focus_config().database"),
    ("glue:CreateTable", "temporary", "normalise.py", "CREATE EXTERNAL TABLE"),
    ("glue:GetTable", "temporary", "normalise.py", "CREATE EXTERNAL TABLE"),
    ("glue:GetTable", "snapshots_table", "validation.py", "config.snapshots_table"),
    ("glue:GetPartitions", "snapshots_table", "validation.py", "config.snapshots_table"),
    ("glue:GetTable", "snapshots_table", "layout.py", "config.snapshots_table"),
    ("glue:GetPartitions", "snapshots_table", "layout.py", "config.snapshots_table"),
    ("glue:GetTable", "current_table", "pipeline.py", "table=config.current_table"),
    ("glue:GetPartitions", "current_table", "pipeline.py", "table=config.current_table"),
]


def table_name(table: str) -> str | None:
    """Name of the table a row touches, or None for a database-level call."""
    if table == "database":
        return None
    if table == "temporary":
        return TEMPORARY_TABLE
    return getattr(CONFIG, table)


@pytest.mark.parametrize(("action", "table", "source", "call"), GLUE_CALLS + ATHENA_CATALOG_CALLS)
def test_glue_call_allowed(action: str, table: str, source: str, call: str) -> None:
    assert call in source_text(source), f"{source} no longer contains {call!r}; update this table"
    for arn in glue_arns(table_name(table)):
        assert allowed(action, arn), f"{action} on {arn} ({source})"


def glue_methods_called(text: str) -> set[str]:
    """Glue API actions called through a client named glue or glue_client."""
    names = set(re.findall(r"\bglue(?:_client)?\.(?!get_paginator\b)(\w+)\(", text))
    names |= set(re.findall(r'\bglue(?:_client)?\.get_paginator\("(\w+)"\)', text))
    return {"glue:" + "".join(part.capitalize() for part in name.split("_")) for name in names}


def test_glue_calls_table_complete() -> None:
    listed = {(action, source) for action, _, source, _ in GLUE_CALLS}
    for path in SOURCE_FILES:
        for action in glue_methods_called(path.read_text(encoding="utf-8")):
            assert (action, path.name) in listed, f"{path.name} calls {action}, missing from GLUE_CALLS"


def test_temporary_table_name_matches_policy() -> None:
    assert TEMPORARY_TABLE.startswith("tmp_normalise_")
    assert wildcard_match(LOCALS["normalise_table_pattern"], TEMPORARY_TABLE)


@pytest.mark.parametrize(
    "field", ["snapshots_table", "current_table", "findings_table", "current_by_account_table"]
)
def test_pipeline_tables_never_deleted(field: str) -> None:
    arn = glue_arns(getattr(CONFIG, field))[-1]
    assert not allowed("glue:DeleteTable", arn), arn


def test_crawler_table_never_written() -> None:
    arn = glue_arns(CONFIG.snapshots_table)[-1]
    for action in ("glue:CreateTable", "glue:UpdateTable", "glue:CreatePartition", "glue:UpdatePartition"):
        assert not allowed(action, arn), action


# --- Athena -------------------------------------------------------------------------------------

# Athena calls: (action, file, call).
ATHENA_CALLS = [
    ("athena:GetWorkGroup", "pipeline.py", "get_work_group("),
    ("athena:StartQueryExecution", "normalise.py", "start_query_execution("),
    ("athena:GetQueryExecution", "normalise.py", "get_query_execution("),
    ("athena:StartQueryExecution", "layout.py", "start_query_execution("),
    ("athena:GetQueryExecution", "layout.py", "get_query_execution("),
    ("athena:GetQueryResults", "pipeline.py", "get_query_results_paginator("),
    ("athena:StartQueryExecution", "focus_delivery.py", "AthenaOperator"),
    ("athena:StartQueryExecution", "focus_cost_detections.py", "AthenaOperator"),
]


@pytest.mark.parametrize(("action", "source", "call"), ATHENA_CALLS)
def test_athena_call_allowed(action: str, source: str, call: str) -> None:
    assert call in source_text(source), f"{source} no longer contains {call!r}; update this table"
    workgroup = f"arn:aws:athena:{CONFIG.region_name}:{ACCOUNT_ID}:workgroup/{CONFIG.workgroup}"
    assert allowed(action, workgroup), f"{action} on {workgroup} ({source})"


# --- Policy shape -------------------------------------------------------------------------------


def test_statement_ids_unique() -> None:
    sids = [raw["sid"] for raw in raw_statements()]
    assert len(sids) == len(set(sids))


def test_list_valued_statements_grant_no_data_access() -> None:
    for raw in raw_statements():
        if isinstance(raw["resources"], list):
            continue
        for action in raw["actions"]:
            assert not action.startswith(("s3:", "glue:")), f"{raw['sid']} grants {action}"
