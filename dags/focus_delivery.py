"""
### FOCUS delivery pipeline

Turns each AWS Data Exports delivery (FOCUS 1.2, Parquet) into the billing period's new current
snapshot and the security findings it reveals, or into a quarantined delivery and an alert that
gives the reason. Each delivery is a full snapshot of its billing period, so promotion replaces
the period in `focus_current`, which has one snapshot per period and so never sums two.

Steps: wait for a manifest whose executionId is new, stage exactly its data files into an immutable
snapshot folder, crawl, validate with Great Expectations in Athena, promote (one Glue call) or
quarantine, run the security detections, record findings, and alert each fingerprint once per
billing period.

* **Schedule:** hourly, and on each new manifest's S3 event when `FOCUS_MANIFEST_QUEUE_URL` names
  the SQS queue that receives them; each run handles the oldest complete unprocessed delivery of the current
  billing period (and of the previous one until the 15th). A quiet hour ends with the sensor skipped.
* **Connection:** `aws_default` (set `endpoint_url` in its extra only for the local emulator).
* **Variable:** `focus_pipeline_config` (JSON, optional): resource names and thresholds.
* **Backfill:** `airflow backfill create --dag-id focus_delivery --from-date ... --to-date ...`;
  backfill runs record findings but alert only when `alert_on_backfill` is true.
* **IAM actions:** listed per task in `docs/deployment.md`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from airflow.providers.amazon.aws.operators.athena import AthenaOperator
from airflow.providers.amazon.aws.operators.glue_crawler import GlueCrawlerRunOperator
from airflow.sdk import DAG, Asset, chain, get_current_context, task
from airflow.timetables.assets import AssetOrTimeSchedule
from airflow.timetables.trigger import CronTriggerTimetable

from focus_pipeline.airflow_support import (
    DeliveryManifestSensor,
    PublishAlertOperator,
    alert_on_failure,
    alerts_enabled,
    mapped_results,
    not_evaluated_entries,
    render_config,
    run_conf,
    run_time,
)
from focus_pipeline.config import AWS_CONN_ID
from focus_pipeline.events import manifest_event_asset, manifest_queue_url

DAG_ID = "focus_delivery"
FOCUS_CURRENT = Asset("focus_current", uri="focus://focus_current")
HOURLY = CronTriggerTimetable("0 * * * *", timezone="UTC")
# Parse-time setting: the environment or Airflow configuration, never the Variable (a Variable
# read here would query the metadata database on every parse). None keeps the hourly schedule only.
MANIFEST_QUEUE_URL = manifest_queue_url()
SCHEDULE = (
    AssetOrTimeSchedule(timetable=HOURLY, assets=manifest_event_asset(MANIFEST_QUEUE_URL, AWS_CONN_ID))
    if MANIFEST_QUEUE_URL
    else HOURLY
)

with DAG(
    dag_id=DAG_ID,
    doc_md=__doc__,
    schedule=SCHEDULE,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["focus", "finops", "security"],
    user_defined_macros={"focus_config": render_config},
    default_args={
        "owner": "finops",
        "retries": 2,
        "retry_delay": timedelta(minutes=2),
        "on_failure_callback": alert_on_failure,
    },
) as dag:
    # Sense: a manifest of a billing period in scope whose executionId is new and whose data files
    # are all there. Timing out means a quiet period: the sensor is skipped, and so is the rest.
    wait_for_delivery = DeliveryManifestSensor(
        task_id="wait_for_delivery",
        bucket_name="{{ focus_config().export_bucket }}",
        bucket_key="{{ focus_config().export_root }}/metadata/*/*-Manifest.json",
        aws_conn_id="{{ focus_config().aws_conn_id }}",
        poke_interval=300,
        timeout=55 * 60,
        mode="reschedule",
    )

    @task
    def select_delivery() -> dict[str, Any]:
        """Pick the oldest complete delivery that no run has handled yet.

        The run conf ``{"accept_regression": "<executionId>"}`` offers a held-back delivery again
        and promotes it without the comparison; ``{"retry_delivery": "<executionId>"}`` offers a
        delivery marked failed again.
        """
        from airflow.sdk.exceptions import AirflowSkipException

        from focus_pipeline import pipeline

        config = render_config()
        # Fail on a missing query result location before staging or validation sends any query.
        pipeline.check_output_location(config)
        conf = run_conf(get_current_context())
        reprocess = conf.get("accept_regression") or conf.get("retry_delivery")
        readiness = pipeline.scan_for_deliveries(config, run_time(get_current_context()), reprocess)
        if not readiness.ready and readiness.invalid:
            key, reason = next(iter(readiness.invalid.items()))
            raise ValueError(f"Manifest s3://{config.export_bucket}/{key} cannot be used: {reason}")
        if not readiness.ready:
            raise AirflowSkipException("No new delivery.")
        return readiness.ready[0].to_dict()

    @task
    def stage_delivery(manifest: dict[str, Any]) -> dict[str, Any]:
        from focus_pipeline import pipeline
        from focus_pipeline.exports import Manifest

        retry = run_conf(get_current_context()).get("retry_delivery") == manifest["execution_id"]
        return pipeline.stage(render_config(), Manifest.from_dict(manifest), retry=retry)

    # The crawler is defined in Terraform; this task only starts it, or waits for a crawl that its
    # own schedule already started, and never changes its configuration.
    crawl_snapshots = GlueCrawlerRunOperator(
        task_id="crawl_snapshots",
        crawler_name="{{ focus_config().crawler_name }}",
        aws_conn_id="{{ focus_config().aws_conn_id }}",
        fail_on_already_running=False,
        wait_for_completion=True,
        poll_interval=5,
    )

    @task
    def validate_snapshot(staged: dict[str, Any]) -> dict[str, Any]:
        from focus_pipeline import pipeline

        accepted = run_conf(get_current_context()).get("accept_regression")
        return pipeline.validate(
            render_config(), staged, accept_regression=accepted == staged["manifest"]["execution_id"]
        )

    @task(outlets=[FOCUS_CURRENT])
    def promote_snapshot(staged: dict[str, Any], report: dict[str, Any]) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowSkipException

        from focus_pipeline import pipeline

        if not report["success"]:
            raise AirflowSkipException(f"Validation {report['outcome']}: not promoted.")
        return pipeline.promote(render_config(), staged, report)

    @task
    def quarantine_delivery(staged: dict[str, Any], report: dict[str, Any]) -> list[dict[str, Any]]:
        """Return the delivery alerts: quarantine or hold-back, or drift on a promoted delivery."""
        from focus_pipeline import pipeline

        config = render_config()
        if not report["success"]:
            return [pipeline.quarantine(config, staged, report)]
        drift = pipeline.drift_alert(config, staged, report)
        return [drift] if drift else []

    @task(trigger_rule="none_failed_min_one_success")
    def plan_security_detections(staged: dict[str, Any], report: dict[str, Any]) -> list[dict[str, Any]]:
        from focus_pipeline import pipeline
        from focus_pipeline.detections import period_start

        if not report["success"]:
            return []
        period = staged["manifest"]["billing_period"]
        month_end = period_start(period) + timedelta(days=32)
        as_of = month_end.replace(day=1)
        return pipeline.plan_detections(
            render_config(), workload="security", billing_periods=[period], as_of=as_of
        )

    @task
    def list_security_queries(plan: list[dict[str, Any]]) -> list[dict[str, str]]:
        return [{"query": entry["query"]} for entry in plan if "query" in entry]

    @task(trigger_rule="none_failed_min_one_success")
    def record_findings(
        staged: dict[str, Any], plan: list[dict[str, Any]], query_execution_ids: list[str] | None
    ) -> dict[str, Any]:
        from focus_pipeline import pipeline

        manifest = staged["manifest"]
        return pipeline.collect_findings(
            render_config(),
            plan=plan,
            query_execution_ids=mapped_results(query_execution_ids),
            run_key=manifest["delivery_id"],
            execution_id=manifest["execution_id"],
        )

    @task(trigger_rule="none_failed_min_one_success")
    def prepare_notifications(
        staged: dict[str, Any], recorded: dict[str, Any] | None, delivery_alerts: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        from focus_pipeline import pipeline

        config = render_config()
        manifest = staged["manifest"]
        return pipeline.prepare_alerts(
            config,
            recorded=(recorded or {}).get("findings", []),
            delivery_alerts=delivery_alerts,
            not_evaluated=not_evaluated_entries(recorded),
            alerts_enabled=alerts_enabled(get_current_context(), config),
            context_line=f"Delivery {manifest['execution_id']} of {manifest['billing_period']}.",
        )

    @task
    def list_publish_requests(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
        from focus_pipeline import pipeline

        return pipeline.publish_kwargs(requests)

    @task(trigger_rule="none_failed_min_one_success", on_failure_callback=None)
    def finish_delivery(report: dict[str, Any]) -> str:
        # Runs after publish_alerts: a quarantine's alert is out (and its status written) by now.
        """End the run failed when the delivery was quarantined or held back, after its alert went out."""
        from airflow.sdk.exceptions import AirflowFailException

        if not report["success"]:
            raise AirflowFailException(
                f"Delivery {report['execution_id']} of {report['billing_period']} was not promoted "
                f"({report['outcome']}); see {report.get('result_uri')}."
            )
        return report["outcome"]

    manifest = select_delivery()
    staged = stage_delivery(manifest)
    report = validate_snapshot(staged)
    promoted = promote_snapshot(staged, report)
    delivery_alerts = quarantine_delivery(staged, report)
    plan = plan_security_detections(staged, report)

    # One AthenaOperator per security detection; record_findings reads their results.
    run_security_detections = AthenaOperator.partial(
        task_id="run_security_detections",
        database="{{ focus_config().database }}",
        workgroup="{{ focus_config().workgroup }}",
        # Empty lets the workgroup's result location apply.
        output_location="{{ focus_config().athena_output_location or '' }}",
        aws_conn_id="{{ focus_config().aws_conn_id }}",
        sleep_time=1,
    ).expand_kwargs(list_security_queries(plan))
    recorded = record_findings(staged, plan, run_security_detections.output)
    requests = prepare_notifications(staged, recorded, delivery_alerts)

    # One message per request; each task marks its fingerprints as alerted once its message is out.
    publish_alerts = PublishAlertOperator.partial(
        task_id="publish_alerts",
        target_arn="{{ focus_config().topic_arn }}",
        aws_conn_id="{{ focus_config().aws_conn_id }}",
    ).expand_kwargs(list_publish_requests(requests))

    chain(wait_for_delivery, manifest)
    chain(staged, crawl_snapshots, report)
    chain(promoted, plan)
    chain(publish_alerts, finish_delivery(report))
