"""Generate the benchmark's twelve-month history once and keep it as Parquet under build/bench/data.

The cache folder is named after a hash of the settings, so changing any setting generates a new
history and an unchanged one is reused. ``history.json`` is written last: a folder without it is
an interrupted build and is generated again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

HISTORY_FILE = "history.json"


@dataclass(frozen=True)
class BenchSettings:
    """Size of the generated organisation.

    The newest billing period is month-to-date (the 20th) with about ``newest_rows`` rows. Older
    periods are whole months generated at ``1 / older_divisor`` of the newest period's row scale,
    because twelve months at full scale would not fit a benchmark run on one machine.
    ``small_rows`` is the second, smaller delivery that shows whether memory grows with the data.
    """

    newest_rows: int = 5_000_000
    small_rows: int = 500_000
    months: int = 12
    accounts: int = 100
    older_divisor: int = 10
    seed: int = 11
    start_period: str = "2025-07"

    def cache_key(self) -> str:
        text = json.dumps(dataclasses.asdict(self), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]


def generator_config(settings: BenchSettings, rows_scale: float) -> Any:
    from focus_generator import GeneratorConfig

    return GeneratorConfig(
        seed=settings.seed,
        start_period=settings.start_period,
        months=settings.months,
        accounts=settings.accounts,
        rows_scale=rows_scale,
        deliveries_in_last_day=1,
    )


def _write_parquet(table: Any, path: Path) -> None:
    import pyarrow.parquet as pq

    # Same options as the generator's export files: snappy, no stored Arrow schema.
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    pq.write_table(table, temporary, compression="snappy", store_schema=False)
    temporary.rename(path)


def _rows_scale(settings: BenchSettings) -> float:
    """Return the generator's rows_scale that gives the newest period about ``newest_rows`` rows."""
    from focus_generator import generate_period

    # Rows grow linearly with the scale above a floor of fixed items, so two probes give the line.
    low, high = 10.0, 40.0
    counts = []
    for scale in (low, high):
        probe = generator_config(settings, scale)
        counts.append(generate_period(probe, probe.periods[-1], dictionary_strings=True).num_rows)
    slope = (counts[1] - counts[0]) / (high - low)
    return max(1.0, low + (settings.newest_rows - counts[0]) / slope)


def build_history(settings: BenchSettings, root: Path) -> dict[str, Any]:
    """Return the cached history of ``settings``, generating and writing it first when missing.

    The result lists each period's file, rows, bytes and total BilledCost, and the small delivery.
    """
    folder = root / settings.cache_key()
    index = folder / HISTORY_FILE
    if index.exists():
        history = json.loads(index.read_text())
        log.info("Reusing the cached history in %s", folder)
        return history

    import pyarrow.compute as pc

    from focus_generator import generate_period

    started = time.monotonic()
    scale = _rows_scale(settings)
    newest_config = generator_config(settings, scale)
    older_config = generator_config(settings, scale / settings.older_divisor)
    periods = []
    for period in newest_config.periods:
        newest = period == newest_config.periods[-1]
        config = newest_config if newest else older_config
        table = generate_period(config, period, dictionary_strings=True)
        path = folder / f"billing_period={period}" / "part-00000.snappy.parquet"
        _write_parquet(table, path)
        periods.append(
            {
                "billing_period": period,
                "path": str(path.relative_to(folder)),
                "rows": table.num_rows,
                "bytes": path.stat().st_size,
                "billed_cost": float(pc.sum(table.column("BilledCost")).as_py() or 0.0),
                "max_charge_period_start": str(pc.max(table.column("ChargePeriodStart")).as_py()),
            }
        )
        log.info("Generated %s: %d rows, %d bytes", period, table.num_rows, path.stat().st_size)
        if newest:
            small = table.slice(0, settings.small_rows)
            small_path = folder / "small" / "part-00000.snappy.parquet"
            _write_parquet(small, small_path)
            small_entry = {
                "billing_period": period,
                "path": str(small_path.relative_to(folder)),
                "rows": small.num_rows,
                "bytes": small_path.stat().st_size,
            }
        del table
    history = {
        "settings": dataclasses.asdict(settings),
        "rows_scale": scale,
        "as_of": newest_config.now.isoformat(),
        "periods": periods,
        "small": small_entry,
        "generated_seconds": round(time.monotonic() - started, 1),
    }
    index.write_text(json.dumps(history, indent=2) + "\n")
    return history
