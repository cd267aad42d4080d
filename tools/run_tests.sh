#!/usr/bin/env bash
# Set up the environment (with test tools) and run the test suite.
#   bash tools/run_tests.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
bash tools/setup_env.sh --tests

# 2 cores: one intra-op thread per process measured fastest here (data
# loading in tests runs in the main process, num_workers=0).
# In CI (CI=true) the research-only data lies beside the clone (../shared):
# a test that cannot find it fails there instead of skipping.
if [[ "${CI:-}" == "true" ]]; then
  export REPFORMER_REQUIRE_DATA=${REPFORMER_REQUIRE_DATA:-1}
fi
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
export MKL_NUM_THREADS=${MKL_NUM_THREADS:-1}

"$VENV/bin/ruff" check repformer_mmpose tools tests configs projects
set +e
"$VENV/bin/python" -m pytest tests -ra "$@"
status=$?
set -e
# pytest exits 5 when nothing was collected: that is a failure here.
if [[ $status == 5 ]]; then
  echo "[run_tests] pytest collected no tests" >&2
  exit 1
fi
exit $status
