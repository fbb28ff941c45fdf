#!/usr/bin/env bash
# The inference core on ROS 2 Humble's Python (3.10, Ubuntu 22.04) without ROS: a venv
# (build/venv-py310) with only scripts/requirements-jammy-core.txt (requirements-ros.txt at its
# lower bounds + jammy-like numpy/SciPy/OpenCV/YAML), wilor_ros installed editable, then the
# suite. test/conftest.py skips what needs ROS 2 when rclpy is missing (DDS, messages, ament
# linters, colcon), so this checks that the core and the loose bounds work on Humble's Python.
# Extra arguments go to pytest. Exits non-zero when setup or any test fails.
#
# The venv lives under build/ on purpose: the licence-header test walks the work tree and skips
# build/ (and .venv) but no other hidden folder. WILOR_VENV selects another venv (as in setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
source scripts/find_python.sh
find_python 3.10 || { echo "test_core_py310.sh needs Python 3.10; set PYTHON" >&2; exit 1; }
VENV=${WILOR_VENV:-build/venv-py310}
case "$VENV" in /*) ;; *) VENV="$ROOT/$VENV" ;; esac
REQUIREMENTS=scripts/requirements-jammy-core.txt

start=$(date +%s)
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
# Same idempotence as setup.sh: reinstall only when a requirements file changed.
req_hash=$(cat scripts/requirements-jammy-core.txt scripts/requirements-ros.txt setup.py | sha256sum)
if [ "$(cat "$VENV/.wilor_requirements" 2>/dev/null)" != "$req_hash" ]; then
  "$VENV/bin/python" -m pip install -q -r "$REQUIREMENTS"
  # Editable, with the setuptools pinned above (no build isolation), as colcon would use it.
  "$VENV/bin/python" -m pip install -q --no-deps --no-build-isolation -e .
  echo "$req_hash" > "$VENV/.wilor_requirements"
fi
"$VENV/bin/python" -c 'import wilor_ros, numpy, cv2, scipy, torch
print("[py310] numpy", numpy.__version__, "opencv", cv2.__version__, "scipy", scipy.__version__,
      "torch", torch.__version__)'
if "$VENV/bin/python" -c 'import rclpy' 2>/dev/null; then
  echo "[py310] rclpy is importable in $VENV: this run is meant to be ROS-free" >&2
  exit 1
fi
echo "[py310] setup: $(( $(date +%s) - start )) s; venv $(du -sh "$VENV" | cut -f1)"

start=$(date +%s)
rc=0
"$VENV/bin/python" -m pytest test -p no:cacheprovider -rs "$@" || rc=$?
echo "[py310] tests: $(( $(date +%s) - start )) s (exit $rc)"
exit $rc
