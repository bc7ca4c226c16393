"""Benchmark a large organisation's month against MWAA worker limits: ``python -m focus_bench``.

Generates (once, cached under build/bench/data) a twelve-month FOCUS 1.2 history, starts the
emulator in its own process, loads the history, and measures validation (against a pandas + GX
baseline), the detections' bytes scanned under both layouts, DAG parse times and one delivery end
to end. Prints a table and writes build/bench/results.json and docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from focus_bench import measure
from focus_bench.data import BenchSettings, build_history
from focus_bench.environment import (
    BENCH_DELIVERY_PREFIX,
    REPO_ROOT,
    SMALL_DELIVERY,
    MemorySampler,
    emulator_process,
    load_history,
)
from focus_bench.report import (
    MIB,
    Goal,
    athena_cost_usd,
    console_table,
    format_bytes,
    format_number,
    verdict,
)
from focus_bench.writeup import write_markdown

log = logging.getLogger("focus_bench")

TASK_MEMORY_LIMIT = 512 * MIB
LAYOUT_DETECTION = "new_region"


def machine() -> dict[str, Any]:
    import psutil

    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "memory_bytes": psutil.virtual_memory().total,
    }


def build_goals(results: dict[str, Any]) -> dict[str, list[Goal]]:
    """Turn the measurements into figures beside their goals."""
    big, small = results["validation"]["large"], results["validation"]["small"]
    baseline = results["validation"]["baseline"]
    validation = [
        Goal("Task peak RSS, small delivery", small["peak_rss"], TASK_MEMORY_LIMIT, unit=""),
        Goal("Task peak RSS, large delivery", big["peak_rss"], TASK_MEMORY_LIMIT, unit=""),
        Goal("Task peak RSS growth, large / small", big["peak_rss"], 1.1, reference=small["peak_rss"]),
        Goal(
            "Speed-up over pandas + GX (baseline / pushed down)",
            baseline["seconds"],
            5.0,
            reference=big["seconds"],
            at_least=True,
        ),
        Goal("Bytes scanned / delivery size", big["bytes_scanned"], 2.0, reference=big["delivery_bytes"]),
    ]
    detections = [
        Goal(
            f"{item['id']}: bytes scanned / minimum",
            item["bytes_scanned"],
            1.2,
            reference=item["minimum_bytes"],
        )
        for item in results["detections"]
    ]
    parse = results["parse_seconds"]
    empty = parse["empty_dag.py"]["median"]
    parse_goals = [
        Goal(f"{name}: parse time / empty DAG", values["median"], 1.5, reference=empty)
        for name, values in parse.items()
        if name != "empty_dag.py"
    ]
    return {"validation": validation, "detections": detections, "parse": parse_goals}


def print_summary(results: dict[str, Any], goals: dict[str, list[Goal]]) -> None:
    rows = [["Figure", "Value", "Reference", "Ratio", "Goal", "Verdict"]]
    byte_like = {"validation": (0, 1, 4), "detections": tuple(range(len(goals["detections"])))}
    for section, items in goals.items():
        for index, goal in enumerate(items):
            as_bytes = index in byte_like.get(section, ())
            shown = format_bytes if as_bytes else format_number
            rows.append(
                [
                    goal.name,
                    shown(goal.value),
                    "" if goal.reference is None else shown(goal.reference),
                    "" if goal.reference is None else format_number(goal.ratio),
                    goal.goal_text() if goal.reference is not None else f"<= {format_bytes(goal.limit)}",
                    verdict(goal),
                ]
            )
    print()
    print(console_table(rows))
    big = results["validation"]["large"]
    print(
        f"\nValidation of {big['rows']} rows: {big['seconds']:.1f} s pushed down, "
        f"{results['validation']['baseline']['seconds']:.1f} s in pandas; engine peak "
        f"{format_bytes(big['engine_peak_rss'])}. Delivery DAG: {results['delivery_dag']['seconds']:.1f} s."
    )


def cost_model(results: dict[str, Any], history: dict[str, Any]) -> dict[str, Any]:
    """Athena cost of one delivery (validation plus the per-delivery detections) and of a day."""
    validation = results["validation"]["large"]["query_bytes"]
    detections = {item["id"]: item["bytes_scanned"] for item in results["detections"]}
    per_delivery_ids = results["per_delivery_detections"]
    delivery_queries = list(validation) + [detections[i] for i in per_delivery_ids if i in detections]
    daily_queries = [value for key, value in detections.items() if key not in per_delivery_ids]
    per_delivery = athena_cost_usd(delivery_queries)
    # AWS refreshes a FOCUS export up to three times a day.
    deliveries_per_day = 3
    return {
        "per_delivery_usd": per_delivery,
        "per_delivery_bytes": sum(delivery_queries),
        "daily_detections_usd": athena_cost_usd(daily_queries),
        "per_day_usd": per_delivery * deliveries_per_day + athena_cost_usd(daily_queries),
        "deliveries_per_day": deliveries_per_day,
        "newest_rows": history["periods"][-1]["rows"],
        "newest_bytes": history["periods"][-1]["bytes"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m focus_bench", description=__doc__.splitlines()[0])
    defaults = BenchSettings()
    parser.add_argument(
        "--rows", type=int, default=defaults.newest_rows, help="rows of the newest (month-to-date) period"
    )
    parser.add_argument(
        "--small-rows", type=int, default=defaults.small_rows, help="rows of the small delivery"
    )
    parser.add_argument("--accounts", type=int, default=defaults.accounts, help="member accounts")
    parser.add_argument("--repeats", type=int, default=5, help="parse time measurements per DAG file")
    parser.add_argument(
        "--output", type=Path, default=REPO_ROOT / "build" / "bench", help="cache and results folder"
    )
    parser.add_argument(
        "--docs",
        type=Path,
        default=REPO_ROOT / "docs" / "benchmarks.md",
        help="Markdown page to write ('' to skip)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("botocore").setLevel(logging.WARNING)

    from focus_emulator import guard
    from focus_pipeline import detections
    from focus_pipeline.config import PipelineConfig

    guard.install()
    settings = BenchSettings(newest_rows=args.rows, small_rows=args.small_rows, accounts=args.accounts)
    output = args.output.resolve()
    data_root = output / "data"
    started = time.monotonic()
    history = build_history(settings, data_root)
    data_dir = data_root / settings.cache_key()
    config = PipelineConfig(poll_seconds=0.05)
    newest = history["periods"][-1]["billing_period"]
    results: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "python -m focus_bench " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": machine(),
        "history": history,
    }

    with emulator_process(output / "emulator.log") as (endpoint_url, pid):
        sampler = MemorySampler(pid)
        load_started = time.monotonic()
        load_history(endpoint_url, history, data_dir, config)
        results["load_seconds"] = round(time.monotonic() - load_started, 1)
        results["validation"] = {
            "small": measure.measure_validation(endpoint_url, sampler, config, newest, SMALL_DELIVERY),
            "large": measure.measure_validation(
                endpoint_url, sampler, config, newest, BENCH_DELIVERY_PREFIX + newest
            ),
            "baseline": measure.measure_baseline(data_dir / history["periods"][-1]["path"], newest),
        }
        results["detections"] = measure.measure_detections(endpoint_url, config, history, data_dir)
        results["layouts"] = measure.measure_layouts(
            endpoint_url, config, history, data_dir, LAYOUT_DETECTION
        )
        results["delivery_dag"] = measure.measure_delivery_dag(
            endpoint_url, sampler, history, data_dir, output
        )
        sampler.stop()
    results["parse_seconds"] = measure.measure_parse_times(args.repeats)
    results["per_delivery_detections"] = [
        d.id for d in detections.load_detections() if d.schedule == "per_delivery"
    ]
    results["cost"] = cost_model(results, history)
    results["total_seconds"] = round(time.monotonic() - started, 1)

    goals = build_goals(results)
    results["goals"] = {section: [goal.to_dict() for goal in items] for section, items in goals.items()}
    output.mkdir(parents=True, exist_ok=True)
    (output / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    print_summary(results, goals)
    if str(args.docs):
        write_markdown(args.docs, results, goals)
        print(f"\nWrote {output / 'results.json'} and {args.docs}")
    return 0 if all(goal.met for items in goals.values() for goal in items) else 1


if __name__ == "__main__":
    sys.exit(main())
