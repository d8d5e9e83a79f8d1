//! Issue 12, requests the broker relays to a client and waits for (docs/remoting-protocol.md
//! section 9.8): GET_CONSUMER_RUNNING_INFO (307) and CONSUME_MESSAGE_DIRECTLY (309), with
//! real mqnamesrv and mqbroker processes (two shards, so admin and client connections land
//! on either).
//!
//! - A running push consumer of the third-party `rocketmq-client-rust` 1.0 crate answers
//!   both: `mqadmin queryMsgById -g -d` makes it consume a message again (its listener sees
//!   the body a second time) and prints Java's ConsumeMessageDirectlyResult line; the HTTP
//!   API's "resend to group" does the same without a clientId; `mqadmin consumerStatus`
//!   prints its properties and subscription.
//! - Hostile clients, played by raw connections that register as consumers: one that never
//!   answers (CONSUME_MSG_TIMEOUT after the broker's 10 s, and at most 8 calls wait on it),
//!   one that answers with an unknown opaque and then a body that is not JSON, one that
//!   sends bytes that are no frame, one that closes while asked. The broker answers every
//!   admin call with a code and remark and keeps serving.

// The Rust client's deeply nested async types need more than the default query depth.
#![recursion_limit = "512"]

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::consume::{unique, wait_for_times};
use common::mqadmin::{admin_ok, mqadmin};
use common::rust_client::{message, ConsumerOptions, RustClient};
use ramjet_interop::http;
use ramjet_interop::servers::{Broker, Namesrv};
use ramjet_net::client::BlockingClient;
use ramjet_net::code::{request, response};
use ramjet_net::RemotingCommand;
use serde_json::json;

const TEST: &str = "broker_client_calls";
const TOPIC: &str = "ClientCallTopic";
const MESSAGES: usize = 4;
const DELIVERY_WAIT: Duration = Duration::from_secs(25);
/// The broker waits 10 s for a client (Broker2Client.callClient); the admin a little more.
const ADMIN_WAIT: Duration = Duration::from_secs(15);

/// The clientId column of `consumerConnection`'s first row.
fn first_client_id(namesrv: &Namesrv, group: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (ok, stdout, _) = mqadmin(namesrv, "consumerConnection", &["-g", group]);
        if ok {
            if let Some(id) = stdout
                .lines()
                .nth(1)
                .and_then(|line| line.split_whitespace().next())
            {
                return id.to_owned();
            }
        }
        assert!(Instant::now() < deadline, "{group} never came online");
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn a_rust_push_consumer_consumes_directly_and_reports_its_running_info() {
    let started = Instant::now();
    let namesrv = Namesrv::start(TEST, &[]);
    let broker = Broker::start(&namesrv, TEST);
    admin_ok(
        &namesrv,
        "updateTopic",
        &["-b", broker.addr(), "-t", TOPIC, "-r", "4", "-w", "4"],
    );

    let client = RustClient::new("client-calls");
    let producer = client.start_producer(&namesrv.addr, &unique("client_calls_p"));
    let mut sent = Vec::new();
    let mut bodies = Vec::new();
    for index in 0..MESSAGES {
        let body = format!("direct-{index}");
        sent.push(
            producer
                .send(message(TOPIC, "TagA", &format!("key-{index}"), &body))
                .unwrap_or_else(|error| panic!("send {body}: {error}\n{}", broker.log_tail())),
        );
        bodies.push(body);
    }
    let group = unique("client_calls_g");
    let mut consumer =
        client.start_push_consumer(&namesrv.addr, &ConsumerOptions::new(&group, TOPIC));
    wait_for_times(&consumer, &bodies, 1, DELIVERY_WAIT, "first delivery");
    let client_id = first_client_id(&namesrv, &group);

    // mqadmin queryMsgById -g -d: a push consumer (307 says so) consumes message 1 again.
    let msg_id = sent[1].msg_id.clone().expect("the client's msgId");
    let stdout = admin_ok(
        &namesrv,
        "queryMsgById",
        &["-t", TOPIC, "-i", &msg_id, "-g", &group, "-d", &client_id],
    );
    assert!(
        stdout.starts_with(
            "ConsumeMessageDirectlyResult [order=false, autoCommit=true, consumeResult=CR_SUCCESS, remark="
        ),
        "{stdout}"
    );
    wait_for_times(
        &consumer,
        &bodies[1..2],
        2,
        DELIVERY_WAIT,
        "consumed directly through mqadmin",
    );

    // The HTTP API's resend to the group, by offsetMsgId and without a clientId: the
    // group's first client consumes message 2 again.
    let offset_msg_id = sent[2].offset_msg_id.clone().expect("offsetMsgId");
    let resend = http::post(
        broker.http_addr(),
        "/api/message/resend",
        &json!({"group": group, "topic": TOPIC, "id": offset_msg_id}),
    );
    assert_eq!(resend.status, 200, "{}", resend.body);
    // The API passes the client's answer on as it came; rocketmq-client-rust 1.0 names the
    // fields in snake case (Java: consumeResult).
    let result = &resend.json["result"];
    let consumed = result
        .get("consumeResult")
        .or_else(|| result.get("consume_result"));
    assert_eq!(consumed, Some(&json!("CR_SUCCESS")), "{}", resend.body);
    wait_for_times(
        &consumer,
        &bodies[2..3],
        2,
        DELIVERY_WAIT,
        "resent through the HTTP API",
    );
    // Nothing else was consumed again.
    let counts = common::consume::counts(&consumer.received());
    assert_eq!(counts.get("direct-0"), Some(&1), "{counts:?}");
    assert_eq!(counts.get("direct-3"), Some(&1), "{counts:?}");

    // consumerStatus -i: the client's running info, its properties and subscription.
    let status = admin_ok(
        &namesrv,
        "consumerStatus",
        &["-g", &group, "-i", &client_id],
    );
    assert!(status.starts_with("#Consumer Properties#\n"), "{status}");
    assert!(status.contains("CONSUME_PASSIVELY"), "{status}");
    assert!(status.contains(&format!("Topic: {TOPIC}")), "{status}");

    // A clientId the group does not have: Java's remark, from the broker.
    let (ok, stdout, stderr) = mqadmin(
        &namesrv,
        "queryMsgById",
        &[
            "-t",
            TOPIC,
            "-i",
            &msg_id,
            "-g",
            &group,
            "-d",
            "127.0.0.1@nobody",
        ],
    );
    assert!(!ok, "{stdout}");
    assert!(
        stderr.contains(&format!(
            "The Consumer <{group}> <127.0.0.1@nobody> not online"
        )),
        "{stderr}"
    );
    let resend = http::post(
        broker.http_addr(),
        "/api/message/resend",
        &json!({"group": group, "topic": TOPIC, "id": offset_msg_id, "clientId": "x@y"}),
    );
    assert_eq!(resend.status, 500, "{}", resend.body);
    assert!(
        resend.json["remark"]
            .as_str()
            .unwrap()
            .contains("not online"),
        "{}",
        resend.body
    );

    // statsAll: the broker's windows (sampled every 10 s) show the 4 messages in and the 4
    // the group pulled (messages consumed directly are not pulled); the backlog is 0.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let stdout = admin_ok(&namesrv, "statsAll", &["-t", TOPIC]);
        assert!(stdout.starts_with("#Topic"), "{stdout}");
        let row: Vec<String> = stdout
            .lines()
            .find(|line| line.starts_with(TOPIC) && line.contains(&group))
            .map(|line| line.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default();
        // The backlog falls to 0 once the client committed (every 5 s).
        if row.len() == 7
            && row[2] == "0"
            && row[5] == MESSAGES.to_string()
            && row[6] == MESSAGES.to_string()
        {
            let in_tps: f64 = row[3].parse().unwrap();
            assert!(in_tps > 0.0, "{stdout}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "statsAll never showed {MESSAGES} in and out:\n{stdout}"
        );
        std::thread::sleep(Duration::from_secs(1));
    }

    consumer.shutdown();
    eprintln!("done after {:?}", started.elapsed());
}

/// A raw connection registered as a push consumer of `group`: the broker's calls reach
/// it, and the test decides what (if anything) it answers.
struct FakeConsumer {
    client: BlockingClient,
    raw: TcpStream,
    client_id: String,
}

impl FakeConsumer {
    fn connect(broker: &Broker, group: &str, name: &str) -> FakeConsumer {
        let raw = TcpStream::connect(broker.addr()).expect("connect");
        let mut client = BlockingClient::from_stream(raw.try_clone().unwrap()).unwrap();
        let client_id = format!("127.0.0.1@{name}");
        let heartbeat = json!({
            "clientID": client_id,
            "consumerDataSet": [{
                "consumeFromWhere": "CONSUME_FROM_LAST_OFFSET",
                "consumeType": "CONSUME_PASSIVELY",
                "groupName": group,
                "messageModel": "CLUSTERING",
                "subscriptionDataSet": [{
                    "classFilterMode": false, "codeSet": [], "expressionType": "TAG",
                    "subString": "*", "subVersion": 1, "tagsSet": [], "topic": TOPIC
                }],
                "unitMode": false
            }],
            "producerDataSet": []
        });
        let request = RemotingCommand::request(request::HEART_BEAT)
            .with_body(serde_json::to_vec(&heartbeat).unwrap());
        let answer = client.invoke(request, Duration::from_secs(5)).unwrap();
        assert_eq!(answer.code, response::SUCCESS, "{answer:?}");
        FakeConsumer {
            client,
            raw,
            client_id,
        }
    }

    /// The next request the broker sends, skipping its NOTIFY_CONSUMER_IDS_CHANGED.
    fn next_call(&mut self) -> RemotingCommand {
        loop {
            let request = self
                .client
                .receive_request(ADMIN_WAIT)
                .expect("a request from the broker");
            if request.code != request::NOTIFY_CONSUMER_IDS_CHANGED {
                return request;
            }
        }
    }

    fn write(&mut self, bytes: &[u8]) {
        self.raw.write_all(bytes).unwrap();
    }
}

/// GET_CONSUMER_RUNNING_INFO as an admin sends it, on a connection of its own.
fn running_info_call(broker: &Broker, group: &str, client_id: &str) -> RemotingCommand {
    let mut admin = BlockingClient::connect(broker.addr(), Duration::from_secs(3)).unwrap();
    let mut fields = ramjet_net::ExtFields::new();
    fields.insert("consumerGroup", group);
    fields.insert("clientId", client_id);
    fields.insert("jstackEnable", "false");
    let request =
        RemotingCommand::request(request::GET_CONSUMER_RUNNING_INFO).with_ext_fields(fields);
    admin
        .invoke(request, ADMIN_WAIT)
        .expect("the broker answers")
}

fn in_thread(
    broker: &Broker,
    group: &str,
    client_id: &str,
) -> std::thread::JoinHandle<(RemotingCommand, Duration)> {
    let (broker_addr, group, client_id) = (
        broker.addr().to_owned(),
        group.to_owned(),
        client_id.to_owned(),
    );
    std::thread::spawn(move || {
        let started = Instant::now();
        let mut admin = BlockingClient::connect(&broker_addr, Duration::from_secs(3)).unwrap();
        let mut fields = ramjet_net::ExtFields::new();
        fields.insert("consumerGroup", group.as_str());
        fields.insert("clientId", client_id.as_str());
        let request =
            RemotingCommand::request(request::GET_CONSUMER_RUNNING_INFO).with_ext_fields(fields);
        let answer = admin
            .invoke(request, ADMIN_WAIT)
            .expect("the broker answers");
        (answer, started.elapsed())
    })
}

#[test]
fn clients_that_never_answer_answer_garbage_or_close_get_clear_errors() {
    // Built (or found) before any client waits on it.
    let mqadmin_binary = ramjet_interop::workspace::server_binary("ramjet-tools", "mqadmin");
    let namesrv = Namesrv::start(&format!("{TEST}_hostile"), &[]);
    let broker = Broker::start(&namesrv, &format!("{TEST}_hostile"));
    let group = unique("hostile_g");

    // Never answers: 9 admins ask at once; 8 wait the broker's 10 s and get
    // CONSUME_MSG_TIMEOUT, the 9th is refused at once (8 calls wait on one connection).
    let mut silent = FakeConsumer::connect(&broker, &group, "silent");
    let callers: Vec<_> = (0..9)
        .map(|_| in_thread(&broker, &group, &silent.client_id))
        .collect();
    let mut asked = 0;
    let deadline = Instant::now() + Duration::from_secs(5);
    while asked < 8 && Instant::now() < deadline {
        let call = silent.next_call();
        assert_eq!(call.code, request::GET_CONSUMER_RUNNING_INFO, "{call:?}");
        assert_eq!(call.fields().get("consumerGroup"), Some(group.as_str()));
        asked += 1;
    }
    assert_eq!(asked, 8, "the broker relayed {asked} calls");
    let answers: Vec<(RemotingCommand, Duration)> = callers
        .into_iter()
        .map(|caller| caller.join().unwrap())
        .collect();
    let timed_out: Vec<_> = answers
        .iter()
        .filter(|(answer, _)| answer.code == response::CONSUME_MSG_TIMEOUT)
        .collect();
    let refused: Vec<_> = answers
        .iter()
        .filter(|(answer, _)| answer.code == response::SYSTEM_ERROR)
        .collect();
    assert_eq!(timed_out.len(), 8, "{answers:?}");
    assert_eq!(refused.len(), 1, "{answers:?}");
    for (answer, took) in &timed_out {
        let remark = answer.remark.as_deref().unwrap_or("");
        assert!(remark.contains("Timeout"), "{remark}");
        assert!(*took >= Duration::from_secs(9), "timed out after {took:?}");
    }
    let (answer, took) = refused[0];
    assert!(
        answer
            .remark
            .as_deref()
            .unwrap_or("")
            .contains("8 calls already wait"),
        "{answer:?}"
    );
    assert!(*took < Duration::from_secs(5), "refused after {took:?}");

    // Answers with an opaque nobody asked for (dropped), then with a body that is not
    // JSON: the broker passes the client's answer on as it came, and mqadmin says it
    // cannot read it.
    let mut odd = FakeConsumer::connect(&broker, &group, "odd");
    let caller = in_thread(&broker, &group, &odd.client_id);
    let call = odd.next_call();
    let mut stray = RemotingCommand::response_to(&call, response::SUCCESS).with_body("stray");
    stray.opaque = call.opaque.wrapping_add(1000);
    odd.write(&stray.encode_to_vec());
    let junk = RemotingCommand::response_to(&call, response::SUCCESS).with_body("{not json");
    odd.write(&junk.encode_to_vec());
    let (answer, _) = caller.join().unwrap();
    assert_eq!(answer.code, response::SUCCESS, "{answer:?}");
    assert_eq!(
        &answer.body[..],
        b"{not json",
        "the client's answer, not the stray one"
    );
    // mqadmin reads the same junk and says whose answer it could not read.
    let admin = {
        let (namesrv_addr, group, client_id) =
            (namesrv.addr.clone(), group.clone(), odd.client_id.clone());
        std::thread::spawn(move || {
            std::process::Command::new(mqadmin_binary)
                .args([
                    "consumerStatus",
                    "-n",
                    &namesrv_addr,
                    "-g",
                    &group,
                    "-i",
                    &client_id,
                ])
                .env_remove("NAMESRV_ADDR")
                .output()
                .expect("run mqadmin")
        })
    };
    let call = odd.next_call();
    let junk = RemotingCommand::response_to(&call, response::SUCCESS).with_body("{not json");
    odd.write(&junk.encode_to_vec());
    let output = admin.join().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains("GET_CONSUMER_RUNNING_INFO: unreadable answer"),
        "{stderr}"
    );
    drop(odd);

    // Sends bytes that are no frame: the broker closes that connection, and the call
    // fails at once with Java's "invoke consumer ... Exception" remark.
    let mut garbage = FakeConsumer::connect(&broker, &group, "garbage");
    let caller = in_thread(&broker, &group, &garbage.client_id);
    garbage.next_call();
    garbage.write(&[0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1, 9, 9, 9, 9]);
    let (answer, took) = caller.join().unwrap();
    assert_eq!(answer.code, response::SYSTEM_ERROR, "{answer:?}");
    let remark = answer.remark.clone().unwrap_or_default();
    assert!(
        remark.starts_with(&format!(
            "invoke consumer <{group}> <{}> Exception",
            garbage.client_id
        )),
        "{remark}"
    );
    assert!(took < Duration::from_secs(5), "failed after {took:?}");

    // Closes the connection while asked: the same, at once, not after 10 s.
    let mut closing = FakeConsumer::connect(&broker, &group, "closing");
    let caller = in_thread(&broker, &group, &closing.client_id);
    closing.next_call();
    closing.raw.shutdown(std::net::Shutdown::Both).unwrap();
    drop(closing);
    let (answer, took) = caller.join().unwrap();
    assert_eq!(answer.code, response::SYSTEM_ERROR, "{answer:?}");
    assert!(
        answer.remark.as_deref().unwrap_or("").contains("Exception"),
        "{answer:?}"
    );
    assert!(took < Duration::from_secs(5), "failed after {took:?}");

    // Asked after it left: not online.
    let answer = running_info_call(&broker, &group, "127.0.0.1@closing");
    assert_eq!(answer.code, response::SYSTEM_ERROR, "{answer:?}");
    assert!(
        answer
            .remark
            .as_deref()
            .unwrap_or("")
            .contains("not online"),
        "{answer:?}"
    );

    // The silent client's waiters are gone: it can be asked again (and refused only by
    // its own silence), and the broker still serves everyone.
    let caller = in_thread(&broker, &group, &silent.client_id);
    let call = silent.next_call();
    let reply = RemotingCommand::response_to(&call, response::SUCCESS).with_body("{}");
    silent.write(&reply.encode_to_vec());
    let (answer, _) = caller.join().unwrap();
    assert_eq!(answer.code, response::SUCCESS, "{answer:?}");

    // Stats and relays with odd input: unknown stats, a msgId that is no offsetMsgId.
    let mut admin = BlockingClient::connect(broker.addr(), Duration::from_secs(3)).unwrap();
    let mut fields = ramjet_net::ExtFields::new();
    fields.insert("statsName", "NO_SUCH_STATS");
    fields.insert("statsKey", "x");
    let request = RemotingCommand::request(request::VIEW_BROKER_STATS_DATA).with_ext_fields(fields);
    let answer = admin.invoke(request, ADMIN_WAIT).unwrap();
    assert_eq!(answer.code, response::SYSTEM_ERROR, "{answer:?}");
    assert_eq!(
        answer.remark.as_deref(),
        Some("The stats <NO_SUCH_STATS> <x> not exist")
    );
    let mut fields = ramjet_net::ExtFields::new();
    fields.insert("consumerGroup", group.as_str());
    fields.insert("clientId", silent.client_id.as_str());
    fields.insert("msgId", "not-an-id");
    let request =
        RemotingCommand::request(request::CONSUME_MESSAGE_DIRECTLY).with_ext_fields(fields);
    let answer = admin.invoke(request, ADMIN_WAIT).unwrap();
    assert_eq!(answer.code, response::SYSTEM_ERROR, "{answer:?}");
    assert!(
        answer.remark.as_deref().unwrap_or("").contains("not-an-id"),
        "{answer:?}"
    );
    let request = RemotingCommand::request(request::GET_CONSUMER_RUNNING_INFO);
    let answer = admin.invoke(request, ADMIN_WAIT).unwrap();
    assert_eq!(
        answer.code,
        response::SYSTEM_ERROR,
        "a header without fields: {answer:?}"
    );
    admin_ok(&namesrv, "clusterList", &[]);
}
