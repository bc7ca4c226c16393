"""Names and settings of the pipeline's AWS resources, with defaults and Airflow Variable overrides.

Every name the DAGs use comes from here: from one JSON Airflow Variable ``focus_pipeline_config``
when it is set, otherwise from the defaults below (which match the local emulator's provisioning
and the Terraform defaults). Nothing is read at DAG parse time.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

CONFIG_VARIABLE = "focus_pipeline_config"
AWS_CONN_ID = "aws_default"


@dataclass(frozen=True)
class Thresholds:
    """Detection thresholds; SQL files receive them as ``params.thresholds``."""

    # new_region: the usage in the window that counts as "any" (USD).
    new_region_min_cost: float = 0.0
    new_region_lookback_days: int = 90
    new_service_lookback_days: int = 30
    # new_service: 'account' flags a service new to one account, 'organization' one new to all accounts.
    new_service_scope: str = "account"
    # egress_spike: egress/compute ratio above which a day is suspicious, the factor over the
    # account's trailing median ratio, and the minimum egress cost of the day (USD).
    egress_ratio: float = 1.0
    egress_baseline_factor: float = 3.0
    egress_baseline_days: int = 14
    egress_min_cost: float = 50.0
    # orphaned_search_ocu: days without Bedrock spend and minimum OCU cost in that window (USD).
    ocu_lookback_days: int = 7
    ocu_min_cost: float = 1.0
    # idle_sagemaker_endpoint: window of hosting hours to check against CloudWatch Invocations.
    sagemaker_lookback_days: int = 7
    sagemaker_min_cost: float = 1.0
    # commitment_drift: utilisation below this ratio alerts, and so does a drop of more than
    # this many percentage points against the previous billing period.
    commitment_min_utilization: float = 0.8
    commitment_max_drop: float = 0.1
    # Purchase rows and amortised cost may differ by this share before they "do not reconcile".
    commitment_reconcile_tolerance: float = 0.02


@dataclass(frozen=True)
class PipelineConfig:
    """Export location, snapshot location, and the names of the catalog, query engine and topic."""

    aws_conn_id: str = AWS_CONN_ID
    region_name: str = "us-east-1"
    # AWS Data Exports location: s3://<export_bucket>/<export_prefix>/<export_name>/data/...
    export_bucket: str = "focus-billing-exports"
    export_prefix: str = "exports"
    export_name: str = "focus-export"
    # Pipeline bucket for staged snapshots, findings, validation results and Athena results.
    bucket: str = "focus-billing-pipeline"
    snapshots_prefix: str = "focus/snapshots"
    findings_prefix: str = "findings"
    deliveries_prefix: str = "deliveries"
    validation_prefix: str = "validation"
    database: str = "focus_billing"
    snapshots_table: str = "focus_snapshots"
    current_table: str = "focus_current"
    findings_table: str = "findings"
    crawler_name: str = "focus-snapshots"
    workgroup: str = "focus-pipeline"
    topic_arn: str = "arn:aws:sns:us-east-1:123456789012:focus-alerts"
    # s3:// location for Athena query results. None lets the workgroup's own result location
    # apply; the pipeline fails before its first query when neither gives one.
    athena_output_location: str | None = None
    # Seconds between status checks of Athena queries (validation, normalisation). Athena takes
    # seconds per query; the local emulator replies in milliseconds, so its runs set this lower.
    poll_seconds: float = 1.0
    # Keep sensing the previous billing period until this day of the month (AWS restates a
    # closed month for about two weeks).
    previous_period_until_day: int = 15
    # A later delivery may shrink row count or total cost by this share before it is held back.
    regression_tolerance: float = 0.02
    # Hours a manifest may wait for its data files before the sensor fails and alerts.
    incomplete_delivery_hours: float = 6.0
    # Runs that may fail on one delivery before it is marked failed and the next one is taken.
    max_attempts: int = 3
    # Send alerts for findings of backfill runs only when true.
    alert_on_backfill: bool = False
    # Role to assume per member account for CloudWatch reads: {"<account id>": "<role arn>"}.
    member_account_roles: dict[str, str] = field(default_factory=dict)
    # "period": focus_current only (one partition per billing period). "period_account" also keeps
    # current_by_account_table, partitioned by billing period and SubAccountId, for queries that
    # read a few accounts. See focus_pipeline.layout.
    current_layout: str = "period"
    current_by_account_table: str = "focus_current_by_account"
    # Key prefix in the pipeline bucket of the period_account copies (outside the crawled folder).
    by_account_prefix: str = "focus/by_account"
    thresholds: Thresholds = field(default_factory=Thresholds)

    @property
    def export_root(self) -> str:
        """Key prefix of the export (without bucket), ending without a slash."""
        return "/".join(part for part in (self.export_prefix.strip("/"), self.export_name) if part)

    @property
    def athena_output(self) -> str:
        """Result location for clients that need one (PyAthena's staging dir): the configured one,
        else ``athena-results/`` in the pipeline bucket. An enforcing workgroup overrides either."""
        return self.athena_output_location or f"s3://{self.bucket}/athena-results/"

    @classmethod
    def from_mapping(cls, values: dict[str, Any]) -> PipelineConfig:
        """Build a config from a mapping, rejecting unknown keys by name."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(
                f"Unknown keys in the {CONFIG_VARIABLE} Variable: {', '.join(unknown)}. "
                f"Valid keys: {', '.join(sorted(known))}."
            )
        values = dict(values)
        if "thresholds" in values and isinstance(values["thresholds"], dict):
            threshold_names = {f.name for f in dataclasses.fields(Thresholds)}
            bad = sorted(set(values["thresholds"]) - threshold_names)
            if bad:
                raise ValueError(
                    f"Unknown thresholds in the {CONFIG_VARIABLE} Variable: {', '.join(bad)}. "
                    f"Valid thresholds: {', '.join(sorted(threshold_names))}."
                )
            values["thresholds"] = Thresholds(**values["thresholds"])
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def load_config() -> PipelineConfig:
    """Read the pipeline configuration from the Airflow Variable, falling back to the defaults.

    Call this inside a task, never at module level: it reads the metadata database.
    """
    from airflow.sdk import Variable

    raw = Variable.get(CONFIG_VARIABLE, default=None)
    if raw is None:
        return PipelineConfig()
    try:
        values = json.loads(raw) if isinstance(raw, str) else raw
    except json.JSONDecodeError as err:
        raise ValueError(
            f"The {CONFIG_VARIABLE} Variable is not valid JSON ({err}); fix it or delete it to "
            "use the defaults."
        ) from err
    return PipelineConfig.from_mapping(values)
