#!/usr/bin/env bash
# Creates the Python virtualenv the interop tests use to drive the Apache C++ RocketMQ client
# (rocketmq-client-cpp 2.1, bundled as librocketmq.so by PyPI's rocketmq-python-cvs).
#
#   bash interop/python/setup_venv.sh          # venv at <workspace>/target/interop-venv
#   INTEROP_VENV=/some/dir bash interop/python/setup_venv.sh
#
# Idempotent: when the venv already imports rocketmq.client it returns at once.
# Prints the venv's python path as its last line of stdout.
set -euo pipefail

PACKAGE="rocketmq-python-cvs==2.1.0.3"
# Drives headless Chromium (Debian's chromium + chromium-driver) for the console test,
# interop/tests/broker_console.rs through interop/python/console_browser.py.
SELENIUM="selenium==4.27.1"
# The Prometheus text-format parser interop/tests/broker_metrics.rs checks /metrics with.
PROM_PACKAGE="prometheus-client==0.21.1"
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
WORKSPACE_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
VENV="${INTEROP_VENV:-$WORKSPACE_ROOT/target/interop-venv}"
PY="$VENV/bin/python"

log() { echo "setup_venv: $*" >&2; }

# The check imports the ctypes wrapper, which loads librocketmq.so: that proves the system
# libraries it links against (libstdc++, zlib, pthread) are present, not just the files.
imports_ok() {
    [ -x "$PY" ] && "$PY" -c "
import importlib.metadata, rocketmq.client, selenium, prometheus_client.parser
assert importlib.metadata.version('rocketmq-python-cvs') == '${PACKAGE#*==}'
assert importlib.metadata.version('selenium') == '${SELENIUM#*==}'
assert importlib.metadata.version('prometheus-client') == '${PROM_PACKAGE#*==}'
" >/dev/null 2>&1
}

if imports_ok; then
    echo "$PY"
    exit 0
fi

# Debian splits venv support (ensurepip) out of python3; install it only when missing.
apt_install() {
    local packages=("$@")
    if [ "$(id -u)" -eq 0 ]; then
        apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}" >&2
    elif command -v sudo >/dev/null 2>&1; then
        sudo apt-get update -qq >&2 && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}" >&2
    else
        log "need Debian packages ${packages[*]} but am not root and have no sudo"
        exit 1
    fi
}

if ! command -v python3 >/dev/null 2>&1; then
    log "python3 missing; installing it"
    apt_install python3 python3-venv
fi
if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
    log "python3 venv support missing; installing python3-venv"
    apt_install python3-venv
fi

if [ ! -x "$PY" ]; then
    log "creating venv at $VENV"
    mkdir -p "$(dirname "$VENV")"
    python3 -m venv "$VENV" >&2
fi

log "installing $PACKAGE $SELENIUM $PROM_PACKAGE"
"$PY" -m pip install --disable-pip-version-check --quiet "$PACKAGE" "$SELENIUM" "$PROM_PACKAGE" >&2

# librocketmq.so needs libstdc++ and zlib. On a slim image without them the import fails;
# install the runtime packages once and try again.
if ! imports_ok; then
    log "import rocketmq.client failed; installing libstdc++6 and zlib1g"
    apt_install libstdc++6 zlib1g
fi
if ! imports_ok; then
    "$PY" -c 'import rocketmq.client' >&2 || true
    log "rocketmq.client still does not import"
    exit 1
fi
log "ok: $("$PY" -c 'import rocketmq, os; print(os.path.dirname(rocketmq.__file__))')"
echo "$PY"
