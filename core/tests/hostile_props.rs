//! Property test against a real two-shard `mqbroker` with topic auto-creation off: arbitrary
//! SEND_MESSAGE / SEND_MESSAGE_V2 and PULL_MESSAGE headers (fields missing, of the wrong
//! type, at the extremes of their type) each get an answer in time; no send is acknowledged
//! for a topic that does not exist or a queueId the topic cannot honour, no pull succeeds on
//! one; and the broker still serves a well-behaved client afterwards, without a panic.

mod common;

use std::time::Duration;

use common::{
    command, create_topic, fields, well_behaved_round_trip, StandaloneBroker, REPLY_TIMEOUT,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use ramjet_net::client::BlockingClient;
use ramjet_net::code::{request, response};
use ramjet_net::server::InvokeError;

const TOPIC: &str = "PropTopic";
const QUEUES: i32 = 4;
/// A pull that asked to be suspended may be parked by the broker; it gets this long, and no
/// answer is then fine.
const HELD_PULL_WAIT: Duration = Duration::from_millis(200);

/// One generated request: `None` values are fields left out.
#[derive(Clone)]
struct Case {
    code: i32,
    fields: Vec<(&'static str, Option<String>)>,
    body: Vec<u8>,
}

/// One line: the code, each field (`key=<missing>` when left out), the body.
impl std::fmt::Debug for Case {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "code {}:", self.code)?;
        for (key, value) in &self.fields {
            match value {
                Some(value) if value.len() > 40 => write!(f, " {key}=<{} bytes>", value.len())?,
                Some(value) => write!(f, " {key}={value:?}")?,
                None => write!(f, " {key}=<missing>")?,
            }
        }
        write!(f, " body {:?}", String::from_utf8_lossy(&self.body))
    }
}

impl Case {
    fn get(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| *k == key)
            .and_then(|(_, v)| v.as_deref())
    }

    fn is_send(&self) -> bool {
        self.code != request::PULL_MESSAGE
    }

    fn topic(&self) -> Option<&str> {
        match self.code {
            request::SEND_MESSAGE_V2 => self.get("b"),
            _ => self.get("topic"),
        }
    }

    fn queue_id(&self) -> Option<&str> {
        match self.code {
            request::SEND_MESSAGE_V2 => self.get("e"),
            _ => self.get("queueId"),
        }
    }

    /// A pull with the suspend flag: Apache parks it until its hold-service tick even with a
    /// zero timeout, so no prompt answer is owed.
    fn may_be_held(&self) -> bool {
        let suspend = self
            .get("sysFlag")
            .and_then(|f| f.trim().parse::<i32>().ok())
            .is_some_and(|flag| flag & 0x2 != 0);
        !self.is_send() && suspend
    }
}

fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i32>().prop_map(|n| n.to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        prop::sample::select(vec![
            "0",
            "-1",
            "2147483647",
            "-2147483648",
            "2147483648",
            "9223372036854775807",
            "-9223372036854775808",
            "18446744073709551616",
        ])
        .prop_map(str::to_owned),
        "[ -~]{0,12}",
    ]
}

fn queue_id() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (-2..6i32).prop_map(|q| q.to_string()),
        1 => number(),
    ]
}

fn topic() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => Just(TOPIC.to_owned()),
        2 => "Nope[A-Za-z0-9_]{0,12}",
        1 => Just(String::new()),
        1 => Just("x".repeat(100 * 1024)),
        1 => "[ -~]{0,30}",
    ]
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![Just(String::new()), "\\PC{0,24}", "[ -~]{0,24}"]
}

fn properties() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("TAGS\u{1}prop\u{2}".to_owned()),
        "[\u{1}\u{2}a-zA-Z_=]{0,40}",
        text()
    ]
}

/// A field's replacement: left out, or a hostile value.
fn corruption() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        1 => Just(None),
        3 => number().prop_map(Some),
        2 => text().prop_map(Some),
    ]
}

/// `valid` with up to two fields left out or replaced by hostile values: mostly requests
/// that get past header decoding, so the checks behind it see odd values too.
fn corrupted(code: i32, valid: Vec<(&'static str, String)>) -> impl Strategy<Value = Case> {
    let count = valid.len();
    prop::collection::vec((0..count, corruption()), 0..=2).prop_map(move |changes| {
        let mut fields: Vec<(&'static str, Option<String>)> = valid
            .iter()
            .map(|(name, value)| (*name, Some(value.clone())))
            .collect();
        for (index, value) in changes {
            fields[index].1 = value;
        }
        Case {
            code,
            fields,
            body: Vec::new(),
        }
    })
}

const SEND_V1_NAMES: [&str; 13] = [
    "producerGroup",
    "topic",
    "defaultTopic",
    "defaultTopicQueueNums",
    "queueId",
    "sysFlag",
    "bornTimestamp",
    "flag",
    "properties",
    "reconsumeTimes",
    "unitMode",
    "batch",
    "maxReconsumeTimes",
];
/// SEND_MESSAGE_V2 names the same fields by letter.
const SEND_V2_NAMES: [&str; 13] = [
    "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "m", "l",
];

fn send_case() -> impl Strategy<Value = Case> {
    (
        any::<bool>(),
        topic(),
        queue_id(),
        properties(),
        prop::collection::vec(any::<u8>(), 0..64),
    )
        .prop_flat_map(|(v2, topic, queue_id, properties, body)| {
            let values = [
                "prop_producer".to_owned(),
                topic,
                "TBW102".to_owned(),
                "4".to_owned(),
                queue_id,
                "0".to_owned(),
                "1700000000000".to_owned(),
                "0".to_owned(),
                properties,
                "0".to_owned(),
                "false".to_owned(),
                "false".to_owned(),
                "16".to_owned(),
            ];
            let (code, names) = if v2 {
                (request::SEND_MESSAGE_V2, SEND_V2_NAMES)
            } else {
                (request::SEND_MESSAGE, SEND_V1_NAMES)
            };
            let valid = names.into_iter().zip(values).collect();
            corrupted(code, valid).prop_map(move |mut case| {
                case.body = body.clone();
                case
            })
        })
}

fn pull_case() -> impl Strategy<Value = Case> {
    let small_or_odd = || prop_oneof![2 => (0..5i64).prop_map(|n| n.to_string()), 1 => number()];
    (topic(), queue_id(), small_or_odd(), small_or_odd()).prop_flat_map(
        |(topic, queue_id, offset, max_nums)| {
            let valid = vec![
                ("consumerGroup", "prop_group".to_owned()),
                ("topic", topic),
                ("queueId", queue_id),
                ("queueOffset", offset),
                ("maxMsgNums", max_nums),
                ("sysFlag", "4".to_owned()),
                ("commitOffset", "0".to_owned()),
                ("suspendTimeoutMillis", "0".to_owned()),
                ("subscription", "*".to_owned()),
                ("subVersion", "0".to_owned()),
                ("expressionType", "TAG".to_owned()),
                ("maxMsgBytes", "1048576".to_owned()),
            ];
            corrupted(request::PULL_MESSAGE, valid)
        },
    )
}

/// Why `answer` (SUCCESS) must not have been given to `case`, if it must not.
fn judge_success(case: &Case, answer: &ramjet_net::RemotingCommand) -> Option<String> {
    let topic = case.topic().unwrap_or("");
    let retry = topic.starts_with("%RETRY%") || topic.starts_with("%DLQ%");
    if topic != TOPIC && !retry {
        return Some("SUCCESS for a topic that does not exist (auto-create is off)".into());
    }
    let asked = case.queue_id().and_then(|q| q.trim().parse::<i32>().ok());
    let Some(asked) = asked else {
        return Some(format!(
            "SUCCESS with queueId {:?}, which is no number",
            case.queue_id()
        ));
    };
    if asked >= QUEUES {
        return Some(format!(
            "SUCCESS for queueId {asked} of a {QUEUES}-queue topic"
        ));
    }
    if !case.is_send() {
        return (asked < 0).then(|| format!("pull SUCCESS for queueId {asked}"));
    }
    if retry {
        return None;
    }
    let landed = answer
        .ext_field("queueId")
        .and_then(|q| q.parse::<i32>().ok());
    match landed {
        Some(landed) if (0..QUEUES).contains(&landed) && (asked < 0 || landed == asked) => None,
        _ => Some(format!(
            "send to queueId {asked} acknowledged on queue {landed:?}"
        )),
    }
}

/// Answers by code, to show what the cases reached.
type Tally = std::collections::BTreeMap<(i32, i32), usize>;

fn check(client: &mut BlockingClient, case: &Case, tally: &mut Tally) -> Result<(), TestCaseError> {
    let ext_fields = fields(
        &case
            .fields
            .iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| (*k, v.as_str())))
            .collect::<Vec<_>>(),
    );
    let held = case.may_be_held();
    let wait = if held { HELD_PULL_WAIT } else { REPLY_TIMEOUT };
    match client.invoke(command(case.code, ext_fields, &case.body), wait) {
        Ok(answer) => {
            *tally.entry((case.code, answer.code)).or_insert(0) += 1;
            if answer.code == response::SUCCESS {
                if let Some(reason) = judge_success(case, &answer) {
                    return Err(TestCaseError::fail(reason));
                }
            }
            Ok(())
        }
        Err(InvokeError::Timeout { .. }) if held => Ok(()),
        Err(error) => Err(TestCaseError::fail(format!("no answer: {error}"))),
    }
}

#[test]
fn arbitrary_send_and_pull_headers_are_answered_and_never_wrongly_acknowledged() {
    let broker = StandaloneBroker::start(
        "hostile_props",
        &[
            ("autoCreateTopicEnable", "false"),
            ("autoCreateSubscriptionGroup", "true"),
        ],
    );
    let mut setup = broker.connect();
    create_topic(&mut setup, TOPIC, QUEUES);
    let client = std::cell::RefCell::new(broker.connect());
    let tally = std::cell::RefCell::new(Tally::new());
    let mut runner = TestRunner::new(Config {
        cases: 1000,
        failure_persistence: None,
        max_shrink_iters: 64,
        ..Config::default()
    });
    let strategy = prop_oneof![send_case(), pull_case()];
    let result = runner.run(&strategy, |case| {
        let mut client = client.borrow_mut();
        let outcome = check(&mut client, &case, &mut tally.borrow_mut());
        if outcome.is_err() {
            // A timed-out connection may still deliver the late answer; shrinking goes on
            // over a fresh one.
            *client = broker.connect();
        }
        outcome
    });
    eprintln!(
        "hostile_props: (request code, answer code) -> count: {:?}",
        tally.borrow()
    );
    let health = well_behaved_round_trip(&mut broker.connect(), TOPIC, QUEUES, 1, "after_props")
        .and_then(|_| {
            well_behaved_round_trip(&mut broker.connect(), TOPIC, QUEUES, -1, "after_props_any")
        });
    let panics = broker.panics();
    if let Err(failure) = result {
        panic!(
            "{failure}\nhealth afterwards: {health:?}\npanics: {panics:?}\n{}",
            broker.log_tail()
        );
    }
    assert!(
        health.is_ok() && panics.is_empty(),
        "after the cases: well-behaved client {health:?}; panics {panics:?}\n{}",
        broker.log_tail()
    );
}
