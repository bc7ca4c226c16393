"""Turn a FOCUS 1.0 CSV export (as AWS's anonymised sample is written) into a FOCUS_1_0_AWS table.

The CSV writes NULL as the literal ``NULL``, timestamps as ``YYYY-MM-DD HH:MM:SS`` (UTC, without
``T`` or ``Z``), ``Tags`` as JSON text, and account ids as digit strings. The table has the 48
columns and Parquet types of a FOCUS_1_0_AWS delivery: columns the CSV lacks are NULL, columns
the export does not have (such as the sample's ``Id``) are dropped, and account ids stay strings.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from focus_pipeline.focus_schema import AWS_FOCUS_1_0_COLUMNS

NULL_TEXT = "NULL"
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"

_ARROW_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "double": pa.float64(),
    "timestamp": pa.timestamp("ms", tz="UTC"),
    "map<string,string>": pa.map_(pa.string(), pa.string()),
    "map<string,double>": pa.map_(pa.string(), pa.float64()),
}


def _json_map(values: pa.ChunkedArray, column: str, arrow_type: pa.DataType) -> pa.Array:
    entries = []
    for position, text in enumerate(values.to_pylist()):
        if text is None or text == "":
            entries.append(None)
            continue
        try:
            document = json.loads(text)
        except json.JSONDecodeError as err:
            raise ValueError(f"Row {position + 1}: {column} is not valid JSON text: {err}.") from err
        if not isinstance(document, dict):
            raise ValueError(f"Row {position + 1}: {column} is JSON but not an object: {text!r}.")
        entries.append([(str(key), value) for key, value in document.items()])
    return pa.array(entries, arrow_type)


def _convert(values: pa.ChunkedArray, column: str, kind: str) -> pa.Array | pa.ChunkedArray:
    arrow_type = _ARROW_TYPES[kind]
    if kind == "string":
        return values
    if kind == "double":
        return pc.cast(values, pa.float64())
    if kind == "timestamp":
        parsed = pc.strptime(values, format=TIMESTAMP_FORMAT, unit="ms", error_is_null=False)
        return pc.assume_timezone(parsed, "UTC")
    return _json_map(values, column, arrow_type)


def csv_to_delivery_table(path: str | Path, provider_name: str | None = "AWS") -> pa.Table:
    """Read a FOCUS 1.0 CSV export and return it as a FOCUS_1_0_AWS table (48 columns).

    Only rows whose ProviderName is ``provider_name`` are kept (all rows when None), because an
    AWS export holds AWS charges only. Every CSV column is read as text first, so account ids keep
    their digits and leading zeros, then converted to the AWS Parquet type of its column. Raises
    ValueError naming the column for a value that cannot be converted.
    """
    read_options = pacsv.ReadOptions()
    header = pacsv.read_csv(path, read_options=read_options).schema.names
    convert_options = pacsv.ConvertOptions(
        column_types={name: pa.string() for name in header},
        null_values=[NULL_TEXT],
        strings_can_be_null=True,
        quoted_strings_can_be_null=False,
    )
    source = pacsv.read_csv(path, read_options=read_options, convert_options=convert_options)
    if provider_name is not None:
        source = source.filter(pc.equal(source.column("ProviderName"), provider_name))
    columns = {}
    for name, kind in AWS_FOCUS_1_0_COLUMNS.items():
        arrow_type = _ARROW_TYPES[kind]
        if name not in source.column_names:
            columns[name] = pa.nulls(source.num_rows, arrow_type)
            continue
        try:
            columns[name] = _convert(source.column(name), name, kind)
        except (pa.ArrowInvalid, ValueError) as err:
            raise ValueError(f"Column {name} of {path} cannot be read as {kind}: {err}") from err
    schema = pa.schema([(name, _ARROW_TYPES[kind]) for name, kind in AWS_FOCUS_1_0_COLUMNS.items()])
    return pa.table(columns, schema=schema)
