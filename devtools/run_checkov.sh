#!/usr/bin/env bash
# Scan infra/terraform with checkov in its own virtualenv (build/checkov-venv): checkov's pins
# clash with the Airflow constraints, so it must never be installed into the project's .venv.
# Usage: devtools/run_checkov.sh [extra checkov arguments]
# Exit status: checkov's (0 when no check failed).
set -euo pipefail

CHECKOV_VERSION="3.3.30"
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${REPO_ROOT}/build/checkov-venv"
PYTHON="${CHECKOV_PYTHON:-python3}"

if [[ ! -x "${VENV}/bin/checkov" ]] || ! "${VENV}/bin/checkov" --version 2>/dev/null | grep -qx "${CHECKOV_VERSION}"; then
  echo "Creating ${VENV} with checkov==${CHECKOV_VERSION}" >&2
  rm -rf "${VENV}"
  "${PYTHON}" -m venv "${VENV}"
  "${VENV}/bin/python" -m pip install --quiet --upgrade pip
  "${VENV}/bin/python" -m pip install --quiet "checkov==${CHECKOV_VERSION}"
fi

cd "${REPO_ROOT}"
# Keep checkov offline apart from the install: no guideline mapping download from the vendor.
export BC_SKIP_MAPPING=TRUE
# The .checkov.yaml at the repo root sets the framework and output; inline skips carry reasons.
exec "${VENV}/bin/checkov" --config-file "${REPO_ROOT}/.checkov.yaml" --directory infra/terraform "$@"
