//! RocketMQ ACL 1.0 (`aclEnable=true`, `<rocketmqHome>/conf/plain_acl.yml`) against real
//! `mqnamesrv` and `mqbroker` processes:
//!
//! - the third-party `rocketmq-client-rust` 1.0 crate, signing with its own
//!   `AclClientRPCHook`, sends and consumes on a topic its account may PUB|SUB;
//! - the same client without credentials, and a send to a DENY topic, are refused;
//! - raw frames (our net client): unsigned, unknown key, wrong secret and tampered
//!   requests, a DENY topic and an admin code from a non-admin key all get SYSTEM_ERROR (1,
//!   as Java's broker answers an AclException) with a remark naming the reason;
//! - the file is rewritten and the new permission holds within seconds, without restart;
//!   a file that does not parse keeps the last good one.

#![recursion_limit = "512"]

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::rust_client::{message, ConsumerOptions, RustClient};
use ramjet_interop::servers::{Broker, Namesrv};
use ramjet_net::acl::SessionCredentials;
use ramjet_net::body::MessageQueue;
use ramjet_net::client::blocking::BlockingClient;
use ramjet_net::client::requests::{self, SendRequest};
use ramjet_net::RemotingCommand;

const SYSTEM_ERROR: i32 = 1;
const SUCCESS: i32 = 0;
const TIMEOUT: Duration = Duration::from_secs(5);

const ADMIN: (&str, &str) = ("adminKey01", "adminSecret01");
const APP: (&str, &str) = ("appKey0001", "appSecret001");

fn acl_yml(deny_perm: &str) -> String {
    format!(
        r#"globalWhiteRemoteAddresses:
accounts:
  - accessKey: {admin_ak}
    secretKey: {admin_sk}
    admin: true
  - accessKey: {app_ak}
    secretKey: {app_sk}
    whiteRemoteAddress:
    admin: false
    defaultTopicPerm: DENY
    defaultGroupPerm: SUB
    topicPerms:
      - TopicAcl=PUB|SUB
      - TopicDeny={deny_perm}
"#,
        admin_ak = ADMIN.0,
        admin_sk = ADMIN.1,
        app_ak = APP.0,
        app_sk = APP.1,
    )
}

fn write_acl(home: &Path, text: &str) {
    let conf = home.join("conf");
    std::fs::create_dir_all(&conf).unwrap();
    let tmp = conf.join("plain_acl.yml.tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, conf.join("plain_acl.yml")).unwrap();
}

fn client(broker: &Broker, credentials: Option<(&str, &str)>) -> BlockingClient {
    BlockingClient::connect(broker.addr(), TIMEOUT)
        .unwrap()
        .with_credentials(credentials.map(|(ak, sk)| SessionCredentials::new(ak, sk)))
}

fn send_request(topic: &str) -> RemotingCommand {
    let queue = MessageQueue {
        broker_name: "broker-a".into(),
        queue_id: 0,
        topic: topic.into(),
    };
    requests::send_message(SendRequest {
        producer_group: "aclRawProducer",
        queue: &queue,
        properties: requests::properties_text(&[("UNIQ_KEY", "0A0000010000000000000000000000AC")]),
        body: b"raw acl body".to_vec(),
        batch: false,
        born_timestamp_ms: 1,
    })
}

/// (code, remark) of one request.
fn answer(client: &mut BlockingClient, request: RemotingCommand) -> (i32, String) {
    let response = client.invoke(request, TIMEOUT).expect("the broker answers");
    (response.code, response.remark.unwrap_or_default())
}

fn assert_refused(got: (i32, String), reason: &str) {
    assert_eq!(got.0, SYSTEM_ERROR, "{got:?}");
    assert!(
        got.1.contains("AclException") && got.1.contains(reason),
        "{got:?} lacks {reason:?}"
    );
}

#[test]
fn acl_signs_refuses_and_reloads() {
    let test = "broker_acl";
    let namesrv = Namesrv::start(test, &[]);
    let home = namesrv.dir.join("rocketmq_home");
    write_acl(&home, &acl_yml("DENY"));
    let home_text = home.display().to_string();
    let mut broker = Broker::start_with(
        &namesrv,
        test,
        &[("aclEnable", "true"), ("rocketmqHome", &home_text)],
    );

    // Raw frames: every way of being refused, each with a code and a remark.
    let mut unsigned = client(&broker, None);
    assert_refused(
        answer(&mut unsigned, send_request("TopicAcl")),
        "No accessKey is configured",
    );
    let mut stranger = client(&broker, Some(("nobodyKey", "nobodySecret")));
    assert_refused(
        answer(&mut stranger, send_request("TopicAcl")),
        "No acl config for nobodyKey",
    );
    let mut wrong = client(&broker, Some((APP.0, "notTheSecret")));
    assert_refused(
        answer(&mut wrong, send_request("TopicAcl")),
        "Check signature failed",
    );
    let mut tampered = send_request("TopicAcl");
    SessionCredentials::new(APP.0, APP.1).sign(&mut tampered);
    tampered.body = b"raw acl bodY".to_vec().into();
    assert_refused(answer(&mut unsigned, tampered), "Check signature failed");
    let mut app = client(&broker, Some(APP));
    assert_refused(
        answer(&mut app, send_request("TopicDeny")),
        "topic:TopicDeny",
    );
    let create = requests::create_topic(&requests::topic_config("TopicByApp", 4), None);
    assert_refused(
        answer(&mut app, create),
        "Need admin permission for request code=17",
    );
    // Signed and allowed: the connection still works after refusals.
    let sent = answer(&mut app, send_request("TopicAcl"));
    assert_eq!(sent.0, SUCCESS, "{sent:?}");
    let mut admin = client(&broker, Some(ADMIN));
    let create = requests::create_topic(&requests::topic_config("TopicByAdmin", 4), None);
    let created = answer(&mut admin, create);
    assert_eq!(created.0, SUCCESS, "{created:?}");

    // mqadmin signs with --accessKey/--secretKey; without them the admin code is refused.
    let mqadmin = ramjet_interop::workspace::server_binary("ramjet-tools", "mqadmin");
    let run_mqadmin = |keys: &[&str]| {
        let mut command = std::process::Command::new(&mqadmin);
        command
            .args([
                "updateTopic",
                "-n",
                &namesrv.addr,
                "-b",
                broker.addr(),
                "-t",
                "TopicByMqadmin",
            ])
            .args(keys)
            .env_remove("ROCKETMQ_ACCESS_KEY")
            .env_remove("ROCKETMQ_SECRET_KEY")
            // nor a conf/tools.yml (mqadmin's last source of credentials)
            .env_remove("ROCKETMQ_HOME");
        command.output().expect("run mqadmin")
    };
    let unsigned_admin = run_mqadmin(&[]);
    let stderr = String::from_utf8_lossy(&unsigned_admin.stderr);
    assert!(
        !unsigned_admin.status.success() && stderr.contains("No accessKey is configured"),
        "{stderr}"
    );
    let signed_admin = run_mqadmin(&["--accessKey", ADMIN.0, "--secretKey", ADMIN.1]);
    assert!(
        signed_admin.status.success(),
        "{}",
        String::from_utf8_lossy(&signed_admin.stderr)
    );

    // The third-party client signs with its AclClientRPCHook: send and consume.
    let rust = RustClient::new("acl").with_credentials(APP.0, APP.1);
    let producer = rust.start_producer(&namesrv.addr, "aclProducer");
    let bodies = ["acl-0", "acl-1", "acl-2"];
    for body in bodies {
        let sent = producer
            .send(message("TopicAcl", "TagA", body, body))
            .unwrap_or_else(|e| panic!("signed send refused: {e}\n{}", broker.log_tail()));
        assert_eq!(sent.status, "SendOk", "{sent:?}");
    }
    let denied = producer.send(message("TopicDeny", "TagA", "k", "denied"));
    assert!(
        denied.is_err(),
        "a send to a DENY topic was accepted: {denied:?}"
    );
    let consumer = rust.start_push_consumer(
        &namesrv.addr,
        &ConsumerOptions::new("aclConsumer", "TopicAcl"),
    );
    // The raw signed send above went to TopicAcl too.
    let mut expected: Vec<&str> = bodies.to_vec();
    expected.push("raw acl body");
    expected.sort();
    assert!(
        consumer.wait_for_count(expected.len(), Duration::from_secs(40)),
        "the signed consumer received {:?}\n{}",
        consumer.received(),
        broker.log_tail()
    );
    let mut got: Vec<String> = consumer
        .received()
        .iter()
        .map(|m| String::from_utf8_lossy(&m.body).into_owned())
        .collect();
    got.sort();
    assert_eq!(got, expected);

    // The same crate without credentials is refused.
    let anonymous = RustClient::new("acl-anonymous");
    let anonymous_producer = anonymous.start_producer(&namesrv.addr, "aclAnonymous");
    let refused = anonymous_producer.send(message("TopicAcl", "TagA", "k", "anonymous"));
    assert!(
        refused.is_err(),
        "an unsigned send was accepted: {refused:?}"
    );

    // Rewrite the file: TopicDeny becomes PUB, without a restart.
    write_acl(&home, &acl_yml("PUB"));
    let deadline = Instant::now() + Duration::from_secs(10);
    let reloaded_after = loop {
        let started = Instant::now();
        if answer(&mut app, send_request("TopicDeny")).0 == SUCCESS {
            break started;
        }
        assert!(
            Instant::now() < deadline,
            "the new permission never took effect"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    eprintln!(
        "ACL reload seen {:?} before the deadline",
        deadline - reloaded_after
    );
    let sent = producer
        .send(message("TopicDeny", "TagA", "k", "now allowed"))
        .expect("the third-party client's send after the reload");
    assert_eq!(sent.status, "SendOk");

    // A file that does not parse keeps the last good one (TopicDeny stays PUB).
    write_acl(&home, "accounts: [ {accessKey: x");
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(answer(&mut app, send_request("TopicDeny")).0, SUCCESS);
    assert!(
        broker.log_tail().contains("does not parse"),
        "{}",
        broker.log_tail()
    );
    assert!(broker.is_running());

    drop(consumer);
    drop(producer);
    drop(anonymous_producer);
}
