# Source me: the ROS 2 environment for the venv install, under the network rule used by the
# tests, CI and benchmarks (discovery on localhost only, logs in the tree, the Fast DDS profile
# with a large shared-memory segment for images). The domain id is fixed (default 0, the ROS 2
# default; export ROS_DOMAIN_ID before sourcing to change it), so every shell that sources this
# file, or uses the same ROS_DOMAIN_ID and discovery range, sees the same topics. The tests
# pick their own random ids.
# WILOR_VENV picks another venv made by setup.sh (relative to the repository or absolute), e.g.
# the Jazzy one of scripts/test_jazzy.sh; default .venv.
_wilor_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
_wilor_venv=${WILOR_VENV:-.venv}
case "$_wilor_venv" in /*) ;; *) _wilor_venv="$_wilor_root/$_wilor_venv" ;; esac
export AMENT_PREFIX_PATH="$_wilor_venv${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
export RMW_IMPLEMENTATION=${RMW_IMPLEMENTATION:-rmw_fastrtps_cpp}
export ROS_AUTOMATIC_DISCOVERY_RANGE=${ROS_AUTOMATIC_DISCOVERY_RANGE:-LOCALHOST}
export ROS_DOMAIN_ID=${ROS_DOMAIN_ID:-0}
export ROS_LOG_DIR=${ROS_LOG_DIR:-$_wilor_root/log/ros}
export FASTDDS_DEFAULT_PROFILES_FILE=${FASTDDS_DEFAULT_PROFILES_FILE:-$_wilor_root/config/fastdds.xml}
unset ROS_LOCALHOST_ONLY
mkdir -p "$ROS_LOG_DIR"
echo "[ros_env] ROS_DOMAIN_ID=$ROS_DOMAIN_ID ROS_AUTOMATIC_DISCOVERY_RANGE=$ROS_AUTOMATIC_DISCOVERY_RANGE;" \
  "another shell sees the same topics after: source $_wilor_root/scripts/ros_env.sh" \
  "(or with a ROS 2 install: export ROS_DOMAIN_ID=$ROS_DOMAIN_ID" \
  "ROS_AUTOMATIC_DISCOVERY_RANGE=$ROS_AUTOMATIC_DISCOVERY_RANGE; ros2 topic echo /hands)" >&2
