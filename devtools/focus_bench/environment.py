"""The benchmark's emulated AWS: the emulator in its own process, memory sampling, and loading the
cached history into it."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
PYTHONPATH = os.pathsep.join(str(REPO_ROOT / part) for part in ("plugins", "devtools", "."))
BENCH_DELIVERY_PREFIX = "bench-"
SMALL_DELIVERY = "bench-small"


def child_environment(endpoint_url: str | None = None) -> dict[str, str]:
    """Return the environment of a child process: this repository on the path, fake credentials,
    and, with ``endpoint_url``, the Airflow AWS connection pointing at the emulator."""
    env = dict(os.environ)
    env["PYTHONPATH"] = PYTHONPATH
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN"):
        env.pop(name, None)
    env.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_EC2_METADATA_DISABLED="true",
    )
    if endpoint_url:
        env["AIRFLOW_CONN_AWS_DEFAULT"] = airflow_connection(endpoint_url)
    return env


def airflow_connection(endpoint_url: str) -> str:
    return json.dumps(
        {
            "conn_type": "aws",
            "login": "testing",
            "password": "testing",
            "extra": {"region_name": "us-east-1", "endpoint_url": endpoint_url},
        }
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class MemorySampler:
    """Sample the resident set size of one process every ``interval`` seconds in a thread.

    ``window()`` returns the peak RSS seen between its start and its end. Sampling misses peaks
    shorter than the interval, so the figures are a lower bound of the true peak.
    """

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        import psutil

        self._process = psutil.Process(pid)
        self._interval = interval
        self._peak = 0
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"rss-{pid}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import psutil

        while not self._stopped.wait(self._interval):
            try:
                rss = self._process.memory_info().rss
            except psutil.Error:
                return
            with self._lock:
                self._peak = max(self._peak, rss)

    @contextlib.contextmanager
    def window(self) -> Iterator[dict[str, int]]:
        """Yield a dict that holds ``peak_rss`` (bytes) once the block ends."""
        with self._lock:
            self._peak = self._process.memory_info().rss
        result: dict[str, int] = {}
        try:
            yield result
        finally:
            time.sleep(self._interval * 2)
            with self._lock:
                result["peak_rss"] = self._peak

    def stop(self) -> None:
        self._stopped.set()


@contextlib.contextmanager
def emulator_process(log_path: Path) -> Iterator[tuple[str, int]]:
    """Run ``python -m focus_emulator --port N --provision`` and yield its endpoint URL and pid."""
    import urllib.request

    port = _free_port()
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("w") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "focus_emulator", "--port", str(port), "--provision"],
            env=child_environment(),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    endpoint_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"The emulator exited with {process.returncode}; see {log_path}.")
            # The emulator prints its endpoint URL alone on a line once provisioning has finished.
            if endpoint_url in log_path.read_text().splitlines():
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"The emulator did not start within 120 s; see {log_path}.")
            time.sleep(0.2)
        urllib.request.urlopen(f"{endpoint_url}/moto-api/", timeout=10).read()  # noqa: S310 - loopback
        log.info("Emulator process %d at %s", process.pid, endpoint_url)
        yield endpoint_url, process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def aws_client(endpoint_url: str, service: str) -> Any:
    import boto3

    return boto3.client(
        service,
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def snapshot_key(config: Any, billing_period: str, delivery: str) -> str:
    from focus_pipeline import staging

    return staging.snapshot_prefix(config, billing_period, delivery) + "part-00000.snappy.parquet"


def load_history(endpoint_url: str, history: dict[str, Any], data_dir: Path, config: Any) -> dict[str, Any]:
    """Upload every period as a staged snapshot (plus the small delivery), crawl them into
    focus_snapshots and promote each period into focus_current, as the delivery DAG would."""
    from focus_pipeline import promotion

    s3, glue = aws_client(endpoint_url, "s3"), aws_client(endpoint_url, "glue")
    uploads = [
        (entry["billing_period"], BENCH_DELIVERY_PREFIX + entry["billing_period"], entry)
        for entry in history["periods"]
    ]
    small = history["small"]
    uploads.append((small["billing_period"], SMALL_DELIVERY, small))
    for period, delivery, entry in uploads:
        s3.upload_file(str(data_dir / entry["path"]), config.bucket, snapshot_key(config, period, delivery))
    glue.start_crawler(Name=config.crawler_name)
    deadline = time.monotonic() + 600
    time.sleep(0.5)
    while glue.get_crawler(Name=config.crawler_name)["Crawler"]["State"] != "READY":
        if time.monotonic() > deadline:
            raise TimeoutError("The crawler did not finish within 600 s.")
        time.sleep(0.5)
    for entry in history["periods"]:
        from focus_pipeline import staging

        period = entry["billing_period"]
        promotion.promote_snapshot(
            glue,
            config,
            billing_period=period,
            location=staging.snapshot_location(config, period, BENCH_DELIVERY_PREFIX + period),
            delivery_id=BENCH_DELIVERY_PREFIX + period,
            execution_id=BENCH_DELIVERY_PREFIX + period,
            stats={
                "rows": entry["rows"],
                "billed_cost": entry["billed_cost"],
                # Validation writes "YYYY-MM-DD HH:MM:SS"; drop any time zone suffix to compare alike.
                "max_charge_period_start": entry["max_charge_period_start"][:19],
            },
        )
    return {"deliveries": [delivery for _, delivery, _ in uploads]}
