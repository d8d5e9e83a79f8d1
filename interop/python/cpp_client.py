#!/usr/bin/env python3
"""Drive the Apache C++ RocketMQ client 2.1 (librocketmq.so from PyPI's rocketmq-python-cvs)
from the command line, so Rust tests can run it in a subprocess and read one JSON line.

    python cpp_client.py produce --namesrv 127.0.0.1:9876 --topic TopicTest --count 1
    python cpp_client.py consume --namesrv 127.0.0.1:9876 --topic TopicTest \\
        --expression "TagA || TagB" --seconds 10 --expect 1

produce prints {"sent": [...]} on success. When a send fails it prints {"error": "..."} and
exits with status 2 (for an unknown topic the message names the missing route).
consume prints {"received": [...]} once --expect messages arrived or --seconds elapsed.
"""

import argparse
import json
import os
import sys
import threading
import time

from rocketmq.client import Message, Producer, PushConsumer


def log_dir(args):
    path = args.log_dir or os.path.join(os.getcwd(), "interop-cpp-logs")
    os.makedirs(path, exist_ok=True)
    return path


def produce(args):
    producer = Producer(args.group, timeout=args.timeout_ms)
    producer.set_log_root_path(log_dir(args))
    producer.set_namesrv_addr(args.namesrv)
    producer.start()
    sent = []

    def message(i):
        msg = Message(args.topic)
        if args.tag:
            msg.set_tags(args.tag)
        if args.keys:
            msg.set_keys(args.keys)
        msg.set_property("interop", "true")
        msg.set_body("%s #%d" % (args.body, i))
        return msg

    try:
        if args.mode == "batch":
            result = producer.send_batch([message(i) for i in range(args.count)])
            sent.append({"status": result.status.name, "msg_id": result.msg_id,
                         "offset": result.offset})
        for i in range(args.count if args.mode != "batch" else 0):
            msg = message(i)
            if args.mode == "oneway":
                producer.send_oneway(msg)
                sent.append({"mode": "oneway"})
            else:
                result = producer.send_sync(msg)
                sent.append({"status": result.status.name, "msg_id": result.msg_id,
                             "offset": result.offset})
    except Exception as exc:  # The C++ client reports every failure as a RocketMQException.
        print(json.dumps({"error": str(exc), "exception": type(exc).__name__, "sent": sent}),
              flush=True)
        producer.shutdown()
        return 2
    print(json.dumps({"sent": sent}), flush=True)
    # The C++ client heartbeats brokers on a 30 s timer only; lingering lets one go out.
    time.sleep(args.linger_seconds)
    producer.shutdown()
    return 0


def consume(args):
    received = []
    done = threading.Event()
    lock = threading.Lock()

    def on_message(msg):
        with lock:
            received.append({"topic": msg.topic, "tags": msg.tags.decode("utf-8", "replace"),
                             "keys": msg.keys.decode("utf-8", "replace"),
                             "body": msg.body.decode("utf-8", "replace"), "id": msg.id,
                             "queue_id": msg.queue_id, "queue_offset": msg.queue_offset})
            if args.expect and len(received) >= args.expect:
                done.set()

    consumer = PushConsumer(args.group)
    consumer.set_log_root_path(log_dir(args))
    consumer.set_namesrv_addr(args.namesrv)
    consumer.subscribe(args.topic, on_message, expression=args.expression)
    consumer.start()
    done.wait(args.seconds)
    with lock:
        # Printed before shutdown: the C++ push consumer sometimes crashes while shutting down,
        # and the test should still see what arrived.
        print(json.dumps({"received": received}), flush=True)
        count = len(received)
    consumer.shutdown()
    return 0 if not args.expect or count >= args.expect else 3


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--namesrv", required=True)
    common.add_argument("--topic", required=True)
    common.add_argument("--log-dir", help="where librocketmq writes its logs")

    p = sub.add_parser("produce", parents=[common])
    p.add_argument("--group", default="interop_cpp_producer")
    p.add_argument("--count", type=int, default=1)
    p.add_argument("--tag", default="TagA")
    p.add_argument("--keys", default="interop-key")
    p.add_argument("--body", default="hello from the C++ client")
    p.add_argument("--mode", choices=["sync", "oneway", "batch"], default="sync")
    p.add_argument("--timeout-ms", type=int, default=3000)
    p.add_argument("--linger-seconds", type=float, default=0,
                   help="stay connected this long after the sends")

    c = sub.add_parser("consume", parents=[common])
    c.add_argument("--group", default="interop_cpp_consumer")
    c.add_argument("--expression", default="*")
    c.add_argument("--seconds", type=float, default=10)
    c.add_argument("--expect", type=int, default=0)

    args = parser.parse_args()
    started = time.time()
    status = produce(args) if args.command == "produce" else consume(args)
    print("cpp_client %s finished in %.1fs" % (args.command, time.time() - started),
          file=sys.stderr)
    # The C++ client keeps native threads around after shutdown; don't wait on them.
    sys.stdout.flush()
    os._exit(status)


if __name__ == "__main__":
    main()
