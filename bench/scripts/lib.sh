# Helpers shared by the benchmark scripts in this folder; each script sources it:
#   . "$(dirname "$0")/lib.sh"
# Servers bind 127.0.0.1 only, and only processes a script started are stopped, by PID.

# Prints the comment block at the top of the calling script (its usage) and exits 2.
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2; exit 2; }

# True if something accepts connections on 127.0.0.1:<port>.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# True if none of the given ports is open.
ports_free() { local port; for port in "$@"; do ! port_open "$port" || return 1; done; }

# Waits up to 30 s for <port> to open; exits with the tail of <log> if process <pid> dies
# first or the port stays closed.
wait_port() { # port pid log
  for _ in $(seq 300); do
    port_open "$1" && return 0
    kill -0 "$2" 2>/dev/null || { echo "server (pid $2) died; log $3:" >&2; tail -20 "$3" >&2; exit 1; }
    sleep 0.1
  done
  echo "port $1 not open after 30 s; log $3" >&2; exit 1
}

# Stops process <pid> (SIGTERM, then SIGKILL after <wait> tenths of a second, default 100).
stop_pid() { # pid [wait]
  kill "$1" 2>/dev/null || return 0
  for _ in $(seq "${2:-100}"); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
  kill -9 "$1" 2>/dev/null || true
}

# How idle CPUs wait, which moves every wake-up-bound figure (single-sender latency most):
# the cpuidle driver and, on KVM guests using cpuidle-haltpoll, guest_halt_poll_ns
# (tuning/README.md). Printed in each results header so runs on differently tuned
# machines are not compared by mistake.
idle_line() {
  local driver poll
  driver=$(cat /sys/devices/system/cpu/cpuidle/current_driver 2>/dev/null || echo none)
  poll=$(cat /sys/module/haltpoll/parameters/guest_halt_poll_ns 2>/dev/null || echo n/a)
  echo "cpuidle: $driver, guest_halt_poll_ns: $poll"
}
