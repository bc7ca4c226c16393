"""Command line: write a generated history to a folder or to a local S3 endpoint.

python -m focus_generator --out build/exports --seed 7 --scenario new_region
python -m focus_generator --s3-endpoint http://127.0.0.1:5000 --bucket focus-billing-exports
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from datetime import datetime
from pathlib import Path
from urllib.parse import urlparse

from focus_generator.catalog import SCENARIOS
from focus_generator.generate import FAULTS, GeneratorConfig, generate_history
from focus_generator.writer import S3Target, write_delivery

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost"})


def check_endpoint(endpoint: str, allowed_hosts: list[str]) -> str:
    """Return the endpoint if its host is loopback or explicitly allowed; raise ValueError otherwise."""
    parsed = urlparse(endpoint)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ValueError(f"Invalid --s3-endpoint {endpoint!r}: expected a URL like http://127.0.0.1:5000.")
    if parsed.hostname not in LOCAL_HOSTS | set(allowed_hosts):
        raise ValueError(
            f"Invalid --s3-endpoint {endpoint!r}: host {parsed.hostname!r} is not 127.0.0.1 or localhost. "
            "Pass --allow-host NAME for a docker compose service name."
        )
    return endpoint


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m focus_generator", description=__doc__.splitlines()[0])
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--out", type=Path, help="local folder that acts as the export bucket")
    target.add_argument(
        "--s3-endpoint", help="S3 endpoint URL on 127.0.0.1, localhost or an --allow-host name"
    )
    parser.add_argument("--bucket", help="bucket to write to with --s3-endpoint")
    parser.add_argument(
        "--allow-host", action="append", default=[], help="extra endpoint host name to accept"
    )
    parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    parser.add_argument("--start-period", default="2026-03", help="first billing period, YYYY-MM")
    parser.add_argument("--months", type=int, default=3, help="billing periods, the current one included")
    parser.add_argument("--accounts", type=int, default=6, help="number of member accounts")
    parser.add_argument("--granularity", choices=("daily", "hourly"), default="daily")
    parser.add_argument("--deliveries", type=int, default=3, help="deliveries of the current period")
    parser.add_argument(
        "--as-of", help="generation time, ISO 8601 with time zone (default: 20th of last month)"
    )
    parser.add_argument("--rows-scale", type=float, default=1.0, help="multiplier of resources per account")
    parser.add_argument("--scenario", action="append", default=[], choices=sorted(SCENARIOS))
    parser.add_argument("--fault", action="append", default=[], choices=sorted(FAULTS))
    parser.add_argument("--focus-version", choices=("1.2", "1.0"), default="1.2")
    parser.add_argument(
        "--overwrite-mode", choices=("CREATE_NEW_REPORT", "OVERWRITE_REPORT"), default="CREATE_NEW_REPORT"
    )
    parser.add_argument("--partition-key-case", choices=("upper", "lower"), default="upper")
    parser.add_argument("--export-name", default="focus-export")
    parser.add_argument("--export-prefix", default="exports")
    parser.add_argument("--files", type=int, default=1, help="data files per delivery")
    args = parser.parse_args(argv)
    if args.s3_endpoint and not args.bucket:
        parser.error("--bucket is required with --s3-endpoint")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    as_of = datetime.fromisoformat(args.as_of) if args.as_of else None
    config = GeneratorConfig(
        seed=args.seed,
        start_period=args.start_period,
        months=args.months,
        accounts=args.accounts,
        granularity=args.granularity,
        deliveries_in_last_day=args.deliveries,
        as_of=as_of,
        rows_scale=args.rows_scale,
        scenarios=frozenset(args.scenario),
        faults=frozenset(args.fault),
        focus_version=args.focus_version,
        overwrite_mode=args.overwrite_mode,
        partition_key_case=args.partition_key_case,
        export_name=args.export_name,
        export_prefix=args.export_prefix,
    )
    if args.s3_endpoint:
        import boto3

        endpoint = check_endpoint(args.s3_endpoint, args.allow_host)
        client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            # The endpoint is a local emulator, so test credentials suffice when none are set.
            aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "testing"),
            aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "testing"),
        )
        target: Path | S3Target = S3Target(client, args.bucket)
    else:
        target = args.out
    for delivery in generate_history(config):
        write_delivery(delivery, target=target, config=config, files=args.files)
        labels = ",".join(sorted(delivery.faults | delivery.scenarios)) or "-"
        print(
            f"{delivery.billing_period} {delivery.delivered_at.isoformat()} {delivery.execution_id} "
            f"rows={delivery.table.num_rows} files={len(delivery.data_keys)} labels={labels}"
        )
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    try:
        sys.exit(main())
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
