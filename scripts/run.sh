#!/usr/bin/env bash
# The main command: set up, fetch the WiLoR weights if missing, then run the ROS 2 graph
#   wilor_source (video file, image folder or webcam) -> wilor_node -> overlay recorder
# and write the rendered overlay video. Usage:
#   bash scripts/run.sh [SOURCE] [OUTPUT.mp4]
#   SOURCE: a video file, a folder of images, /dev/videoN or a webcam index (default: 0)
# Environment: WILOR_DETECTOR / WILOR_RECONSTRUCTOR override the weight files,
# WILOR_DEVICE (auto|cpu|cuda|cuda:N), WILOR_PRECISION (fp32|fp16|bf16).
set -euo pipefail
cd "$(dirname "$0")/.."
SOURCE=${1:-0}
OUTPUT=${2:-wilor_overlay.mp4}
bash scripts/setup.sh
source scripts/ros_env.sh
PY=.venv/bin/python

if [ -z "${WILOR_DETECTOR:-}" ] || [ -z "${WILOR_RECONSTRUCTOR:-}" ]; then
  # Downloads only what is missing (progress bar); without network it says so and fails.
  .venv/bin/wilor-download
  CACHE=$($PY -c 'from wilor_ros.tools.download import default_weights_dir; print(default_weights_dir())')
  WILOR_DETECTOR=${WILOR_DETECTOR:-$CACHE/detector.pt}
  WILOR_RECONSTRUCTOR=${WILOR_RECONSTRUCTOR:-$CACHE/wilor_final.ckpt}
fi

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -INT "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

.venv/bin/wilor_node --ros-args --params-file config/wilor.yaml \
  -p detector_path:="$WILOR_DETECTOR" -p reconstructor_path:="$WILOR_RECONSTRUCTOR" \
  -p device:="${WILOR_DEVICE:-auto}" -p precision:="${WILOR_PRECISION:-fp32}" \
  -p publish.debug_image:=true &
pids+=($!)
.venv/bin/wilor_source --ros-args -p source:="$SOURCE" -p loop:=false &
pids+=($!)
echo "[run] writing the overlay to $OUTPUT (Ctrl-C to stop); hands are on topic /hands"
$PY -m wilor_ros.ros.overlay_recorder --output "$OUTPUT"
