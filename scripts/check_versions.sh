#!/usr/bin/env bash
# Check the plugin against the pytest versions CI does not run (CI runs the newest, from the
# `test` extra): one fresh virtualenv per version, then a subset of the suite that exercises
# the pytest integration (collection, conventions, fixtures, syrupy, xdist).
#
#   scripts/check_versions.sh                 # pytest 8.4, 9.1 and 9.2 on python3
#   PYTHON=python3.13 scripts/check_versions.sh 9.2.0
#
# Needs the network for pip (the registry). Prints one PASS/FAIL line per version and exits
# non-zero if any failed.
set -uo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
VERSIONS=("$@")
[ ${#VERSIONS[@]} -eq 0 ] && VERSIONS=(8.4.2 9.1.1 9.2.0)
SUBSET=(
    tests/integration/test_pytest_conventions.py
    tests/integration/test_fixture_cf_gateway.py
    tests/integration/test_xdist_results.py
    tests/integration/test_example_project.py::test_example_project_replays_offline
)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
status=0
for v in "${VERSIONS[@]}"; do
    venv="$WORK/pytest-$v"
    "$PY" -m venv "$venv"
    if ! "$venv/bin/python" -m pip install --quiet -e '.[test]' "pytest==$v" >"$WORK/install-$v.log" 2>&1; then
        echo "FAIL pytest $v: install (see below)"; tail -n 20 "$WORK/install-$v.log"; status=1; continue
    fi
    pyv=$("$venv/bin/python" -c 'import sys; print(".".join(map(str, sys.version_info[:3])))')
    # the subset (its end-to-end tests run inner sessions, serial and under -n 2), then the
    # example project as a user runs it, serial and under xdist
    # (before pytest 9.2, the suite's in-process inner sessions see pytest-asyncio's
    # configure-time deprecation warning, which the suite's "error" filter would turn into
    # an INTERNALERROR: the subset ignores that warning category)
    for cmd in "pytest -q -W ignore::pytest.PytestDeprecationWarning ${SUBSET[*]}" "pytest -q example_project" "pytest -q -n 2 example_project"; do
        if "$venv/bin/python" -m $cmd >"$WORK/run.log" 2>&1; then
            echo "PASS pytest $v on Python $pyv: $cmd: $(tail -n 1 "$WORK/run.log")"
        else
            echo "FAIL pytest $v on Python $pyv: $cmd:"; tail -n 30 "$WORK/run.log"; status=1
        fi
    done
done
exit $status
