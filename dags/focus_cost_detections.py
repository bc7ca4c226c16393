"""
### FOCUS daily cost detections

Finds money spent on nothing in `focus_current`: OpenSearch Serverless OCUs billing after their
Bedrock knowledge base went away (`orphaned_search_ocu`), SageMaker endpoints with hosting hours but
no invocations in CloudWatch (`idle_sagemaker_endpoint`), and Savings Plans or Reserved Instances
whose utilisation fell (`commitment_drift`). Findings go to the same findings log and alert topic as
the security detections, and each fingerprint alerts once per billing period.

* **Schedule:** daily at 00:00 UTC. The run at midnight of day `D` checks day `D - 2`: AWS delivers
  a day's charges within about a day, so that day is complete by then. Time-based on purpose: one
  run per day can be backfilled and re-run, while a run per delivery would check the same day up to
  three times.
* **Connection:** `aws_default`. **Variable:** `focus_pipeline_config` (thresholds, member account
  roles for the CloudWatch check).
* **Backfill:** `airflow backfill create --dag-id focus_cost_detections --from-date ... --to-date ...`
  records findings and alerts only when `alert_on_backfill` is true.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from airflow.providers.amazon.aws.operators.athena import AthenaOperator
from airflow.sdk import DAG, get_current_context, task

from focus_pipeline.airflow_support import (
    PublishAlertOperator,
    alert_on_failure,
    alerts_enabled,
    mapped_results,
    not_evaluated_entries,
    render_config,
    run_time,
)

DAG_ID = "focus_cost_detections"
# Days between a run and the day it checks: AWS delivers a day's charges within about a day.
CHECK_LAG_DAYS = 2

with DAG(
    dag_id=DAG_ID,
    doc_md=__doc__,
    schedule="@daily",
    start_date=datetime(2024, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["focus", "finops", "cost"],
    user_defined_macros={"focus_config": render_config},
    default_args={
        "owner": "finops",
        "retries": 2,
        "retry_delay": timedelta(minutes=5),
        "on_failure_callback": alert_on_failure,
    },
) as dag:

    @task
    def plan_cost_detections() -> list[dict[str, Any]]:
        """Render the cost detections for the day two days before the run."""
        from focus_pipeline import pipeline

        checked_day = (run_time(get_current_context()) - timedelta(days=CHECK_LAG_DAYS)).replace(
            hour=0, minute=0, second=0, microsecond=0
        )
        return pipeline.plan_detections(
            render_config(),
            workload="cost",
            billing_periods=[f"{checked_day.year}-{checked_day.month:02d}"],
            as_of=checked_day,
        )

    @task
    def list_cost_queries(plan: list[dict[str, Any]]) -> list[dict[str, str]]:
        return [{"query": entry["query"]} for entry in plan if "query" in entry]

    @task(trigger_rule="none_failed_min_one_success")
    def record_findings(plan: list[dict[str, Any]], query_execution_ids: list[str] | None) -> dict[str, Any]:
        """Read the results, cross-check endpoint candidates in CloudWatch, append to the findings log."""
        from focus_pipeline import pipeline

        context = get_current_context()
        return pipeline.collect_findings(
            render_config(),
            plan=plan,
            query_execution_ids=mapped_results(query_execution_ids),
            run_key=f"daily-{context['ds_nodash']}",
            execution_id=f"daily-{context['ds']}",
        )

    @task(trigger_rule="none_failed_min_one_success")
    def prepare_notifications(recorded: dict[str, Any]) -> list[dict[str, Any]]:
        from focus_pipeline import pipeline

        config = render_config()
        context = get_current_context()
        return pipeline.prepare_alerts(
            config,
            recorded=recorded.get("findings", []),
            delivery_alerts=[],
            not_evaluated=not_evaluated_entries(recorded),
            alerts_enabled=alerts_enabled(context, config),
            context_line=f"Daily cost detections of the run for {context['ds']}.",
        )

    @task
    def list_publish_requests(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
        from focus_pipeline import pipeline

        return pipeline.publish_kwargs(requests)

    plan = plan_cost_detections()

    # One AthenaOperator per cost detection; record_findings reads their results.
    run_cost_detections = AthenaOperator.partial(
        task_id="run_cost_detections",
        database="{{ focus_config().database }}",
        workgroup="{{ focus_config().workgroup }}",
        # Empty lets the workgroup's result location apply.
        output_location="{{ focus_config().athena_output_location or '' }}",
        aws_conn_id="{{ focus_config().aws_conn_id }}",
        sleep_time=1,
    ).expand_kwargs(list_cost_queries(plan))
    recorded = record_findings(plan, run_cost_detections.output)
    requests = prepare_notifications(recorded)

    # One message per request; each task marks its fingerprints as alerted once its message is out.
    PublishAlertOperator.partial(
        task_id="publish_alerts",
        target_arn="{{ focus_config().topic_arn }}",
        aws_conn_id="{{ focus_config().aws_conn_id }}",
    ).expand_kwargs(list_publish_requests(requests))
