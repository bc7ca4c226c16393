"""Seeded generator of AWS Data Exports deliveries in FOCUS 1.2 (FOCUS_1_2_AWS) format, for local use.

``generate_history`` returns deliveries, ``write_delivery`` writes one in the Data Exports layout
(manifest last) to a folder or an S3 endpoint, and ``apply_fault`` breaks one in a named way.
``catalog`` lists the scenarios and the account ids, regions and resources of their findings.
"""

from focus_generator.catalog import SCENARIOS
from focus_generator.faults import LAYOUT_FAULTS, apply_fault
from focus_generator.generate import (
    FAULTS,
    Delivery,
    GeneratorConfig,
    arrow_schema,
    generate_history,
    generate_period,
    to_focus_1_0,
    total_billed_cost,
)
from focus_generator.writer import S3Target, build_manifest, write_delivery

__all__ = [
    "FAULTS",
    "LAYOUT_FAULTS",
    "SCENARIOS",
    "Delivery",
    "GeneratorConfig",
    "S3Target",
    "apply_fault",
    "arrow_schema",
    "build_manifest",
    "generate_history",
    "generate_period",
    "to_focus_1_0",
    "total_billed_cost",
    "write_delivery",
]
