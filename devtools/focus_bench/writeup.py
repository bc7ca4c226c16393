"""Write docs/benchmarks.md from the benchmark's results."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from focus_bench.report import (
    ATHENA_MIN_BYTES_PER_QUERY,
    Goal,
    athena_cost_usd,
    format_bytes,
    format_number,
    goals_table,
)


def _history_table(history: dict[str, Any]) -> list[str]:
    lines = ["| Billing period | Rows | Parquet size |", "|---|---|---|"]
    for entry in history["periods"]:
        lines.append(f"| {entry['billing_period']} | {entry['rows']:,} | {format_bytes(entry['bytes'])} |")
    small = history["small"]
    lines.append(
        f"| {small['billing_period']} (small delivery) | {small['rows']:,} | {format_bytes(small['bytes'])} |"
    )
    return lines


def _validation_section(results: dict[str, Any], goals: list[Goal]) -> list[str]:
    small, big, baseline = (results["validation"][k] for k in ("small", "large", "baseline"))
    rows = [
        "| Delivery | Rows | Wall time | Task peak RSS | Engine peak RSS | Queries | Bytes scanned "
        "| Delivery size |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for label, item in (("small", small), ("large", big)):
        rows.append(
            f"| {label} | {item['rows']:,} | {item['seconds']:.1f} s | {format_bytes(item['peak_rss'])} "
            f"| {format_bytes(item['engine_peak_rss'])} | {item['queries']} "
            f"| {format_bytes(item['bytes_scanned'])} "
            f"| {format_bytes(item['delivery_bytes'])} |"
        )
    rows.append(
        f"| large, pandas + GX baseline | {baseline['rows']:,} | {baseline['seconds']:.1f} s "
        f"| {format_bytes(baseline['peak_rss'])} | (none) | (none) | (none) | |"
    )
    memory = [goal for goal in goals if "RSS" in goal.name and goal.reference is None]
    ratios = [goal for goal in goals if goal not in memory]
    return [
        "## Validating one delivery",
        "",
        "`validation.validate_delivery` runs in a fresh interpreter (the task process) against the",
        "emulator in another process (the engine), so each peak is its own: `ru_maxrss` of the task",
        "process, and psutil samples of the emulator every 50 ms (a lower bound of its true peak).",
        "Bytes scanned is the sum of `DataScannedInBytes` of every query validation sent. The baseline",
        "reads the same Parquet file into pandas and runs the same not-null and value-set expectations,",
        "and the charge-period checks as column bounds, with GX's pandas datasource, plus",
        "`DataFrame.duplicated()` for fully identical rows.",
        "",
        *rows,
        "",
        *goals_table(memory, format_bytes),
        "",
        *goals_table(ratios),
        "",
    ]


def _detection_section(results: dict[str, Any], goals: list[Goal]) -> list[str]:
    rows = [
        "| Detection | Wall time | Bytes scanned | Minimum | Ratio | Goal | Verdict | Periods | Columns |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for item, goal in zip(results["detections"], goals, strict=True):
        rows.append(
            f"| {item['id']} | {item['seconds']:.2f} s | {format_bytes(item['bytes_scanned'])} "
            f"| {format_bytes(item['minimum_bytes'])} | {format_number(goal.ratio)} | <= 1.2 "
            f"| {'meets' if goal.met else 'MISSES'} | {len(item['periods'])} | {len(item['columns'])} |"
        )
    return [
        "## Detections",
        "",
        "Each detection is rendered for the newest billing period and run against `focus_current`.",
        "The minimum is the compressed size of the column chunks of the columns the query names, in",
        "the partitions its lookback needs, summed from the Parquet footers.",
        "",
        *rows,
        "",
    ]


def _layout_section(results: dict[str, Any]) -> list[str]:
    layouts = results["layouts"]
    runs = layouts["runs"]
    minimum = layouts["minimum_bytes"]

    def ratio(value: int) -> str:
        return format_number(value / minimum) if minimum else "inf"

    return [
        "## Layouts: `period` and `period_account`",
        "",
        f"`{layouts['detection_id']}` for the newest period, reading {len(layouts['periods'])} "
        f"billing periods, for the whole organisation and for one account (`{layouts['account']}` "
        f"of {layouts['accounts']}). The "
        "minimum for one account is the column chunks of the columns the query names in that account's "
        "period_account files.",
        "",
        "| Query | Layout | Wall time | Bytes scanned | Ratio to the one-account minimum |",
        "|---|---|---|---|---|",
        *[
            f"| {scope} | {name} | {runs[key]['seconds']:.2f} s | {format_bytes(runs[key]['bytes_scanned'])} "
            f"| {ratio(runs[key]['bytes_scanned']) if scope == 'one account' else ''} |"
            for scope, name, key in (
                ("all accounts", "period", "period_all"),
                ("all accounts", "period_account", "period_account_all"),
                ("one account", "period", "period"),
                ("one account", "period_account", "period_account"),
            )
        ],
        "",
        "Repartitioning (one UNLOAD per period, run by the engine) took "
        + ", ".join(f"{period}: {seconds} s" for period, seconds in layouts["repartition_seconds"].items())
        + ".",
        "",
    ]


def _parse_section(results: dict[str, Any], goals: list[Goal]) -> list[str]:
    parse = results["parse_seconds"]
    empty = parse["empty_dag.py"]
    warm_rows = [
        f"| {name} | {values['warm_median'] * 1000:.1f} ms | {empty['warm_median'] * 1000:.1f} ms | "
        f"{values['warm_median'] / empty['warm_median']:.1f} |"
        for name, values in parse.items()
        if name != "empty_dag.py"
    ]
    return [
        "## DAG parse time",
        "",
        "`DagBag` parsing of one file in a fresh interpreter, after importing the `airflow.*` modules",
        "the file names, as the DAG processor does with `parsing_pre_import_modules` (on by default), "
        f"median of {len(empty['runs'])} runs, interleaved",
        f"with an empty DAG file (median {empty['median'] * 1000:.0f} ms).",
        "",
        *goals_table(goals),
        "",
        "Parsing the same file again in the same interpreter (every module already imported) gives",
        "the steady cost of each re-parse:",
        "",
        "| File | Re-parse | Empty DAG re-parse | Ratio |",
        "|---|---|---|---|",
        *warm_rows,
        "",
        "Measured cause of the gap: the first parse imports the lazily loaded parts of `airflow.sdk`",
        "that an empty DAG never touches (the `@task` decorator pulls in the standard provider's",
        "PythonOperator), and a re-parse builds every task object (about 0.7 ms per task here). No",
        "DAG file reads a Variable, builds an AWS client or imports boto3, pandas, DuckDB or Great",
        "Expectations at module level (`tests/unit/test_dagbag.py`).",
        "",
    ]


def _dag_section(results: dict[str, Any]) -> list[str]:
    run = results["delivery_dag"]
    lines = [
        "## One delivery end to end",
        "",
        "A new delivery of the newest period lands in the export bucket and the delivery DAG runs once",
        f"with `dag.test()` against the emulator: {run['seconds']:.1f} s wall time, engine peak RSS "
        f"{format_bytes(run['engine_peak_rss'])}. Final states: "
        + ", ".join(f"{task} {state}" for task, state in sorted(run["states"].items()))
        + ".",
        "",
        "Critical path from the manifest to the notification (mapped tasks as one span):",
        "",
        "| Task | Seconds |",
        "|---|---|",
    ]
    lines += [f"| {item['task_id']} | {item['seconds']:.2f} |" for item in run["critical_path"]]
    return [*lines, ""]


def _cost_section(results: dict[str, Any]) -> list[str]:
    cost = results["cost"]
    history = results["history"]
    newest = history["periods"][-1]
    older = history["periods"][:-1]
    full_month_bytes = sum(entry["bytes"] for entry in older) / max(len(older), 1)
    per_delivery_detection_bytes = sum(
        item["bytes_scanned"]
        for item in results["detections"]
        if item["id"] in results["per_delivery_detections"]
    )
    older_factor = newest["bytes"] / full_month_bytes if full_month_bytes else 0
    ten_times = athena_cost_usd([cost["per_delivery_bytes"] * 10])
    return [
        "## Athena cost",
        "",
        "At 5 USD per TB scanned (10^12 bytes) and at least 10 MB billed per query",
        f"({format_number(ATHENA_MIN_BYTES_PER_QUERY / 1e6)} MB), from the bytes scanned above:",
        "",
        "| Item | Bytes scanned | Cost (USD) |",
        "|---|---|---|",
        "| One delivery: validation and the per-delivery detections "
        f"| {format_bytes(cost['per_delivery_bytes'])} "
        f"| {cost['per_delivery_usd']:.4f} |",
        f"| Daily cost detections | | {cost['daily_detections_usd']:.4f} |",
        f"| One day ({cost['deliveries_per_day']} deliveries and the daily detections) "
        f"| | {cost['per_day_usd']:.4f} |",
        f"| Thirty such days | | {cost['per_day_usd'] * 30:.2f} |",
        "",
        "How it grows (estimates from this run's figures, not measured at other sizes):",
        "",
        "- Validation reads only the delivery, so it grows with the rows of one month-to-date snapshot,",
        "  about linearly with the number of accounts and not with months of history.",
        "- A detection reads the billing periods its lookback spans (90 days for new_region: up to four",
        "  periods), so history beyond the longest lookback costs nothing: partition pruning skips it.",
        "  Detection cost grows linearly with accounts (rows per period).",
        f"- The per-delivery detections scanned {format_bytes(per_delivery_detection_bytes)} here; with "
        f"full-size older months (this history's are {format_number(older_factor)} times smaller than the",
        "  newest), a 90-day lookback reads about four times the newest period's columns.",
        f"- At 10 times the accounts, one delivery costs about {ten_times:.3f} USD (the 10 MB minimum",
        "  stops mattering once each query scans more than 10 MB).",
        "",
    ]


def write_markdown(path: Path, results: dict[str, Any], goals: dict[str, list[Goal]]) -> None:
    history = results["history"]
    machine = results["machine"]
    lines = [
        "# Benchmarks",
        "",
        "Whether a large organisation's month fits the MWAA worker limits, measured with",
        "`make bench` (`python -m focus_bench`) against the local emulator, which runs Athena's SQL",
        "on DuckDB. Figures are from one run; timings depend on the machine, and the emulator's engine",
        "is not Athena, so treat wall times as relative and bytes scanned as what a columnar engine",
        "reads after partition pruning.",
        "",
        f"Run on {results['started_at']}: `{results['command']}` on {machine['platform']}, "
        f"{machine['cpus']} CPUs, {format_bytes(machine['memory_bytes'])} memory, "
        f"Python {machine['python']};",
        f"total {results['total_seconds']} s",
        f"(history load into the emulator {results['load_seconds']} s).",
        "",
        "## Data",
        "",
        f"A generated FOCUS 1.2 history of {len(history['periods'])} billing periods for "
        f"{history['settings']['accounts']} accounts (60 columns). The newest period is month-to-date "
        f"(as of {history['as_of']}); older periods are whole months generated at "
        f"1/{history['settings']['older_divisor']} of its row scale, because twelve months at full scale "
        "would take too long to generate and load on one machine.",
        "",
        *_history_table(history),
        "",
        *_validation_section(results, goals["validation"]),
        *_detection_section(results, goals["detections"]),
        *_layout_section(results),
        *_parse_section(results, goals["parse"]),
        *_dag_section(results),
        *_cost_section(results),
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines).rstrip() + "\n")
