"""Map access on SkuPriceDetails through the delivery DAG and Athena: a missing key reads as NULL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from tests.integration.delivery_harness import athena_scalar, current_partitions, land_delivery, run_dag
from tests.integration.focus_rows import focus_row, focus_table

pytestmark = pytest.mark.integration


def test_instance_type_from_map_or_null(aws, airflow_db):
    rows = [
        focus_row(0, SkuPriceDetails=[("CoreCount", "8"), ("InstanceType", "m6i.2xlarge")]),
        focus_row(1, SkuPriceDetails=None),
        focus_row(2, SkuPriceDetails=[]),
        focus_row(3, SkuPriceDetails=[("CoreCount", "4")]),
    ]
    land_delivery(aws, focus_table(rows), "2026-04")

    _, states = run_dag("focus_delivery", datetime(2026, 4, 10, 12, tzinfo=UTC))

    assert states["promote_snapshot"] == "success"
    assert current_partitions(aws)["2026-04"]["rows"] == "4"
    instance_types = athena_scalar(
        aws,
        "SELECT array_join(array_agg(coalesce(element_at(skupricedetails, 'InstanceType'), 'NULL') "
        "ORDER BY resourceid), ',') FROM focus_current WHERE billing_period = '2026-04'",
    )
    assert instance_types == "m6i.2xlarge,NULL,NULL,NULL"
    core_total = athena_scalar(
        aws,
        "SELECT sum(CAST(element_at(skupricedetails, 'CoreCount') AS integer)) "
        "FROM focus_current WHERE billing_period = '2026-04'",
    )
    assert core_total == "12"
