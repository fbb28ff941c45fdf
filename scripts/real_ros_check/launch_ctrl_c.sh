#!/usr/bin/env bash
# Ctrl-C of ros2 launch while the clip's frames flow (the node active, a /hands received), N times.
source "$(dirname "$0")/common.sh" "$@"
runs=${3:-10}
echo "$INSTALL: wilor_ros at $(ros2 pkg prefix wilor_ros)"
for run in $(seq 1 "$runs"); do
  out=$WORK/out/launch_ctrl_c-$INSTALL-$run; mkdir -p "$out"
  set -m
  ros2 launch wilor_ros wilor.launch.py use_source:=true source:="$WORK/clip.mp4" \
    params_file:="$WORK/fixture_params.yaml" > "$out/launch.log" 2>&1 &
  launch=$!
  set +m
  timeout 120 ros2 topic echo /hands wilor_msgs/msg/HandArray --once > "$out/echo.log" 2>&1
  echoed=$?
  start=$(date +%s.%N); kill -INT -- -"$launch"; wait "$launch"; status=$?
  echo "run $run: /hands echoed (exit $echoed), launch exit $status after" \
    "$(seconds_since "$start") s, error lines $(grep -cE "$ERRORS" "$out/launch.log")," \
    "'finished cleanly' $(grep -c 'finished cleanly' "$out/launch.log") of 2," \
    "'user interrupted' $(grep -c 'user interrupted' "$out/launch.log")"
  ros2 daemon stop >/dev/null 2>&1 || true
done
