"""Detection SQL files: loading their metadata headers, computing their parameters, rendering them.

Each file under ``include/sql/detections/`` starts with one block comment holding a YAML header
(see ``REQUIRED_KEYS``) followed by one Jinja-templated Athena (Trino) SELECT. Every detection
returns ``OUTPUT_COLUMNS`` in that order.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import yaml

from focus_pipeline.config import Thresholds

log = logging.getLogger(__name__)

REQUIRED_KEYS: tuple[str, ...] = (
    "id",
    "title",
    "severity",
    "workload",
    "schedule",
    "lookback_days",
    "required_columns",
    "description",
    "false_positives",
    "remediation",
    "references",
    "status",
)
# Optional header key: the Thresholds field that overrides lookback_days at run time.
LOOKBACK_THRESHOLD_KEY = "lookback_threshold"

SEVERITIES = frozenset({"low", "medium", "high", "critical"})
WORKLOADS = frozenset({"cost", "security"})
SCHEDULES = frozenset({"per_delivery", "daily"})
STATUSES = frozenset({"stable", "experimental"})
NEW_SERVICE_SCOPES = frozenset({"account", "organization"})

OUTPUT_COLUMNS: tuple[str, ...] = (
    "detection_id",
    "severity",
    "billing_period",
    "sub_account_id",
    "region_id",
    "service_code",
    "resource_id",
    "commitment_discount_id",
    "first_seen",
    "amount",
    "evidence",
)

TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"
_HEADER = re.compile(r"\A\s*/\*(?P<header>.*?)\*/(?P<body>.*)\Z", re.DOTALL)
_PERIOD = re.compile(r"\A\d{4}-(0[1-9]|1[0-2])\Z")


class DetectionError(ValueError):
    """A detection file or its parameters are invalid."""


@dataclass(frozen=True)
class Detection:
    """One detection: its metadata header and the Jinja SQL template that follows it."""

    id: str
    title: str
    severity: str
    workload: str
    schedule: str
    lookback_days: int
    required_columns: list[str]
    description: str
    false_positives: list[str]
    remediation: str
    references: list[str]
    status: str
    sql_template: str
    path: Path
    lookback_threshold: str | None = None


def default_sql_dir() -> Path:
    """Find ``include/sql/detections`` next to this package or inside the Airflow dags folder.

    Locally the package sits in ``<repo>/plugins/focus_pipeline`` and the SQL in ``<repo>/include``.
    On MWAA the plugins are unpacked apart from the dags folder, which contains ``include/``.
    """
    candidates = [Path(__file__).resolve().parents[2] / "include" / "sql" / "detections"]
    dags_folder = _dags_folder()
    if dags_folder is not None:
        candidates.append(Path(dags_folder) / "include" / "sql" / "detections")
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    raise DetectionError(
        "Detection SQL directory not found; looked in: "
        + ", ".join(str(c) for c in candidates)
        + ". Deploy include/sql/detections with the DAGs or pass sql_dir."
    )


def _dags_folder() -> str | None:
    folder = os.environ.get("AIRFLOW__CORE__DAGS_FOLDER")
    if folder:
        return folder
    try:
        from airflow.configuration import conf
    except ImportError:
        return None
    return conf.get("core", "dags_folder", fallback=None)


def parse_detection(path: Path) -> Detection:
    """Parse one detection file; raise DetectionError naming the file and the invalid key."""
    text = path.read_text(encoding="utf-8")
    match = _HEADER.match(text)
    if match is None:
        raise DetectionError(
            f"{path}: missing metadata header; start the file with a /* ... */ block of YAML."
        )
    try:
        header = yaml.safe_load(match.group("header"))
    except yaml.YAMLError as err:
        raise DetectionError(f"{path}: metadata header is not valid YAML: {err}") from err
    if not isinstance(header, dict):
        raise DetectionError(f"{path}: metadata header must be a YAML mapping, got {type(header).__name__}.")
    for key in REQUIRED_KEYS:
        if header.get(key) in (None, "", []):
            raise DetectionError(f"{path}: metadata header is missing the key '{key}'.")
    _check_value(path, "severity", header["severity"], SEVERITIES)
    _check_value(path, "workload", header["workload"], WORKLOADS)
    _check_value(path, "schedule", header["schedule"], SCHEDULES)
    _check_value(path, "status", header["status"], STATUSES)
    if not isinstance(header["lookback_days"], int) or header["lookback_days"] < 0:
        raise DetectionError(
            f"{path}: lookback_days must be a non-negative integer, got {header['lookback_days']!r}."
        )
    for key in ("required_columns", "false_positives", "references"):
        if not isinstance(header[key], list):
            raise DetectionError(f"{path}: '{key}' must be a YAML list, got {header[key]!r}.")
    threshold = header.get(LOOKBACK_THRESHOLD_KEY)
    threshold_names = {f.name for f in dataclasses.fields(Thresholds)}
    if threshold is not None and threshold not in threshold_names:
        raise DetectionError(
            f"{path}: {LOOKBACK_THRESHOLD_KEY} '{threshold}' is not a field of Thresholds; "
            f"use one of: {', '.join(sorted(threshold_names))}."
        )
    if header["id"] != path.stem:
        raise DetectionError(f"{path}: id '{header['id']}' differs from the file name; rename one of them.")
    return Detection(
        id=header["id"],
        title=header["title"],
        severity=header["severity"],
        workload=header["workload"],
        schedule=header["schedule"],
        lookback_days=header["lookback_days"],
        required_columns=[str(c) for c in header["required_columns"]],
        description=str(header["description"]).strip(),
        false_positives=[str(f) for f in header["false_positives"]],
        remediation=str(header["remediation"]).strip(),
        references=[str(r) for r in header["references"]],
        status=header["status"],
        sql_template=match.group("body").strip() + "\n",
        path=path,
        lookback_threshold=threshold,
    )


def _check_value(path: Path, key: str, value: Any, allowed: frozenset[str]) -> None:
    if value not in allowed:
        raise DetectionError(f"{path}: {key} '{value}' is invalid; use one of: {', '.join(sorted(allowed))}.")


def load_detections(sql_dir: Path | None = None, workload: str | None = None) -> list[Detection]:
    """Load every ``*.sql`` detection in ``sql_dir`` (sorted by id), optionally of one workload."""
    if workload is not None and workload not in WORKLOADS:
        raise DetectionError(f"workload '{workload}' is invalid; use one of: {', '.join(sorted(WORKLOADS))}.")
    directory = Path(sql_dir) if sql_dir is not None else default_sql_dir()
    detections = [parse_detection(path) for path in sorted(directory.glob("*.sql"))]
    seen: dict[str, Path] = {}
    for detection in detections:
        if detection.id in seen:
            raise DetectionError(
                f"Duplicate detection id '{detection.id}' in {seen[detection.id]} and {detection.path}."
            )
        seen[detection.id] = detection.path
    if workload is not None:
        detections = [d for d in detections if d.workload == workload]
    log.info("Loaded %s detections from %s", len(detections), directory)
    return detections


def lookback_days(detection: Detection, thresholds: Thresholds | dict[str, Any] | None = None) -> int:
    """Return the lookback in days: the threshold named by the header if set, else the header value."""
    if thresholds is None or detection.lookback_threshold is None:
        return detection.lookback_days
    values = dataclasses.asdict(thresholds) if isinstance(thresholds, Thresholds) else thresholds
    return int(values.get(detection.lookback_threshold, detection.lookback_days))


def period_start(billing_period: str) -> dt.datetime:
    """Return the first instant (UTC, naive) of a 'YYYY-MM' billing period."""
    if not isinstance(billing_period, str) or not _PERIOD.match(billing_period):
        raise DetectionError(f"Billing period {billing_period!r} is invalid; expected 'YYYY-MM'.")
    return dt.datetime(int(billing_period[:4]), int(billing_period[5:]), 1)


def _next_period_start(start: dt.datetime) -> dt.datetime:
    return dt.datetime(start.year + start.month // 12, start.month % 12 + 1, 1)


def _previous_period(billing_period: str) -> str:
    start = period_start(billing_period)
    previous = (start - dt.timedelta(days=1)).replace(day=1)
    return previous.strftime("%Y-%m")


def _as_utc_naive(value: dt.datetime | dt.date) -> dt.datetime:
    if not isinstance(value, dt.datetime):
        return dt.datetime(value.year, value.month, value.day)
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def _periods_between(start: dt.datetime, end: dt.datetime) -> list[str]:
    """List the 'YYYY-MM' periods that overlap [start, end)."""
    periods = []
    cursor = dt.datetime(start.year, start.month, 1)
    while cursor < end:
        periods.append(cursor.strftime("%Y-%m"))
        cursor = _next_period_start(cursor)
    return periods


def detection_params(
    detection: Detection,
    *,
    billing_period: str,
    as_of: dt.datetime | dt.date,
    thresholds: Thresholds,
    database: str,
    table: str,
) -> dict[str, Any]:
    """Compute the Jinja parameters of one detection run.

    ``as_of`` is a datetime (naive means UTC) or a date. The window is end-exclusive.
    """
    start_of_period = period_start(billing_period)
    end_of_period = _next_period_start(start_of_period)
    moment = _as_utc_naive(as_of)
    if detection.schedule == "per_delivery":
        # Per delivery: the billing period's data up to as_of, capped at the end of the period.
        window_start = start_of_period
        window_end = min(max(moment, start_of_period), end_of_period)
    else:
        # Daily: the UTC calendar day that contains as_of (pass the start of the day to check).
        window_start = dt.datetime(moment.year, moment.month, moment.day)
        window_end = window_start + dt.timedelta(days=1)
    days = lookback_days(detection, thresholds)
    lookback_start = window_start - dt.timedelta(days=days)
    periods = _periods_between(lookback_start, max(window_end, lookback_start + dt.timedelta(seconds=1)))
    if billing_period not in periods:
        periods.append(billing_period)
    scope = thresholds.new_service_scope
    if scope not in NEW_SERVICE_SCOPES:
        raise DetectionError(
            f"Threshold new_service_scope '{scope}' is invalid; "
            f"use one of: {', '.join(sorted(NEW_SERVICE_SCOPES))}."
        )
    return {
        "detection_id": detection.id,
        "severity": detection.severity,
        "database": database,
        "table": table,
        "billing_period": billing_period,
        "previous_billing_period": _previous_period(billing_period),
        "window_start": window_start.strftime(TIMESTAMP_FORMAT),
        "window_end": window_end.strftime(TIMESTAMP_FORMAT),
        "lookback_start": lookback_start.strftime(TIMESTAMP_FORMAT),
        "lookback_days": days,
        "periods": sorted(periods),
        "periods_sql": ", ".join(f"'{p}'" for p in sorted(periods)),
        "thresholds": dataclasses.asdict(thresholds),
    }


def render_sql(detection: Detection, params: dict[str, Any]) -> str:
    """Render the detection's SQL template with ``params`` (undefined names raise)."""
    environment = jinja2.Environment(
        undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True
    )
    try:
        return environment.from_string(detection.sql_template).render(params=params)
    except jinja2.UndefinedError as err:
        raise DetectionError(f"{detection.path}: template uses an undefined parameter: {err}.") from err


def missing_columns(detection: Detection, catalog_columns: set[str]) -> list[str]:
    """Return the required columns absent from the catalog (case-insensitive), in header order."""
    present = {name.lower() for name in catalog_columns}
    return [name for name in detection.required_columns if name.lower() not in present]


def is_baseline(
    detection: Detection,
    earliest_period: str,
    window_start: dt.datetime | str,
    *,
    lookback: int | None = None,
) -> bool:
    """Return True when the table's history starts after the lookback start (baseline mode).

    ``earliest_period`` is the oldest billing_period in the table; ``lookback`` overrides the
    header's lookback_days (pass ``lookback_days(detection, thresholds)``).
    """
    if isinstance(window_start, str):
        window_start = dt.datetime.strptime(window_start, TIMESTAMP_FORMAT)
    days = detection.lookback_days if lookback is None else lookback
    needed_from = _as_utc_naive(window_start) - dt.timedelta(days=days)
    return period_start(earliest_period) > needed_from
