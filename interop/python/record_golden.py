#!/usr/bin/env python3
"""Record the golden frames in net/tests/golden/ from real, unmodified clients.

    bash interop/python/setup_venv.sh
    target/interop-venv/bin/python interop/python/record_golden.py            # both clients
    target/interop-venv/bin/python interop/python/record_golden.py --client cpp

Each scenario starts record_frames.py (fake name server + fake broker on 127.0.0.1), runs one
client against it, and copies chosen frames verbatim (length prefix included) into the golden
directory. README.md there is regenerated from what was actually recorded. Nothing is edited or
synthesised: a frame that did not arrive fails the run.

Clients:
  cpp  - Apache rocketmq-client-cpp 2.1.0 as bundled by PyPI rocketmq-python-cvs 2.1.0.3,
         driven by interop/python/cpp_client.py (run with the venv's python).
  rust - crates.io rocketmq-client-rust 1.0.0, driven by
         cargo run -p ramjet-interop --example rust_client_probe.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CPP_CLIENT = "Apache rocketmq-client-cpp 2.1.0 (PyPI rocketmq-python-cvs 2.1.0.3)"
RUST_CLIENT = "rocketmq-client-rust 1.0.0 (crates.io)"
PEER_BROKER = "rocketmq-broker 1.0.0 (crates.io, rocketmq-rust's broker)"
TOPIC = "TopicTest"


class Scenario:
    def __init__(self, name, client, command, picks, seconds_max=60, seconds_run=None,
                 prepare=None):
        self.name = name
        self.client = client
        self.command = command  # List of args; "{namesrv}" and "{out}" are replaced.
        self.picks = picks      # [(golden file, description, predicate(record))]
        self.seconds_max = seconds_max
        # A server (not a client) never exits: it runs this long and is then killed.
        self.seconds_run = seconds_run
        self.prepare = prepare  # prepare(out_dir, namesrv_addr) before the command runs.


def ext(record, key):
    value = (record["header"].get("extFields") or {}).get(key)
    return None if value is None else str(value)


def is_code(role, code, **fields):
    def predicate(record):
        if record["role"] != role or record["code"] != code:
            return False
        return all(ext(record, key) == value for key, value in fields.items())
    return predicate


def heartbeat_with(key):
    def predicate(record):
        if record["role"] != "broker" or record["code"] != 34 or not record["body_text"]:
            return False
        return bool(json.loads(record["body_text"]).get(key))
    return predicate


def oneway(predicate):
    return lambda record: predicate(record) and int(record["header"].get("flag", 0)) & 2 == 2


def cpp_scenarios(python):
    driver = [python, os.path.join(HERE, "cpp_client.py")]
    log_dir = ["--log-dir", os.path.join(ROOT, "target", "interop-logs", "record-golden-cpp")]
    return [
        Scenario("cpp-produce", CPP_CLIENT,
                 driver + ["produce", "--namesrv", "{namesrv}", "--topic", TOPIC, "--count", "1",
                           "--linger-seconds", "2"] + log_dir,
                 [("cpp21_get_routeinfo_by_topic.bin",
                   "GET_ROUTEINFO_BY_TOPIC (105) for TopicTest from a producer's first send",
                   is_code("namesrv", 105, topic=TOPIC)),
                  ("cpp21_send_message_v2.bin",
                   "SEND_MESSAGE_V2 (310), send_sync of one message, tag TagA, keys interop-key,"
                   " property interop=true",
                   is_code("broker", 310)),
                  ("cpp21_heart_beat_producer.bin",
                   "HEART_BEAT (34) of a producer (producerDataSet only)",
                   heartbeat_with("producerDataSet")),
                  ("cpp21_unregister_client_producer.bin",
                   "UNREGISTER_CLIENT (35) sent by Producer.shutdown()",
                   is_code("broker", 35))]),
        Scenario("cpp-oneway", CPP_CLIENT,
                 driver + ["produce", "--namesrv", "{namesrv}", "--topic", TOPIC, "--count", "1",
                           "--mode", "oneway", "--linger-seconds", "1"] + log_dir,
                 [("cpp21_send_message_v2_oneway.bin",
                   "SEND_MESSAGE_V2 (310) from send_oneway. It arrives with flag 0, not the"
                   " oneway bit: the server answers as usual and the client drops the answer",
                   is_code("broker", 310))]),
        Scenario("cpp-batch", CPP_CLIENT,
                 driver + ["produce", "--namesrv", "{namesrv}", "--topic", TOPIC, "--count", "2",
                           "--mode", "batch", "--linger-seconds", "1"] + log_dir,
                 [("cpp21_send_batch.bin",
                   "send_batch of two messages: SEND_MESSAGE_V2 (310, not SEND_BATCH_MESSAGE 320)"
                   " with m=\"1\"; the body is the batch encoding of both messages",
                   lambda r: r["role"] == "broker" and r["code"] in (310, 320))]),
        Scenario("cpp-consume", CPP_CLIENT,
                 driver + ["consume", "--namesrv", "{namesrv}", "--topic", TOPIC,
                           "--group", "interop_cpp_consumer", "--expression", "TagA || TagB",
                           # As recorded: the plain consumer, without the trace producer that
                           # cpp_client.py enables by default.
                           "--seconds", "8", "--message-trace", "off"] + log_dir,
                 [("cpp21_heart_beat_push_consumer.bin",
                   "HEART_BEAT (34) of a push consumer, group interop_cpp_consumer, subscription"
                   " TopicTest \"TagA || TagB\" plus its %RETRY% topic",
                   heartbeat_with("consumerDataSet")),
                  ("cpp21_get_consumer_list_by_group.bin",
                   "GET_CONSUMER_LIST_BY_GROUP (38) during rebalance",
                   is_code("broker", 38)),
                  ("cpp21_query_consumer_offset.bin",
                   "QUERY_CONSUMER_OFFSET (14) for TopicTest queue 0",
                   is_code("broker", 14, topic=TOPIC, queueId="0")),
                  ("cpp21_pull_message.bin",
                   "PULL_MESSAGE (11) for TopicTest with subscription \"TagA || TagB\"",
                   is_code("broker", 11, topic=TOPIC)),
                  ("cpp21_update_consumer_offset.bin",
                   "UPDATE_CONSUMER_OFFSET (15) for TopicTest, sent every 5 s",
                   is_code("broker", 15, topic=TOPIC))],
                 seconds_max=40),
    ]


def rust_scenarios(probe):
    return [
        Scenario("rust-route", RUST_CLIENT, [probe, "route", "{namesrv}", TOPIC],
                 [("rust10_get_routeinfo_by_topic.bin",
                   "GET_ROUTEINFO_BY_TOPIC (105) for TopicTest from"
                   " DefaultMQAdminExt::examine_topic_route_info",
                   is_code("namesrv", 105, topic=TOPIC))]),
        Scenario("rust-produce", RUST_CLIENT, [probe, "produce", "{namesrv}", TOPIC, "1"],
                 [("rust10_send_message.bin",
                   "SEND_MESSAGE (10, not V2) from DefaultMQProducer::send_with_timeout,"
                   " tag TagA, keys interop-key-0",
                   is_code("broker", 10)),
                  ("rust10_heart_beat_producer.bin",
                   "HEART_BEAT (34) of a producer (CLIENT_INNER_PRODUCER and interop_rust_producer)",
                   heartbeat_with("producerDataSet")),
                  ("rust10_unregister_client_producer.bin",
                   "UNREGISTER_CLIENT (35) from DefaultMQProducer::shutdown",
                   is_code("broker", 35))]),
        Scenario("rust-consume", RUST_CLIENT,
                 [probe, "consume", "{namesrv}", TOPIC, "TagA || TagB", "8"],
                 [("rust10_heart_beat_push_consumer.bin",
                   "HEART_BEAT (34) of a push consumer, group interop_rust_consumer, subscription"
                   " TopicTest \"TagA || TagB\" plus its %RETRY% topic",
                   heartbeat_with("consumerDataSet")),
                  ("rust10_get_consumer_list_by_group.bin",
                   "GET_CONSUMER_LIST_BY_GROUP (38) during rebalance",
                   is_code("broker", 38)),
                  ("rust10_query_consumer_offset.bin",
                   "QUERY_CONSUMER_OFFSET (14) for TopicTest queue 0",
                   is_code("broker", 14, topic=TOPIC, queueId="0")),
                  ("rust10_pull_message.bin",
                   "PULL_MESSAGE (11) for TopicTest (subscription left empty, sysFlag 2)",
                   is_code("broker", 11, topic=TOPIC)),
                  ("rust10_update_consumer_offset.bin",
                   "UPDATE_CONSUMER_OFFSET (15) for TopicTest, oneway",
                   oneway(is_code("broker", 15, topic=TOPIC)))],
                 seconds_max=40),
    ]


def free_port():
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_peer_broker_config(out, namesrv):
    """broker.toml for the rocketmq-rust peer broker, as the peer's start script writes it."""
    port = free_port()
    store = os.path.join(out, "store")
    os.makedirs(os.path.join(store, "home"), exist_ok=True)
    with open(os.path.join(out, "broker.toml"), "w") as f:
        f.write("""[broker]
namesrvAddr = "%(namesrv)s"
brokerIp1 = "127.0.0.1"
listenPort = %(port)d
storePathRootDir = "%(store)s"
autoCreateTopicEnable = true

[broker.brokerServerConfig]
bindAddress = "127.0.0.1"

[broker.brokerIdentity]
brokerName = "peer-broker-a"
brokerClusterName = "DefaultCluster"
brokerId = 0

[store]
storePathRootDir = "%(store)s"
haListenAddress = "127.0.0.1"
haListenPort = %(ha)d
""" % {"namesrv": namesrv, "port": port, "store": store, "ha": free_port()})


def peer_broker_scenarios(peer_bin):
    broker = os.path.join(peer_bin, "rocketmq-broker-rust")
    return [
        Scenario("peer-broker", PEER_BROKER,
                 [broker, "-c", "{out}/broker.toml", "--log-filter", "warn"],
                 [("rustbroker10_register_broker.bin",
                   "REGISTER_BROKER (103) a master sends at startup: brokerName peer-broker-a,"
                   " cluster DefaultCluster, uncompressed RegisterBrokerBody with its system topics",
                   is_code("namesrv", 103))],
                 seconds_run=8, prepare=write_peer_broker_config),
    ]


def observations(raw):
    """Facts about a frame a strict decoder may trip on, for the README."""
    header_len = int.from_bytes(raw[4:8], "big") & 0xFFFFFF
    header_bytes = raw[8:8 + header_len]
    body = raw[8 + header_len:]
    header = json.loads(header_bytes)
    notes = ["serialize type %d" % raw[4], "version %s" % header.get("version"),
             "language %s" % header.get("language"), "flag %s" % header.get("flag")]
    if header_bytes.endswith(b"\n"):
        notes.append("header ends with \\n")
    if "serializeTypeCurrentRPC" not in header:
        notes.append("no serializeTypeCurrentRPC")
    if "remark" in header:
        notes.append("remark %s" % json.dumps(header["remark"]))
    ext_fields = header.get("extFields") or {}
    numbers = sorted(k for k, v in ext_fields.items() if not isinstance(v, str))
    if numbers:
        notes.append("numeric extFields: " + ", ".join(numbers))
    if body.endswith(b"\n"):
        notes.append("body ends with \\n")
    notes.append("%d bytes" % len(raw))
    return "; ".join(notes)


def run_scenario(scenario, work_dir, golden_dir):
    out = os.path.join(work_dir, scenario.name)
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    recorder = subprocess.Popen(
        [sys.executable, os.path.join(HERE, "record_frames.py"), "--out", out,
         "--namesrv-port", "0", "--broker-port", "0", "--route-topic", TOPIC,
         "--route-retry-topics"],
        stdout=subprocess.PIPE, stderr=open(os.path.join(out, "recorder.log"), "w"), text=True)
    try:
        ready = recorder.stdout.readline()
        if not ready.startswith("READY"):
            raise SystemExit("recorder did not start: %r" % ready)
        namesrv = [w.split("=", 1)[1] for w in ready.split() if w.startswith("namesrv=")][0]
        if scenario.prepare:
            scenario.prepare(out, namesrv)
        command = [arg.replace("{namesrv}", namesrv).replace("{out}", out)
                   for arg in scenario.command]
        print("== %s: %s" % (scenario.name, " ".join(command)), file=sys.stderr)
        if scenario.seconds_run:
            env = dict(os.environ, HOME=os.path.join(out, "store", "home"),
                       ROCKETMQ_HOME=os.path.join(out, "store", "home"))
            env.pop("NAMESRV_ADDR", None)
            with open(os.path.join(out, "server.log"), "w") as log:
                server = subprocess.Popen(command, stdout=log, stderr=log, cwd=out, env=env)
                time.sleep(scenario.seconds_run)
                server.kill()  # This PID only.
                server.wait()
        else:
            client = subprocess.run(command, capture_output=True, text=True,
                                    timeout=scenario.seconds_max, cwd=out)
            print("   client exit %d: %s" % (client.returncode, client.stdout.strip()[:200]),
                  file=sys.stderr)
        time.sleep(0.5)  # Let the recorder flush the last frames.
    finally:
        recorder.kill()
        recorder.wait()
    records = [json.loads(line) for line in open(os.path.join(out, "frames.jsonl"))]
    rows = []
    for golden_name, description, predicate in scenario.picks:
        match = next((r for r in records if predicate(r)), None)
        if match is None:
            raise SystemExit("%s: no frame for %s among %d recorded (see %s)"
                             % (scenario.name, golden_name, len(records), out))
        source = os.path.join(out, match["file"])
        shutil.copyfile(source, os.path.join(golden_dir, golden_name))
        with open(source, "rb") as f:
            raw = f.read()
        rows.append((golden_name, scenario.client, description, scenario.name,
                     observations(raw)))
        print("   %s <- %s" % (golden_name, match["file"]), file=sys.stderr)
    return rows


README_HEAD = """# Golden frames recorded from real clients

Every `.bin` here is one complete remoting frame (4-byte big-endian length prefix included)
exactly as an unmodified third-party client put it on the wire. None is hand-made or edited.

They were recorded by `interop/python/record_golden.py`, which starts
`interop/python/record_frames.py` (a fake name server and broker on 127.0.0.1 that saves each
frame and answers just enough for the client to continue: a route for TopicTest with 4 queues on
the fake broker, SEND_OK, offset 0, PULL_NOT_FOUND after 1 s), runs a client against it, and
copies the chosen frames here (`{namesrv}` in a command stands for the fake name server's
address). To record them again:

```sh
bash interop/python/setup_venv.sh
cargo build -p ramjet-interop --example rust_client_probe
target/interop-venv/bin/python interop/python/record_golden.py      # regenerates this file
```

Timestamps, client ids, UNIQ_KEYs and Signatures differ between recordings; tests should check
structure and names, not those values. The "notes" column is computed from the bytes.

Clients:
- `cpp21_*`: Apache rocketmq-client-cpp 2.1.0, the `librocketmq.so` bundled in PyPI
  `rocketmq-python-cvs==2.1.0.3`, driven through its Python ctypes API by
  `interop/python/cpp_client.py`. This build adds `AccessKey`/`OnsChannel`/`Signature` to every
  request's extFields (a session-credentials hook) even without credentials.
- `rust10_*`: `rocketmq-client-rust` 1.0.0 from crates.io (github.com/mxsm/rocketmq-rust),
  driven by `interop/examples/rust_client_probe.rs`.
- `rustbroker10_*`: the broker of rocketmq-rust, crates.io `rocketmq-broker` 1.0.0 (the peer in
  the peer from crates.io, installed with `cargo install --root /tmp/peer rocketmq-broker@1.0.0`),
  pointed at the fake name server; recorded with `--client peer-broker`. It plays the part a
  Java broker plays toward the name server.

| file | client | what it is | scenario (command) | notes |
| --- | --- | --- | --- | --- |
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--client", choices=["cpp", "rust", "peer-broker", "all"],
                        default="all", help="all = cpp and rust; peer-broker needs --peer-bin")
    parser.add_argument("--peer-bin", default=os.environ.get("PEER_BIN", "/tmp/peer/bin"),
                        help="where cargo install put rocketmq-broker-rust")
    parser.add_argument("--golden-dir", default=os.path.join(ROOT, "net", "tests", "golden"))
    parser.add_argument("--work-dir",
                        default=os.path.join(ROOT, "target", "interop-logs", "record-golden"))
    parser.add_argument("--rust-probe",
                        default=os.path.join(ROOT, "target", "debug", "examples",
                                             "rust_client_probe"))
    args = parser.parse_args()
    os.makedirs(args.golden_dir, exist_ok=True)
    os.makedirs(args.work_dir, exist_ok=True)

    scenarios = []
    if args.client in ("cpp", "all"):
        scenarios += cpp_scenarios(sys.executable)
    if args.client in ("rust", "all"):
        if not os.path.exists(args.rust_probe):
            subprocess.check_call(["cargo", "build", "-p", "ramjet-interop", "--example",
                                   "rust_client_probe"], cwd=ROOT)
        scenarios += rust_scenarios(args.rust_probe)
    if args.client == "peer-broker":
        scenarios += peer_broker_scenarios(args.peer_bin)

    rows = []
    for scenario in scenarios:
        rows += run_scenario(scenario, args.work_dir, args.golden_dir)

    # Keep README rows of the client not re-recorded this time.
    readme = os.path.join(args.golden_dir, "README.md")
    recorded = {row[0] for row in rows}
    kept = []
    if os.path.exists(readme):
        for line in open(readme):
            if line.startswith("| `") and line.split("`")[1] not in recorded:
                kept.append(line)
    scenario_commands = {s.name: " ".join(os.path.relpath(a, ROOT) if a.startswith(ROOT) else
                                          (json.dumps(a) if " " in a else a)
                                          for a in s.command) for s in scenarios}
    def cell(text):
        return text.replace("|", "\\|")  # A bare | would end the table cell.

    lines = kept + ["| `%s` | %s | %s | `%s`: `%s` | %s |\n"
                    % (name, client, cell(what), scenario, cell(scenario_commands[scenario]),
                       cell(notes))
                    for name, client, what, scenario, notes in rows]
    lines.sort()
    with open(readme, "w") as f:
        f.write(README_HEAD)
        f.writelines(lines)
    print("wrote %d frames and %s" % (len(rows), readme), file=sys.stderr)


if __name__ == "__main__":
    main()
