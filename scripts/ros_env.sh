# Source me: the ROS 2 environment for the venv install, under the network rule used by the
# tests, CI and benchmarks (discovery on localhost only, a private domain id, logs in the tree,
# the Fast DDS profile with a large shared-memory segment for images).
# WILOR_VENV picks another venv made by setup.sh (relative to the repository or absolute), e.g.
# the Jazzy one of scripts/test_jazzy.sh; default .venv.
_wilor_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
_wilor_venv=${WILOR_VENV:-.venv}
case "$_wilor_venv" in /*) ;; *) _wilor_venv="$_wilor_root/$_wilor_venv" ;; esac
export AMENT_PREFIX_PATH="$_wilor_venv${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
export RMW_IMPLEMENTATION=${RMW_IMPLEMENTATION:-rmw_fastrtps_cpp}
export ROS_AUTOMATIC_DISCOVERY_RANGE=${ROS_AUTOMATIC_DISCOVERY_RANGE:-LOCALHOST}
export ROS_DOMAIN_ID=${ROS_DOMAIN_ID:-$((RANDOM % 100 + 1))}
export ROS_LOG_DIR=${ROS_LOG_DIR:-$_wilor_root/log/ros}
export FASTDDS_DEFAULT_PROFILES_FILE=${FASTDDS_DEFAULT_PROFILES_FILE:-$_wilor_root/config/fastdds.xml}
unset ROS_LOCALHOST_ONLY
mkdir -p "$ROS_LOG_DIR"
