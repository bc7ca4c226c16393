"""The work of each task of the delivery and cost DAGs, kept here so the DAG files stay readable
and each step can be tested without a scheduler.

Every function takes the resolved ``PipelineConfig`` and builds its hooks from
``config.aws_conn_id``, so the same code runs on MWAA and against the local emulator.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from focus_pipeline import delivery_log, exports, findings, promotion, staging
from focus_pipeline.config import PipelineConfig

log = logging.getLogger(__name__)


# Written into a snapshot folder once Athena has normalised a delivery into it completely.
NORMALISED_MARKER = "_normalised"


class DeliveryFailedError(RuntimeError):
    """A delivery failed ``max_attempts`` runs in a row and was marked failed."""


class NoOutputLocationError(RuntimeError):
    """Neither the Athena workgroup nor the pipeline configuration gives a query result location."""


def s3_hook(config: PipelineConfig) -> Any:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    return S3Hook(aws_conn_id=config.aws_conn_id, region_name=config.region_name)


def client(config: PipelineConfig, service: str) -> Any:
    """Return a boto3 client of the configured connection, with its endpoint_url."""
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    return AwsBaseHook(
        aws_conn_id=config.aws_conn_id, client_type=service, region_name=config.region_name
    ).conn


# Sense and select -----------------------------------------------------------------------------


def scan_for_deliveries(
    config: PipelineConfig, now: datetime, reprocess: str | None = None
) -> exports.Readiness:
    """Scan the export location for complete deliveries not yet processed, in the periods in scope.

    :param reprocess: execution id of a held-back or failed delivery to offer again (run conf
        ``accept_regression`` or ``retry_delivery``).
    """
    import dataclasses

    hook = s3_hook(config)
    periods = exports.periods_in_scope(now, config.previous_period_until_day)
    records = delivery_log.list_records(hook, config, periods)
    processed = delivery_log.processed_execution_ids(hook, config, periods, records)
    if reprocess:
        processed.discard(reprocess)
    readiness = exports.scan_export(
        hook,
        bucket=config.export_bucket,
        export_root=config.export_root,
        periods=periods,
        processed_execution_ids=processed,
    )
    # A delivery seen before keeps the delivery id it was staged under, even if its manifest object
    # was written again since (a replication re-sync changes LastModified, not the delivery).
    first_seen = {record["execution_id"]: record.get("manifest_last_modified") for record in records}
    readiness.ready = [
        dataclasses.replace(manifest, last_modified=first_seen[manifest.execution_id])
        if first_seen.get(manifest.execution_id)
        else manifest
        for manifest in readiness.ready
    ]
    log.info(
        "Billing periods %s: %d ready, %d waiting, %d already processed",
        ", ".join(periods),
        len(readiness.ready),
        len(readiness.waiting),
        len(readiness.processed),
    )
    return readiness


# Stage ----------------------------------------------------------------------------------------


def stage(config: PipelineConfig, manifest: exports.Manifest, retry: bool = False) -> dict[str, Any]:
    """Stage a delivery, normalising it in Athena first when its files are not canonical FOCUS 1.2.

    Returns what later tasks need: the manifest, the staged snapshot files, and the raw files of a
    normalised delivery. Each call counts an attempt; past ``max_attempts`` the delivery is marked
    failed, unless ``retry`` (an operator's rerun) starts the count again.
    """
    from focus_pipeline import normalise, validation

    hook = s3_hook(config)
    started = datetime.now(UTC)
    previous = delivery_log.read_record(hook, config, manifest.billing_period, manifest.execution_id) or {}
    attempts = 1 if retry else int(previous.get("attempts", 0)) + 1
    if attempts > config.max_attempts:
        delivery_log.update_record(
            hook, config, manifest.billing_period, manifest.execution_id, status=delivery_log.FAILED
        )
        raise DeliveryFailedError(
            f"Delivery {manifest.execution_id} of {manifest.billing_period} failed {attempts - 1} runs in a "
            "row; it is marked failed so later deliveries go ahead. Fix the cause, then rerun with the run "
            f'conf {{"retry_delivery": "{manifest.execution_id}"}}.'
        )
    delivery_log.update_record(
        hook, config, manifest.billing_period, manifest.execution_id, attempts=attempts
    )
    access = validation.resolve_aws_access(config)
    filesystem = validation.footer_filesystem(access)
    sources = [exports.parse_s3_uri(uri) for uri in manifest.data_files]
    schema, rows, _ = validation.read_file_schemas([f"{b}/{k}" for b, k in sources], filesystem)
    reasons = normalise.needs_normalisation(schema) if schema else []
    snapshot_prefix = staging.snapshot_prefix(config, manifest.billing_period, manifest.delivery_id)

    raw_files: list[dict[str, Any]] | None = None
    if reasons:
        log.info("Delivery %s needs normalisation: %s", manifest.execution_id, "; ".join(reasons))
        raw_prefix = staging.raw_prefix(config, manifest.billing_period, manifest.delivery_id)
        raw = staging.stage_delivery(hook, config, manifest, prefix=raw_prefix)
        raw_files = [{"key": item.key, "size": item.size} for item in raw]
        # The crawler skips objects whose name starts with "_", so the marker never becomes data.
        marker = snapshot_prefix + NORMALISED_MARKER
        existing = hook.list_keys(config.bucket, prefix=snapshot_prefix) or []
        if existing and marker not in existing:
            raise staging.StagingError(
                f"Snapshot folder s3://{config.bucket}/{snapshot_prefix} contains the output of an "
                "interrupted normalisation. Delete that folder, then rerun with the run conf "
                f'{{"retry_delivery": "{manifest.execution_id}"}}; the raw files are kept.'
            )
        if not existing:
            normalise.normalise_delivery(
                config=config,
                file_schema=schema,
                source_location=f"s3://{config.bucket}/{raw_prefix}",
                target_location=f"s3://{config.bucket}/{snapshot_prefix}",
                delivery=manifest.delivery_id,
                poll_interval=config.poll_seconds,
            )
            hook.load_string(datetime.now(UTC).isoformat(), marker, config.bucket, replace=True)
        staged_files = [
            {"key": key, "size": hook.head_object(key, config.bucket)["ContentLength"]}
            for key in hook.list_keys(config.bucket, prefix=snapshot_prefix) or []
            if key != marker
        ]
    else:
        staged = staging.stage_delivery(hook, config, manifest)
        staged_files = [{"key": item.key, "size": item.size} for item in staged]

    record = delivery_log.update_record(
        hook,
        config,
        manifest.billing_period,
        manifest.execution_id,
        status=delivery_log.STAGED,
        delivery_id=manifest.delivery_id,
        manifest_key=manifest.key,
        manifest_last_modified=manifest.last_modified,
        files=staged_files,
        raw_files=raw_files,
        bytes=sum(item["size"] for item in staged_files),
        footer_rows=rows,
        normalised=reasons,
        staged_at=datetime.now(UTC).isoformat(),
        staging_seconds=round((datetime.now(UTC) - started).total_seconds(), 3),
    )
    log.info(
        "Staged delivery %s of %s: %d files, %d rows",
        manifest.execution_id,
        manifest.billing_period,
        len(staged_files),
        rows,
    )
    return {
        "manifest": manifest.to_dict(),
        "staged_files": staged_files,
        "raw_files": raw_files,
        "record": record,
    }


# Validate, promote, quarantine ----------------------------------------------------------------


def validate(
    config: PipelineConfig, staged: dict[str, Any], accept_regression: bool = False
) -> dict[str, Any]:
    """Validate a staged delivery; with ``accept_regression`` it is not compared with the current
    snapshot (an operator confirmed that a shrinking restatement is right)."""
    from focus_pipeline import validation

    manifest = exports.Manifest.from_dict(staged["manifest"])
    current = promotion.current_snapshot(client(config, "glue"), config, manifest.billing_period)
    report = validation.validate_delivery(
        config=config,
        billing_period=manifest.billing_period,
        delivery=manifest.delivery_id,
        execution_id=manifest.execution_id,
        staged_files=staged["staged_files"],
        manifest_files=list(manifest.data_files),
        current=None
        if accept_regression or not current or current["delivery_id"] == manifest.delivery_id
        else current,
        raw_files=staged["raw_files"],
        poll_interval=config.poll_seconds,
    )
    delivery_log.update_record(
        s3_hook(config),
        config,
        manifest.billing_period,
        manifest.execution_id,
        validation=report.outcome,
        validation_uri=report.result_uri,
        rows=report.stats.get("rows"),
        billed_cost=report.stats.get("billed_cost"),
        warnings=report.warnings,
    )
    return report.to_dict()


def promote(config: PipelineConfig, staged: dict[str, Any], report: dict[str, Any]) -> dict[str, Any]:
    """Point focus_current at the validated snapshot and mark the delivery promoted."""
    manifest = exports.Manifest.from_dict(staged["manifest"])
    action = promotion.promote_snapshot(
        client(config, "glue"),
        config,
        billing_period=manifest.billing_period,
        location=staging.snapshot_location(config, manifest.billing_period, manifest.delivery_id),
        delivery_id=manifest.delivery_id,
        execution_id=manifest.execution_id,
        stats=report["stats"],
    )
    if action == "superseded":
        delivery_log.update_record(
            s3_hook(config),
            config,
            manifest.billing_period,
            manifest.execution_id,
            status=delivery_log.SUPERSEDED,
        )
        return {
            "billing_period": manifest.billing_period,
            "delivery_id": manifest.delivery_id,
            "action": action,
        }
    promote_period_account(config, manifest)
    delivery_log.update_record(
        s3_hook(config),
        config,
        manifest.billing_period,
        manifest.execution_id,
        status=delivery_log.PROMOTED,
        promoted_at=datetime.now(UTC).isoformat(),
    )
    return {"billing_period": manifest.billing_period, "delivery_id": manifest.delivery_id, "action": action}


def promote_period_account(config: PipelineConfig, manifest: exports.Manifest) -> None:
    """With ``current_layout`` "period_account", copy the snapshot by account in Athena and swap the
    period's partitions of the by-account table; with "period", do nothing."""
    from focus_pipeline import layout

    if layout.check_layout(config) != layout.PERIOD_ACCOUNT:
        return
    glue = client(config, "glue")
    accounts = layout.repartition_snapshot(
        config,
        athena_client=client(config, "athena"),
        s3_client=client(config, "s3"),
        glue_client=glue,
        billing_period=manifest.billing_period,
        delivery_id=manifest.delivery_id,
    )
    layout.promote_by_account(
        glue,
        config,
        billing_period=manifest.billing_period,
        delivery_id=manifest.delivery_id,
        accounts=accounts,
    )


def quarantine(config: PipelineConfig, staged: dict[str, Any], report: dict[str, Any]) -> dict[str, Any]:
    """Build the alert of a failed or regressed delivery, which stays staged and unpromoted.

    The delivery's terminal status (quarantined or held back) is written by the publish task once
    the alert is out, so a failed publish leaves the delivery to be handled, and alerted, again.
    """
    from focus_pipeline.validation import ValidationReport

    manifest = exports.Manifest.from_dict(staged["manifest"])
    outcome = report["outcome"]
    status = delivery_log.REGRESSED if outcome == "regressed" else delivery_log.QUARANTINED
    summary = ValidationReport.from_dict(report).summary()
    log.warning("Delivery %s of %s %s: %s", manifest.execution_id, manifest.billing_period, status, summary)
    request = findings.delivery_alert(
        config=config,
        billing_period=manifest.billing_period,
        execution_id=manifest.execution_id,
        outcome=status,
        summary=summary,
        severity="high" if status == delivery_log.QUARANTINED else "medium",
    )
    if status == delivery_log.REGRESSED:
        request["message"] += (
            "\nIf the restatement is right, promote it with the run conf "
            f'{{"accept_regression": "{manifest.execution_id}"}}.\n'
        )
    request["delivery_status"] = {
        "billing_period": manifest.billing_period,
        "execution_id": manifest.execution_id,
        "status": status,
    }
    return request


def drift_alert(config: PipelineConfig, staged: dict[str, Any], report: dict[str, Any]) -> dict | None:
    """Build the warning alert of a promoted delivery whose columns drifted, or None."""
    from focus_pipeline.validation import ValidationReport

    drift = [
        warning for warning in report.get("warnings", []) if "drift" in warning or "normalised" in warning
    ]
    if not drift or not report.get("success"):
        return None
    manifest = exports.Manifest.from_dict(staged["manifest"])
    # The first summary line carries the totals, or "no charges yet" for an empty delivery.
    head = ValidationReport.from_dict(report).summary().splitlines()[0]
    return findings.delivery_alert(
        config=config,
        billing_period=manifest.billing_period,
        execution_id=manifest.execution_id,
        outcome="drift",
        summary=head + "\nSchema drift (not blocking):\n" + "\n".join(f"- {warning}" for warning in drift),
        severity="low",
    )


# Detections -----------------------------------------------------------------------------------


def check_output_location(config: PipelineConfig) -> None:
    """Fail before any query when no result location is configured anywhere."""
    workgroup = client(config, "athena").get_work_group(WorkGroup=config.workgroup)["WorkGroup"]
    configured = workgroup.get("Configuration", {}).get("ResultConfiguration", {}).get("OutputLocation")
    if not configured and not config.athena_output_location:
        raise NoOutputLocationError(
            f"Athena workgroup {config.workgroup} has no query result location and the pipeline "
            "configuration gives none. Set the workgroup's output location, or "
            "'athena_output_location' in the focus_pipeline_config Variable."
        )


def plan_detections(
    config: PipelineConfig, *, workload: str, billing_periods: list[str], as_of: datetime
) -> list[dict[str, Any]]:
    """Render every detection of a workload for each billing period, skipping those that cannot run.

    Returns one entry per query to run: its SQL and what is needed to record its findings. A
    detection whose required column is absent from focus_current is logged and recorded as
    "not evaluated: <column> absent", never run as if it found nothing.
    """
    from focus_pipeline import detections

    check_output_location(config)
    glue = client(config, "glue")
    table = glue.get_table(DatabaseName=config.database, Name=config.current_table)["Table"]
    catalog_columns = {c["Name"].lower() for c in table["StorageDescriptor"]["Columns"]}
    promoted = promotion.list_current(glue, config)
    earliest = min(promoted) if promoted else None
    plan = []
    for detection in detections.load_detections(workload=workload):
        missing = detections.missing_columns(detection, catalog_columns)
        for period in billing_periods:
            if missing:
                log.warning("Detection %s for %s not evaluated: %s absent", detection.id, period, missing[0])
                plan.append(
                    {
                        "detection_id": detection.id,
                        "billing_period": period,
                        "not_evaluated": f"not evaluated: {missing[0]} absent",
                    }
                )
                continue
            params = detections.detection_params(
                detection,
                billing_period=period,
                as_of=as_of,
                thresholds=config.thresholds,
                database=config.database,
                table=config.current_table,
            )
            baseline = earliest is None or detections.is_baseline(
                detection,
                earliest,
                params["window_start"],
                lookback=detections.lookback_days(detection, config.thresholds),
            )
            plan.append(
                {
                    "detection_id": detection.id,
                    "billing_period": period,
                    "query": detections.render_sql(detection, params),
                    "baseline": baseline,
                    "window_start": params["window_start"],
                    "window_end": params["window_end"],
                    "lookback_start": params["lookback_start"],
                }
            )
    return plan


def query_rows(config: PipelineConfig, query_execution_id: str) -> list[dict[str, Any]]:
    """Read every result row of an Athena query (Athena returns strings; the header row is dropped)."""
    from airflow.providers.amazon.aws.hooks.athena import AthenaHook

    hook = AthenaHook(aws_conn_id=config.aws_conn_id, region_name=config.region_name)
    rows: list[dict[str, Any]] = []
    columns: list[str] | None = None
    for page in hook.get_query_results_paginator(query_execution_id):
        if columns is None:
            columns = [info["Name"] for info in page["ResultSet"]["ResultSetMetadata"]["ColumnInfo"]]
        page_rows = page["ResultSet"]["Rows"]
        if not rows and page_rows and [v.get("VarCharValue") for v in page_rows[0]["Data"]] == columns:
            page_rows = page_rows[1:]
        for row in page_rows:
            rows.append(
                {name: cell.get("VarCharValue") for name, cell in zip(columns, row["Data"], strict=True)}
            )
    return rows


IDLE_ENDPOINT_DETECTION = "idle_sagemaker_endpoint"


def cross_check_endpoints(
    config: PipelineConfig, rows: list[dict[str, Any]], entry: dict[str, Any]
) -> list[dict[str, Any]]:
    """Keep the endpoint candidates that CloudWatch shows idle or cannot confirm.

    Billing shows hosting hours but not invocations, so each candidate's ``Invocations`` over the
    same window decides: busy endpoints are dropped, idle ones stay, and endpoints whose metrics
    could not be read stay as ``unverified`` (recorded in their evidence), never plainly idle.
    """
    from focus_pipeline import cloudwatch

    checked = cloudwatch.check_endpoint_invocations(
        rows,
        aws_conn_id=config.aws_conn_id,
        window_start=entry["lookback_start"],
        window_end=entry["window_end"],
        member_account_roles=config.member_account_roles,
    )
    kept = [row for row in checked if row["status"] != cloudwatch.BUSY]
    log.info(
        "CloudWatch check of %d endpoint candidates: %d idle, %d unverified, %d busy",
        len(checked),
        sum(row["status"] == cloudwatch.IDLE for row in checked),
        sum(row["status"] == cloudwatch.UNVERIFIED for row in checked),
        len(checked) - len(kept),
    )
    return kept


def collect_findings(
    config: PipelineConfig,
    *,
    plan: list[dict[str, Any]],
    query_execution_ids: list[str],
    run_key: str,
    execution_id: str,
) -> dict[str, Any]:
    """Read each detection's results, fingerprint them and append them to the findings log."""
    from focus_pipeline import detections

    by_id = {detection.id: detection for detection in detections.load_detections()}
    runnable = [entry for entry in plan if "query" in entry]
    if len(runnable) != len(query_execution_ids):
        raise RuntimeError(
            f"{len(runnable)} detection queries were planned but {len(query_execution_ids)} ran; "
            "rerun the DAG run to evaluate every detection."
        )
    recorded: list[dict[str, Any]] = []
    summary = []
    for entry, query_id in zip(runnable, query_execution_ids, strict=True):
        detection = by_id[entry["detection_id"]]
        rows = query_rows(config, query_id)
        if detection.id == IDLE_ENDPOINT_DETECTION and rows:
            rows = cross_check_endpoints(config, rows, entry)
        status = findings.BASELINE if entry["baseline"] else findings.NEW
        batch = findings.rows_to_findings(rows, detection=detection, status=status, execution_id=execution_id)
        log.info(
            "Detection %s for %s: %d findings (%s, query %s)",
            detection.id,
            entry["billing_period"],
            len(batch),
            status,
            query_id,
        )
        summary.append(
            {
                "detection_id": detection.id,
                "billing_period": entry["billing_period"],
                "findings": len(batch),
                "status": status,
                "query_execution_id": query_id,
            }
        )
        recorded.extend(batch)
    for entry in plan:
        if "not_evaluated" in entry:
            summary.append(
                {
                    "detection_id": entry["detection_id"],
                    "billing_period": entry["billing_period"],
                    "findings": None,
                    "status": entry["not_evaluated"],
                }
            )
    if recorded:
        findings.write_findings(s3_hook(config), client(config, "glue"), config, recorded, run_key)
    return {"findings": recorded, "summary": summary}


def prepare_alerts(
    config: PipelineConfig,
    *,
    recorded: list[dict[str, Any]],
    delivery_alerts: list[dict[str, Any]],
    alerts_enabled: bool,
    context_line: str,
    not_evaluated: list[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Return the SNS publish requests of this run: delivery alerts, then one per detection with
    findings not alerted before in their billing period, then one per detection that could not
    run for a missing column (once per billing period, like a finding).

    Delivery alerts (quarantine, hold-back, drift) always go out. Finding alerts of a backfill run
    go out only when ``alerts_enabled``; the findings are recorded either way.
    """
    requests = list(delivery_alerts)
    if alerts_enabled:
        unalerted = findings.select_unalerted(s3_hook(config), config, recorded)
        by_fingerprint = {finding["fingerprint"]: finding for finding in unalerted}
        for request in findings.build_messages(unalerted, config=config, context_line=context_line):
            request["findings"] = [by_fingerprint[fp] for fp in request["fingerprints"]]
            requests.append(request)
        skipped = [findings.not_evaluated_marker(entry) for entry in not_evaluated or []]
        for marker in findings.select_unalerted(s3_hook(config), config, skipped):
            requests.append(findings.not_evaluated_alert(marker, config=config))
        log.info("Prepared %d alerts (%d new findings)", len(requests), len(unalerted))
    else:
        log.info("Finding alerts are off for this run (backfill); %d findings recorded only", len(recorded))
    return requests


def publish_kwargs(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Keep the arguments PublishAlertOperator takes: the SNS fields, the findings to mark as
    alerted, and the delivery status to write once the alert is out."""
    names = (
        "message",
        "subject",
        "message_attributes",
        "message_deduplication_id",
        "message_group_id",
        "findings",
        "delivery_status",
    )
    return [{name: request[name] for name in names if name in request} for request in requests]
