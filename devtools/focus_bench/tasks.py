"""Work that the benchmark runs in a fresh interpreter, so that its peak memory is its own.

``python -m focus_bench.tasks validate ...`` runs the pipeline's ``validate_delivery`` against the
emulator as a worker task would; ``python -m focus_bench.tasks baseline ...`` reads the delivery
into pandas and runs the same expectations in memory with GX's pandas datasource. Each prints one
JSON line: wall seconds and the peak RSS of this process (``ru_maxrss``).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from typing import Any


def _peak_rss_bytes() -> int:
    # Linux reports ru_maxrss in KiB.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def run_validation(period: str, delivery: str) -> dict[str, Any]:
    """Validate a staged delivery through ``validation.validate_delivery`` and time it."""
    import boto3

    from focus_pipeline import staging, validation
    from focus_pipeline.config import PipelineConfig

    config = PipelineConfig(poll_seconds=0.05)
    access = validation.resolve_aws_access(config)
    s3 = boto3.client(
        "s3",
        endpoint_url=access.endpoint_url,
        region_name=access.region_name,
        aws_access_key_id=access.access_key,
        aws_secret_access_key=access.secret_key,
    )
    prefix = staging.snapshot_prefix(config, period, delivery)
    listing = s3.list_objects_v2(Bucket=config.bucket, Prefix=prefix).get("Contents", [])
    staged = [{"key": item["Key"], "size": item["Size"]} for item in listing]
    started = time.monotonic()
    report = validation.validate_delivery(
        config=config,
        billing_period=period,
        delivery=delivery,
        execution_id=delivery,
        staged_files=staged,
        manifest_files=[f"s3://{config.bucket}/{item['key']}" for item in staged],
        current=None,
        poll_interval=config.poll_seconds,
    )
    return {
        "seconds": time.monotonic() - started,
        "peak_rss": _peak_rss_bytes(),
        "outcome": report.outcome,
        "failures": [failure["message"] for failure in report.failures],
        "rows": report.stats.get("rows"),
    }


def baseline_suite(billing_period: str) -> Any:
    """Build the pandas form of the pipeline's suite: the same not-null and value-set checks, and
    the charge-period checks as column bounds (UnexpectedRowsExpectation needs SQL)."""
    import great_expectations as gx

    from focus_pipeline.focus_schema import ALLOWED_VALUES
    from focus_pipeline.validation import REQUIRED_NOT_NULL_COLUMNS, period_bounds

    start, end = period_bounds(billing_period)
    expectations: list[Any] = [
        gx.expectations.ExpectColumnValuesToNotBeNull(column=column.lower())
        for column in REQUIRED_NOT_NULL_COLUMNS
    ]
    for column, allowed in ALLOWED_VALUES.items():
        value_set = sorted(value for value in allowed if value is not None)
        expectations.append(
            gx.expectations.ExpectColumnValuesToBeInSet(column=column.lower(), value_set=value_set)
        )
    expectations.append(
        gx.expectations.ExpectColumnValuesToBeBetween(
            column="chargeperiodstart",
            min_value=f"{start} 00:00:00",
            max_value=f"{end} 00:00:00",
            strict_max=True,
        )
    )
    expectations.append(
        gx.expectations.ExpectColumnValuesToBeBetween(column="chargeperiodend", max_value=f"{end} 00:00:00")
    )
    return gx.ExpectationSuite(name="focus_delivery_pandas", expectations=expectations)


def run_baseline(path: str, period: str) -> dict[str, Any]:
    """Read the Parquet file into pandas and validate it in memory with GX; count duplicate rows."""
    import great_expectations as gx
    import pandas as pd
    import pyarrow.parquet as pq

    started = time.monotonic()
    table = pq.read_table(path)
    frame = table.to_pandas()
    frame.columns = [name.lower() for name in frame.columns]
    for column in ("chargeperiodstart", "chargeperiodend"):
        frame[column] = pd.to_datetime(frame[column])
    context = gx.get_context(mode="ephemeral")
    batch = (
        context.data_sources.add_pandas("memory")
        .add_dataframe_asset("delivery")
        .add_batch_definition_whole_dataframe("delivery")
        .get_batch(batch_parameters={"dataframe": frame})
    )
    suite = context.suites.add(baseline_suite(period))
    result = batch.validate(suite, result_format="BASIC")
    # Map columns arrive as lists of tuples, which pandas cannot hash: compare their text.
    hashable = frame.copy()
    for field in table.schema:
        if str(field.type).startswith("map"):
            hashable[field.name.lower()] = hashable[field.name.lower()].map(repr)
    duplicates = int(hashable.duplicated().sum())
    return {
        "seconds": time.monotonic() - started,
        "peak_rss": _peak_rss_bytes(),
        "success": bool(result.success),
        "duplicate_rows": duplicates,
        "rows": len(frame),
    }


def critical_path(
    task_instances: list[dict[str, Any]], upstream: dict[str, list[str]], last: str
) -> list[dict]:
    """Walk back from ``last`` through the upstream task that finished latest, and return the chain
    of tasks (first to last) with their durations. Mapped task instances count as one task that runs
    from the first start to the last end."""
    by_task: dict[str, dict[str, Any]] = {}
    for item in task_instances:
        if item["start"] is None or item["end"] is None:
            continue
        entry = by_task.setdefault(
            item["task_id"], {"task_id": item["task_id"], "start": item["start"], "end": item["end"]}
        )
        entry["start"] = min(entry["start"], item["start"])
        entry["end"] = max(entry["end"], item["end"])
    path = []
    # A run with nothing to publish skips the last task; the path then ends at the task that ended last.
    current = last if last in by_task else max(by_task, key=lambda name: by_task[name]["end"], default=None)
    while current is not None:
        entry = by_task[current]
        path.append({**entry, "seconds": round(entry["end"] - entry["start"], 3)})
        candidates = [name for name in upstream.get(current, []) if name in by_task]
        current = max(candidates, key=lambda name: by_task[name]["end"]) if candidates else None
    return list(reversed(path))


def run_delivery_dag(dags_folder: str, logical_date: str, last_task: str) -> dict[str, Any]:
    """Run the delivery DAG once with ``dag.test()`` and return its task states and critical path."""
    from datetime import datetime

    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=dags_folder)
    if bag.import_errors:
        raise SystemExit(f"DAG import errors: {bag.import_errors}")
    dag = bag.dags["focus_delivery"]
    for task in dag.tasks:
        if hasattr(task, "poll_interval"):
            task.poll_interval = 0.1
        if hasattr(task, "sleep_time"):
            task.sleep_time = 0.05
    sensor = dag.task_dict["wait_for_delivery"]
    sensor.mode, sensor.poke_interval, sensor.timeout = "poke", 0.5, 5
    started = time.monotonic()
    run = dag.test(logical_date=datetime.fromisoformat(logical_date))
    seconds = time.monotonic() - started
    instances = []
    for ti in run.get_task_instances():
        instances.append(
            {
                "task_id": ti.task_id,
                "map_index": ti.map_index,
                "state": str(getattr(ti.state, "value", ti.state)),
                "start": ti.start_date.timestamp() if ti.start_date else None,
                "end": ti.end_date.timestamp() if ti.end_date else None,
            }
        )
    upstream = {task.task_id: sorted(task.upstream_task_ids) for task in dag.tasks}
    path = critical_path(instances, upstream, last_task)
    first_start = min((item["start"] for item in instances if item["start"]), default=None)
    last_end = max((item["end"] for item in instances if item["end"]), default=None)
    return {
        "seconds": seconds,
        "tasks_seconds": (last_end - first_start) if first_start and last_end else None,
        "states": {item["task_id"]: item["state"] for item in instances if item["map_index"] < 0},
        "critical_path": [{"task_id": item["task_id"], "seconds": item["seconds"]} for item in path],
        "peak_rss": _peak_rss_bytes(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m focus_bench.tasks")
    commands = parser.add_subparsers(dest="command", required=True)
    validate = commands.add_parser("validate", help="validate a staged delivery against the emulator")
    validate.add_argument("--period", required=True)
    validate.add_argument("--delivery", required=True)
    baseline = commands.add_parser("baseline", help="validate a Parquet file in memory with pandas and GX")
    baseline.add_argument("--path", required=True)
    baseline.add_argument("--period", required=True)
    dagrun = commands.add_parser("dagrun", help="run the delivery DAG once with dag.test()")
    dagrun.add_argument("--dags-folder", required=True)
    dagrun.add_argument("--logical-date", required=True, help="ISO 8601 with a time zone")
    dagrun.add_argument("--last-task", default="publish_alerts", help="task that ends the critical path")
    args = parser.parse_args(argv)
    if args.command == "validate":
        result = run_validation(args.period, args.delivery)
    elif args.command == "dagrun":
        result = run_delivery_dag(args.dags_folder, args.logical_date, args.last_task)
    else:
        result = run_baseline(args.path, args.period)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
