#!/usr/bin/env bash
# ros2 pkg executables, launch --show-args, ros2 run wilor_node (autostart) and the lifecycle /
# param / topic CLI against it, then Ctrl-C of ros2 run.
source "$(dirname "$0")/common.sh" "$@"
out=$WORK/out/run_node_cli-$INSTALL; mkdir -p "$out"
weights=$REPO/test/fixtures/a
echo '$ ros2 pkg executables wilor_ros'; ros2 pkg executables wilor_ros
ros2 launch wilor_ros wilor.launch.py --show-args > "$out/args.txt"
echo "\$ ros2 launch wilor_ros wilor.launch.py --show-args: exit $?," \
  "$(grep -cE "^    '[a-z_]+':$" "$out/args.txt") arguments"
set -m
ros2 run wilor_ros wilor_node --ros-args -p autostart:=true \
  -p detector_path:="$weights/detector/detector.pt" \
  -p reconstructor_path:="$weights/wilor/checkpoint.ckpt" -p device:=cpu > "$out/node.log" 2>&1 &
node=$!
set +m
wait_for 120 grep -q 'active:' "$out/node.log" || echo 'not active within 120 s'
cat "$out/node.log"
# The first CLI call after the ros2 daemon starts can miss what discovery has not delivered.
wait_for 30 ros2 lifecycle get /wilor_node || echo 'ros2 lifecycle get: no answer in 30 s'
for command in 'ros2 node list' 'ros2 lifecycle get /wilor_node' 'ros2 lifecycle nodes' \
    'ros2 param get /wilor_node detection.confidence' \
    'ros2 param set /wilor_node detection.confidence 0.45' \
    'ros2 param get /wilor_node detection.confidence' \
    'ros2 param set /wilor_node device cuda' 'ros2 param get /wilor_node device' \
    'ros2 param describe /wilor_node max_hands' 'ros2 topic info /hands -v'; do
  echo "\$ $command"; timeout 30 $command 2>&1; echo "(exit $?)"
done
echo "\$ ros2 param list /wilor_node: $(ros2 param list /wilor_node | grep -c '^  ') parameters"
start=$(date +%s.%N); kill -INT -- -"$node"; wait "$node"; status=$?
echo "ros2 run exit $status, $(seconds_since "$start") s after Ctrl-C;" \
  "error lines: $(grep -cE "$ERRORS" "$out/node.log")"
ros2 daemon stop >/dev/null 2>&1 || true
