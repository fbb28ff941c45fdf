# Source me: find_python X.Y sets PYTHON (unless already set) to a Python X.Y interpreter:
# pyenv's newest X.Y.* build, else pythonX.Y on PATH; returns 1 when there is none. Used by the
# scripts that test another distribution's Python (test_jazzy.sh: 3.12, test_core_py310.sh: 3.10).
find_python() {
  local version=$1 candidate
  [ -n "${PYTHON:-}" ] && return 0
  for candidate in $(ls -d "$HOME"/.pyenv/versions/"$version".* 2>/dev/null | sort -V -r); do
    if [ -x "$candidate/bin/python$version" ]; then
      PYTHON="$candidate/bin/python$version"
      return 0
    fi
  done
  if command -v "python$version" >/dev/null; then
    PYTHON=$(command -v "python$version")
    return 0
  fi
  return 1
}
