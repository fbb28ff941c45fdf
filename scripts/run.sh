#!/usr/bin/env bash
# The main command: set up, fetch the WiLoR weights if missing, then run the ROS 2 graph
#   wilor_source (video file, image folder or webcam) -> wilor_node -> overlay recorder
# and write the rendered overlay video. Usage:
#   bash scripts/run.sh [SOURCE] [OUTPUT.mp4]
#   SOURCE: a video file, a folder of images, /dev/videoN or a webcam index (default: 0);
#   relative paths are relative to the folder you run it from.
# A file or folder is paced on the node: every frame is processed and the overlay has every
# frame at the source's frame rate, however slow the processing. A webcam runs live until
# Ctrl-C. Exit status: 0 when the file was processed to its end; non-zero when the source
# cannot be opened, a process fails, or on Ctrl-C (130) / SIGTERM (143), after stopping all
# processes it started.
# Environment: WILOR_DETECTOR / WILOR_RECONSTRUCTOR override the weight files,
# WILOR_DEVICE (auto|cpu|cuda|cuda:N), WILOR_PRECISION (auto|fp32|tf32|fp16|bf16), ROS_DOMAIN_ID,
# WILOR_VENV (the venv of scripts/setup.sh, default .venv).
set -euo pipefail
CALLER_DIR=$PWD
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

absolute() {  # a path as the caller meant it
  case "$1" in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$CALLER_DIR/$1" ;; esac
}
SOURCE=${1:-0}
case "$SOURCE" in
  *[!0-9]*|'') SOURCE=$(absolute "$SOURCE") ;;  # a path, not a webcam index
esac
OUTPUT=$(absolute "${2:-wilor_overlay.mp4}")
for name in WILOR_DETECTOR WILOR_RECONSTRUCTOR; do
  if [ -n "${!name:-}" ]; then export "$name=$(absolute "${!name}")"; fi
done
cd "$ROOT"

say() { echo "[run] $*" >&2; }
pids=()

running() {  # true while the process runs (an exited child that is not reaped yet does not)
  local state
  state=$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null) && [ -n "$state" ] && [ "$state" != Z ]
}
stop_all() {
  # SIGTERM: background processes of a script ignore SIGINT. The nodes run in sessions of
  # their own (setsid), so each gets exactly this one signal (a terminal's Ctrl-C reaches only
  # this script) and ends cleanly; whatever still runs 15 s later is killed.
  trap '' INT TERM
  local pid alive=()
  for pid in "${pids[@]}"; do
    if kill -TERM "$pid" 2>/dev/null; then alive+=("$pid"); fi
  done
  local deadline=$((SECONDS + 15))
  while [ ${#alive[@]} -gt 0 ]; do
    local still=()
    for pid in "${alive[@]}"; do if running "$pid"; then still+=("$pid"); fi; done
    alive=("${still[@]}")
    if [ ${#alive[@]} -gt 0 ] && [ $SECONDS -ge $deadline ]; then
      say "killing what did not stop: ${alive[*]}"
      kill -KILL "${alive[@]}" 2>/dev/null || true
      break
    fi
    [ ${#alive[@]} -eq 0 ] || sleep 0.2
  done
  wait 2>/dev/null || true   # reap them
  pids=()
}
on_signal() {
  say "stopping (signal)"
  stop_all
  exit "$1"
}
trap 'on_signal 130' INT
trap 'on_signal 143' TERM
ready_dir=''   # the overlay recorder's ready file lives here (made below)
trap 'stop_all; [ -z "$ready_dir" ] || rm -rf "$ready_dir"' EXIT

forget() {  # drop a finished process from the list stop_all signals
  local pid kept=()
  for pid in "${pids[@]}"; do [ "$pid" = "$1" ] || kept+=("$pid"); done
  pids=("${kept[@]}")
}
step() {  # run a step in the background, so that a signal is handled at once
  "$@" &
  local pid=$! rc=0
  pids+=("$pid")
  wait "$pid" || rc=$?
  forget "$pid"
  return "$rc"
}
start() {  # start a long-running process in a session of its own; sets $started
  setsid "$@" &
  started=$!
  pids+=("$started")
}

step bash scripts/setup.sh
source scripts/ros_env.sh
# The venv setup.sh made: WILOR_VENV as in setup.sh (e.g. the Jazzy one), default .venv.
VENV=${WILOR_VENV:-.venv}
PY=$VENV/bin/python

# The source first: a wrong path or a missing webcam fails here, in one line, before the
# weights are downloaded or loaded.
CHECK_SOURCE='
import sys
from wilor_ros.media_io import MediaError, open_input
try:
    source = open_input(sys.argv[1])
except MediaError as error:
    sys.exit(str(error))
if source.kind == "bag":
    sys.exit(f"{sys.argv[1]} is a bag: replay it with ros2 bag play, or use wilor-infer")
getattr(source, "close", lambda: None)()
'
if ! problem=$("$PY" -c "$CHECK_SOURCE" "$SOURCE" 2>&1); then
  say "error: cannot open the source: ${problem##*$'\n'}"
  exit 2
fi

if [ -z "${WILOR_DETECTOR:-}" ] || [ -z "${WILOR_RECONSTRUCTOR:-}" ]; then
  # Downloads only what is missing (progress bar); without network it says so and fails.
  step "$VENV/bin/wilor-download"
  CACHE=$($PY -c 'from wilor_ros.tools.download import default_weights_dir; print(default_weights_dir())')
  WILOR_DETECTOR=${WILOR_DETECTOR:-$CACHE/detector.pt}
  WILOR_RECONSTRUCTOR=${WILOR_RECONSTRUCTOR:-$CACHE/wilor_final.ckpt}
fi

# A file or folder is paced on the node and sent reliably (every frame is wanted; and Jazzy's
# rmw_fastrtps loses large best-effort frames under LOCALHOST discovery, docs/install.md); a
# webcam runs live and best effort, as a camera driver. WILOR_IMAGE_RELIABILITY overrides.
case "$SOURCE" in
  /dev/video*) live=1 ;;
  *[!0-9]*) live=0 ;;
  *) live=1 ;;  # a webcam index
esac
if [ "$live" = 1 ]; then reliability=${WILOR_IMAGE_RELIABILITY:-best_effort}; pacing=()
else reliability=${WILOR_IMAGE_RELIABILITY:-reliable}; pacing=(-p pace_topic:=hands); fi
images=(-p image_reliability:="$reliability")
# autostart: the lifecycle node configures and activates itself (ignored by a plain node).
start "$VENV/bin/wilor_node" --ros-args --params-file config/wilor.yaml \
  -p autostart:=true \
  -p detector_path:="$WILOR_DETECTOR" -p reconstructor_path:="$WILOR_RECONSTRUCTOR" \
  -p device:="${WILOR_DEVICE:-auto}" -p precision:="${WILOR_PRECISION:-auto}" \
  -p publish.debug_image:=true "${images[@]}"
node_pid=$started
# The source starts once the recorder is matched with the node's publishers: the node answers
# the first frame at once, and a reliable message sent before a subscriber matched is lost to
# it (the overlay would miss its first frames on a loaded machine).
ready_dir=$(mktemp -d)
start "$PY" -m wilor_ros.ros.overlay_recorder --output "$OUTPUT" --ready-file "$ready_dir/ready"
recorder_pid=$started
while [ ! -e "$ready_dir/ready" ] && running "$node_pid" && running "$recorder_pid"; do
  sleep 0.1
done
start "$VENV/bin/wilor_source" --ros-args -p source:="$SOURCE" -p loop:=false \
  "${pacing[@]}" "${images[@]}"
source_pid=$started
say "writing the overlay to $OUTPUT (Ctrl-C to stop); hands on /hands, ROS_DOMAIN_ID=$ROS_DOMAIN_ID"

while true; do
  rc=0
  wait -n -p finished "$node_pid" "$recorder_pid" "$source_pid" || rc=$?
  case "$finished" in
    "$source_pid")
      forget "$source_pid"
      if [ "$rc" -ne 0 ]; then
        say "error: wilor_source failed (exit status $rc)"
        exit "$rc"
      fi
      # The whole file was published, each frame after the previous one was processed:
      # let the recorder write the last frames, then stop the node.
      kill -TERM "$recorder_pid" 2>/dev/null || true
      rc=0
      wait "$recorder_pid" || rc=$?
      forget "$recorder_pid"
      stop_all
      exit "$rc"
      ;;
    "$node_pid")
      say "error: wilor_node stopped (exit status $rc)"
      exit $((rc ? rc : 1))
      ;;
    "$recorder_pid")
      say "error: the overlay recorder stopped (exit status $rc)"
      exit $((rc ? rc : 1))
      ;;
  esac
done
