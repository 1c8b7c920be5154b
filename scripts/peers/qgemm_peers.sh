#!/usr/bin/env bash
# Runs qgemm_peers.py in its own virtual environment (onnxruntime, onnx and
# numpy from PyPI), created on first use under the cache folder.
set -euo pipefail
venv="${SLIM_CACHE:-$HOME/.cache/slim}/peers-venv"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check onnxruntime onnx numpy
fi
exec "$venv/bin/python" "$(dirname "$0")/qgemm_peers.py" "$@"
