"""The benchmark's measurements against a running emulator process."""

from __future__ import annotations

import json
import logging
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from focus_bench.environment import (
    BENCH_DELIVERY_PREFIX,
    REPO_ROOT,
    MemorySampler,
    aws_client,
    child_environment,
)
from focus_bench.report import minimum_scan_bytes

log = logging.getLogger(__name__)

EMPTY_DAG = '''"""An empty DAG: the reference for parse times."""

from datetime import datetime

from airflow.sdk import DAG

with DAG(dag_id="empty", schedule=None, start_date=datetime(2024, 1, 1)):
    pass
'''

# Airflow's DAG processor imports the airflow.* modules a DAG file names before it parses the file
# ([dag_processor] parsing_pre_import_modules, on by default in Airflow 3.3.1), so a parse pays only
# for what the file itself runs. The script does the same with Airflow's own helper.
PARSE_SCRIPT = """
import importlib, sys, time
import airflow, airflow.sdk
from airflow.dag_processing.dagbag import DagBag
from airflow.utils.file import iter_airflow_imports
for module in iter_airflow_imports(sys.argv[1]):
    importlib.import_module(module)
started = time.perf_counter()
bag = DagBag(dag_folder=sys.argv[1])
elapsed = time.perf_counter() - started
if bag.import_errors:
    raise SystemExit(f"import errors: {bag.import_errors}")
warm = []
for _ in range(5):
    started = time.perf_counter()
    DagBag(dag_folder=sys.argv[1])
    warm.append(time.perf_counter() - started)
warm.sort()
print(elapsed, warm[2])
"""


def run_child(
    args: list[str],
    endpoint_url: str | None,
    extra_env: dict[str, str] | None = None,
    log_path: Path | None = None,
) -> dict:
    """Run ``python -m focus_bench.tasks ...`` and return the JSON line it prints last; its log
    (standard error) goes to ``log_path`` when given."""
    env = child_environment(endpoint_url)
    env.update(extra_env or {})
    completed = subprocess.run(
        [sys.executable, "-m", "focus_bench.tasks", *args], env=env, capture_output=True, text=True
    )
    if log_path is not None:
        log_path.write_text(completed.stderr)
    if completed.returncode != 0:
        raise RuntimeError(
            f"focus_bench.tasks {args[0]} failed with exit code {completed.returncode}:\n"
            f"{completed.stderr[-4000:]}"
        )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def query_ids(athena: Any, workgroup: str) -> set[str]:
    return set(athena.list_query_executions(WorkGroup=workgroup)["QueryExecutionIds"])


def scanned_by(athena: Any, ids: set[str]) -> list[int]:
    scanned = []
    ordered = sorted(ids)
    for start in range(0, len(ordered), 50):
        response = athena.batch_get_query_execution(QueryExecutionIds=ordered[start : start + 50])
        for execution in response["QueryExecutions"]:
            scanned.append(int(execution.get("Statistics", {}).get("DataScannedInBytes", 0)))
    return scanned


def folder_bytes(s3: Any, bucket: str, prefix: str) -> int:
    total = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        total += sum(item["Size"] for item in page.get("Contents", []))
    return total


def measure_validation(
    endpoint_url: str, sampler: MemorySampler, config: Any, period: str, delivery: str
) -> dict[str, Any]:
    """Validate one staged delivery in a child process and measure time, both peaks and bytes scanned."""
    from focus_pipeline import staging

    athena, s3 = aws_client(endpoint_url, "athena"), aws_client(endpoint_url, "s3")
    before = query_ids(athena, config.workgroup)
    with sampler.window() as engine:
        task = run_child(["validate", "--period", period, "--delivery", delivery], endpoint_url)
    scanned = scanned_by(athena, query_ids(athena, config.workgroup) - before)
    result = {
        **task,
        "engine_peak_rss": engine["peak_rss"],
        "queries": len(scanned),
        "bytes_scanned": sum(scanned),
        "query_bytes": scanned,
        "delivery_bytes": folder_bytes(s3, config.bucket, staging.snapshot_prefix(config, period, delivery)),
    }
    log.info(
        "Validated %s: %.1f s, task %.0f MiB, engine %.0f MiB, %d queries, %d bytes scanned (%s)",
        delivery,
        result["seconds"],
        result["peak_rss"] / 2**20,
        result["engine_peak_rss"] / 2**20,
        result["queries"],
        result["bytes_scanned"],
        result["outcome"],
    )
    return result


def measure_baseline(path: Path, period: str) -> dict[str, Any]:
    result = run_child(["baseline", "--path", str(path), "--period", period], None)
    log.info("Baseline (pandas + GX): %.1f s, %.0f MiB", result["seconds"], result["peak_rss"] / 2**20)
    return result


def run_query(athena: Any, config: Any, sql: str) -> dict[str, Any]:
    started = time.monotonic()
    query_id = athena.start_query_execution(
        QueryString=sql,
        QueryExecutionContext={"Database": config.database},
        WorkGroup=config.workgroup,
        ResultConfiguration={"OutputLocation": config.athena_output},
    )["QueryExecutionId"]
    while True:
        execution = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
        if execution["Status"]["State"] in ("SUCCEEDED", "FAILED", "CANCELLED"):
            break
        time.sleep(0.02)
    if execution["Status"]["State"] != "SUCCEEDED":
        raise RuntimeError(f"Query {query_id} failed: {execution['Status'].get('StateChangeReason')}\n{sql}")
    return {
        "seconds": time.monotonic() - started,
        "bytes_scanned": int(execution["Statistics"]["DataScannedInBytes"]),
        "query_id": query_id,
    }


def referenced_columns(sql: str, table_columns: set[str]) -> set[str]:
    """Return the table columns a query names anywhere (lower case), as a columnar engine reads them."""
    import sqlglot
    from sqlglot import exp

    tree = sqlglot.parse_one(sql, read="trino")
    return {column.name.lower() for column in tree.find_all(exp.Column)} & table_columns


def render_detections(config: Any, as_of: datetime, billing_period: str, table: str) -> list[dict[str, Any]]:
    from focus_pipeline import detections

    rendered = []
    for detection in detections.load_detections():
        params = detections.detection_params(
            detection,
            billing_period=billing_period,
            as_of=as_of,
            thresholds=config.thresholds,
            database=config.database,
            table=table,
        )
        rendered.append(
            {
                "id": detection.id,
                "sql": detections.render_sql(detection, params),
                "periods": params["periods"],
            }
        )
    return rendered


def local_footers(data_dir: Path, history: dict[str, Any], periods: list[str]) -> list[Any]:
    import pyarrow.parquet as pq

    by_period = {entry["billing_period"]: entry for entry in history["periods"]}
    return [pq.read_metadata(data_dir / by_period[p]["path"]) for p in periods if p in by_period]


def measure_detections(
    endpoint_url: str, config: Any, history: dict[str, Any], data_dir: Path
) -> list[dict[str, Any]]:
    """Run the six detections for the newest period against focus_current and compare bytes scanned
    with the column chunks of the columns they name in the periods their lookback needs."""
    from focus_pipeline.focus_schema import AWS_FOCUS_1_2_COLUMNS

    athena = aws_client(endpoint_url, "athena")
    as_of = datetime.fromisoformat(history["as_of"])
    newest = history["periods"][-1]["billing_period"]
    table_columns = {name.lower() for name in AWS_FOCUS_1_2_COLUMNS}
    results = []
    for detection in render_detections(config, as_of, newest, config.current_table):
        run = run_query(athena, config, detection["sql"])
        columns = referenced_columns(detection["sql"], table_columns)
        minimum = minimum_scan_bytes(local_footers(data_dir, history, detection["periods"]), columns)
        results.append(
            {
                "id": detection["id"],
                **run,
                "minimum_bytes": minimum,
                "columns": sorted(columns),
                "periods": detection["periods"],
            }
        )
        log.info(
            "Detection %s: %.2f s, %d bytes (minimum %d)",
            detection["id"],
            run["seconds"],
            run["bytes_scanned"],
            minimum,
        )
    return results


def account_filtered(sql: str, condition: str) -> str:
    """Add ``condition`` to every filter on billing_period of a rendered detection."""
    marker = "WHERE billing_period IN ("
    if marker not in sql:
        raise ValueError("The detection has no 'WHERE billing_period IN (' filter to extend.")
    return sql.replace(marker, f"WHERE {condition} AND billing_period IN (")


def measure_layouts(
    endpoint_url: str, config: Any, history: dict[str, Any], data_dir: Path, detection_id: str
) -> dict[str, Any]:
    """Write the period_account copy of the periods the detection reads, promote it, and run the
    detection for one account against focus_current and focus_current_by_account."""
    import io

    import pyarrow.parquet as pq

    from focus_pipeline import layout
    from focus_pipeline.focus_schema import AWS_FOCUS_1_2_COLUMNS

    athena, s3, glue = (aws_client(endpoint_url, name) for name in ("athena", "s3", "glue"))
    as_of = datetime.fromisoformat(history["as_of"])
    newest = history["periods"][-1]["billing_period"]
    detection = next(
        d for d in render_detections(config, as_of, newest, config.current_table) if d["id"] == detection_id
    )
    repartition_seconds, accounts = {}, []
    for period in detection["periods"]:
        started = time.monotonic()
        delivery = BENCH_DELIVERY_PREFIX + period
        accounts = layout.repartition_snapshot(
            config,
            athena_client=athena,
            s3_client=s3,
            glue_client=glue,
            billing_period=period,
            delivery_id=delivery,
        )
        layout.promote_by_account(
            glue, config, billing_period=period, delivery_id=delivery, accounts=accounts
        )
        repartition_seconds[period] = round(time.monotonic() - started, 2)
    account = sorted(a for a in accounts if a != layout.NO_ACCOUNT)[len(accounts) // 2]

    by_account = next(
        d
        for d in render_detections(config, as_of, newest, config.current_by_account_table)
        if d["id"] == detection_id
    )
    table_columns = {name.lower() for name in AWS_FOCUS_1_2_COLUMNS}
    columns = referenced_columns(detection["sql"], table_columns)
    footers = []
    for period in detection["periods"]:
        prefix = (
            layout.delivery_prefix(config, period, BENCH_DELIVERY_PREFIX + period)
            + f"{layout.ACCOUNT_KEY}={account}/"
        )
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=config.bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                body = s3.get_object(Bucket=config.bucket, Key=item["Key"])["Body"].read()
                footers.append(pq.read_metadata(io.BytesIO(body)))
    runs = {
        "period": run_query(
            athena, config, account_filtered(detection["sql"], f"subaccountid = '{account}'")
        ),
        "period_account": run_query(
            athena, config, account_filtered(by_account["sql"], f"{layout.ACCOUNT_KEY} = '{account}'")
        ),
        "period_account_all": run_query(athena, config, by_account["sql"]),
        "period_all": run_query(athena, config, detection["sql"]),
    }
    return {
        "detection_id": detection_id,
        "account": account,
        "accounts": len(accounts),
        "periods": detection["periods"],
        "repartition_seconds": repartition_seconds,
        "minimum_bytes": minimum_scan_bytes(footers, columns),
        "runs": runs,
    }


def measure_parse_times(repeats: int) -> dict[str, Any]:
    """Time DagBag parsing of each DAG file and of an empty DAG file, each in a fresh interpreter."""
    env = child_environment()
    results: dict[str, list[float]] = {}
    # Re-parsing in the same interpreter: the steady cost once every module is imported.
    warm_results: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="focus-bench-dags-") as folder:
        empty = Path(folder) / "empty_dag.py"
        empty.write_text(EMPTY_DAG)
        env["AIRFLOW_HOME"] = str(Path(folder) / "airflow-home")
        env["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
        files = {"empty_dag.py": empty}
        files.update({path.name: path for path in sorted((REPO_ROOT / "dags").glob("*.py"))})
        for _ in range(repeats):
            # Interleaved, so that a slow moment of the machine hits every file alike.
            for name, path in files.items():
                completed = subprocess.run(
                    [sys.executable, "-c", PARSE_SCRIPT, str(path)], env=env, capture_output=True, text=True
                )
                if completed.returncode != 0:
                    raise RuntimeError(f"Parsing {path} failed:\n{completed.stderr[-2000:]}")
                cold, warm = completed.stdout.strip().splitlines()[-1].split()
                results.setdefault(name, []).append(float(cold))
                warm_results.setdefault(name, []).append(float(warm))
    return {
        name: {
            "median": statistics.median(times),
            "runs": times,
            "warm_median": statistics.median(warm_results[name]),
        }
        for name, times in results.items()
    }


def measure_delivery_dag(
    endpoint_url: str, sampler: MemorySampler, history: dict[str, Any], data_dir: Path, output: Path
) -> dict[str, Any]:
    """Land a new delivery of the newest period in the export bucket and run the delivery DAG on it."""
    import pyarrow.parquet as pq

    from focus_generator import Delivery, GeneratorConfig
    from focus_generator.writer import build_manifest, data_folder, manifest_key

    newest = history["periods"][-1]
    as_of = datetime.fromisoformat(history["as_of"])
    delivered_at = as_of + timedelta(hours=1)
    generator = GeneratorConfig(
        seed=history["settings"]["seed"],
        start_period=history["settings"]["start_period"],
        months=history["settings"]["months"],
        accounts=history["settings"]["accounts"],
        as_of=delivered_at,
    )
    schema = pq.read_schema(data_dir / newest["path"])
    delivery = Delivery(
        billing_period=newest["billing_period"],
        execution_id="0b7e1f7a-5a4c-4d2e-9c8b-6f0e2d1c3b4a",
        delivered_at=delivered_at,
        table=schema.empty_table(),
    )
    s3 = aws_client(endpoint_url, "s3")
    key = f"{data_folder(delivery, generator)}{generator.export_name}-00001.snappy.parquet"
    s3.upload_file(str(data_dir / newest["path"]), generator.export_bucket, key)
    manifest = build_manifest(delivery, generator, [f"s3://{generator.export_bucket}/{key}"])
    s3.put_object(
        Bucket=generator.export_bucket,
        Key=manifest_key(delivery, generator),
        Body=json.dumps(manifest).encode(),
    )
    home = output / "airflow-home"
    home.mkdir(parents=True, exist_ok=True)
    env = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        "AIRFLOW_VAR_FOCUS_PIPELINE_CONFIG": json.dumps({"poll_seconds": 0.05}),
    }
    migrate_env = child_environment(endpoint_url)
    migrate_env.update(env)
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"], env=migrate_env, check=True, capture_output=True
    )
    logical_date = (delivered_at + timedelta(minutes=5)).isoformat()
    with sampler.window() as engine:
        result = run_child(
            ["dagrun", "--dags-folder", str(REPO_ROOT / "dags"), "--logical-date", logical_date],
            endpoint_url,
            env,
            output / "delivery_dag.log",
        )
    result["engine_peak_rss"] = engine["peak_rss"]
    log.info("Delivery DAG: %.1f s, states %s", result["seconds"], result["states"])
    return result
