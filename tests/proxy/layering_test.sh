#!/bin/sh
# The data plane does not depend on the control plane: no file under
# src/proxy includes src/control, and the proxy library references no
# symbol of the control plane (store, SQLite, etcd).
# Usage: layering_test.sh SOURCE_DIR LIBGM_PROXY
set -eu
src=$1 lib=$2
if grep -rn '#include "control/' "$src/src/proxy"; then
  echo "src/proxy includes src/control (above)" >&2
  exit 1
fi
bad=$(nm -C --undefined-only "$lib" | grep -E 'graymesh::control::|sqlite3_' || true)
if [ -n "$bad" ]; then
  echo "gm_proxy references control-plane symbols:" >&2
  echo "$bad" >&2
  exit 1
fi
echo "gm_proxy: no control-plane include or symbol"
