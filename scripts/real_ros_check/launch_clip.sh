#!/usr/bin/env bash
# ros2 launch wilor_ros wilor.launch.py use_source:=true source:=clip.mp4: how many of the 90
# frames reach /hands (a reliable subscriber started first), then Ctrl-C of the launch.
source "$(dirname "$0")/common.sh" "$@"
out=$WORK/out/launch_clip-$INSTALL; mkdir -p "$out"
python3 "$HERE/count_hands.py" "$out/count.txt" 20 > "$out/counter.log" 2>&1 &
counter=$!
wait_for 30 grep -q READY "$out/counter.log" || { echo 'the counter did not start'; exit 1; }
set -m
ros2 launch wilor_ros wilor.launch.py use_source:=true source:="$WORK/clip.mp4" \
  params_file:="$WORK/fixture_params.yaml" > "$out/launch.log" 2>&1 &
launch=$!
set +m
wait_for 300 grep -q 'end of' "$out/launch.log" || echo 'no "end of" line in 300 s'
wait "$counter"   # it ends 20 s after the last /hands
start=$(date +%s.%N); kill -INT -- -"$launch"; wait "$launch"; status=$?
echo "$INSTALL: launch exit $status, $(seconds_since "$start") s after Ctrl-C;" \
  "$(cat "$out/count.txt");" "error lines: $(grep -cE "$ERRORS" "$out/launch.log")"
grep -E 'end of|finished cleanly|user interrupted' "$out/launch.log"
ros2 daemon stop >/dev/null 2>&1 || true
