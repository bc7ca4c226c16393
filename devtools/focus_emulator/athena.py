"""Athena query executions that really run: replaces moto's Athena query handlers.

moto 5.2.5 returns canned results. ``install(engine)`` routes StartQueryExecution to a worker
thread that runs the statement with ``focus_emulator.engine.Engine``, and serves
GetQueryExecution, GetQueryResults (with paging), StopQueryExecution and
GetQueryRuntimeStatistics from those executions. Executions are stored on the moto backend,
so moto's reset API clears them.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from moto.athena.models import AthenaBackend
from moto.athena.responses import AthenaResponse

from focus_emulator import store
from focus_emulator.engine import Engine, QueryCancelled, QueryControl, QueryFailed, QueryOutput

log = logging.getLogger(__name__)

MAX_RESULTS = 1000
# GetQueryExecution delays its response up to this long while the query is QUEUED or RUNNING and
# returns as soon as it reaches a final state. A client that polls every second (PyAthena's and
# the Amazon provider's default) then sees a small query finish on its first poll instead of
# sleeping a whole interval, and a slower query still shows RUNNING.
STATE_WAIT_SECONDS = 0.5
FINAL_STATES = ("SUCCEEDED", "FAILED", "CANCELLED")
NO_OUTPUT_LOCATION = (
    "No output location provided. An output location is required either through the Workgroup "
    "result configuration setting or as an API input."
)
_engine: Engine | None = None


@dataclass
class Execution:
    id: str
    query: str
    context: dict[str, Any]
    workgroup: str
    output_location: str
    control: QueryControl
    state: str = "QUEUED"
    reason: str | None = None
    submitted: float = field(default_factory=time.time)
    completed: float | None = None
    engine_ms: int = 0
    output: QueryOutput | None = None
    # Set when the state becomes final; GetQueryExecution waits on it.
    finished: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def finish(self, state: str, reason: str | None, output: QueryOutput | None = None) -> bool:
        """Move to a final state unless one was reached already; return whether this call did it."""
        with self.lock:
            if self.state in FINAL_STATES:
                return False
            self.state = state
            self.reason = reason
            self.output = output
            self.completed = time.time()
            self.finished.set()
        return True

    @property
    def statement_type(self) -> str:
        if self.output is not None:
            return self.output.statement_type
        head = self.query.lstrip().split(None, 1)[0].upper() if self.query.strip() else ""
        return "DDL" if head in ("ALTER", "CREATE", "DESCRIBE", "DROP", "MSCK", "SHOW") else "DML"


def _executions(backend: AthenaBackend) -> dict[str, Execution]:
    if not hasattr(backend, "emulator_executions"):
        backend.emulator_executions = {}
    return backend.emulator_executions


def _error(message: str, kind: str = "InvalidRequestException") -> tuple[str, dict[str, int]]:
    return json.dumps({"__type": kind, "Message": message}), {"status": 400}


def _start_query_execution(self: AthenaResponse) -> str | tuple[str, dict[str, int]]:
    query = self._get_param("QueryString")
    context = self._get_param("QueryExecutionContext") or {}
    config = self._get_param("ResultConfiguration") or {}
    workgroup_name = self._get_param("WorkGroup") or "primary"
    workgroup = self.athena_backend.work_groups.get(workgroup_name)
    if workgroup is None:
        return _error(f"WorkGroup {workgroup_name} is not found.")
    wg_config = workgroup.configuration or {}
    wg_location = (wg_config.get("ResultConfiguration") or {}).get("OutputLocation")
    if wg_config.get("EnforceWorkGroupConfiguration") and wg_location:
        location = wg_location
    else:
        location = config.get("OutputLocation") or wg_location
    if not location:
        return _error(NO_OUTPUT_LOCATION)
    execution = Execution(
        id=str(uuid.uuid4()),
        query=query,
        context=context,
        workgroup=workgroup_name,
        output_location=location.rstrip("/") + "/",
        control=QueryControl(bytes_scanned_cutoff=wg_config.get("BytesScannedCutoffPerQuery")),
    )
    _executions(self.athena_backend)[execution.id] = execution
    threading.Thread(target=_run, args=(execution,), name=f"athena-{execution.id}", daemon=True).start()
    return json.dumps({"QueryExecutionId": execution.id})


def _run(execution: Execution) -> None:
    assert _engine is not None, "focus_emulator.athena.install() was not called"
    with execution.lock:
        if execution.state != "QUEUED":
            return
        execution.state = "RUNNING"
    started = time.time()
    state, reason, output = "SUCCEEDED", None, None
    try:
        output = _engine.execute(
            execution.query,
            execution.context.get("Database"),
            execution.output_location,
            execution.control,
        )
        execution.control.check()
        _write_results(execution, output)
    except QueryCancelled as err:
        state, reason, output = "CANCELLED", str(err), None
    except QueryFailed as err:
        state, reason, output = "FAILED", str(err), None
    except Exception as err:  # noqa: BLE001 - any engine error becomes the query's FAILED reason
        log.exception("Query %s failed inside the emulator", execution.id)
        state, reason, output = "FAILED", f"GENERIC_INTERNAL_ERROR: {err}", None
    execution.engine_ms = int((time.time() - started) * 1000)
    if execution.finish(state, reason, output if state == "SUCCEEDED" else None):
        log.info("Query %s finished with state %s", execution.id, state)
    else:
        log.info("Query %s stopped after it was cancelled", execution.id)


def _write_results(execution: Execution, output: QueryOutput) -> None:
    """Write the result CSV and its .metadata object where Athena puts them."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\n")
    if output.has_header and output.columns:
        writer.writerow([name for name, _ in output.columns])
    for row in output.rows:
        buffer.write(",".join("" if v is None else '"' + v.replace('"', '""') + '"' for v in row) + "\n")
    bucket, prefix = store.split_s3_uri(execution.output_location)
    body = buffer.getvalue().encode()
    suffix = ".csv" if output.statement_type == "DML" else ".txt"
    store.put_object(bucket, f"{prefix}{execution.id}{suffix}", body)
    # NOTE: Athena writes .metadata as a binary protobuf; the emulator writes JSON column info.
    metadata = json.dumps({"columns": [{"name": n, "type": t} for n, t in output.columns]}).encode()
    store.put_object(bucket, f"{prefix}{execution.id}{suffix}.metadata", metadata)
    if output.written is not None:
        # UNLOAD and CTAS list the data files they wrote in <query id>-manifest.csv.
        manifest = "".join(f"{uri}\n" for uri in output.written).encode()
        store.put_object(bucket, f"{prefix}{execution.id}-manifest.csv", manifest)


def _result_uri(execution: Execution) -> str:
    suffix = ".csv" if execution.statement_type == "DML" else ".txt"
    return f"{execution.output_location}{execution.id}{suffix}"


def _describe(execution: Execution) -> dict[str, Any]:
    status: dict[str, Any] = {"State": execution.state, "SubmissionDateTime": execution.submitted}
    if execution.completed is not None:
        status["CompletionDateTime"] = execution.completed
    if execution.reason:
        status["StateChangeReason"] = execution.reason
    scanned = execution.output.bytes_scanned if execution.output else 0
    return {
        "QueryExecutionId": execution.id,
        "Query": execution.query,
        "StatementType": execution.statement_type,
        "ResultConfiguration": {"OutputLocation": _result_uri(execution)},
        "QueryExecutionContext": execution.context,
        "Status": status,
        "Statistics": {
            "EngineExecutionTimeInMillis": execution.engine_ms,
            "DataScannedInBytes": scanned,
            "TotalExecutionTimeInMillis": execution.engine_ms,
            "QueryQueueTimeInMillis": 0,
            "QueryPlanningTimeInMillis": 0,
            "ServiceProcessingTimeInMillis": 0,
        },
        "WorkGroup": execution.workgroup,
        "EngineVersion": {
            "SelectedEngineVersion": "AUTO",
            "EffectiveEngineVersion": "Athena engine version 3",
        },
    }


def _find(self: AthenaResponse) -> Execution | tuple[str, dict[str, int]]:
    exec_id = self._get_param("QueryExecutionId")
    execution = _executions(self.athena_backend).get(exec_id)
    if execution is None:
        return _error(f"QueryExecution {exec_id} was not found")
    return execution


def _get_query_execution(self: AthenaResponse) -> str | tuple[str, dict[str, int]]:
    execution = _find(self)
    if not isinstance(execution, Execution):
        return execution
    execution.finished.wait(STATE_WAIT_SECONDS)
    return json.dumps({"QueryExecution": _describe(execution)})


def _batch_get_query_execution(self: AthenaResponse) -> str:
    found, missing = [], []
    for exec_id in self._get_param("QueryExecutionIds") or []:
        execution = _executions(self.athena_backend).get(exec_id)
        if execution is None:
            missing.append({"QueryExecutionId": exec_id, "ErrorCode": "INVALID_INPUT"})
        else:
            found.append(_describe(execution))
    return json.dumps({"QueryExecutions": found, "UnprocessedQueryExecutionIds": missing})


def _get_query_results(self: AthenaResponse) -> str | tuple[str, dict[str, int]]:
    execution = _find(self)
    if not isinstance(execution, Execution):
        return execution
    if execution.state != "SUCCEEDED" or execution.output is None:
        return _error(f"Query has not yet finished. Current state: {execution.state}")
    max_results = int(self._get_param("MaxResults") or MAX_RESULTS)
    if not 1 <= max_results <= MAX_RESULTS:
        return _error(f"MaxResults must be between 1 and {MAX_RESULTS}, got {max_results}.")
    output = execution.output
    rows: list[list[str | None]] = []
    if output.has_header and output.columns:
        rows.append([name for name, _ in output.columns])
    rows.extend(output.rows)
    offset = int(self._get_param("NextToken") or 0)
    page = rows[offset : offset + max_results]
    body: dict[str, Any] = {
        "UpdateCount": output.update_count,
        "ResultSet": {
            "Rows": [{"Data": [{} if v is None else {"VarCharValue": v} for v in row]} for row in page],
            "ResultSetMetadata": {
                "ColumnInfo": [
                    {
                        "CatalogName": "hive",
                        "SchemaName": "",
                        "TableName": "",
                        "Name": name,
                        "Label": name,
                        "Type": kind,
                        "Precision": 0,
                        "Scale": 0,
                        "Nullable": "UNKNOWN",
                        "CaseSensitive": kind == "varchar",
                    }
                    for name, kind in output.columns
                ]
            },
        },
    }
    if offset + max_results < len(rows):
        body["NextToken"] = str(offset + max_results)
    return json.dumps(body)


def _stop_query_execution(self: AthenaResponse) -> str | tuple[str, dict[str, int]]:
    execution = _find(self)
    if not isinstance(execution, Execution):
        return execution
    if execution.finish("CANCELLED", "Query cancelled by user"):
        execution.control.cancel()
        log.info("Query %s cancelled", execution.id)
    return json.dumps({})


def _list_query_executions(self: AthenaResponse) -> str:
    workgroup = self._get_param("WorkGroup")
    ids = [
        e.id for e in _executions(self.athena_backend).values() if not workgroup or e.workgroup == workgroup
    ]
    return json.dumps({"QueryExecutionIds": ids})


def _get_query_runtime_statistics(self: AthenaResponse) -> str | tuple[str, dict[str, int]]:
    execution = _find(self)
    if not isinstance(execution, Execution):
        return execution
    scanned = execution.output.bytes_scanned if execution.output else 0
    rows = len(execution.output.rows) if execution.output else 0
    return json.dumps(
        {
            "QueryRuntimeStatistics": {
                "Timeline": {
                    "EngineExecutionTimeInMillis": execution.engine_ms,
                    "TotalExecutionTimeInMillis": execution.engine_ms,
                    "QueryQueueTimeInMillis": 0,
                },
                "Rows": {"InputBytes": scanned, "OutputRows": rows},
            }
        }
    )


def install(engine: Engine) -> None:
    """Route moto's Athena query handlers to ``engine`` (idempotent; the last engine wins)."""
    global _engine
    _engine = engine
    AthenaResponse.start_query_execution = _start_query_execution
    AthenaResponse.get_query_execution = _get_query_execution
    AthenaResponse.batch_get_query_execution = _batch_get_query_execution
    AthenaResponse.get_query_results = _get_query_results
    AthenaResponse.stop_query_execution = _stop_query_execution
    AthenaResponse.list_query_executions = _list_query_executions
    AthenaResponse.get_query_runtime_statistics = _get_query_runtime_statistics
