#!/usr/bin/env bash
# The test command: set up everything (scripts/setup.sh), then run the whole suite under the
# project's network rule. Extra arguments go to pytest. Exits non-zero when any test fails.
# WILOR_VENV, PYTHON, WILOR_REQUIREMENTS, WILOR_PYTHON_VERSION select another venv install (see
# setup.sh); scripts/test_jazzy.sh uses them.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# A random domain for this run (ros_env.sh's default is the fixed user domain); every DDS test
# process also gets its own from test/ros_harness.py.
export ROS_DOMAIN_ID=${WILOR_TEST_DOMAIN_ID:-$((RANDOM % 100 + 1))}
source scripts/ros_env.sh 2>/dev/null
export WILOR_TEST_DOMAIN_BASE=${WILOR_TEST_DOMAIN_BASE:-$((RANDOM % 90 + 1))}
VENV=${WILOR_VENV:-.venv}
# The tests' own venv, even when another one is activated in the caller's shell (CMake's
# FindPython, run by the colcon test, follows VIRTUAL_ENV).
VIRTUAL_ENV=$(cd "$VENV" && pwd)
export VIRTUAL_ENV PATH="$VIRTUAL_ENV/bin:$PATH"
# The whole suite, or only the test files / folders / node ids given (pytest would otherwise
# collect the whole suite in addition to them).
targets=(test)
for arg in "$@"; do
  case "$arg" in
    -*) ;;
    *) [ -e "${arg%%::*}" ] && targets=() ;;
  esac
done
exec "$VENV/bin/python" -m pytest "${targets[@]}" -p no:cacheprovider "$@"
