"""Airflow glue shared by the DAGs: the delivery sensor, the failure alert, and run context helpers."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from airflow.providers.amazon.aws.operators.sns import SnsPublishOperator
from airflow.providers.amazon.aws.sensors.s3 import S3KeySensor

from focus_pipeline.config import AWS_CONN_ID, PipelineConfig, load_config

log = logging.getLogger(__name__)


def render_config() -> PipelineConfig:
    """Load the pipeline configuration when a task runs or a template renders, never at parse time."""
    return load_config()


def run_time(context: Any) -> datetime:
    """Return the moment a run covers: its data interval end (or logical date), as an aware UTC datetime.

    A live run gets about now; a backfill run gets its historical date, so it scans the billing
    periods that were in scope then.
    """
    moment = context.get("data_interval_end") or context.get("logical_date")
    if moment is None:
        return datetime.now(UTC)
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def not_evaluated_entries(recorded: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Return the "not evaluated: <column> absent" entries of a run's detection results."""
    summary = (recorded or {}).get("summary", [])
    return [entry for entry in summary if str(entry.get("status", "")).startswith("not evaluated")]


def mapped_results(values: Any) -> list[Any]:
    """Return the results of a mapped task as a list, reading them by index.

    Iterating Airflow's lazy XCom sequence reads one index past the end and logs an error for it;
    indexing up to its length does not.
    """
    if values is None:
        return []
    return [values[index] for index in range(len(values))]


def run_conf(context: Any) -> dict[str, Any]:
    """Return the run's conf (``airflow dags trigger --conf``), or an empty dict."""
    return dict(getattr(context.get("dag_run"), "conf", None) or {})


def is_backfill(context: Any) -> bool:
    dag_run = context.get("dag_run")
    run_type = getattr(dag_run, "run_type", "")
    return str(getattr(run_type, "value", run_type)) == "backfill"


def alerts_enabled(context: Any, config: PipelineConfig) -> bool:
    """Return True for live runs, and for backfill runs only with ``alert_on_backfill`` or the run conf
    ``{"alert": true}``."""
    if not is_backfill(context):
        return True
    conf = getattr(context.get("dag_run"), "conf", None) or {}
    return bool(config.alert_on_backfill or conf.get("alert"))


def check_for_delivery(files: list[dict[str, Any]], **context: Any) -> bool:
    """``check_fn`` of the delivery sensor: True when a complete, unprocessed delivery exists.

    ``files`` are the manifests the sensor matched (Key, Size, LastModified), the same in poke and
    deferrable mode. Backfill runs check once and skip instead of waiting.
    """
    from airflow.sdk.exceptions import AirflowSkipException

    from focus_pipeline import pipeline

    log.info("Manifests matched: %s", ", ".join(sorted(str(item.get("Key")) for item in files)) or "none")
    config = render_config()
    readiness = pipeline.scan_for_deliveries(config, run_time(context))
    if readiness.ready or readiness.invalid:
        # An invalid manifest goes on to select_delivery, which names it in a failure.
        return True
    stale = readiness.stale(datetime.now(UTC), config.incomplete_delivery_hours)
    if stale:
        key, reason = next(iter(stale.items()))
        raise RuntimeError(
            f"Manifest s3://{config.export_bucket}/{key} has waited more than "
            f"{config.incomplete_delivery_hours:g} hours for its data files ({reason}). Check the "
            "export's delivery and the bucket's replication; the sensor resumes once the files arrive."
        )
    if is_backfill(context):
        raise AirflowSkipException("No new delivery for this backfill run.")
    return False


def require_connection(conn_id: str | None) -> None:
    """Raise AirflowNotFoundException when a connection id other than ``aws_default`` is not defined.

    The Amazon provider falls back to boto3's default credentials and endpoints for an unknown
    connection id, so a typo would read from another account, or from real AWS instead of the
    local emulator, rather than fail. A missing ``aws_default`` keeps that fallback on purpose:
    on MWAA it means the environment's execution role.
    """
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    if conn_id is None or conn_id == AWS_CONN_ID:
        return
    try:
        BaseHook.get_connection(conn_id)
    except AirflowNotFoundException as err:
        raise AirflowNotFoundException(
            f"Connection {conn_id!r} is not defined; create it, or set 'aws_conn_id' in the "
            "focus_pipeline_config Variable to an existing AWS connection."
        ) from err


class DeliveryManifestSensor(S3KeySensor):
    """S3KeySensor that waits for a complete delivery whose executionId has not been processed.

    It matches the export's manifests with a wildcard and hands them to ``check_for_delivery``. A
    timeout is a quiet period (the task is skipped); an access or configuration error fails the
    task in both poke and deferrable mode, because an error must never look like a quiet day.
    """

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("wildcard_match", True)
        kwargs.setdefault("check_fn", check_for_delivery)
        kwargs.setdefault("metadata_keys", ["Key", "Size", "LastModified"])
        kwargs.setdefault("soft_fail", False)
        super().__init__(**kwargs)

    def poke(self, context: Any) -> bool:
        require_connection(self.aws_conn_id)
        return super().poke(context)

    def execute(self, context: Any) -> None:
        from airflow.sdk.exceptions import AirflowSensorTimeout, AirflowSkipException

        try:
            super().execute(context)
        except AirflowSensorTimeout as err:
            raise AirflowSkipException(f"No new delivery within {self.timeout} seconds.") from err

    def execute_complete(self, context: Any, event: dict[str, Any]) -> None:
        if event.get("status") == "error":
            # The trigger reports access and configuration errors as events; raise them as a plain
            # error so they fail the task instead of being read as a timeout.
            raise RuntimeError(
                f"Checking s3://{self.bucket_name}/{self.bucket_key} failed: {event['message']}"
            )
        if event.get("status") == "running":
            # S3KeyTrigger (provider 9.34.0) lists with Delimiter="/", so a pattern whose wildcard
            # spans folders reaches check_fn with no files. List them as poke mode does instead.
            event = {**event, "files": self.list_matching_files()}
        super().execute_complete(context, event)

    def list_matching_files(self) -> list[dict[str, Any]]:
        """List the objects matching ``bucket_key`` with ``metadata_keys``, as poke mode passes them."""
        import fnmatch
        import re

        prefix = re.split(r"[\[*?]", str(self.bucket_key), maxsplit=1)[0]
        files = []
        for item in self.hook.iter_file_metadata(prefix, self.bucket_name):
            if fnmatch.fnmatch(item["Key"], str(self.bucket_key)):
                files.append({name: item.get(name) for name in self.metadata_keys})
        return files

    def resume_execution(self, next_method: str, next_kwargs: dict[str, Any] | None, context: Any) -> Any:
        from airflow.sdk.exceptions import AirflowSensorTimeout, AirflowSkipException

        try:
            return super().resume_execution(next_method, next_kwargs, context)
        except AirflowSensorTimeout as err:
            raise AirflowSkipException(f"No new delivery within {self.timeout} seconds.") from err


def alert_on_failure(context: Any) -> None:
    """Publish a task failure to the alert topic, with the error (a query id and Athena's reason for a
    failed detection query). Errors while alerting are logged, never raised over the original one."""
    from airflow.providers.amazon.aws.hooks.sns import SnsHook

    task_instance = context.get("task_instance") or context.get("ti")
    error = context.get("exception")
    dag_id = getattr(task_instance, "dag_id", "?")
    task_id = getattr(task_instance, "task_id", "?")
    run_id = getattr(task_instance, "run_id", "?")
    map_index = getattr(task_instance, "map_index", -1)
    try:
        config = render_config()
        message = f"Task {task_id} of DAG {dag_id} failed in run {run_id}.\n\nError: {error}\n"
        deduplication_id = f"{run_id}-{task_id}-{map_index}"[:128]
        SnsHook(aws_conn_id=config.aws_conn_id, region_name=config.region_name).publish_to_target(
            target_arn=config.topic_arn,
            message=message,
            subject=f"FOCUS pipeline failure: {dag_id}.{task_id}"[:100],
            message_attributes={"workload": "pipeline", "severity": "high", "detection_id": "task_failure"},
            **(
                {"message_group_id": "failure", "message_deduplication_id": deduplication_id}
                if config.topic_arn.endswith(".fifo")
                else {}
            ),
        )
        log.info("Alerted the failure of %s.%s (run %s)", dag_id, task_id, run_id)
    except Exception:
        log.exception("Could not publish the failure alert of %s.%s (run %s)", dag_id, task_id, run_id)


class PublishAlertOperator(SnsPublishOperator):
    """SnsPublishOperator that records the alerted fingerprints right after its message is published.

    Publishing and marking in one task means a message that went out is marked even when another
    message of the same run fails, so the next run does not send it again.

    :param findings: the findings the message lists; their fingerprints are marked as alerted.
    :param delivery_status: for a delivery alert, ``{"billing_period", "execution_id", "status"}``
        to write to the delivery log once the alert is out (quarantined or held back).
    """

    def __init__(
        self,
        *,
        findings: list[dict[str, Any]] | None = None,
        delivery_status: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.findings = findings or []
        self.delivery_status = delivery_status

    def execute(self, context: Any) -> Any:
        from focus_pipeline import delivery_log, findings, pipeline

        response = super().execute(context)
        message_id = response.get("MessageId", "") if isinstance(response, dict) else str(response or "")
        config = render_config()
        hook = pipeline.s3_hook(config)
        if self.findings:
            findings.mark_alerted(hook, config, self.findings, message_id)
            self.log.info("Marked %d fingerprints as alerted (message %s)", len(self.findings), message_id)
        if self.delivery_status:
            delivery_log.update_record(
                hook,
                config,
                self.delivery_status["billing_period"],
                self.delivery_status["execution_id"],
                status=self.delivery_status["status"],
                alerted_message_id=message_id,
            )
        return response
