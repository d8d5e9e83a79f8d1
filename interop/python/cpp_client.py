#!/usr/bin/env python3
"""Drive the Apache C++ RocketMQ client 2.1 (librocketmq.so from PyPI's rocketmq-python-cvs)
from the command line, so Rust tests can run it in a subprocess and read one JSON line.

    python cpp_client.py produce --namesrv 127.0.0.1:9876 --topic TopicTest --count 1
    python cpp_client.py consume --namesrv 127.0.0.1:9876 --topic TopicTest \\
        --expression "TagA || TagB" --seconds 10 --expect 1

produce prints {"sent": [...], "errors": [...]}; each sent entry has the message "id" (its body
when --id-prefix is given), "mode", and for acknowledged sends "status", "msg_id", "offset".
When a send fails it prints {"error": "...", ...} and exits with status 2 (for an unknown topic
the message names the missing route), unless --keep-going, which records the error and goes on.
  --mode sync|async|oneway|batch   send_sync, send_async (waits for every callback),
                                   send_oneway, send_batch (one batch of --count messages)
  --mode orderly                   SendMessageOrderlyByShardingKey with key "key-<i % --keys-count>"
  --mode selector                  send_orderly(msg, i % --keys-count): the hashing selector
  --until-file F                   keep sending (i = 0, 1, ...) until F exists (--count caps it
                                   when > 0); with --ack-file every acknowledged id is appended
                                   to that file as it is acknowledged, so a crash loses nothing.

  --body-size N                    pad bodies to N bytes ("<id> <pad>", the pad derived from
                                   the id); --compress-over and --max-message-size set the
                                   client's compression threshold and size limit.

consume prints {"received": [...]} (each message's topic, tags, keys, body, id, queue_id,
queue_offset, reconsume_times, and for padded bodies size and whether the pad is intact) once
--expect messages arrived (then --settle-seconds more, to catch extra or duplicate deliveries),
--until-file exists, or --seconds elapsed. --record-file appends each message as a JSON line
while it runs, for a test that watches progress. --orderly registers an orderly listener;
--model broadcasting sets BROADCASTING; --fail-once answers RECONSUME_LATER to the first
delivery of each message (recorded with "failed": true, not counted as received).
--exit abrupt ends the process right after printing, without shutdown() (the broker sees the
connections close); graceful (the default) calls shutdown(): it persists offsets
(UPDATE_CONSUMER_OFFSET) and unregisters (UNREGISTER_CLIENT). That needs message trace on (the
default here): with it off, the C++ push consumer's shutdown() segfaults before doing either.
The JSON line is printed before shutdown in any case.

transaction sends each of --bodies (comma separated) as a transactional message with the C++
TransactionMQProducer (CreateTransactionProducer / SendMessageTransaction, exported by
librocketmq.so but not wrapped by the Python package). The local transaction answers COMMIT
for bodies starting "commit-", ROLLBACK for "rollback-", UNKNOWN otherwise; a check-back
answers COMMIT when the body contains "commit-", else ROLLBACK. It stays --linger-seconds to
answer check-backs, then prints {"sent": [{"id", "status", "msg_id", "offset"}], "checks":
{body: count}}.

pull prints {"received": [...]} with every message of every queue from offset 0, read with
the pull consumer (PullConsumer.pull, no offsets stored on the broker).

HOME and ROCKETMQ_CLIENT_LOG_DIR are pointed at --log-dir, so the client's logs and its local
offset store (~/.rocketmq_offsets, used by broadcasting consumers) stay with the test.
"""

import argparse
import base64
import ctypes
import json
import os
import random
import sys
import threading
import time

TRACE_OPEN = 0  # CTraceModel OPEN (CCommon.h); CLOSE is 1.


def load_client(args):
    """Imports the client once the environment points its files at --log-dir.

    librocketmq reads $ROCKETMQ_CLIENT_LOG_DIR (else it logs push consumers to
    /logs/rocketmq-client, ignoring SetPushConsumerLogPath) and $HOME (its local offset store,
    ~/.rocketmq_offsets, used by broadcasting consumers), so both are set before it loads.
    """
    os.environ["ROCKETMQ_CLIENT_LOG_DIR"] = log_dir(args)
    os.environ["HOME"] = log_dir(args)
    global Message, MessageModel, Producer, PushConsumer, RecvMessage, SendResult, SendStatus
    global ffi_check, _CSendResult, dll
    from rocketmq.client import (Message, MessageModel, Producer, PushConsumer, RecvMessage,
                                 SendResult, SendStatus)
    from rocketmq.exceptions import ffi_check
    from rocketmq.ffi import _CSendResult, dll
    # Exported by librocketmq.so (CProducer.h) but not wrapped by the Python package: it picks
    # the queue by hashing the key (SelectMessageQueueInner) and retries up to 3 times.
    dll.SendMessageOrderlyByShardingKey.argtypes = [
        ctypes.c_void_p, ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(_CSendResult)]
    dll.SendMessageOrderlyByShardingKey.restype = ctypes.c_int
    dll.SetPushConsumerMessageTrace.argtypes = [ctypes.c_void_p, ctypes.c_int]
    dll.SetPushConsumerMessageTrace.restype = ctypes.c_int
    dll.SetProducerCompressMsgBodyOverHowmuch.argtypes = [ctypes.c_void_p, ctypes.c_int]
    dll.SetProducerCompressMsgBodyOverHowmuch.restype = ctypes.c_int
    global PullConsumer
    from rocketmq.client import PullConsumer


def log_dir(args):
    path = os.path.abspath(args.log_dir or os.path.join(os.getcwd(), "interop-cpp-logs"))
    os.makedirs(path, exist_ok=True)
    return path


def message_id(args, i):
    return "%s-%d" % (args.id_prefix, i) if args.id_prefix else "%s #%d" % (args.body, i)


def shard_key(args, i):
    return "key-%d" % (i % args.keys_count)


def tag_for(args, i):
    tags = [tag for tag in args.tag.split(",") if tag] if args.tag else []
    return tags[i % len(tags)] if tags else None


def padded_body(message_id, size):
    """`<id>` alone, or `<id> <pad>` of `size` bytes with a pad derived from the id (printable,
    so the C string API carries it, and not very compressible), so a consumer can check it."""
    if size <= len(message_id) + 1:
        return message_id
    rng = random.Random(message_id)
    pad_len = size - len(message_id) - 1
    pad = base64.b64encode(rng.getrandbits(8 * pad_len).to_bytes(pad_len, "little"))
    return message_id + " " + pad[:pad_len].decode("ascii")


def build_message(args, i):
    msg = Message(args.topic)
    tag = tag_for(args, i)
    if tag:
        msg.set_tags(tag)
    if args.id_prefix:
        msg.set_keys(message_id(args, i))
    elif args.keys:
        msg.set_keys(args.keys)
    msg.set_property("interop", "true")
    if args.mode in ("orderly", "selector"):
        msg.set_property("shard", shard_key(args, i))
    msg.set_body(padded_body(message_id(args, i), args.body_size))
    return msg


def send_by_sharding_key(producer, msg, key):
    result = _CSendResult()
    ffi_check(dll.SendMessageOrderlyByShardingKey(
        producer._handle, msg, key.encode("utf-8"), ctypes.pointer(result)))
    return SendResult(SendStatus(result.sendStatus), result.msgId.decode("utf-8"), result.offset)


def result_entry(args, i, result, mode):
    entry = {"id": message_id(args, i), "mode": mode, "status": result.status.name,
             "msg_id": result.msg_id, "offset": result.offset}
    if args.mode in ("orderly", "selector"):
        entry["shard"] = shard_key(args, i)
    return entry


class AckLog:
    """Appends acknowledged ids to a file, one per line, flushed at once."""

    def __init__(self, path):
        self.file = open(path, "a", buffering=1) if path else None
        self.lock = threading.Lock()

    def write(self, message_id):
        if self.file:
            with self.lock:
                self.file.write(message_id + "\n")
                self.file.flush()


def produce(args):
    producer = Producer(args.group, timeout=args.timeout_ms,
                        max_message_size=args.max_message_size)
    producer.set_log_root_path(log_dir(args))
    if args.compress_over is not None:
        ffi_check(dll.SetProducerCompressMsgBodyOverHowmuch(producer._handle, args.compress_over))
    producer.set_namesrv_addr(args.namesrv)
    producer.start()
    sent, errors = [], []
    acks = AckLog(args.ack_file)

    def failed(i, exc):
        errors.append({"id": message_id(args, i), "error": str(exc),
                       "exception": type(exc).__name__})
        if not args.keep_going:
            print(json.dumps({"error": str(exc), "exception": type(exc).__name__,
                              "sent": sent, "errors": errors}), flush=True)
            producer.shutdown()
            return True
        time.sleep(args.error_pause_ms / 1000.0)
        return False

    def indexes():
        if args.until_file:
            i = 0
            while not os.path.exists(args.until_file) and (args.count <= 0 or i < args.count):
                yield args.start + i
                i += 1
                if args.pause_ms:
                    time.sleep(args.pause_ms / 1000.0)
        else:
            for i in range(args.count):
                yield args.start + i

    if args.mode == "batch":
        try:
            ids = list(indexes())
            result = producer.send_batch([build_message(args, i) for i in ids])
            for i in ids:
                sent.append(result_entry(args, i, result, "batch"))
                acks.write(message_id(args, i))
        except Exception as exc:  # The C++ client reports every failure as a RocketMQException.
            if failed(ids[0] if ids else 0, exc):
                return 2
    elif args.mode == "async":
        pending = threading.Condition()
        outstanding = [0]

        def callbacks(i):
            def on_success(result):
                with pending:
                    sent.append(result_entry(args, i, result, "async"))
                    acks.write(message_id(args, i))
                    outstanding[0] -= 1
                    pending.notify_all()

            def on_exception(exc):
                with pending:
                    errors.append({"id": message_id(args, i), "error": str(exc),
                                   "exception": type(exc).__name__})
                    outstanding[0] -= 1
                    pending.notify_all()
            return on_success, on_exception

        messages = []  # Kept alive until every callback ran: the C++ side copies, but be safe.
        for i in indexes():
            msg = build_message(args, i)
            messages.append(msg)
            on_success, on_exception = callbacks(i)
            with pending:
                outstanding[0] += 1
            try:
                producer.send_async(msg, on_success, on_exception)
            except Exception as exc:
                with pending:
                    outstanding[0] -= 1
                if failed(i, exc):
                    return 2
        deadline = time.time() + args.timeout_ms / 1000.0 * 4 + 5
        with pending:
            while outstanding[0] > 0 and time.time() < deadline:
                pending.wait(0.1)
            if outstanding[0] > 0:
                errors.append({"error": "%d async sends never called back" % outstanding[0]})
            if any("error" in entry for entry in errors) and not args.keep_going:
                print(json.dumps({"error": errors[0]["error"], "sent": sent, "errors": errors}),
                      flush=True)
                producer.shutdown()
                return 2
    else:
        for i in indexes():
            msg = build_message(args, i)
            try:
                if args.mode == "oneway":
                    producer.send_oneway(msg)
                    sent.append({"id": message_id(args, i), "mode": "oneway"})
                    continue
                if args.mode == "orderly":
                    result = send_by_sharding_key(producer, msg, shard_key(args, i))
                elif args.mode == "selector":
                    result = producer.send_orderly(msg, i % args.keys_count)
                else:
                    result = producer.send_sync(msg)
            except Exception as exc:
                if failed(i, exc):
                    return 2
                continue
            sent.append(result_entry(args, i, result, args.mode))
            acks.write(message_id(args, i))
    print(json.dumps({"sent": sent, "errors": errors}), flush=True)
    # The C++ client heartbeats brokers on a 30 s timer only; lingering lets one go out.
    time.sleep(args.linger_seconds)
    producer.shutdown()
    return 0


# CTransactionStatus (CCommon.h) and the transaction callbacks (CProducer.h).
E_COMMIT_TRANSACTION, E_ROLLBACK_TRANSACTION, E_UNKNOWN_TRANSACTION = 0, 1, 2
TRANSACTION_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p,
                                        ctypes.c_void_p)


def transaction(args):
    dll.CreateTransactionProducer.argtypes = [ctypes.c_char_p, TRANSACTION_CALLBACK,
                                              ctypes.c_void_p]
    dll.CreateTransactionProducer.restype = ctypes.c_void_p
    dll.SendMessageTransaction.argtypes = [ctypes.c_void_p, ctypes.c_void_p,
                                           TRANSACTION_CALLBACK, ctypes.c_void_p,
                                           ctypes.POINTER(_CSendResult)]
    dll.SendMessageTransaction.restype = ctypes.c_int
    checks = {}
    lock = threading.Lock()

    def check(_producer, msg_ext, _data):
        body = (dll.GetMessageBody(msg_ext) or b"").decode("utf-8", "replace")
        with lock:
            checks[body] = checks.get(body, 0) + 1
        return E_COMMIT_TRANSACTION if "commit-" in body else E_ROLLBACK_TRANSACTION

    # The executor runs inside SendMessageTransaction, on this thread: it decides the
    # message being sent.
    current = [E_UNKNOWN_TRANSACTION]

    def execute(_producer, _msg, _data):
        return current[0]

    checker, executor = TRANSACTION_CALLBACK(check), TRANSACTION_CALLBACK(execute)
    handle = dll.CreateTransactionProducer(args.group.encode("utf-8"), checker, None)
    ffi_check(dll.SetProducerLogPath(handle, os.path.join(log_dir(args), "producer.log")
                                     .encode("utf-8")))
    ffi_check(dll.SetProducerNameServerAddress(handle, args.namesrv.encode("utf-8")))
    ffi_check(dll.SetProducerSendMsgTimeout(handle, args.timeout_ms))
    ffi_check(dll.StartProducer(handle))
    sent = []
    for body in [b for b in args.bodies.split(",") if b]:
        current[0] = (E_COMMIT_TRANSACTION if body.startswith("commit-") else
                      E_ROLLBACK_TRANSACTION if body.startswith("rollback-") else
                      E_UNKNOWN_TRANSACTION)
        msg = Message(args.topic)
        msg.set_tags("TagTx")
        msg.set_keys(body)
        msg.set_body(body)
        result = _CSendResult()
        try:
            ffi_check(dll.SendMessageTransaction(handle, msg, executor, None,
                                                 ctypes.pointer(result)))
            sent.append({"id": body, "status": SendStatus(result.sendStatus).name,
                         "msg_id": result.msgId.decode("utf-8"), "offset": result.offset})
        except Exception as exc:  # Reported, so the test shows what the client said.
            sent.append({"id": body, "error": str(exc)})
    time.sleep(args.linger_seconds)
    with lock:
        print(json.dumps({"sent": sent, "checks": dict(checks)}), flush=True)
    dll.ShutdownProducer(handle)
    return 0


def describe(msg):
    """A received message as one JSON object. Padded bodies are reported by their id, with
    their size and whether the pad arrived intact."""
    body = msg.body.decode("utf-8", "replace")
    message_id = body.split(" ", 1)[0] if " " in body and len(body) > 200 else body
    return {"topic": msg.topic, "tags": msg.tags.decode("utf-8", "replace"),
            "keys": msg.keys.decode("utf-8", "replace"), "body": message_id,
            "size": len(msg.body), "intact": padded_body(message_id, len(body)) == body,
            "id": msg.id, "queue_id": msg.queue_id, "queue_offset": msg.queue_offset,
            "reconsume_times": msg.reconsume_times,
            "shard": (msg.get_property("shard") or b"").decode("utf-8", "replace"),
            "interop": (msg.get_property("interop") or b"").decode("utf-8", "replace"),
            "at": round(time.time(), 3)}


def pull(args):
    """Every message of every queue from offset 0, with PullConsumer.pull (which stops at a
    queue's end: NO_NEW_MSG)."""
    consumer = PullConsumer(args.group)
    consumer.set_log_root_path(log_dir(args))
    consumer.set_namesrv_addr(args.namesrv)
    consumer.start()
    received = [describe(msg) for msg in consumer.pull(args.topic, args.expression,
                                                        max_num=args.max_num)]
    print(json.dumps({"received": received}), flush=True)
    consumer.shutdown()
    return 0


def consume(args):
    received = []
    done = threading.Event()
    lock = threading.Lock()
    enough_at = [None]
    record = open(args.record_file, "a", buffering=1) if args.record_file else None

    failed_once = set()

    def on_message(msg):
        """Returns the consume status: 0 CONSUME_SUCCESS, 1 RECONSUME_LATER."""
        entry = describe(msg)
        with lock:
            if args.fail_once and entry["body"] not in failed_once:
                # Not counted as received: the client sends it back (CONSUMER_SEND_MSG_BACK).
                failed_once.add(entry["body"])
                entry["failed"] = True
                if record:
                    record.write(json.dumps(entry) + "\n")
                return 1
            received.append(entry)
            if record:
                record.write(json.dumps(entry) + "\n")
                record.flush()
            if args.expect and len(received) >= args.expect and enough_at[0] is None:
                enough_at[0] = time.time()
                done.set()
        return 0

    model = MessageModel.BROADCASTING if args.model == "broadcasting" else \
        MessageModel.CLUSTERING
    consumer = PushConsumer(args.group, orderly=args.orderly, message_model=model)
    consumer.set_log_root_path(log_dir(args))
    consumer.set_namesrv_addr(args.namesrv)
    if args.instance:
        consumer.set_instance_name(args.instance)
    if args.thread_count:
        consumer.set_thread_count(args.thread_count)
    if args.message_trace == "on":
        # Works around a crash: with trace off, shutdown() calls a method through the null
        # trace producer (DefaultMQPushConsumerImpl::shutdownMessageTraceInnerProducer) before
        # it persists offsets or unregisters, so the process dies with SIGSEGV and the broker
        # never gets the final UPDATE_CONSUMER_OFFSET nor UNREGISTER_CLIENT. With trace on,
        # trace records also go to rmq_sys_TRACE_DATA_DEFAULT_REGION (auto-created).
        ffi_check(dll.SetPushConsumerMessageTrace(consumer._handle, TRACE_OPEN))
    # Registered directly rather than through PushConsumer.subscribe, whose wrapper re-raises
    # a callback's exception inside the ctypes callback (ctypes then returns 0, i.e. success),
    # so RECONSUME_LATER never reaches the client.
    ffi_check(dll.Subscribe(consumer._handle, args.topic.encode("utf-8"),
                            args.expression.encode("utf-8")))
    consumer._register_callback(lambda _consumer, handle: on_message(RecvMessage(handle)))
    consumer.start()
    deadline = time.time() + args.seconds
    while time.time() < deadline:
        if args.until_file and os.path.exists(args.until_file):
            break
        if done.is_set():
            if time.time() >= enough_at[0] + args.settle_seconds:
                break
        time.sleep(0.05)
    with lock:
        # Printed before shutdown: the C++ push consumer sometimes crashes while shutting down,
        # and the test should still see what arrived.
        print(json.dumps({"received": received}), flush=True)
        count = len(received)
    status = 0 if not args.expect or count >= args.expect else 3
    if args.exit == "abrupt":
        os._exit(status)
    consumer.shutdown()
    return status


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--namesrv", required=True)
    common.add_argument("--topic", required=True)
    common.add_argument("--log-dir", help="where librocketmq writes its logs (and HOME)")
    common.add_argument("--until-file", help="stop once this file exists")

    p = sub.add_parser("produce", parents=[common])
    p.add_argument("--group", default="interop_cpp_producer")
    p.add_argument("--count", type=int, default=1)
    p.add_argument("--start", type=int, default=0, help="index of the first message")
    p.add_argument("--tag", default="TagA", help="tag, or comma-separated tags used in turn")
    p.add_argument("--keys", default="interop-key")
    p.add_argument("--body", default="hello from the C++ client")
    p.add_argument("--id-prefix", help="body and keys are <prefix>-<index>")
    p.add_argument("--mode", choices=["sync", "async", "oneway", "batch", "orderly", "selector"],
                   default="sync")
    p.add_argument("--keys-count", type=int, default=4,
                   help="orderly/selector: message i goes with key i %% keys-count")
    p.add_argument("--timeout-ms", type=int, default=3000)
    p.add_argument("--keep-going", action="store_true", help="record failed sends and go on")
    p.add_argument("--error-pause-ms", type=int, default=100)
    p.add_argument("--pause-ms", type=int, default=0, help="pause between sends")
    p.add_argument("--ack-file", help="append each acknowledged id to this file")
    p.add_argument("--linger-seconds", type=float, default=0,
                   help="stay connected this long after the sends")
    p.add_argument("--body-size", type=int, default=0,
                   help="pad each body to this many bytes (with --id-prefix)")
    p.add_argument("--compress-over", type=int,
                   help="compress bodies over this many bytes (the client's default is 4096)")
    p.add_argument("--max-message-size", type=int,
                   help="the client's own limit (default 4 MiB), checked before sending")

    c = sub.add_parser("consume", parents=[common])
    c.add_argument("--group", default="interop_cpp_consumer")
    c.add_argument("--expression", default="*")
    c.add_argument("--seconds", type=float, default=10)
    c.add_argument("--expect", type=int, default=0)
    c.add_argument("--settle-seconds", type=float, default=0,
                   help="after --expect messages, keep listening this long")
    c.add_argument("--model", choices=["clustering", "broadcasting"], default="clustering")
    c.add_argument("--orderly", action="store_true")
    c.add_argument("--instance", help="instance name (part of the client id)")
    c.add_argument("--thread-count", type=int, default=0)
    c.add_argument("--record-file", help="append each message as a JSON line")
    c.add_argument("--exit", choices=["graceful", "abrupt"], default="graceful")
    c.add_argument("--message-trace", choices=["on", "off"], default="on",
                   help="off reproduces the shutdown crash (see consume())")
    c.add_argument("--fail-once", action="store_true",
                   help="answer RECONSUME_LATER to each message's first delivery")

    t = sub.add_parser("transaction", parents=[common])
    t.add_argument("--group", default="interop_cpp_tx_producer")
    t.add_argument("--bodies", required=True, help="comma-separated message bodies")
    t.add_argument("--timeout-ms", type=int, default=3000)
    t.add_argument("--linger-seconds", type=float, default=5,
                   help="stay connected this long to answer check-backs")

    pl = sub.add_parser("pull", parents=[common])
    pl.add_argument("--group", default="interop_cpp_pull")
    pl.add_argument("--expression", default="*")
    pl.add_argument("--max-num", type=int, default=32)

    args = parser.parse_args()
    load_client(args)
    started = time.time()
    status = {"produce": produce, "consume": consume, "pull": pull,
              "transaction": transaction}[args.command](args)
    print("cpp_client %s finished in %.1fs" % (args.command, time.time() - started),
          file=sys.stderr)
    # The C++ client keeps native threads around after shutdown; don't wait on them.
    sys.stdout.flush()
    os._exit(status)


if __name__ == "__main__":
    main()
