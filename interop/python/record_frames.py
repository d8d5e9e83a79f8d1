#!/usr/bin/env python3
"""Record every RocketMQ remoting frame a real client sends, and answer just enough to keep
the client going.

It plays a fake name server and/or a fake broker on 127.0.0.1. Each frame received is saved
verbatim (4-byte big-endian length prefix included) as <out>/<seq>_<role>_<code>_<NAME>.bin,
and described by one JSON line in <out>/frames.jsonl. Nothing here is Ramjet code: the point
is to capture what a client sends before any server of ours has seen it.

    python record_frames.py --out /tmp/frames --namesrv-port 0 --broker-port 0 \\
        --route-topic TopicTest

Prints one line "READY namesrv=127.0.0.1:<p> broker=127.0.0.1:<q>" on stdout once both listen
(port 0 picks a free port), then serves until killed or --seconds elapse.

Replies (always JSON headers, version 479, language JAVA, as an Apache 5.x server sends them):
  name server: GET_ROUTEINFO_BY_TOPIC -> a route (remoting-protocol.md section 3.1) pointing at the
               fake broker for --route-topic topics, else TOPIC_NOT_EXIST (17);
               GET_BROKER_CLUSTER_INFO -> that one broker; REGISTER_BROKER, UNREGISTER_BROKER
               -> SUCCESS; QUERY_DATA_VERSION -> changed=true.
  broker:      HEART_BEAT, UNREGISTER_CLIENT -> SUCCESS; SEND_MESSAGE(_V2)/SEND_BATCH_MESSAGE ->
               SEND_OK with an offsetMsgId; QUERY_CONSUMER_OFFSET, GET_MAX/MIN_OFFSET,
               SEARCH_OFFSET_BY_TIMESTAMP -> offset 0; GET_CONSUMER_LIST_BY_GROUP -> the client
               ids seen in heartbeats; PULL_MESSAGE -> PULL_NOT_FOUND (19) after --pull-hold-ms,
               like a long poll that timed out; LOCK_BATCH_MQ -> every queue asked for.
  Oneway requests (flag bit 1) are never answered; anything else gets
  REQUEST_CODE_NOT_SUPPORTED (3), as Java does.
"""

import argparse
import json
import os
import socket
import socketserver
import struct
import sys
import threading
import time

REQUEST_NAMES = {
    10: "SEND_MESSAGE", 11: "PULL_MESSAGE", 12: "QUERY_MESSAGE", 14: "QUERY_CONSUMER_OFFSET",
    15: "UPDATE_CONSUMER_OFFSET", 29: "SEARCH_OFFSET_BY_TIMESTAMP", 30: "GET_MAX_OFFSET",
    31: "GET_MIN_OFFSET", 34: "HEART_BEAT", 35: "UNREGISTER_CLIENT", 36: "CONSUMER_SEND_MSG_BACK",
    37: "END_TRANSACTION", 38: "GET_CONSUMER_LIST_BY_GROUP", 41: "LOCK_BATCH_MQ",
    42: "UNLOCK_BATCH_MQ", 46: "CHECK_CLIENT_CONFIG", 103: "REGISTER_BROKER",
    104: "UNREGISTER_BROKER", 105: "GET_ROUTEINFO_BY_TOPIC", 106: "GET_BROKER_CLUSTER_INFO",
    322: "QUERY_DATA_VERSION",
    310: "SEND_MESSAGE_V2", 320: "SEND_BATCH_MESSAGE", 361: "LITE_PULL_MESSAGE",
}

SUCCESS, SYSTEM_ERROR, NOT_SUPPORTED, TOPIC_NOT_EXIST, PULL_NOT_FOUND = 0, 1, 3, 17, 19
FLAG_RESPONSE, FLAG_ONEWAY = 1, 2
SERVER_VERSION = 479  # V5_3_3: responses carry the responder's version.
FRAME_BYTES_MAX = 16 * 1024 * 1024


def decode_rocketmq_header(data):
    """ROCKETMQ binary header (remoting-protocol.md section 1.4) to the JSON field names."""
    code, language, version, opaque, flag, remark_len = struct.unpack_from(">hBhiii", data, 0)
    pos = 17
    remark = data[pos:pos + remark_len].decode("utf-8") if remark_len else None
    pos += remark_len
    (ext_len,) = struct.unpack_from(">i", data, pos)
    pos += 4
    end = pos + ext_len
    ext = {}
    while pos < end:
        (key_len,) = struct.unpack_from(">h", data, pos)
        key = data[pos + 2:pos + 2 + key_len].decode("utf-8")
        pos += 2 + key_len
        (value_len,) = struct.unpack_from(">i", data, pos)
        ext[key] = data[pos + 4:pos + 4 + value_len].decode("utf-8")
        pos += 4 + value_len
    header = {"code": code, "language": language, "version": version, "opaque": opaque,
              "flag": flag, "extFields": ext}
    if remark is not None:
        header["remark"] = remark
    return header


def decode_frame(frame):
    """Splits one frame (without its length prefix) into (serialize_type, header dict, body)."""
    (header_word,) = struct.unpack_from(">I", frame, 0)
    serialize_type = header_word >> 24
    header_len = header_word & 0xFFFFFF
    header_bytes = frame[4:4 + header_len]
    body = frame[4 + header_len:]
    if serialize_type == 0:
        header = json.loads(header_bytes.decode("utf-8"))
    elif serialize_type == 1:
        header = decode_rocketmq_header(header_bytes)
    else:
        raise ValueError("unknown serialize type %d" % serialize_type)
    return serialize_type, header, body


def encode_response(opaque, code, remark=None, ext=None, body=b""):
    header = {"code": code, "flag": FLAG_RESPONSE, "language": "JAVA", "opaque": opaque,
              "serializeTypeCurrentRPC": "JSON", "version": SERVER_VERSION}
    if remark is not None:
        header["remark"] = remark
    if ext is not None:
        header["extFields"] = ext
    header_bytes = json.dumps(header, separators=(",", ":"), sort_keys=True).encode("utf-8")
    return (struct.pack(">II", 4 + len(header_bytes) + len(body), len(header_bytes))
            + header_bytes + body)


def offset_msg_id(broker_addr, commit_log_offset):
    """32 hex chars: IPv4 (4 bytes), port (4 bytes), CommitLog offset (8 bytes)."""
    host, port = broker_addr.rsplit(":", 1)
    raw = socket.inet_aton(host) + struct.pack(">iq", int(port), commit_log_offset)
    return raw.hex().upper()


class Recorder:
    """State shared by all connections: the output files and what the fake servers know."""

    def __init__(self, args):
        self.out = args.out
        self.route_topics = set(args.route_topic)
        self.route_retry_topics = args.route_retry_topics
        self.broker_name = args.broker_name
        self.cluster = args.cluster
        self.broker_addr = None  # Set once the broker listener is bound.
        self.pull_hold_ms = args.pull_hold_ms
        self.lock = threading.Lock()
        self.seq = 0
        self.conn_seq = 0
        self.queue_offset = 0
        self.clients_by_group = {}
        os.makedirs(self.out, exist_ok=True)
        self.index = open(os.path.join(self.out, "frames.jsonl"), "a", buffering=1)

    def next_conn(self):
        with self.lock:
            self.conn_seq += 1
            return self.conn_seq

    def save(self, role, conn, peer, raw_frame, serialize_type, header, body):
        code = header.get("code")
        name = REQUEST_NAMES.get(code, "CODE%s" % code)
        with self.lock:
            self.seq += 1
            file_name = "%04d_%s_%s_%s.bin" % (self.seq, role, code, name)
            with open(os.path.join(self.out, file_name), "wb") as f:
                f.write(raw_frame)
            try:
                body_text = body.decode("utf-8")
            except UnicodeDecodeError:
                body_text = None
            record = {"seq": self.seq, "role": role, "conn": conn, "peer": peer, "file": file_name,
                      "time": time.time(), "serialize_type": serialize_type, "code": code,
                      "name": name, "header": header, "body_len": len(body),
                      "body_text": body_text}
            self.index.write(json.dumps(record, sort_keys=True) + "\n")

    def has_route(self, topic):
        if topic in self.route_topics:
            return True
        return self.route_retry_topics and topic.startswith("%RETRY%")

    def route_body(self, topic):
        route = {
            "brokerDatas": [{"brokerAddrs": {"0": self.broker_addr},
                             "brokerName": self.broker_name, "cluster": self.cluster,
                             "enableActingMaster": False}],
            "filterServerTable": {},
            "queueDatas": [{"brokerName": self.broker_name, "perm": 6, "readQueueNums": 4,
                            "topicSysFlag": 0, "writeQueueNums": 4}],
        }
        return json.dumps(route, separators=(",", ":"), sort_keys=True).encode("utf-8")

    def answer_namesrv(self, header, ext, body):
        code = header["code"]
        if code == 105:
            topic = ext.get("topic", "")
            if self.broker_addr is not None and self.has_route(topic):
                return (SUCCESS, None, None, self.route_body(topic))
            return (TOPIC_NOT_EXIST, "No topic route info in name server for the topic: "
                    + topic, None, b"")
        if code == 106 and self.broker_addr is not None:
            info = {"brokerAddrTable": {self.broker_name: {
                "brokerAddrs": {"0": self.broker_addr}, "brokerName": self.broker_name,
                "cluster": self.cluster, "enableActingMaster": False}},
                "clusterAddrTable": {self.cluster: [self.broker_name]}}
            return (SUCCESS, None, None, json.dumps(info, separators=(",", ":")).encode())
        if code in (103, 104):
            # REGISTER_BROKER / UNREGISTER_BROKER: accepted, nothing to tell a master.
            return (SUCCESS, None, {}, b"")
        if code == 322:
            # QUERY_DATA_VERSION: "changed" makes the broker send its full registration.
            return (SUCCESS, None, {"changed": "true"}, b"")
        return None

    def answer_broker(self, header, ext, body):
        code = header["code"]
        if code == 34:
            try:
                heartbeat = json.loads(body.decode("utf-8"))
            except ValueError:
                heartbeat = {}
            with self.lock:
                for consumer in heartbeat.get("consumerDataSet") or []:
                    ids = self.clients_by_group.setdefault(consumer.get("groupName"), [])
                    if heartbeat.get("clientID") not in ids:
                        ids.append(heartbeat.get("clientID"))
            return (SUCCESS, None, {}, b"")
        if code in (10, 310, 320):
            queue_id = ext.get("queueId", ext.get("e", "0"))
            with self.lock:
                queue_offset = self.queue_offset
                self.queue_offset += 1
            reply = {"msgId": offset_msg_id(self.broker_addr, queue_offset * 100),
                     "queueId": str(queue_id), "queueOffset": str(queue_offset),
                     "MSG_REGION": "DefaultRegion", "TRACE_ON": "true"}
            return (SUCCESS, None, reply, b"")
        if code in (14, 29, 30, 31):
            return (SUCCESS, None, {"offset": "0"}, b"")
        if code == 38:
            with self.lock:
                ids = list(self.clients_by_group.get(ext.get("consumerGroup"), []))
            return (SUCCESS, None, None, json.dumps({"consumerIdList": ids}).encode())
        if code == 41:
            request = json.loads(body.decode("utf-8"))
            reply = {"lockOKMQSet": request.get("mqSet", [])}
            return (SUCCESS, None, None, json.dumps(reply).encode())
        if code in (15, 35, 42, 46):
            return (SUCCESS, None, None, b"")
        return None


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        recorder = self.server.recorder
        role = self.server.role
        conn = recorder.next_conn()
        peer = "%s:%s" % self.client_address
        write_lock = threading.Lock()
        sock = self.request

        def send(frame):
            with write_lock:
                try:
                    sock.sendall(frame)
                except OSError:
                    pass

        buf = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except OSError:
                return
            if not chunk:
                return
            buf += chunk
            while len(buf) >= 4:
                (length,) = struct.unpack_from(">I", buf, 0)
                if length > FRAME_BYTES_MAX:
                    print("frame of %d bytes from %s; closing" % (length, peer), file=sys.stderr)
                    return
                if len(buf) < 4 + length:
                    break
                raw = buf[:4 + length]
                buf = buf[4 + length:]
                self.on_frame(recorder, role, conn, peer, raw, send)

    def on_frame(self, recorder, role, conn, peer, raw, send):
        serialize_type, header, body = decode_frame(raw[4:])
        recorder.save(role, conn, peer, raw, serialize_type, header, body)
        flag = int(header.get("flag", 0))
        if flag & FLAG_RESPONSE:
            return  # A reply to something we sent; we never send requests.
        # Values may be numbers (C++ client) or strings; compare as strings.
        ext = {k: str(v) for k, v in (header.get("extFields") or {}).items()}
        opaque = header.get("opaque", 0)
        code = header.get("code")
        if role == "namesrv":
            answer = recorder.answer_namesrv(header, ext, body)
        else:
            answer = recorder.answer_broker(header, ext, body)
        if flag & FLAG_ONEWAY:
            return
        if answer is None and role == "broker" and code in (11, 361):
            reply_ext = {"suggestWhichBrokerId": "0", "nextBeginOffset": ext.get("queueOffset", "0"),
                         "minOffset": "0", "maxOffset": "0"}
            frame = encode_response(opaque, PULL_NOT_FOUND, "OFFSET_OVERFLOW_ONE", reply_ext)
            threading.Timer(recorder.pull_hold_ms / 1000.0, send, args=(frame,)).start()
            return
        if answer is None:
            send(encode_response(opaque, NOT_SUPPORTED,
                                 " request type %s not supported" % code))
            return
        response_code, remark, reply_ext, reply_body = answer
        send(encode_response(opaque, response_code, remark, reply_ext, reply_body))


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def listen(port, role, recorder):
    server = Server(("127.0.0.1", port), Handler)
    server.role = role
    server.recorder = recorder
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return "127.0.0.1:%d" % server.server_address[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, help="directory for frames and frames.jsonl")
    parser.add_argument("--namesrv-port", type=int, help="fake name server port (0 = any)")
    parser.add_argument("--broker-port", type=int, help="fake broker port (0 = any)")
    parser.add_argument("--broker-addr", help="broker address to put in routes, when the "
                        "fake broker is not started here")
    parser.add_argument("--route-topic", action="append", default=[],
                        help="topic the fake name server has a route for (repeatable)")
    parser.add_argument("--route-retry-topics", action="store_true",
                        help="also answer routes for every %%RETRY%% topic")
    parser.add_argument("--broker-name", default="broker-a")
    parser.add_argument("--cluster", default="DefaultCluster")
    parser.add_argument("--pull-hold-ms", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=0, help="exit after this long (0 = never)")
    args = parser.parse_args()
    if args.namesrv_port is None and args.broker_port is None:
        parser.error("give --namesrv-port, --broker-port or both")

    recorder = Recorder(args)
    ready = []
    if args.broker_port is not None:
        recorder.broker_addr = listen(args.broker_port, "broker", recorder)
    elif args.broker_addr:
        recorder.broker_addr = args.broker_addr
    if args.namesrv_port is not None:
        ready.append("namesrv=" + listen(args.namesrv_port, "namesrv", recorder))
    if args.broker_port is not None:
        ready.append("broker=" + recorder.broker_addr)
    print("READY " + " ".join(ready), flush=True)
    deadline = time.time() + args.seconds if args.seconds > 0 else None
    try:
        while deadline is None or time.time() < deadline:
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
