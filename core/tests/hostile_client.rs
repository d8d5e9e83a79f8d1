//! A hostile client against a real two-shard `mqbroker`: every request code the broker
//! serves (and some it does not), on every one of 16 connections, with odd field values,
//! missing fields, the extFields the broker uses between its own shards (`__ramjet_partial`,
//! `__ramjet_topics`), garbage and wrongly shaped bodies. Afterwards a well-behaved client
//! must still be served on every connection and on a fresh one, the broker must not have
//! panicked, and no send may have been acknowledged on a queue the topic does not have.

mod common;

use std::fmt::Write as _;
use std::time::Duration;

use common::{
    command, create_topic, fields, heartbeat_body, pull_fields, send_v2_fields,
    well_behaved_round_trip, StandaloneBroker, REPLY_TIMEOUT,
};
use ramjet_net::client::BlockingClient;
use ramjet_net::code::{request, response};

/// Connections held open through the whole test. SO_REUSEPORT spreads accepted connections
/// over the shards by a hash of the client port; with 16 the chance that one shard gets none
/// is 2^-15.
const CONNECTIONS: usize = 16;
/// A 4-queue topic every hostile send targets, so acknowledged queueIds can be judged.
const PROBE_TOPIC: &str = "HostileQueueProbe";
const PROBE_QUEUES: i32 = 4;
/// A 4-queue topic no hostile request names: the well-behaved client's afterwards.
const HEALTH_TOPIC: &str = "HostileHealth";
/// The extFields the broker adds to requests it forwards between its own shards.
const PARTIAL_KEY: &str = "__ramjet_partial";
const TOPICS_KEY: &str = "__ramjet_topics";
/// How long a pull that asked to be held (suspend flag, long timeout) is waited for: a
/// broker may legitimately park it, so no answer is fine; a panic is not.
const HELD_PULL_WAIT: Duration = Duration::from_millis(300);

/// One hostile request.
#[derive(Clone)]
struct Probe {
    code: i32,
    fields: Vec<(String, String)>,
    body: Vec<u8>,
    /// What is odd about it, for the report.
    what: String,
    oneway: bool,
    /// A suspended pull with a long hold: no answer within [`HELD_PULL_WAIT`] is allowed.
    may_be_held: bool,
}

impl Probe {
    fn new(code: i32, fields: &[(&str, &str)], body: &[u8], what: &str) -> Probe {
        Probe {
            code,
            fields: fields
                .iter()
                .map(|(key, value)| (key.to_string(), value.to_string()))
                .collect(),
            body: body.to_vec(),
            what: what.to_string(),
            oneway: false,
            may_be_held: false,
        }
    }

    fn field(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn with_field(&self, key: &str, value: &str, what: String) -> Probe {
        let mut probe = self.clone();
        probe.fields.retain(|(k, _)| k != key);
        probe.fields.push((key.to_string(), value.to_string()));
        probe.what = what;
        probe
    }

    fn without_field(&self, key: &str) -> Probe {
        let mut probe = self.clone();
        probe.fields.retain(|(k, _)| k != key);
        probe.what = format!("no {key}");
        probe
    }

    fn with_body(&self, body: &[u8], what: String) -> Probe {
        let mut probe = self.clone();
        probe.body = body.to_vec();
        probe.what = what;
        probe
    }

    fn describe(&self) -> String {
        format!("code {} ({})", self.code, self.what)
    }
}

/// Numbers a header field might hold from a careless or malicious client.
const ODD_NUMBERS: &[&str] = &[
    "",
    "-1",
    "-2147483648",
    "2147483647",
    "2147483648",
    "9223372036854775807",
    "-9223372036854775808",
    "99999999999999999999",
    "abc",
    "1.5",
    " 3 ",
    "0x10",
    "+1",
    "NaN",
];

/// Topic and group names: empty, 100 KiB, system names, characters the validator refuses.
fn odd_names() -> Vec<String> {
    let mut names: Vec<String> = [
        "",
        "TBW102",
        "SCHEDULE_TOPIC_XXXX",
        "RMQ_SYS_TRACE_TOPIC",
        "%RETRY%hostile_g",
        "%DLQ%hostile_g",
        "DefaultCluster",
        "broker-hostile",
        "a b",
        "a/b",
        "..",
        "\u{0}",
        "トピック",
        "-1",
    ]
    .iter()
    .map(|name| name.to_string())
    .collect();
    names.push("t".repeat(100 * 1024));
    names
}

/// Bodies of the wrong kind for most codes.
fn odd_bodies() -> Vec<(String, Vec<u8>)> {
    let mut deep = "[".repeat(100_000).into_bytes();
    deep.extend(vec![b']'; 100_000]);
    let garbage: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    vec![
        ("empty body".into(), Vec::new()),
        ("garbage body".into(), garbage),
        ("body {}".into(), b"{}".to_vec()),
        ("body []".into(), b"[]".to_vec()),
        ("body null".into(), b"null".to_vec()),
        ("body \"text\"".into(), b"\"text\"".to_vec()),
        (
            "wrongly typed heartbeat body".into(),
            br#"{"clientID":5,"producerDataSet":5,"consumerDataSet":{"groupName":[1]}}"#.to_vec(),
        ),
        (
            "wrongly typed lock body".into(),
            br#"{"consumerGroup":{},"clientId":[],"mqSet":[{"queueId":"x","topic":7}]}"#.to_vec(),
        ),
        (
            "negative queues in lock body".into(),
            br#"{"consumerGroup":"g","clientId":"c","mqSet":[{"brokerName":"broker-hostile","queueId":-2147483648,"topic":"HostileQueueProbe"}]}"#.to_vec(),
        ),
        (
            "wrongly typed subscription group body".into(),
            br#"{"groupName":"hostile_g","retryQueueNums":"x","retryMaxTimes":-2147483648,"consumeEnable":"no"}"#.to_vec(),
        ),
        ("JSON nested 100000 deep".into(), deep),
        (
            "half a JSON object".into(),
            br#"{"producerDataSet":[{"groupName":"#.to_vec(),
        ),
        (
            "config lines with bad values".into(),
            b"brokerPermission=abc\nsendQueueCapacity=-1\nlistenPort=1\nnoSuchKey=1\n=\n\xff\xfe"
                .to_vec(),
        ),
    ]
}

/// The fields each code's header has, with values a sane client would send. Topics and
/// groups are hostile ones except for sends (to [`PROBE_TOPIC`], whose queue count is known)
/// and pulls and offsets of the probe topic (so their odd values get past the topic check).
fn base_probes() -> Vec<Probe> {
    let send_v1 = [
        ("producerGroup", "hostile_producer"),
        ("topic", PROBE_TOPIC),
        ("defaultTopic", "TBW102"),
        ("defaultTopicQueueNums", "4"),
        ("queueId", "0"),
        ("sysFlag", "0"),
        ("bornTimestamp", "1700000000000"),
        ("flag", "0"),
        ("properties", "TAGS\u{1}hostile\u{2}"),
        ("reconsumeTimes", "0"),
        ("unitMode", "false"),
        ("batch", "false"),
        ("maxReconsumeTimes", "16"),
    ];
    let send_v2: Vec<(String, String)> = send_v2_fields(PROBE_TOPIC, "0");
    let send_v2: Vec<(&str, &str)> = send_v2
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let mut batch_v2 = send_v2.clone();
    batch_v2.retain(|(k, _)| *k != "m");
    batch_v2.push(("m", "true"));
    let pull: Vec<(String, String)> = pull_fields("hostile_g", PROBE_TOPIC, "0", "0");
    let pull: Vec<(&str, &str)> = pull.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let queue = [("topic", PROBE_TOPIC), ("queueId", "0")];
    let group_queue = [
        ("consumerGroup", "hostile_g"),
        ("topic", PROBE_TOPIC),
        ("queueId", "0"),
    ];
    let heartbeat = heartbeat_body("127.0.0.1@hostile", "hostile_g", "hostile_t");
    let lock = br#"{"consumerGroup":"hostile_g","clientId":"127.0.0.1@hostile","mqSet":[{"brokerName":"broker-hostile","queueId":0,"topic":"hostile_t"}]}"#;
    let group_body = br#"{"groupName":"hostile_g","consumeEnable":true,"consumeFromMinEnable":true,"consumeBroadcastEnable":true,"retryQueueNums":1,"retryMaxTimes":16,"brokerId":0,"whichBrokerWhenConsumeSlowly":1,"notifyConsumerIdsChangedEnable":true}"#;
    vec![
        Probe::new(request::SEND_MESSAGE, &send_v1, b"hostile body", "base"),
        Probe::new(request::SEND_MESSAGE_V2, &send_v2, b"hostile body", "base"),
        Probe::new(request::SEND_BATCH_MESSAGE, &batch_v2, b"hostile body", "base"),
        Probe::new(request::PULL_MESSAGE, &pull, b"", "base"),
        Probe::new(request::LITE_PULL_MESSAGE, &pull, b"", "base"),
        Probe::new(request::QUERY_CONSUMER_OFFSET, &group_queue, b"", "base"),
        Probe::new(
            request::UPDATE_CONSUMER_OFFSET,
            &[
                ("consumerGroup", "hostile_g"),
                ("topic", PROBE_TOPIC),
                ("queueId", "0"),
                ("commitOffset", "0"),
            ],
            b"",
            "base",
        ),
        Probe::new(
            request::SEARCH_OFFSET_BY_TIMESTAMP,
            &[
                ("topic", PROBE_TOPIC),
                ("queueId", "0"),
                ("timestamp", "0"),
                ("boundaryType", "LOWER"),
            ],
            b"",
            "base",
        ),
        Probe::new(request::GET_MAX_OFFSET, &queue, b"", "base"),
        Probe::new(request::GET_MIN_OFFSET, &queue, b"", "base"),
        Probe::new(request::GET_EARLIEST_MSG_STORETIME, &queue, b"", "base"),
        Probe::new(
            request::VIEW_MESSAGE_BY_ID,
            &[("topic", PROBE_TOPIC), ("offset", "0")],
            b"",
            "base",
        ),
        Probe::new(
            request::QUERY_MESSAGE,
            &[
                ("topic", PROBE_TOPIC),
                ("key", "k"),
                ("maxNum", "32"),
                ("beginTimestamp", "0"),
                ("endTimestamp", "9223372036854775807"),
                ("_UNIQUE_KEY_QUERY", "false"),
            ],
            b"",
            "base",
        ),
        Probe::new(request::HEART_BEAT, &[], &heartbeat, "base"),
        Probe::new(
            request::UNREGISTER_CLIENT,
            &[
                ("clientID", "127.0.0.1@hostile"),
                ("producerGroup", "hostile_producer"),
                ("consumerGroup", "hostile_g"),
            ],
            b"",
            "base",
        ),
        Probe::new(
            request::CONSUMER_SEND_MSG_BACK,
            &[
                ("offset", "0"),
                ("group", "hostile_g"),
                ("delayLevel", "0"),
                ("originMsgId", "00000000000000000000000000000000"),
                ("originTopic", PROBE_TOPIC),
                ("maxReconsumeTimes", "16"),
            ],
            b"",
            "base",
        ),
        Probe::new(
            request::GET_CONSUMER_LIST_BY_GROUP,
            &[("consumerGroup", "hostile_g")],
            b"",
            "base",
        ),
        Probe::new(request::LOCK_BATCH_MQ, &[], lock, "base"),
        Probe::new(request::UNLOCK_BATCH_MQ, &[], lock, "base"),
        Probe::new(
            request::CHECK_CLIENT_CONFIG,
            &[("producerGroup", "hostile_producer")],
            br#"{"group":"hostile_g","subscriptionData":{"topic":"hostile_t","subString":"*","expressionType":"TAG"}}"#,
            "base",
        ),
        Probe::new(
            request::UPDATE_AND_CREATE_TOPIC,
            &[
                ("topic", "hostile_created"),
                ("defaultTopic", "TBW102"),
                ("readQueueNums", "2"),
                ("writeQueueNums", "2"),
                ("perm", "6"),
                ("topicFilterType", "SINGLE_TAG"),
                ("topicSysFlag", "0"),
                ("order", "false"),
            ],
            b"",
            "base",
        ),
        Probe::new(
            request::DELETE_TOPIC_IN_BROKER,
            &[("topic", "hostile_t")],
            b"",
            "base",
        ),
        Probe::new(request::GET_ALL_TOPIC_CONFIG, &[], b"", "base"),
        Probe::new(
            request::GET_TOPIC_CONFIG,
            &[("topic", "hostile_t")],
            b"",
            "base",
        ),
        Probe::new(
            request::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP,
            &[],
            group_body,
            "base",
        ),
        Probe::new(request::GET_ALL_SUBSCRIPTIONGROUP_CONFIG, &[], b"", "base"),
        Probe::new(
            request::DELETE_SUBSCRIPTIONGROUP,
            &[("groupName", "hostile_g"), ("removeOffset", "true")],
            b"",
            "base",
        ),
        Probe::new(request::GET_BROKER_RUNTIME_INFO, &[], b"", "base"),
        Probe::new(
            request::GET_TOPIC_STATS_INFO,
            &[("topic", PROBE_TOPIC)],
            b"",
            "base",
        ),
        Probe::new(
            request::GET_CONSUME_STATS,
            &[("consumerGroup", "hostile_g"), ("topic", PROBE_TOPIC)],
            b"",
            "base",
        ),
        Probe::new(
            request::GET_CONSUMER_CONNECTION_LIST,
            &[("consumerGroup", "hostile_g")],
            b"",
            "base",
        ),
        Probe::new(
            request::GET_PRODUCER_CONNECTION_LIST,
            &[("producerGroup", "hostile_producer")],
            b"",
            "base",
        ),
        Probe::new(
            request::INVOKE_BROKER_TO_RESET_OFFSET,
            &[
                ("topic", PROBE_TOPIC),
                ("group", "hostile_g"),
                ("timestamp", "0"),
                ("isForce", "true"),
                ("queueId", "1"),
                ("offset", "0"),
            ],
            b"",
            "base",
        ),
        Probe::new(
            request::QUERY_TOPIC_CONSUME_BY_WHO,
            &[("topic", PROBE_TOPIC)],
            b"",
            "base",
        ),
        // Relayed to a client: none is online, so refused at once (never waits 10 s).
        Probe::new(
            request::GET_CONSUMER_RUNNING_INFO,
            &[("consumerGroup", "hostile_g"), ("clientId", "127.0.0.1@nobody")],
            b"",
            "base",
        ),
        Probe::new(
            request::CONSUME_MESSAGE_DIRECTLY,
            &[
                ("consumerGroup", "hostile_g"),
                ("clientId", "127.0.0.1@nobody"),
                ("msgId", "7F00000100002A9F0000000000000000"),
                ("topic", PROBE_TOPIC),
            ],
            b"",
            "base",
        ),
        Probe::new(
            request::VIEW_BROKER_STATS_DATA,
            &[("statsName", "TOPIC_PUT_NUMS"), ("statsKey", PROBE_TOPIC)],
            b"",
            "base",
        ),
        // 317: a missing isOrder is a bad header; a non-boolean one is false, as Java parses it.
        Probe::new(
            request::GET_BROKER_CONSUME_STATS,
            &[("isOrder", "false")],
            b"",
            "base",
        ),
        Probe::new(request::GET_BROKER_CONSUME_STATS, &[], b"", "base"),
        Probe::new(
            request::GET_BROKER_CONSUME_STATS,
            &[("isOrder", "maybe")],
            b"",
            "base",
        ),
        // Only keys the broker must refuse: a valid change would be a legitimate request.
        Probe::new(
            request::UPDATE_BROKER_CONFIG,
            &[],
            b"noSuchKey=1\nlistenPort=1\n",
            "base",
        ),
        Probe::new(request::GET_BROKER_CONFIG, &[], b"", "base"),
        Probe::new(request::GET_ALL_CONSUMER_OFFSET, &[], b"", "base"),
        Probe::new(request::GET_ALL_DELAY_OFFSET, &[], b"", "base"),
        Probe::new(request::GET_TIMER_CHECK_POINT, &[], b"", "base"),
        // ACL admin codes on a broker without aclEnable: each refused with its code.
        Probe::new(
            request::UPDATE_AND_CREATE_ACL_CONFIG,
            &[
                ("accessKey", "hostileKey"),
                ("secretKey", "hostileSecret"),
                ("topicPerms", "a=PUB,b"),
                ("admin", "true"),
            ],
            b"",
            "base",
        ),
        Probe::new(
            request::DELETE_ACL_CONFIG,
            &[("accessKey", "hostileKey")],
            b"",
            "base",
        ),
        Probe::new(request::GET_BROKER_CLUSTER_ACL_INFO, &[], b"", "base"),
        Probe::new(
            request::UPDATE_GLOBAL_WHITE_ADDRS_CONFIG,
            &[("globalWhiteAddrs", "*"), ("aclFileFullPath", "/etc/passwd")],
            b"",
            "base",
        ),
        Probe::new(request::GET_BROKER_CLUSTER_ACL_CONFIG, &[], b"", "base"),
        // Codes the broker does not serve, or serves only on the name server.
        Probe::new(request::END_TRANSACTION, &[("producerGroup", "p")], b"", "base"),
        Probe::new(request::CHECK_TRANSACTION_STATE, &[], b"", "base"),
        Probe::new(request::NOTIFY_CONSUMER_IDS_CHANGED, &[], b"", "base"),
        Probe::new(request::RESET_CONSUMER_CLIENT_OFFSET, &[], b"", "base"),
        Probe::new(request::REGISTER_BROKER, &[], b"", "base"),
        Probe::new(
            request::GET_ROUTEINFO_BY_TOPIC,
            &[("topic", PROBE_TOPIC)],
            b"",
            "base",
        ),
        Probe::new(0, &[("topic", PROBE_TOPIC)], b"", "unknown code"),
        Probe::new(-1, &[("queueId", "-1")], b"", "unknown code"),
        Probe::new(9999, &[], b"x", "unknown code"),
        Probe::new(i32::MAX, &[], b"", "unknown code"),
        Probe::new(i32::MIN, &[], b"", "unknown code"),
    ]
}

fn is_name_field(key: &str) -> bool {
    matches!(
        key,
        "topic"
            | "b"
            | "defaultTopic"
            | "c"
            | "originTopic"
            | "consumerGroup"
            | "producerGroup"
            | "a"
            | "group"
            | "groupName"
            | "key"
            | "clientID"
    )
}

/// Every base probe with: `__ramjet_partial` and `__ramjet_topics` added (on every
/// connection), then each field missing, each field set to each odd number (names also to
/// each odd name), each odd body, and a 100 KiB unknown field (spread over the connections).
/// Returns (sent on every connection, spread over the connections).
fn probes() -> (Vec<Probe>, Vec<Probe>) {
    let names = odd_names();
    let long = "v".repeat(100 * 1024);
    let mut everywhere = Vec::new();
    let mut spread = Vec::new();
    for base in base_probes() {
        everywhere.push(base.clone());
        for value in ["true", "", "0"] {
            everywhere.push(base.with_field(
                PARTIAL_KEY,
                value,
                format!("{PARTIAL_KEY}={value:?}"),
            ));
        }
        everywhere.push(base.with_field(
            TOPICS_KEY,
            &format!("{PROBE_TOPIC},hostile_t,,{HEALTH_TOPIC}"),
            format!("{TOPICS_KEY} set"),
        ));
        let mut oneway = base.with_field(PARTIAL_KEY, "true", format!("oneway, {PARTIAL_KEY}"));
        oneway.oneway = true;
        everywhere.push(oneway);
        let mut oneway = base.clone();
        oneway.oneway = true;
        oneway.what = "oneway".into();
        everywhere.push(oneway);

        spread.push(base.with_field(TOPICS_KEY, &long, format!("100 KiB {TOPICS_KEY}")));
        spread.push(base.with_field("zzzUnknown", &long, "100 KiB unknown field".into()));
        for (key, _) in &base.fields {
            spread.push(base.without_field(key));
            for value in ODD_NUMBERS {
                spread.push(base.with_field(key, value, format!("{key}={value:?}")));
            }
            if is_name_field(key) {
                for name in &names {
                    let shown: String = name.chars().take(24).collect();
                    let what = format!("{key}={shown:?} ({} bytes)", name.len());
                    spread.push(base.with_field(key, name, what));
                }
            }
        }
        for (what, body) in odd_bodies() {
            spread.push(base.with_body(&body, what));
        }
    }
    // Pulls a broker may hold: suspended, past the end, with the longest timeouts.
    let pull = pull_fields("hostile_g", PROBE_TOPIC, "1", "9223372036854775807");
    for code in [request::PULL_MESSAGE, request::LITE_PULL_MESSAGE] {
        for timeout in ["9223372036854775807", "2147483647"] {
            let mut probe = Probe {
                code,
                fields: pull.clone(),
                body: Vec::new(),
                what: String::new(),
                oneway: false,
                may_be_held: true,
            };
            probe = probe.with_field("sysFlag", "7", String::new());
            probe = probe.with_field(
                "suspendTimeoutMillis",
                timeout,
                format!("suspended, past the end, suspendTimeoutMillis={timeout}"),
            );
            everywhere.push(probe);
        }
    }
    (everywhere, spread)
}

/// What one connection saw during the sweep.
#[derive(Default)]
struct Findings {
    /// The request that got no answer, or the connection closed under it.
    unanswered: Option<String>,
    /// Sends acknowledged on a queue the topic does not have, or that had to be refused.
    bad_acks: Vec<String>,
    requests: usize,
}

fn queue_id_field(probe: &Probe) -> Option<&str> {
    match probe.code {
        request::SEND_MESSAGE => probe.field("queueId"),
        _ => probe.field("e"),
    }
}

fn topic_field(probe: &Probe) -> Option<&str> {
    match probe.code {
        request::SEND_MESSAGE => probe.field("topic"),
        _ => probe.field("b"),
    }
}

/// Judges a SUCCESS answer to a send: the broker may pick a queue for a negative queueId
/// (clients send -1 for "any"), but must report a queue the topic has, the one asked for
/// when that was valid, and refuse a queueId past the topic's queues.
fn judge_send(probe: &Probe, answer: &ramjet_net::RemotingCommand) -> Option<String> {
    let landed = answer.ext_field("queueId");
    let landed_id = landed.and_then(|q| q.parse::<i32>().ok());
    let Some(landed_id) = landed_id.filter(|q| *q >= 0) else {
        return Some(format!(
            "{}: SUCCESS with queueId {landed:?}",
            probe.describe()
        ));
    };
    if topic_field(probe) != Some(PROBE_TOPIC) {
        return None;
    }
    let asked = queue_id_field(probe).and_then(|q| q.trim().parse::<i32>().ok());
    if landed_id >= PROBE_QUEUES {
        return Some(format!(
            "{}: SUCCESS on queue {landed_id} of a {PROBE_QUEUES}-queue topic",
            probe.describe()
        ));
    }
    match asked {
        Some(asked) if asked >= PROBE_QUEUES => Some(format!(
            "{}: SUCCESS for queueId {asked} of a {PROBE_QUEUES}-queue topic",
            probe.describe()
        )),
        Some(asked) if asked >= 0 && asked != landed_id => Some(format!(
            "{}: asked for queue {asked}, stored on {landed_id}",
            probe.describe()
        )),
        _ => None,
    }
}

/// A pull with the suspend flag: Apache parks it until its hold-service tick even with a
/// zero timeout, so no prompt answer is owed.
fn is_suspended_pull(probe: &Probe) -> bool {
    matches!(
        probe.code,
        request::PULL_MESSAGE | request::LITE_PULL_MESSAGE
    ) && probe
        .field("sysFlag")
        .and_then(|flag| flag.trim().parse::<i32>().ok())
        .is_some_and(|flag| flag & 0x2 != 0)
}

fn sweep(client: &mut BlockingClient, probes: &[&Probe]) -> Findings {
    let mut findings = Findings::default();
    for probe in probes {
        findings.requests += 1;
        let mut request = command(probe.code, fields(&probe.fields), &probe.body);
        if probe.oneway {
            request.mark_oneway();
            if let Err(error) = client.invoke_oneway(request) {
                findings.unanswered = Some(format!("{}: {error}", probe.describe()));
                break;
            }
            continue;
        }
        let wait = if probe.may_be_held || is_suspended_pull(probe) {
            HELD_PULL_WAIT
        } else {
            REPLY_TIMEOUT
        };
        match client.invoke(request, wait) {
            Ok(answer) => {
                let is_send = matches!(
                    probe.code,
                    request::SEND_MESSAGE | request::SEND_MESSAGE_V2 | request::SEND_BATCH_MESSAGE
                );
                if is_send && answer.code == response::SUCCESS {
                    findings.bad_acks.extend(judge_send(probe, &answer));
                }
            }
            Err(ramjet_net::server::InvokeError::Timeout { .. })
                if probe.may_be_held || is_suspended_pull(probe) => {}
            Err(error) => {
                findings.unanswered = Some(format!("{}: {error}", probe.describe()));
                break;
            }
        }
    }
    findings
}

#[test]
fn hostile_requests_on_every_connection_leave_the_broker_serving_everyone() {
    let mut broker = StandaloneBroker::start("hostile_client", &[]);
    let mut setup = broker.connect();
    create_topic(&mut setup, PROBE_TOPIC, PROBE_QUEUES);
    create_topic(&mut setup, HEALTH_TOPIC, 4);
    let mut clients: Vec<BlockingClient> = (0..CONNECTIONS).map(|_| broker.connect()).collect();
    // Before anything hostile: the well-behaved client on every connection, letting the
    // broker pick the queue (queueId -1, as clients send it when they leave the choice).
    let before: Vec<Result<i32, String>> = clients
        .iter_mut()
        .enumerate()
        .map(|(index, client)| {
            well_behaved_round_trip(client, HEALTH_TOPIC, 4, -1, &format!("b{index}any"))
        })
        .collect();

    let (everywhere, spread) = probes();
    eprintln!(
        "hostile: {} probes on each of {CONNECTIONS} connections, {} more spread over them",
        everywhere.len(),
        spread.len()
    );
    // Every connection sends its share of the spread probes, then (all together) the ones
    // sent everywhere: those carry the inter-shard fields, the likeliest to wedge a shard,
    // so they come after as much of the rest as possible has been judged.
    let phase = std::sync::Barrier::new(CONNECTIONS);
    let findings: Vec<Findings> = std::thread::scope(|scope| {
        let workers: Vec<_> = clients
            .iter_mut()
            .enumerate()
            .map(|(index, client)| {
                let mine: Vec<&Probe> = spread.iter().skip(index).step_by(CONNECTIONS).collect();
                let everywhere: Vec<&Probe> = everywhere.iter().collect();
                let phase = &phase;
                scope.spawn(move || {
                    let mut found = sweep(client, &mine);
                    phase.wait();
                    if found.unanswered.is_none() {
                        let more = sweep(client, &everywhere);
                        found.requests += more.requests;
                        found.unanswered = more.unanswered;
                        found.bad_acks.extend(more.bad_acks);
                    }
                    found
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| worker.join().expect("a sweep thread"))
            .collect()
    });
    let sent: usize = findings.iter().map(|f| f.requests).sum();
    eprintln!("hostile: {sent} requests sent");

    // The well-behaved client, on every connection (each to a queue of its own, so both
    // shards' queues are covered) and on a fresh one; once with queueId -1 as well.
    let running = broker.is_running();
    let health: Vec<Result<(), String>> = std::thread::scope(|scope| {
        let workers: Vec<_> = clients
            .iter_mut()
            .enumerate()
            .map(|(index, client)| {
                scope.spawn(move || {
                    let queue = (index % 4) as i32;
                    well_behaved_round_trip(client, HEALTH_TOPIC, 4, queue, &format!("c{index}"))?;
                    well_behaved_round_trip(client, HEALTH_TOPIC, 4, -1, &format!("c{index}any"))
                        .map(|_| ())
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| worker.join().expect("a health thread"))
            .collect()
    });
    let fresh = BlockingClient::connect(&broker.addr, REPLY_TIMEOUT)
        .map_err(|error| format!("connect: {error}"))
        .and_then(|mut client| {
            for queue in [0, 1, 2, 3, -1] {
                let body = format!("fresh{}", queue + 1);
                well_behaved_round_trip(&mut client, HEALTH_TOPIC, 4, queue, &body)?;
            }
            Ok(())
        });
    let mut report = String::new();
    for (index, result) in before.iter().enumerate() {
        if let Err(error) = result {
            writeln!(report, "before the sweep, connection {index}: {error}").unwrap();
        }
    }
    if !running {
        writeln!(report, "the broker process exited during the sweep").unwrap();
    }
    let panics = broker.panics();
    if !panics.is_empty() {
        writeln!(report, "the broker panicked:").unwrap();
        for line in panics.iter().take(5) {
            writeln!(report, "  {line}").unwrap();
        }
    }
    for (index, found) in findings.iter().enumerate() {
        if let Some(unanswered) = &found.unanswered {
            writeln!(
                report,
                "connection {index}: no answer after {} requests, to {unanswered}",
                found.requests
            )
            .unwrap();
        }
    }
    let bad_acks: Vec<&String> = findings.iter().flat_map(|f| &f.bad_acks).collect();
    if !bad_acks.is_empty() {
        writeln!(
            report,
            "{} sends acknowledged on a wrong queue:",
            bad_acks.len()
        )
        .unwrap();
        for line in bad_acks.iter().take(10) {
            writeln!(report, "  {line}").unwrap();
        }
    }
    for (index, result) in health.iter().enumerate() {
        if let Err(error) = result {
            writeln!(report, "well-behaved client on connection {index}: {error}").unwrap();
        }
    }
    if let Err(error) = &fresh {
        writeln!(report, "well-behaved client on a fresh connection: {error}").unwrap();
    }
    assert!(
        report.is_empty(),
        "after {sent} hostile requests:\n{report}\n{}",
        broker.log_tail()
    );
}
