# Sourced by the checks: source common.sh <venv|colcon> <ROS_DOMAIN_ID>.
# REALROS: the OUT folder of shared/tools/real-ros2-cli.sh; WORK: inputs, logs and outputs.
INSTALL=${1:?venv or colcon}
DOMAIN=${2:?a ROS_DOMAIN_ID for this run}
REALROS=${REALROS:?set REALROS to the OUT folder of real-ros2-cli.sh}
WORK=${WORK:?set WORK to a folder for the clip, logs and outputs}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
# shellcheck disable=SC1090
source "$REALROS/env-$INSTALL.sh" >/dev/null
export ROS_DOMAIN_ID=$DOMAIN ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST
export ROS_LOG_DIR=$WORK/log/$INSTALL-d$DOMAIN
mkdir -p "$ROS_LOG_DIR"
if [ "$INSTALL" = venv ]; then
  export FASTDDS_DEFAULT_PROFILES_FILE=$REPO/config/fastdds.xml
else
  FASTDDS_DEFAULT_PROFILES_FILE=$(ros2 pkg prefix wilor_ros)/share/wilor_ros/config/fastdds.xml
  export FASTDDS_DEFAULT_PROFILES_FILE
fi
ERRORS='ERROR|died|Traceback|Failed to'

wait_for() {  # wait_for SECONDS COMMAND...: poll the command until it succeeds or time is up
  local until=$(( $(date +%s) + $1 )); shift
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -ge "$until" ] && return 1
    sleep 0.3
  done
}

seconds_since() { python3 -c "import sys, time; print(round(time.time() - float(sys.argv[1]), 2))" "$1"; }
