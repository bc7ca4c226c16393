"""Parquet output of UNLOAD and CREATE TABLE AS SELECT in the layout Athena writes.

Athena (engine version 3, Trino) writes lowercase column names, timestamps in millisecond
precision, Hive partition folders (``key=value/``) and data files without a file name extension.
"""

from __future__ import annotations

import re
import secrets
import time
import uuid

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

# Compression names of the UNLOAD ``compression`` and CTAS ``write_compression`` properties.
PARQUET_COMPRESSION = {"SNAPPY": "snappy", "GZIP": "gzip", "ZSTD": "zstd", "LZ4": "lz4", "NONE": "none"}
HIVE_DEFAULT_PARTITION = "__HIVE_DEFAULT_PARTITION__"
_PROPERTY = re.compile(
    r"""(?is)\s*(\w+)\s*=\s*(ARRAY\s*\[(?P<items>[^\]]*)\]|'(?P<text>(?:[^']|'')*)'|(?P<bare>[^,]+))\s*(?:,|$)"""
)


class PropertyError(ValueError):
    """Raised for a WITH (...) property list that does not parse."""


def matching_paren(text: str, start: int) -> int:
    """Return the index of the ``)`` closing the ``(`` at ``start``, skipping quoted text."""
    depth = 0
    quote = ""
    for index in range(start, len(text)):
        char = text[index]
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"`":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return index
    raise PropertyError(f"Unbalanced parentheses after position {start}: {text[start : start + 80]!r}")


def parse_properties(text: str) -> dict[str, str | list[str]]:
    """Parse ``format = 'PARQUET', partitioned_by = ARRAY['a']`` into lowercase keys and values."""
    found: dict[str, str | list[str]] = {}
    position = 0
    text = text.strip()
    while position < len(text):
        match = _PROPERTY.match(text, position)
        if match is None:
            raise PropertyError(f"Invalid table property list near {text[position : position + 60]!r}.")
        key = match.group(1).lower()
        if match.group("items") is not None:
            items = re.findall(r"'((?:[^']|'')*)'", match.group("items"))
            found[key] = [item.replace("''", "'") for item in items]
        elif match.group("text") is not None:
            found[key] = match.group("text").replace("''", "'")
        else:
            found[key] = match.group("bare").strip()
        position = match.end()
    return found


def _millisecond_type(arrow_type: pa.DataType) -> pa.DataType:
    if pa.types.is_timestamp(arrow_type):
        return pa.timestamp("ms", tz=arrow_type.tz)
    if pa.types.is_map(arrow_type):
        return pa.map_(_millisecond_type(arrow_type.key_type), _millisecond_type(arrow_type.item_type))
    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type):
        return pa.list_(_millisecond_type(arrow_type.value_type))
    if pa.types.is_struct(arrow_type):
        return pa.struct([field.with_type(_millisecond_type(field.type)) for field in arrow_type])
    return arrow_type


def athena_table(table: pa.Table) -> pa.Table:
    """Lowercase the column names and truncate every timestamp, nested ones included, to milliseconds.

    DuckDB returns timestamps in microseconds, and Athena writes Parquet timestamps as
    TIMESTAMP(MILLIS) because Trino's default timestamp precision is 3.
    """
    columns = []
    fields = []
    for field, column in zip(table.schema, table.columns, strict=True):
        target = _millisecond_type(field.type)
        if target != field.type:
            column = pc.cast(column, target, safe=False)
        columns.append(column)
        fields.append(pa.field(field.name.lower(), target, nullable=True))
    return pa.Table.from_arrays(columns, schema=pa.schema(fields))


def data_file_name() -> str:
    """Return a data file name shaped like Athena's: Trino query id, then a UUID, no extension."""
    trino_id = f"{time.strftime('%Y%m%d_%H%M%S', time.gmtime())}_{secrets.randbelow(100000):05d}_"
    trino_id += "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(5))
    return f"{trino_id}_{uuid.uuid4()}"


def parquet_bytes(table: pa.Table, compression: str) -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression=compression)
    return sink.getvalue().to_pybytes()


def partition_folder_value(value: object) -> str:
    """Render a partition value as a Hive folder value (NULL becomes the default partition)."""
    if value is None:
        return HIVE_DEFAULT_PARTITION
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
