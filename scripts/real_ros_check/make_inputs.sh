#!/usr/bin/env bash
# The clip and the parameters file of the checks, in $WORK.
set -euo pipefail
WORK=${WORK:?set WORK to a folder for the clip, logs and outputs}
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$WORK"
"$HERE/../../.venv/bin/python" "$HERE/make_inputs.py" "$HERE/../.." "$WORK"
