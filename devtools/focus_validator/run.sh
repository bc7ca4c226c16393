#!/usr/bin/env bash
# Validate a generated clean FOCUS 1.2 billing period with the FinOps Foundation's focus-validator.
#
# focus-validator 2.2.1 pins pandas 2 and numpy<2, so it gets its own virtualenv under
# build/focus-validator-venv. It reads its rule files by a relative path, so it runs from the
# site-packages folder. Usage: devtools/focus_validator/run.sh [BILLING_PERIOD]   (default 2026-04)
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
venv="${repo}/build/focus-validator-venv"
period="${1:-2026-04}"
out="${repo}/build/focus-validator-data"
python="${PYTHON:-python3.12}"

if [[ ! -x "${venv}/bin/focus-validator" ]]; then
    "${python}" -m venv "${venv}"
    "${venv}/bin/pip" install --quiet "focus-validator==2.2.1" "pyarrow<17" "numpy<2"
fi

rm -rf "${out}"
mkdir -p "${out}"
PYTHONPATH="${repo}/plugins:${repo}/devtools" "${repo}/.venv/bin/python" - "${period}" "${out}" <<'PY'
import sys
from pathlib import Path

import pyarrow.parquet as pq

from focus_generator import GeneratorConfig, generate_period

period, out = sys.argv[1], Path(sys.argv[2])
table = generate_period(GeneratorConfig(), period)
pq.write_table(table, out / f"focus-{period}.parquet", compression="snappy", store_schema=False)
print(f"Generated {table.num_rows} rows of {period} in {out}")
PY

# Its rule files are read by paths like focus_validator/rules/..., relative to site-packages.
packages_dir="$("${venv}/bin/python" -c 'import focus_validator, os; print(os.path.dirname(os.path.dirname(focus_validator.__file__)))')"
cd "${packages_dir}"
"${venv}/bin/focus-validator" --help >/dev/null
exec "${venv}/bin/focus-validator" --data-file "${out}/focus-${period}.parquet" \
    --validate-version 1.2.0.1 --block-download "${@:2}"
