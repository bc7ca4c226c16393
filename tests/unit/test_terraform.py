"""Terraform in infra/terraform: parsed with python-hcl2 and checked against PipelineConfig,
focus_schema and the emulator's provisioning, so production and the local world use the same names
and settings."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any
from unittest import mock

import hcl2
import pytest

from focus_pipeline.config import PipelineConfig
from focus_pipeline.focus_schema import AWS_FOCUS_1_2_COLUMNS, CURRENT_PARTITION_KEYS

pytestmark = pytest.mark.unit

TERRAFORM_DIR = Path(__file__).resolve().parents[2] / "infra" / "terraform"
OPTIONS = hcl2.SerializationOptions(with_comments=False, explicit_blocks=False, strip_string_quotes=True)
CRAWLER_CONFIGURATION = {
    "Version": 1.0,
    "CrawlerOutput": {"Partitions": {"AddOrUpdateBehavior": "InheritFromTable"}},
    "Grouping": {"TableGroupingPolicy": "CombineCompatibleSchemas"},
}
# Terraform variable name for each PipelineConfig field whose name differs.
RENAMED_FIELDS = {"region_name": "region"}


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


def variables() -> dict[str, dict[str, Any]]:
    return {name: body for block in TF["variable"] for name, body in block.items()}


def locals_() -> dict[str, Any]:
    return {name: value for block in TF["locals"] for name, value in block.items()}


def resource(kind: str, name: str) -> dict[str, Any]:
    for block in TF["resource"]:
        if kind in block and name in block[kind]:
            return block[kind][name]
    raise AssertionError(f"resource {kind}.{name} not found in {TERRAFORM_DIR}")


def data_source(kind: str, name: str) -> dict[str, Any]:
    for block in TF["data"]:
        if kind in block and name in block[kind]:
            return block[kind][name]
    raise AssertionError(f"data {kind}.{name} not found in {TERRAFORM_DIR}")


def render(text: str) -> str:
    """Substitute ``${local.x}`` and ``${var.x}`` (its default), leaving other expressions unchanged."""
    defaults = {name: body.get("default") for name, body in variables().items()}
    local_values = {name: value for name, value in locals_().items() if isinstance(value, str)}
    for _ in range(5):
        text = re.sub(r"\$\{local\.(\w+)\}", lambda match: local_values[match.group(1)], text)
    return re.sub(r"\$\{var\.(\w+)\}", lambda match: str(defaults[match.group(1)]), text)


def pipeline_fields() -> dict[str, Any]:
    return {field.name: getattr(PipelineConfig(), field.name) for field in dataclasses.fields(PipelineConfig)}


# --- Parsing and formatting ---------------------------------------------------------------------


def test_terraform_files_parse() -> None:
    files = sorted(TERRAFORM_DIR.glob("*.tf"))
    assert len(files) >= 8
    for kind in ("terraform", "provider", "variable", "resource", "data", "output", "locals"):
        assert kind in TF, f"no {kind} block in {TERRAFORM_DIR}"


@pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform binary not installed")
def test_terraform_fmt_clean() -> None:
    env = {**os.environ, "CHECKPOINT_DISABLE": "1"}
    result = subprocess.run(
        ["terraform", "fmt", "-check", "-diff", str(TERRAFORM_DIR)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 0, f"terraform fmt would change files:\n{result.stdout}{result.stderr}"


# --- Names shared with PipelineConfig -----------------------------------------------------------


def test_variable_defaults_match_pipeline_config() -> None:
    defaults = {name: body.get("default") for name, body in variables().items()}
    checked = []
    for field, value in pipeline_fields().items():
        name = RENAMED_FIELDS.get(field, field)
        if name not in defaults:
            continue
        assert defaults[name] == value, (
            f"variable {name} defaults to {defaults[name]!r}, PipelineConfig to {value!r}"
        )
        checked.append(name)
    assert len(checked) >= 19


def test_topic_name_matches_default_topic_arn() -> None:
    assert variables()["topic_name"]["default"] == PipelineConfig().topic_arn.rsplit(":", 1)[-1]


def test_airflow_variable_covers_pipeline_config() -> None:
    airflow_variable = locals_()["airflow_variable"]
    expected = set(pipeline_fields()) - {"thresholds"}
    assert set(airflow_variable) == expected
    for key, value in airflow_variable.items():
        if key == "topic_arn":
            assert value == "${aws_sns_topic.alerts.arn}"
        else:
            assert value == f"${{var.{RENAMED_FIELDS.get(key, key)}}}"


def test_airflow_variable_defaults_load_as_config() -> None:
    defaults = {name: body.get("default") for name, body in variables().items()}
    values = {}
    for key in locals_()["airflow_variable"]:
        values[key] = defaults.get(RENAMED_FIELDS.get(key, key))
    values["topic_arn"] = PipelineConfig().topic_arn
    assert PipelineConfig.from_mapping(values) == PipelineConfig()


def test_airflow_variable_output_is_json() -> None:
    outputs = {name: body for block in TF["output"] for name, body in block.items()}
    assert outputs["airflow_variable_json"]["value"] == "${jsonencode(local.airflow_variable)}"


# --- Glue ---------------------------------------------------------------------------------------


def test_crawler_settings() -> None:
    crawler = resource("aws_glue_crawler", "snapshots")
    assert crawler["name"] == "${var.crawler_name}"
    assert crawler["schema_change_policy"] == [
        {"update_behavior": "UPDATE_IN_DATABASE", "delete_behavior": "DEPRECATE_IN_DATABASE"}
    ]
    assert json.loads(crawler["configuration"]) == CRAWLER_CONFIGURATION
    assert '"Version":1.0' in crawler["configuration"]
    target = crawler["s3_target"][0]
    assert render(target["path"]) == f"s3://{PipelineConfig().bucket}/{PipelineConfig().snapshots_prefix}/"
    for pattern in ("**/_*", "**/*.json", "**/*.tmp"):
        assert pattern in target["exclusions"]


def test_crawler_table_prefix_names_snapshots_table() -> None:
    config = PipelineConfig()
    leaf = config.snapshots_prefix.rsplit("/", 1)[-1]
    prefix = config.snapshots_table.removesuffix(leaf)
    assert prefix + leaf == config.snapshots_table
    assert locals_()["crawler_table_prefix"] == "${trimsuffix(var.snapshots_table, local.snapshots_leaf)}"
    assert resource("aws_glue_crawler", "snapshots")["table_prefix"] == "${local.crawler_table_prefix}"


def test_current_table_columns_match_focus_schema() -> None:
    columns = locals_()["focus_columns"]
    expected = [{"name": name.lower(), "type": kind} for name, kind in AWS_FOCUS_1_2_COLUMNS.items()]
    assert columns == expected
    assert len(columns) == 60


def test_current_table_layout() -> None:
    table = resource("aws_glue_catalog_table", "current")
    assert table["name"] == "${var.current_table}"
    assert [key["name"] for key in table["partition_keys"]] == list(CURRENT_PARTITION_KEYS)
    descriptor = table["storage_descriptor"][0]
    assert descriptor["ser_de_info"][0]["serialization_library"].endswith("ParquetHiveSerDe")
    assert "${local.focus_columns}" in json.dumps(descriptor["dynamic"])
    # The crawler must not see the table's own location, or it may adopt the table.
    assert not render(descriptor["location"]).startswith(f"s3://{PipelineConfig().bucket}/focus/snapshots")


def test_findings_table_layout() -> None:
    table = resource("aws_glue_catalog_table", "findings")
    assert [key["name"] for key in table["partition_keys"]] == ["period"]
    columns = {column["name"]: column["type"] for column in locals_()["findings_columns"]}
    assert columns["amount"] == "double"
    assert len(columns) == 16
    descriptor = table["storage_descriptor"][0]
    assert descriptor["ser_de_info"][0]["serialization_library"] == "org.openx.data.jsonserde.JsonSerDe"
    assert (
        render(descriptor["location"])
        == f"s3://{PipelineConfig().bucket}/{PipelineConfig().findings_prefix}/"
    )


def test_export_query_names_all_columns() -> None:
    assert locals_()["export_column_names"] == list(AWS_FOCUS_1_2_COLUMNS)
    export = resource("aws_bcmdataexports_export", "focus")
    assert export["count"] == "${var.create_export ? 1 : 0}"
    query = export["export"][0]["data_query"][0]["query_statement"]
    assert query.endswith("FROM FOCUS_1_2_AWS")
    output = export["export"][0]["destination_configurations"][0]["s3_destination"][0]
    assert output["s3_output_configurations"][0]["format"] == "PARQUET"


# --- Athena, S3, SNS, SQS -----------------------------------------------------------------------


def test_athena_workgroup_settings() -> None:
    configuration = resource("aws_athena_workgroup", "pipeline")["configuration"][0]
    assert configuration["enforce_workgroup_configuration"] is True
    assert configuration["publish_cloudwatch_metrics_enabled"] is True
    assert variables()["bytes_scanned_cutoff_per_query"]["default"] == 100 * 1024**3
    result = configuration["result_configuration"][0]
    assert result["output_location"] == "${local.athena_output}"
    assert render(locals_()["athena_output"]) == PipelineConfig().athena_output
    assert result["encryption_configuration"][0]["encryption_option"] == "SSE_KMS"


@pytest.mark.parametrize("bucket", ["exports", "pipeline"])
def test_bucket_hardening(bucket: str) -> None:
    access = resource("aws_s3_bucket_public_access_block", bucket)
    for setting in (
        "block_public_acls",
        "block_public_policy",
        "ignore_public_acls",
        "restrict_public_buckets",
    ):
        assert access[setting] is True, setting
    versioning = resource("aws_s3_bucket_versioning", bucket)
    assert versioning["versioning_configuration"][0]["status"] == "Enabled"
    encryption = resource("aws_s3_bucket_server_side_encryption_configuration", bucket)
    algorithm = encryption["rule"][0]["apply_server_side_encryption_by_default"][0]["sse_algorithm"]
    assert algorithm in ("aws:kms", "AES256")


def test_raw_deliveries_never_expire_by_default() -> None:
    assert variables()["raw_delivery_expiration_days"]["default"] == 0
    rules = resource("aws_s3_bucket_lifecycle_configuration", "exports")["rule"]
    raw = next(rule for rule in rules if rule["id"] == "raw-deliveries")
    assert "expiration" not in raw
    assert "var.raw_delivery_expiration_days > 0" in json.dumps(raw["dynamic"])


def test_pipeline_lifecycle_rules() -> None:
    rules = {
        rule["id"]: rule for rule in resource("aws_s3_bucket_lifecycle_configuration", "pipeline")["rule"]
    }
    assert "expiration" not in rules["staged-snapshots"]
    assert rules["staged-snapshots"]["filter"][0]["prefix"] == "${var.snapshots_prefix}/"
    assert rules["athena-results"]["expiration"][0]["days"] == "${var.athena_results_expiration_days}"


def test_manifest_notification_filters() -> None:
    queue = resource("aws_s3_bucket_notification", "manifests")["queue"][0]
    assert queue["filter_suffix"] == "-Manifest.json"
    assert queue["filter_prefix"] == "${local.manifests_prefix}"
    config = PipelineConfig()
    assert render(
        locals_()["manifests_prefix"].replace("${local.export_root}", locals_()["export_root"])
    ) == (f"{config.export_root}/metadata/")


def test_queue_policy_allows_only_export_bucket() -> None:
    statements = data_source("aws_iam_policy_document", "manifests_queue")["statement"]
    assert len(statements) == 1
    conditions = {condition["variable"]: condition for condition in statements[0]["condition"]}
    assert conditions["aws:SourceArn"]["values"] == ["${aws_s3_bucket.exports.arn}"]
    assert statements[0]["actions"] == ["sqs:SendMessage"]


def test_topic_encrypted() -> None:
    assert resource("aws_sns_topic", "alerts")["kms_master_key_id"] == "${aws_kms_key.pipeline.arn}"
    subscription = resource("aws_sns_topic_subscription", "email")
    assert subscription["count"] == '${var.alert_email == "" ? 0 : 1}'


# --- IAM ----------------------------------------------------------------------------------------

# Actions without resource-level permissions in IAM, so their resource must be "*".
UNRESTRICTABLE = {"glue:GetCrawlerMetrics", "cloudwatch:GetMetricStatistics", "cloudwatch:ListMetrics"}


def mwaa_statements() -> list[dict[str, Any]]:
    document = data_source("aws_iam_policy_document", "mwaa_pipeline")
    statements = list(document["statement"])
    for dynamic in document.get("dynamic", []):
        statements.append(dynamic["statement"]["content"][0])
    return statements


def test_mwaa_policy_has_no_wildcard_actions() -> None:
    for statement in mwaa_statements():
        for action in statement["actions"]:
            assert "*" not in action, f"statement {statement['sid']} allows {action}"


def test_mwaa_policy_wildcard_resources_only_where_required() -> None:
    for statement in mwaa_statements():
        if statement["resources"] == ["*"]:
            assert set(statement["actions"]) <= UNRESTRICTABLE, statement["sid"]


def test_mwaa_policy_covers_dag_calls() -> None:
    actions = {action for statement in mwaa_statements() for action in statement["actions"]}
    required = {
        "s3:ListBucket",
        "s3:GetObject",
        "s3:PutObject",
        "glue:StartCrawler",
        "glue:GetCrawler",
        "glue:UpdatePartition",
        "glue:BatchCreatePartition",
        "athena:StartQueryExecution",
        "athena:GetQueryExecution",
        "athena:GetQueryResults",
        "sns:Publish",
        "cloudwatch:GetMetricStatistics",
        "cloudwatch:ListMetrics",
        "sts:AssumeRole",
        "kms:GenerateDataKey",
        "kms:Decrypt",
    }
    assert required <= actions, f"missing actions: {sorted(required - actions)}"


def test_mwaa_policy_never_updates_crawler() -> None:
    actions = {action for statement in mwaa_statements() for action in statement["actions"]}
    assert "glue:UpdateCrawler" not in actions
    assert "glue:CreateCrawler" not in actions


# --- Emulator provisioning ----------------------------------------------------------------------


def provision_calls() -> dict[str, mock.MagicMock]:
    """Run focus_emulator.provision against mocked clients and return the client per service."""
    from focus_emulator import provision

    clients: dict[str, mock.MagicMock] = {}

    def fake_client(service: str, endpoint_url: str, region: str) -> mock.MagicMock:
        client = clients.setdefault(service, mock.MagicMock(name=service))
        client.list_work_groups.return_value = {"WorkGroups": []}
        client.create_topic.return_value = {"TopicArn": PipelineConfig().topic_arn}
        client.create_queue.return_value = {"QueueUrl": "http://127.0.0.1:5000/123456789012/queue"}
        client.get_queue_attributes.return_value = {
            "Attributes": {"QueueArn": "arn:aws:sqs:us-east-1:123456789012:queue"}
        }
        client.get_bucket_notification_configuration.return_value = {}
        return client

    with mock.patch.object(provision, "_client", fake_client):
        provision.provision("http://127.0.0.1:1")
    return clients


@pytest.mark.skipif(
    importlib.util.find_spec("focus_emulator.provision") is None,
    reason="focus_emulator.provision does not exist yet",
)
def test_emulator_provision_matches_terraform() -> None:
    clients = provision_calls()
    crawler = clients["glue"].create_crawler.call_args.kwargs
    terraform_crawler = resource("aws_glue_crawler", "snapshots")

    assert json.loads(crawler["Configuration"]) == CRAWLER_CONFIGURATION
    assert crawler["SchemaChangePolicy"] == {
        "UpdateBehavior": terraform_crawler["schema_change_policy"][0]["update_behavior"],
        "DeleteBehavior": terraform_crawler["schema_change_policy"][0]["delete_behavior"],
    }
    target = crawler["Targets"]["S3Targets"][0]
    assert target["Path"] == render(terraform_crawler["s3_target"][0]["path"])
    assert set(target["Exclusions"]) <= set(terraform_crawler["s3_target"][0]["exclusions"])
    assert crawler["TablePrefix"] + PipelineConfig().snapshots_prefix.rsplit("/", 1)[-1] == "focus_snapshots"

    tables = {
        call.kwargs["TableInput"]["Name"]: call.kwargs["TableInput"]
        for call in clients["glue"].create_table.call_args_list
    }
    current = tables[PipelineConfig().current_table]
    current_columns = [
        {"name": c["Name"], "type": c["Type"]} for c in current["StorageDescriptor"]["Columns"]
    ]
    assert current_columns == locals_()["focus_columns"]
    assert [key["Name"] for key in current["PartitionKeys"]] == ["billing_period"]
    table = resource("aws_glue_catalog_table", "current")
    assert current["StorageDescriptor"]["Location"] == render(table["storage_descriptor"][0]["location"])

    findings = tables[PipelineConfig().findings_table]
    findings_columns = [
        {"name": c["Name"], "type": c["Type"]} for c in findings["StorageDescriptor"]["Columns"]
    ]
    assert findings_columns == locals_()["findings_columns"]
    assert [key["Name"] for key in findings["PartitionKeys"]] == ["period"]

    workgroup = clients["athena"].create_work_group.call_args.kwargs
    assert workgroup["Name"] == PipelineConfig().workgroup
    assert workgroup["Configuration"]["EnforceWorkGroupConfiguration"] is True
    assert (
        workgroup["Configuration"]["ResultConfiguration"]["OutputLocation"] == PipelineConfig().athena_output
    )
