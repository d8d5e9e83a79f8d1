#!/usr/bin/env python3
"""A flood of TCP connections from one source address (docs/limits.md).

    connection_flood.py <host:port> <source ip> <seconds> [connects per second]

Connects from <source ip> (any 127/8 address on loopback) at the given pace (default
1000/s), keeps every connection the server keeps, and closes those the server closes
(refused by ramjetMaxConnectionsPerClient). It sends nothing. The last line is
    FLOOD attempts=N refused=R open=O connect_errors=E seconds=S cpu_s=C
(C: this process's own user+system CPU time, to set against the client's figures on a
shared machine).
"""
import errno
import resource
import select
import socket
import sys
import time


def main():
    host, port = sys.argv[1].rsplit(":", 1)
    source, seconds = sys.argv[2], float(sys.argv[3])
    pace = float(sys.argv[4]) if len(sys.argv) > 4 else 1000.0
    held = {}
    poller = select.poll()
    attempts = refused = errors = 0
    start = time.monotonic()
    end = start + seconds

    def reap():
        nonlocal refused
        for fd, _ in poller.poll(0):
            sock = held.pop(fd, None)
            if sock is None:
                continue
            poller.unregister(fd)
            try:
                data = sock.recv(1)
            except OSError:
                data = b""
            if data == b"":
                refused += 1
            sock.close()

    while time.monotonic() < end:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.bind((source, 0))
            sock.connect((host, int(port)))
        except OSError as error:
            sock.close()
            errors += 1
            if error.errno in (errno.EADDRNOTAVAIL, errno.EADDRINUSE):
                time.sleep(0.01)  # out of ports: let TIME_WAIT drain
            continue
        attempts += 1
        held[sock.fileno()] = sock
        poller.register(sock.fileno(), select.POLLIN | select.POLLHUP | select.POLLERR)
        if attempts % 16 == 0:
            reap()
        # Pace: sleep until this attempt's slot.
        ahead = start + attempts / pace - time.monotonic()
        if ahead > 0:
            time.sleep(ahead)
    time.sleep(0.2)
    reap()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(
        f"FLOOD attempts={attempts} refused={refused} open={len(held)} "
        f"connect_errors={errors} seconds={time.monotonic() - start:.1f} "
        f"cpu_s={usage.ru_utime + usage.ru_stime:.2f}",
        flush=True,
    )


if __name__ == "__main__":
    main()
