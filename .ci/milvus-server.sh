#!/usr/bin/env bash
# The standalone Milvus server for the tests' server stage (tests/test_milvus_server.py), in its own venv:
# the PyPI package `milvus` (2.3.5: embedded etcd, RocksMQ, local storage) is a server, not a library, and stays
# out of askbot's venv. Installed from .ci/milvus-server.lock (the wheel's sha256; it has no dependencies).
# Idempotent; prints the launcher's path (what ASKBOT_MILVUS_SERVER may point to).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${ASKBOT_MILVUS_SERVER_VENV:-.venv-milvus-server}"
if [ ! -x "$VENV/bin/milvus-server" ]; then
    "${PYTHON:-python3}" -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --quiet --require-hashes -r .ci/milvus-server.lock
fi
echo "$PWD/$VENV/bin/milvus-server"
