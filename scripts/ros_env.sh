# Source me: the ROS 2 environment for the venv install, under the network rule used by the
# tests, CI and benchmarks (discovery on localhost only, a private domain id, logs in the tree,
# the Fast DDS profile with a large shared-memory segment for images).
_wilor_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export AMENT_PREFIX_PATH="$_wilor_root/.venv${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
export RMW_IMPLEMENTATION=${RMW_IMPLEMENTATION:-rmw_fastrtps_cpp}
export ROS_AUTOMATIC_DISCOVERY_RANGE=${ROS_AUTOMATIC_DISCOVERY_RANGE:-LOCALHOST}
export ROS_DOMAIN_ID=${ROS_DOMAIN_ID:-$((RANDOM % 100 + 1))}
export ROS_LOG_DIR=${ROS_LOG_DIR:-$_wilor_root/log/ros}
export FASTDDS_DEFAULT_PROFILES_FILE=${FASTDDS_DEFAULT_PROFILES_FILE:-$_wilor_root/config/fastdds.xml}
unset ROS_LOCALHOST_ONLY
mkdir -p "$ROS_LOG_DIR"
