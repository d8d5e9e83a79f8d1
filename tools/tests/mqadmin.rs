//! Issue 5's Show: every mqadmin command run as a process against real `mqnamesrv` and
//! `mqbroker` processes on free loopback ports, checking output and exit codes, the error
//! cases (unreachable name server, unknown topic, bad flags, refusals), and mqshutdown
//! stopping both servers gracefully at the end.
//!
//! One test walks through everything in order, because later steps need what earlier ones
//! made (a topic, messages, offsets) and starting the servers once keeps it fast.
//! mqshutdown is only ever given `--pid` of a server this test started: without it, it
//! would stop every mqbroker of this user, including other tests' and other people's.

use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use ramjet_interop::process::free_port;
use ramjet_interop::servers::{Broker, Namesrv};
use ramjet_net::body::{ResetOffsetBody, WireBody};
use ramjet_net::client::BlockingClient;
use ramjet_net::code::{request, response};
use ramjet_net::RemotingCommand;
use ramjet_tools::shutdown::{current_uid, find_processes};
use serde_json::Value;

const TEST_NAME: &str = "tools_mqadmin";
const CLUSTER: &str = "DefaultCluster";
const BROKER_NAME: &str = "broker-a";
const TOPIC: &str = "ToolsTopic";
const GROUP: &str = "ToolsGroup";
const PRODUCER_GROUP: &str = "ToolsProducer";
/// How long to wait for what the broker does after answering (registering a topic with the
/// name server, dropping a closed connection).
const SETTLE_TIMEOUT: Duration = Duration::from_secs(15);

/// What one mqadmin or mqshutdown run printed, and how it ended.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn from(output: Output) -> Run {
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Succeeded, printing `needles` on stdout.
    fn ok(self, needles: &[&str]) -> Run {
        assert_eq!(self.code, 0, "expected success\n{self}");
        for needle in needles {
            assert!(
                self.stdout.contains(needle),
                "stdout lacks {needle:?}\n{self}"
            );
        }
        self
    }

    /// Failed with exit code 1 and exactly one line on stderr that contains `needle`.
    fn fails(self, needle: &str) -> Run {
        assert_eq!(self.code, 1, "expected exit code 1\n{self}");
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "expected one error line\n{self}");
        assert!(lines[0].contains(needle), "stderr lacks {needle:?}\n{self}");
        self
    }

    /// The cell at `column` of the first data row whose cells match `keys` (column, text).
    fn cell_where(&self, keys: &[(usize, &str)], column: usize) -> String {
        let row = self
            .stdout
            .lines()
            .skip(1)
            .map(|line| line.split_whitespace().collect::<Vec<_>>())
            .find(|cells| keys.iter().all(|(at, text)| cells.get(*at) == Some(text)))
            .unwrap_or_else(|| panic!("no row with cells {keys:?}\n{self}"));
        row.get(column).expect("column exists").to_string()
    }

    /// The cell under `column` in the first data row whose text contains `row_has`.
    fn cell(&self, column: usize, row_has: &str) -> String {
        let row = self
            .stdout
            .lines()
            .skip(1)
            .find(|line| line.contains(row_has))
            .unwrap_or_else(|| panic!("no row with {row_has:?}\n{self}"));
        row.split_whitespace()
            .nth(column)
            .expect("column exists")
            .to_owned()
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

fn run(program: &str, args: &[&str]) -> Run {
    let output = Command::new(program)
        .args(args)
        .env_remove("NAMESRV_ADDR")
        .output()
        .unwrap_or_else(|e| panic!("run {program}: {e}"));
    Run::from(output)
}

/// `mqadmin <args>` with no name server unless the args name one.
fn mqadmin(args: &[&str]) -> Run {
    run(env!("CARGO_BIN_EXE_mqadmin"), args)
}

fn mqshutdown(args: &[&str]) -> Run {
    run(env!("CARGO_BIN_EXE_mqshutdown"), args)
}

/// Retries `attempt` until it returns true or [`SETTLE_TIMEOUT`] passes.
fn wait_until(what: &str, mut attempt: impl FnMut() -> bool) {
    let started = Instant::now();
    while !attempt() {
        assert!(
            started.elapsed() < SETTLE_TIMEOUT,
            "timed out waiting until {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The servers under test and the `-n` flag that reaches them.
struct Servers {
    namesrv: Namesrv,
    broker: Broker,
}

impl Servers {
    /// `mqadmin <command> -n <namesrv> <args>`.
    fn admin(&self, command: &str, args: &[&str]) -> Run {
        let mut full = vec![command, "-n", &self.namesrv.addr];
        full.extend_from_slice(args);
        mqadmin(&full)
    }
}

#[test]
fn every_mqadmin_command_against_real_servers() {
    errors_before_any_server();
    help_documents_every_command();
    let namesrv = Namesrv::start(TEST_NAME, &[]);
    let broker = Broker::start(&namesrv, TEST_NAME);
    let servers = Servers { namesrv, broker };
    cluster_and_broker_commands(&servers);
    topic_commands(&servers);
    let sent = message_commands(&servers);
    offset_and_group_commands(&servers, &sent);
    reset_offset_refusals(&servers);
    client_connection_commands(&servers, &sent);
    subscription_group_commands(&servers);
    delete_topic(&servers);
    check_tuning();
    mqshutdown_stops_both_servers(servers);
}

/// Errors that need no server: nothing listening, no address at all, bad flags.
fn errors_before_any_server() {
    let nobody = format!("127.0.0.1:{}", free_port());
    let unreachable = mqadmin(&["clusterList", "-n", &nobody]).fails("name server unreachable");
    assert!(unreachable.stderr.contains(&nobody), "{unreachable}");
    assert!(unreachable.stdout.is_empty(), "{unreachable}");
    mqadmin(&["topicRoute", "-n", &nobody, "-t", TOPIC]).fails("name server unreachable");
    mqadmin(&["topicList"]).fails("no name server address");
    // NAMESRV_ADDR stands in for -n, as in Apache's tools.
    let from_env = Command::new(env!("CARGO_BIN_EXE_mqadmin"))
        .arg("topicList")
        .env("NAMESRV_ADDR", &nobody)
        .output()
        .unwrap();
    Run::from(from_env).fails("name server unreachable");
    // -b and -c are one required choice, as Java's option group; clap exits 2.
    assert_eq!(
        mqadmin(&["updateTopic", "-n", &nobody, "-t", TOPIC]).code,
        2
    );
    let both = mqadmin(&[
        "updateTopic",
        "-n",
        &nobody,
        "-t",
        TOPIC,
        "-b",
        "a:1",
        "-c",
        "C",
    ]);
    assert_eq!(both.code, 2, "{both}");
    assert_eq!(mqadmin(&["noSuchCommand"]).code, 2);
    let broker_gone = mqadmin(&["brokerStatus", "-b", &nobody]).fails("unreachable");
    assert!(broker_gone.stderr.contains("broker"), "{broker_gone}");
}

/// `mqadmin help <cmd>` documents each command with RocketMQ's flags.
fn help_documents_every_command() {
    let list = mqadmin(&["help"]).ok(&["updateTopic", "checkTuning"]);
    let commands = [
        ("updateTopic", "--readQueueNums"),
        ("deleteTopic", "--clusterName"),
        ("topicList", "--clusterModel"),
        ("topicRoute", "--topic"),
        ("topicStatus", "--topic"),
        ("topicClusterList", "--topic"),
        ("clusterList", "--moreStats"),
        ("brokerStatus", "--brokerAddr"),
        ("getBrokerConfig", "--brokerAddr"),
        ("updateBrokerConfig", "--value"),
        ("updateSubGroup", "--retryMaxTimes"),
        ("deleteSubGroup", "--removeOffset"),
        ("consumerProgress", "--groupName"),
        ("consumerConnection", "--consumerGroup"),
        ("producerConnection", "--producerGroup"),
        ("queryMsgById", "--msgId"),
        ("queryMsgByKey", "--msgKey"),
        ("queryMsgByUniqueKey", "--showAll"),
        ("queryMsgByOffset", "--offset"),
        ("resetOffsetByTime", "RESET_CONSUMER_CLIENT_OFFSET"),
        ("sendMessage", "--body"),
        ("consumeMessage", "--MessageNumber"),
        ("printMsg", "--subExpression"),
        ("checkTuning", "--strict"),
    ];
    for (command, flag) in commands {
        assert!(
            list.stdout.contains(command),
            "help lists no {command}\n{list}"
        );
        let help = mqadmin(&["help", command]).ok(&[flag, "-n, --namesrvAddr"]);
        assert!(help.stdout.lines().count() > 3, "{help}");
    }
}

fn cluster_and_broker_commands(servers: &Servers) {
    let addr = servers.broker.addr();
    servers.admin("clusterList", &[]).ok(&[
        "#Cluster Name",
        CLUSTER,
        BROKER_NAME,
        addr,
        "V5_3_3",
        "true",
    ]);
    servers
        .admin("clusterList", &["-m", "-c", CLUSTER])
        .ok(&["#InTotalYest", BROKER_NAME]);
    servers
        .admin("clusterList", &["-c", "NoSuchCluster"])
        .ok(&["#Cluster Name"]);
    servers.admin("brokerStatus", &["-b", addr]).ok(&[
        "brokerVersionDesc               : V5_3_3",
        "msgPutTotalTodayNow",
    ]);
    let by_cluster = servers
        .admin("brokerStatus", &["-c", CLUSTER])
        .ok(&["brokerActive"]);
    assert!(
        by_cluster.stdout.lines().all(|l| l.starts_with(addr)),
        "{by_cluster}"
    );
    servers
        .admin("brokerStatus", &["-c", "NoSuchCluster"])
        .fails("cluster NoSuchCluster not found");
    servers.admin("getBrokerConfig", &["-b", addr]).ok(&[
        &format!("============{addr}============"),
        "brokerName",
        "=  broker-a",
    ]);
    servers.admin("getBrokerConfig", &["-c", CLUSTER]).ok(&[
        &format!("============Master: {addr}============"),
        "listenPort",
    ]);
    // A key the broker may change at runtime, then one it refuses (listenPort).
    servers
        .admin(
            "updateBrokerConfig",
            &["-b", addr, "-k", "regionId", "-v", "ToolsRegion"],
        )
        .ok(&[&format!("update broker config success, {addr}")]);
    let config = servers.admin("getBrokerConfig", &["-b", addr]).ok(&[]);
    let line = config.stdout.lines().find(|l| l.starts_with("regionId "));
    assert!(
        line.is_some_and(|l| l.ends_with("=  ToolsRegion")),
        "{config}"
    );
    servers
        .admin(
            "updateBrokerConfig",
            &["-c", CLUSTER, "-k", "regionId", "-v", "DefaultRegion"],
        )
        .ok(&["update broker config success"]);
    servers
        .admin(
            "updateBrokerConfig",
            &["-b", addr, "-k", "listenPort", "-v", "1"],
        )
        .fails("UPDATE_BROKER_CONFIG failed");
}

fn topic_commands(servers: &Servers) {
    let addr = servers.broker.addr();
    // Unknown topics: one clear line, exit 1.
    for command in ["topicRoute", "topicStatus", "topicClusterList", "printMsg"] {
        servers
            .admin(command, &["-t", "NoSuchTopic"])
            .fails("topic NoSuchTopic does not exist");
    }
    servers
        .admin(
            "updateTopic",
            &["-c", CLUSTER, "-t", TOPIC, "-r", "4", "-w", "4"],
        )
        .ok(&[
            &format!("create topic to {addr} success."),
            "TopicConfig [topicName=ToolsTopic, readQueueNums=4, writeQueueNums=4, perm=RW-",
        ]);
    servers
        .admin(
            "updateTopic",
            &["-b", addr, "-t", "ToolsTopic2", "-p", "4", "-a", "+k=v"],
        )
        .ok(&["perm=R--", "attributes={+k=v}"]);
    // The broker answers before its registration reaches the name server (Apache registers
    // first), so the route shows up a moment later.
    wait_until("the topic has a route", || {
        servers.admin("topicRoute", &["-t", TOPIC]).code == 0
    });
    let route = servers.admin("topicRoute", &["-t", TOPIC]).ok(&[]);
    let route: Value = serde_json::from_str(&route.stdout).expect("topicRoute prints JSON");
    assert_eq!(route["queueDatas"][0]["readQueueNums"], 4);
    assert_eq!(route["brokerDatas"][0]["brokerAddrs"]["0"], addr);
    servers.admin("topicRoute", &["-t", TOPIC, "-l"]).ok(&[
        "#ClusterName",
        &format!("{{0={addr}}}"),
        "Total:",
    ]);
    servers.admin("topicList", &[]).ok(&[TOPIC, "TBW102"]);
    let by_cluster = servers.admin("topicList", &["-c"]).ok(&["#Consumer Group"]);
    assert_eq!(by_cluster.cell(0, TOPIC), CLUSTER);
    servers
        .admin("topicClusterList", &["-t", TOPIC])
        .ok(&[CLUSTER]);
    let status = servers
        .admin("topicStatus", &["-t", TOPIC])
        .ok(&["#Min Offset", "Topic Put TPS"]);
    assert_eq!(
        status
            .stdout
            .lines()
            .filter(|l| l.starts_with(BROKER_NAME))
            .count(),
        4
    );
    servers
        .admin("topicStatus", &["-t", TOPIC, "-c", CLUSTER])
        .ok(&[BROKER_NAME]);
}

/// A message this test sent: (client msgId = UNIQ_KEY, broker offsetMsgId, body).
struct Sent {
    queue_id: String,
    msg_id: String,
    offset_msg_id: String,
    body: &'static str,
}

fn message_commands(servers: &Servers) -> Vec<Sent> {
    let mut sent = Vec::new();
    let sends: [(&str, &str, &str, &[&str]); 3] = [
        (
            "first body",
            "key1 shared",
            "TagA",
            &["-b", BROKER_NAME, "-i", "1"],
        ),
        (
            "second body",
            "key2 shared",
            "TagB",
            &["-b", BROKER_NAME, "-i", "1"],
        ),
        ("third body", "key3", "TagA", &[]),
    ];
    for (body, keys, tags, target) in sends {
        let mut args = vec!["-t", TOPIC, "-p", body, "-k", keys, "-c", tags];
        args.extend_from_slice(target);
        let run = servers.admin("sendMessage", &args).ok(&[
            "#Broker Name",
            "#MsgId",
            "SEND_OK",
            BROKER_NAME,
        ]);
        if !target.is_empty() {
            assert_eq!(run.cell(1, "SEND_OK"), "1", "{run}");
        }
        let (msg_id, offset_msg_id) = (run.cell(3, "SEND_OK"), run.cell(4, "SEND_OK"));
        assert_eq!(msg_id.len(), 32, "{run}");
        assert_eq!(offset_msg_id.len(), 32, "{run}");
        sent.push(Sent {
            queue_id: run.cell(1, "SEND_OK"),
            msg_id,
            offset_msg_id,
            body,
        });
    }
    servers
        .admin("sendMessage", &["-t", TOPIC, "-p", "x", "-i", "1"])
        .fails("Broker name must be set");
    servers
        .admin("sendMessage", &["-t", TOPIC, "-p", "x", "-b", "no-broker"])
        .fails("no writable queue");
    // The third send went to a queue of the tool's choosing, which may be queue 1 too.
    let on_queue_1 = sent
        .iter()
        .filter(|s| s.queue_id == "1")
        .count()
        .to_string();
    let status = servers.admin("topicStatus", &["-t", TOPIC]).ok(&[]);
    assert_eq!(
        status.cell_where(&[(0, BROKER_NAME), (1, "1")], 3),
        on_queue_1
    );

    // By key: Java's columns, the client's msgId, exact-key matches only.
    let by_key = servers
        .admin("queryMsgByKey", &["-t", TOPIC, "-k", "shared"])
        .ok(&["#Message ID", &sent[0].msg_id, &sent[1].msg_id]);
    assert!(!by_key.stdout.contains(&sent[2].msg_id), "{by_key}");
    servers
        .admin("queryMsgByKey", &["-t", TOPIC, "-k", "nothing-has-this"])
        .fails("no message with key nothing-has-this");
    servers
        .admin("queryMsgByKey", &["-t", "NoSuchTopic", "-k", "key1"])
        .fails("topic NoSuchTopic does not exist");

    // By the broker's id: VIEW_MESSAGE_BY_ID, printed as Java's printMsg.
    let by_id = servers
        .admin(
            "queryMsgById",
            &["-t", TOPIC, "-i", &sent[0].offset_msg_id, "-f", "UTF-8"],
        )
        .ok(&[
            &format!("OffsetID:            {}", sent[0].offset_msg_id),
            "Topic:               ToolsTopic",
            "Tags:                [TagA]",
            "Keys:                [key1 shared]",
            "Queue ID:            1",
            "Message Body:        first body",
            "Message Body Path:   /tmp/rocketmq/msgbodys/",
        ]);
    let body_path = by_id
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("Message Body Path:   "));
    assert_eq!(
        std::fs::read_to_string(body_path.unwrap()).unwrap(),
        "first body"
    );
    let both = format!("{},{}", sent[0].offset_msg_id, sent[1].offset_msg_id);
    servers
        .admin("queryMsgById", &["-t", TOPIC, "-i", &both])
        .ok(&["[key1 shared]", "[key2 shared]"]);

    // By queue offset: queue 1 holds the first two sends, in order.
    servers
        .admin(
            "queryMsgByOffset",
            &[
                "-t",
                TOPIC,
                "-b",
                BROKER_NAME,
                "-i",
                "1",
                "-o",
                "1",
                "-f",
                "UTF-8",
            ],
        )
        .ok(&[
            "Queue Offset:        1",
            "Message Body:        second body",
            &sent[1].offset_msg_id,
        ]);
    servers
        .admin(
            "queryMsgByOffset",
            &["-t", TOPIC, "-b", BROKER_NAME, "-i", "1", "-o", "99"],
        )
        .fails("no message at offset 99");
    servers
        .admin(
            "queryMsgByOffset",
            &["-t", TOPIC, "-b", "no-broker", "-i", "1", "-o", "0"],
        )
        .fails("broker no-broker not found");

    unique_key_lookups(servers, &sent);

    // printMsg and consumeMessage read every queue with one-shot pulls.
    let printed = servers.admin("printMsg", &["-t", TOPIC]).ok(&[
        &format!(
            "minOffset=0, maxOffset={on_queue_1}, \
             MessageQueue [topic=ToolsTopic, brokerName=broker-a, queueId=1]"
        ),
        "BODY: first body",
        "BODY: second body",
        "BODY: third body",
        "--------------------------------------------------------",
    ]);
    assert!(printed.stdout.contains(&format!(
        "MSGID: {} MessageExt [brokerName=broker-a",
        sent[0].msg_id
    )));
    let tag_b = servers
        .admin("printMsg", &["-t", TOPIC, "-s", "TagB"])
        .ok(&["BODY: second body"]);
    assert!(!tag_b.stdout.contains("BODY: first body"), "{tag_b}");
    servers
        .admin("printMsg", &["-t", TOPIC, "-d", "false"])
        .ok(&["BODY: NOT PRINT BODY"]);
    let consumed = servers
        .admin("consumeMessage", &["-t", TOPIC])
        .ok(&["Consume ok", "print msg finished"]);
    for message in &sent {
        assert!(
            consumed.stdout.contains(&format!("BODY: {}", message.body)),
            "{consumed}"
        );
    }
    let one_queue = servers
        .admin(
            "consumeMessage",
            &["-t", TOPIC, "-b", BROKER_NAME, "-i", "1", "-o", "1"],
        )
        .ok(&["BODY: second body"]);
    assert!(
        !one_queue.stdout.contains("BODY: first body"),
        "{one_queue}"
    );
    servers
        .admin("consumeMessage", &["-t", TOPIC, "-i", "1"])
        .fails("Please set the brokerName before queueId!");
    sent
}

/// The client's msgId (UNIQ_KEY) through queryMsgByUniqueKey and queryMsgById.
fn unique_key_lookups(servers: &Servers, sent: &[Sent]) {
    servers
        .admin("queryMsgById", &["-t", TOPIC, "-i", &sent[0].offset_msg_id])
        .ok(&["Keys:                [key1 shared]"]);
    servers
        .admin("queryMsgByUniqueKey", &["-t", TOPIC, "-i", &sent[0].msg_id])
        .ok(&[
            "Topic:               ToolsTopic",
            "Keys:                [key1 shared]",
        ]);
    servers
        .admin(
            "queryMsgByUniqueKey",
            &["-t", TOPIC, "-i", &sent[0].msg_id, "-a"],
        )
        .ok(&["Queue ID:            1"]);
    // A client id is 32 hex digits like an offsetMsgId; queryMsgById falls back to the index.
    servers
        .admin("queryMsgById", &["-t", TOPIC, "-i", &sent[0].msg_id])
        .ok(&["Keys:                [key1 shared]"]);
}

/// resetOffsetByTime on an offline group, then consumerProgress reading the result.
fn offset_and_group_commands(servers: &Servers, sent: &[Sent]) {
    // A group that never committed an offset has no progress to show.
    servers
        .admin("consumerProgress", &["-g", GROUP])
        .fails("ToolsGroup");
    let reset = servers
        .admin("resetOffsetByTime", &["-g", GROUP, "-t", TOPIC, "-s", "0"])
        .ok(&[
            "consumerGroup[ToolsGroup], topic[ToolsTopic], force[true]",
            "#timestampOffset",
        ]);
    assert_eq!(
        reset
            .stdout
            .lines()
            .filter(|l| l.starts_with(BROKER_NAME))
            .count(),
        4,
        "{reset}"
    );
    assert_eq!(reset.cell_where(&[(0, BROKER_NAME), (1, "1")], 5), "0");
    // Without -t the group's brokers come from %RETRY%ToolsGroup, which only a connected
    // consumer creates, else from every broker the name server knows.
    servers
        .admin("consumerProgress", &["-g", GROUP])
        .ok(&["Consume Diff Total: 3"]);
    let progress = servers
        .admin("consumerProgress", &["-g", GROUP, "-t", TOPIC])
        .ok(&[
            "#Broker Offset",
            "Consume TPS: 0.00",
            "Consume Diff Total: 3",
        ]);
    let on_queue_1 = sent.iter().filter(|s| s.queue_id == "1").count();
    let broker_offset = progress.cell_where(&[(1, BROKER_NAME), (2, "1")], 3);
    assert_eq!(broker_offset, on_queue_1.to_string());
    servers
        .admin(
            "consumerProgress",
            &["-g", GROUP, "-t", TOPIC, "-s", "true"],
        )
        .ok(&["#Client IP", "N/A"]);
    // To now: every queue's offset moves to its end.
    servers
        .admin(
            "resetOffsetByTime",
            &["-g", GROUP, "-t", TOPIC, "-s", "now"],
        )
        .ok(&["timestamp(string)[now]"]);
    servers
        .admin("consumerProgress", &["-g", GROUP, "-t", TOPIC])
        .ok(&["Consume Diff Total: 0"]);
    // One queue, to an explicit offset.
    servers
        .admin(
            "resetOffsetByTime",
            &[
                "-g",
                GROUP,
                "-t",
                TOPIC,
                "-s",
                "now",
                "-b",
                servers.broker.addr(),
                "-q",
                "1",
                "-o",
                "1",
            ],
        )
        .ok(&["queueId[1]", "reset consumer offset to 1"]);
    servers
        .admin("consumerProgress", &["-g", GROUP, "-t", TOPIC])
        .ok(&[&format!("Consume Diff Total: {}", on_queue_1 - 1)]);
    servers
        .admin(
            "resetOffsetByTime",
            &["-g", GROUP, "-t", TOPIC, "-s", "yesterday"],
        )
        .fails("bad timestamp");
    // The message track of queryMsgById now names the group (offline).
    servers
        .admin("queryMsgById", &["-t", TOPIC, "-i", &sent[2].offset_msg_id])
        .ok(&["MessageTrack [consumerGroup=ToolsGroup, trackType=NOT_ONLINE"]);
    servers
        .admin(
            "resetOffsetByTime",
            &["-g", GROUP, "-t", TOPIC, "-s", "now"],
        )
        .ok(&[]);
}

/// INVOKE_BROKER_TO_RESET_OFFSET sent raw with bad or odd values: RocketMQ's codes and
/// remarks, and the broker keeps serving.
fn reset_offset_refusals(servers: &Servers) {
    let mut client =
        BlockingClient::connect(servers.broker.addr(), Duration::from_secs(3)).unwrap();
    let mut ask = |pairs: &[(&str, &str)]| {
        let mut fields = ramjet_net::ExtFields::new();
        for (key, value) in pairs {
            fields.insert(*key, *value);
        }
        let request = RemotingCommand::request(request::INVOKE_BROKER_TO_RESET_OFFSET)
            .with_ext_fields(fields);
        let answer = client.invoke(request, Duration::from_secs(5)).unwrap();
        (answer.code, answer.remark.unwrap_or_default())
    };
    let valid = [
        ("topic", TOPIC),
        ("group", GROUP),
        ("timestamp", "0"),
        ("isForce", "true"),
    ];
    // Offline group: CONSUMER_NOT_ONLINE, whatever the timestamp.
    for timestamp in ["0", "-1", "-9223372036854775808", "9223372036854775807"] {
        let mut fields = valid.to_vec();
        fields[2] = ("timestamp", timestamp);
        let (code, remark) = ask(&fields);
        assert_eq!(code, response::CONSUMER_NOT_ONLINE, "{remark}");
        assert!(
            remark.starts_with("Consumer not online, so can not reset offset, Group: ToolsGroup"),
            "{remark}"
        );
    }
    let (code, remark) = ask(&[
        ("topic", "NoSuchTopic"),
        ("group", GROUP),
        ("timestamp", "0"),
        ("isForce", "true"),
    ]);
    assert_eq!(code, response::TOPIC_NOT_EXIST, "{remark}");
    assert!(
        remark.contains("no topic in this broker. topic=NoSuchTopic"),
        "{remark}"
    );
    let (code, remark) = ask(&valid[..3]);
    assert_eq!(code, response::SYSTEM_ERROR, "{remark}");
    assert!(remark.contains("isForce"), "{remark}");
    let (code, remark) = ask(&[
        ("topic", TOPIC),
        ("group", GROUP),
        ("timestamp", "x"),
        ("isForce", "true"),
    ]);
    assert_eq!(code, response::SYSTEM_ERROR, "{remark}");
    // 5.x's one-queue reset: a queue the topic lacks, an offset outside the queue.
    let mut one_queue = valid.to_vec();
    one_queue.push(("queueId", "2147483647"));
    let (code, remark) = ask(&one_queue);
    assert_eq!(code, response::INVALID_PARAMETER, "{remark}");
    let mut outside = valid.to_vec();
    outside.extend([("queueId", "1"), ("offset", "9223372036854775807")]);
    let (code, remark) = ask(&outside);
    assert_eq!(code, response::SYSTEM_ERROR, "{remark}");
    assert!(
        remark.starts_with("Target offset 9223372036854775807 not in consume queue range [0-"),
        "{remark}"
    );
    // 220 is a client's code: the broker does not serve it.
    let request = RemotingCommand::request(request::RESET_CONSUMER_CLIENT_OFFSET);
    let answer = client.invoke(request, Duration::from_secs(5)).unwrap();
    assert_eq!(
        answer.code,
        response::REQUEST_CODE_NOT_SUPPORTED,
        "{answer:?}"
    );
}

/// A client connection as a Java client would make it: one HEART_BEAT naming a producer
/// group and a push-consumer group. The broker keeps both while the connection is open.
fn connect_client(broker_addr: &str) -> BlockingClient {
    let mut client = BlockingClient::connect(broker_addr, Duration::from_secs(3)).unwrap();
    let heartbeat = serde_json::json!({
        "clientID": "127.0.0.1@tools-test",
        "consumerDataSet": [{
            "consumeFromWhere": "CONSUME_FROM_LAST_OFFSET",
            "consumeType": "CONSUME_PASSIVELY",
            "groupName": GROUP,
            "messageModel": "CLUSTERING",
            "subscriptionDataSet": [{
                "classFilterMode": false, "codeSet": [], "expressionType": "TAG",
                "subString": "TagA", "subVersion": 1, "tagsSet": ["TagA"], "topic": TOPIC
            }],
            "unitMode": false
        }],
        "producerDataSet": [{"groupName": PRODUCER_GROUP}]
    });
    let request = RemotingCommand::request(request::HEART_BEAT)
        .with_body(serde_json::to_vec(&heartbeat).unwrap());
    let answer = client.invoke(request, Duration::from_secs(5)).unwrap();
    assert_eq!(answer.code, response::SUCCESS, "{answer:?}");
    client
}

fn client_connection_commands(servers: &Servers, sent: &[Sent]) {
    servers
        .admin("consumerConnection", &["-g", GROUP])
        .fails("consumer group ToolsGroup is not online");
    servers
        .admin("producerConnection", &["-g", PRODUCER_GROUP, "-t", TOPIC])
        .fails("producer group ToolsProducer has no connection");
    let mut client = connect_client(servers.broker.addr());
    servers
        .admin("producerConnection", &["-g", PRODUCER_GROUP, "-t", TOPIC])
        .ok(&["0001  127.0.0.1@tools-test", "V5_3_3"]);
    servers.admin("consumerConnection", &["-g", GROUP]).ok(&[
        "#ClientId",
        "127.0.0.1@tools-test",
        "Below is subscription:",
        "ConsumeType: CONSUME_PASSIVELY",
        "MessageModel: CLUSTERING",
        "ConsumeFromWhere: CONSUME_FROM_LAST_OFFSET",
    ]);
    let with_broker = ["-g", GROUP, "-b", servers.broker.addr()];
    servers
        .admin("consumerConnection", &with_broker)
        .ok(&["TagA"]);
    // The heartbeat created %RETRY%ToolsGroup; once the name server has it, the group
    // shows up in the all-groups listing and needs no -t.
    wait_until("the retry topic has a route", || {
        servers
            .admin("topicRoute", &["-t", "%RETRY%ToolsGroup"])
            .code
            == 0
    });
    let all = servers
        .admin("consumerProgress", &[])
        .ok(&["#Group", GROUP]);
    assert_eq!(all.cell(1, GROUP), "1", "{all}");
    assert_eq!(all.cell(3, GROUP), "PUSH", "{all}");
    servers
        .admin("consumerProgress", &["-g", GROUP])
        .ok(&["Consume Diff Total: 0"]);
    // Consumed: the group's offset on the message's queue is past it, and it wants TagA.
    servers
        .admin("queryMsgById", &["-t", TOPIC, "-i", &sent[0].offset_msg_id])
        .ok(&["MessageTrack [consumerGroup=ToolsGroup, trackType=CONSUMED,"]);
    servers
        .admin("queryMsgById", &["-t", TOPIC, "-i", &sent[1].offset_msg_id])
        .ok(&["trackType=CONSUMED_BUT_FILTERED"]);
    online_reset(servers, &mut client);
    drop(client);
    wait_until("the closed client is gone", || {
        servers.admin("consumerConnection", &["-g", GROUP]).code == 1
    });
}

/// resetOffsetByTime on an online group: the broker answers the offsets
/// (INVOKE_BROKER_TO_RESET_OFFSET), commits them, and sends the connected client a oneway
/// RESET_CONSUMER_CLIENT_OFFSET with them; without force no queue moves forward.
fn online_reset(servers: &Servers, client: &mut BlockingClient) {
    let reset = servers
        .admin("resetOffsetByTime", &["-g", GROUP, "-t", TOPIC, "-s", "0"])
        .ok(&[
            "start reset consumer offset by specified, group[ToolsGroup], topic[ToolsTopic], \
             force[true], timestamp(string)[0], timestamp(long)[0]",
            "#brokerName",
            "#offset",
        ]);
    assert_eq!(reset.cell_where(&[(0, BROKER_NAME), (1, "1")], 2), "0");
    let told = reset_notice(client);
    assert_eq!(told.offset_table.len(), 4, "{told:?}");
    assert!(
        told.offset_table.values().all(|offset| *offset == 0),
        "{told:?}"
    );
    // The broker committed them too: a consumer that restarts starts there.
    servers
        .admin("consumerProgress", &["-g", GROUP, "-t", TOPIC])
        .ok(&["Consume Diff Total: 3"]);
    // Without force a queue only moves back: "now" is past every committed offset.
    let kept = servers
        .admin(
            "resetOffsetByTime",
            &["-g", GROUP, "-t", TOPIC, "-s", "now", "-f", "false"],
        )
        .ok(&["force[false]"]);
    assert_eq!(kept.cell_where(&[(0, BROKER_NAME), (1, "1")], 2), "0");
    assert!(reset_notice(client)
        .offset_table
        .values()
        .all(|offset| *offset == 0));
    servers
        .admin("consumerProgress", &["-g", GROUP, "-t", TOPIC])
        .ok(&["Consume Diff Total: 3"]);
    servers
        .admin(
            "resetOffsetByTime",
            &["-g", GROUP, "-t", TOPIC, "-s", "now"],
        )
        .ok(&["force[true]"]);
    let forward = reset_notice(client);
    assert_eq!(forward.offset_table.values().sum::<i64>(), 3, "{forward:?}");
    servers
        .admin("consumerProgress", &["-g", GROUP, "-t", TOPIC])
        .ok(&["Consume Diff Total: 0"]);
}

/// The next RESET_CONSUMER_CLIENT_OFFSET the broker sent `client`: oneway, with Java's
/// header (isForce left false) and a ResetOffsetBody keyed by MessageQueue objects.
fn reset_notice(client: &mut BlockingClient) -> ResetOffsetBody {
    loop {
        let frame = client
            .receive_request(Duration::from_secs(5))
            .expect("the broker sends the client RESET_CONSUMER_CLIENT_OFFSET");
        if frame.code != request::RESET_CONSUMER_CLIENT_OFFSET {
            continue;
        }
        assert!(frame.is_oneway(), "{frame:?}");
        let fields = frame.fields();
        assert_eq!(fields.get("topic"), Some(TOPIC), "{frame:?}");
        assert_eq!(fields.get("group"), Some(GROUP), "{frame:?}");
        assert_eq!(fields.get("isForce"), Some("false"), "{frame:?}");
        assert!(fields.get("timestamp").is_some(), "{frame:?}");
        let text = String::from_utf8_lossy(&frame.body).into_owned();
        assert!(
            text.starts_with(
                r#"{"offsetTable":{{"brokerName":"broker-a","queueId":0,"topic":"ToolsTopic"}:"#
            ),
            "{text}"
        );
        return ResetOffsetBody::decode(&frame.body).expect("a ResetOffsetBody");
    }
}

fn subscription_group_commands(servers: &Servers) {
    let addr = servers.broker.addr();
    servers
        .admin(
            "updateSubGroup",
            &["-c", CLUSTER, "-g", "ToolsSubGroup", "-r", "5", "-q", "2"],
        )
        .ok(&[
            &format!("create subscription group to {addr} success."),
            "SubscriptionGroupConfig{groupName=ToolsSubGroup, consumeEnable=true",
            "retryQueueNums=2, retryMaxTimes=5",
        ]);
    servers
        .admin(
            "updateSubGroup",
            &[
                "-b",
                addr,
                "-g",
                "ToolsSubGroup2",
                "-s",
                "false",
                "--attributes",
                "+a=1",
            ],
        )
        .ok(&["consumeEnable=false", "attributes={+a=1}"]);
    servers
        .admin(
            "updateSubGroup",
            &["-b", addr, "-g", "G", "-p", "{not json"],
        )
        .fails("-p is not JSON");
    servers
        .admin(
            "deleteSubGroup",
            &["-c", CLUSTER, "-g", "ToolsSubGroup", "-r", "true"],
        )
        .ok(&[
            "delete subscription group [ToolsSubGroup] from broker",
            "in cluster [DefaultCluster] success.",
        ]);
    servers
        .admin("deleteSubGroup", &["-b", addr, "-g", "ToolsSubGroup2"])
        .ok(&[&format!(
            "delete subscription group [ToolsSubGroup2] from broker [{addr}] success."
        )]);
    servers
        .admin(
            "deleteSubGroup",
            &["-c", "NoSuchCluster", "-g", "ToolsSubGroup"],
        )
        .fails("cluster NoSuchCluster not found");
}

fn delete_topic(servers: &Servers) {
    servers
        .admin("deleteTopic", &["-t", "ToolsTopic2", "-c", CLUSTER])
        .ok(&[
            "delete topic [ToolsTopic2] from cluster [DefaultCluster] success.",
            "delete topic [ToolsTopic2] from NameServer success.",
        ]);
    wait_until("the deleted topic has no route", || {
        servers.admin("topicRoute", &["-t", "ToolsTopic2"]).code == 1
    });
    servers
        .admin("topicRoute", &["-t", "ToolsTopic2"])
        .fails("topic ToolsTopic2 does not exist");
    let list = servers.admin("topicList", &[]).ok(&[TOPIC]);
    assert!(!list.stdout.lines().any(|l| l == "ToolsTopic2"), "{list}");
}

/// checkTuning reads this machine; what it finds depends on the machine, so only the shape
/// and the exit codes are checked.
fn check_tuning() {
    let tuning = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tuning");
    for profile in ["throughput.conf", "latency.conf"] {
        let path = tuning.join(profile);
        let path = path.to_str().unwrap();
        let report = mqadmin(&["checkTuning", "-p", path, "-v"]).ok(&[
            "#Setting",
            "vm.swappiness",
            "net.core.somaxconn",
            "limit.nofile",
            "limit.memlock",
            "thp.enabled",
            "why: ",
        ]);
        let all_ok = report
            .stdout
            .lines()
            .filter(|l| l.starts_with(|c: char| c.is_ascii_lowercase()))
            .all(|l| l.ends_with(" ok") || l.ends_with(" n/a"));
        let strict = mqadmin(&["checkTuning", "-p", path, "--strict"]);
        assert_eq!(strict.code, if all_ok { 0 } else { 1 }, "{strict}");
    }
    mqadmin(&["checkTuning", "-p", "/no/such/profile.conf"]).fails("read profile");
}

/// mqshutdown finds each server by exact executable name, refuses a process of the wrong
/// kind, and stops each gracefully; afterwards mqadmin reports the name server unreachable.
fn mqshutdown_stops_both_servers(servers: Servers) {
    let Servers {
        namesrv,
        mut broker,
    } = servers;
    let store = broker.dir.join("store");
    let ours: Vec<_> = find_processes(Path::new("/proc"), "mqbroker", current_uid())
        .into_iter()
        .filter(|p| p.command_line.contains(store.to_str().unwrap()))
        .collect();
    assert_eq!(
        ours.len(),
        1,
        "exactly one mqbroker uses this test's store: {ours:?}"
    );
    let broker_pid = ours[0].pid.to_string();
    let namesrv_pid = namesrv.process.pid().to_string();
    mqshutdown(&["broker", "--pid", &broker_pid, "--dry-run"]).ok(&[
        &format!("The mqbroker({broker_pid}) is running..."),
        store.to_str().unwrap(),
    ]);
    mqshutdown(&["namesrv", "--pid", &broker_pid]).fails("not mqnamesrv; not signalled");
    mqshutdown(&["broker", "--pid", &namesrv_pid]).fails("not mqbroker; not signalled");
    assert!(
        broker.is_running(),
        "a refused mqshutdown must not stop anything"
    );
    let stopped = mqshutdown(&["broker", "--pid", &broker_pid]).ok(&[
        &format!("Send shutdown request to mqbroker({broker_pid}) OK"),
        &format!("mqbroker({broker_pid}) exited after"),
    ]);
    // Only once its ports are closed may a new broker take them.
    let port = broker.addr().rsplit(':').next().unwrap();
    let released = stopped.stdout.lines().find(|l| l.starts_with("ports "));
    assert!(
        released.is_some_and(|l| l.contains(port) && l.ends_with(" released")),
        "{stopped}"
    );
    assert!(!broker.is_running());
    let log = std::fs::read_to_string(broker.log_path()).unwrap();
    assert!(
        log.contains("clean shutdown"),
        "SIGTERM is a graceful stop\n{}",
        broker.log_tail()
    );
    mqshutdown(&["broker", "--pid", &broker_pid]).fails(&format!("no process {broker_pid}"));
    mqshutdown(&["namesrv", "--pid", &namesrv_pid]).ok(&[
        &format!("mqnamesrv({namesrv_pid}) exited after"),
        "released",
    ]);
    assert!(TcpStream::connect(&namesrv.addr).is_err());
    mqadmin(&["clusterList", "-n", &namesrv.addr]).fails("name server unreachable");
}
