//! The real `mqnamesrv` process answering what mqadmin and brokers ask besides routes:
//! cluster info, topic lists, topic deletion, data versions, write permissions, the KV
//! config (kept across a restart), and its command line.

mod common;

use std::process::Command;

use common::*;
use ramjet_net::body::{ClusterInfo, DataVersion, KvTable, TopicList};
use ramjet_net::client::BlockingClient;
use ramjet_net::code::{request, response};

/// Registers `broker` with `topics` (5.x JSON body) and asserts it worked.
fn register(client: &mut BlockingClient, broker: &Broker, topics: &[&str], counter: i64) {
    let body = body_5x(topics, counter);
    let answer = call(client, broker.register(&body, false, BodyCrc::Correct));
    assert_eq!(answer.code, response::SUCCESS, "{:?}", answer.remark);
}

fn topic_list(answer: &ramjet_net::RemotingCommand) -> Vec<String> {
    assert_eq!(answer.code, response::SUCCESS, "{:?}", answer.remark);
    let list: TopicList = serde_json::from_slice(&answer.body).expect("a TopicList");
    list.topic_list.into_iter().collect()
}

#[test]
fn cluster_info_lists_every_cluster_and_broker() {
    // GET_BROKER_CLUSTER_INFO maps clusters to broker names and names to their addresses.
    let namesrv = Namesrv::start(&[]);
    let mut client = namesrv.connect();
    let broker_a = Broker::master("broker-a", 10911);
    let mut broker_b = Broker::master("broker-b", 10921);
    broker_b.cluster = "OtherCluster".into();
    register(&mut client, &broker_a, &["TopicA"], 1);
    register(&mut client, &broker_b, &["TopicB"], 1);

    let answer = call(
        &mut client,
        java_request(request::GET_BROKER_CLUSTER_INFO, &[]),
    );
    assert_eq!(answer.code, response::SUCCESS);
    let text = String::from_utf8(answer.body.to_vec()).unwrap();
    assert!(
        text.contains(r#""brokerAddrs":{"0":"127.0.0.1:10911"}"#),
        "{text}"
    );
    let info: ClusterInfo = serde_json::from_str(&text).unwrap();
    assert!(info.cluster_addr_table["DefaultCluster"].contains("broker-a"));
    assert!(info.cluster_addr_table["OtherCluster"].contains("broker-b"));
    assert_eq!(info.broker_addr_table["broker-b"].cluster, "OtherCluster");
    assert_eq!(
        info.broker_addr_table["broker-a"].master_addr(),
        Some("127.0.0.1:10911")
    );
}

#[test]
fn topic_lists_are_all_topics_or_one_clusters() {
    // GET_ALL_TOPIC_LIST_FROM_NAMESERVER lists every topic; GET_TOPICS_BY_CLUSTER only the
    // topics with queues in that cluster, and an empty list for an unknown cluster.
    let namesrv = Namesrv::start(&[]);
    let mut client = namesrv.connect();
    let broker_a = Broker::master("broker-a", 10911);
    let mut broker_b = Broker::master("broker-b", 10921);
    broker_b.cluster = "OtherCluster".into();
    register(&mut client, &broker_a, &["TopicA1", "TopicA2"], 1);
    register(&mut client, &broker_b, &["TopicB"], 1);

    let all = call(
        &mut client,
        java_request(request::GET_ALL_TOPIC_LIST_FROM_NAMESERVER, &[]),
    );
    assert_eq!(topic_list(&all), ["TopicA1", "TopicA2", "TopicB"]);
    let by_cluster = |client: &mut BlockingClient, cluster: &str| {
        let answer = call(
            client,
            java_request(request::GET_TOPICS_BY_CLUSTER, &[("cluster", cluster)]),
        );
        topic_list(&answer)
    };
    assert_eq!(
        by_cluster(&mut client, "DefaultCluster"),
        ["TopicA1", "TopicA2"]
    );
    assert_eq!(by_cluster(&mut client, "OtherCluster"), ["TopicB"]);
    assert!(by_cluster(&mut client, "NoCluster").is_empty());
}

#[test]
fn delete_topic_in_namesrv_removes_only_that_topic() {
    // DELETE_TOPIC_IN_NAMESRV drops one topic's route; the broker's other topics stay.
    let namesrv = Namesrv::start(&[]);
    let mut client = namesrv.connect();
    register(
        &mut client,
        &Broker::master("broker-a", 10911),
        &["Keep", "Drop"],
        1,
    );
    let answer = call(
        &mut client,
        java_request(request::DELETE_TOPIC_IN_NAMESRV, &[("topic", "Drop")]),
    );
    assert_eq!(answer.code, response::SUCCESS);
    assert!(route_of(&mut client, "Drop").is_none());
    assert!(route_of(&mut client, "Keep").is_some());
}

#[test]
fn query_data_version_says_whether_the_broker_has_news() {
    // QUERY_DATA_VERSION: changed=false for the registered DataVersion, true for another one
    // and for a broker the name server does not know; the body is the name server's copy.
    let namesrv = Namesrv::start(&[]);
    let mut client = namesrv.connect();
    let broker = Broker::master("broker-a", 10911);
    register(&mut client, &broker, &["TopicA"], 7);

    let same = call(&mut client, broker.query_data_version(7));
    assert_eq!(same.code, response::SUCCESS);
    assert_eq!(same.ext_field("changed"), Some("false"));
    let ours: DataVersion = serde_json::from_slice(&same.body).unwrap();
    assert_eq!(ours.counter, 7);

    let newer = call(&mut client, broker.query_data_version(8));
    assert_eq!(newer.ext_field("changed"), Some("true"));

    let stranger = Broker::master("broker-z", 10999);
    let unknown = call(&mut client, stranger.query_data_version(1));
    assert_eq!(unknown.ext_field("changed"), Some("true"));
}

#[test]
fn write_permission_can_be_wiped_and_added_back() {
    // WIPE_WRITE_PERM_OF_BROKER clears the write bit of the broker's queues (count in the
    // header); ADD_WRITE_PERM_OF_BROKER sets it again.
    let namesrv = Namesrv::start(&[]);
    let mut client = namesrv.connect();
    register(
        &mut client,
        &Broker::master("broker-a", 10911),
        &["T1", "T2"],
        1,
    );
    let perm = |client: &mut BlockingClient| route_of(client, "T1").unwrap().queue_datas[0].perm;
    assert_eq!(perm(&mut client), 6);

    let fields = [("brokerName", "broker-a")];
    let wiped = call(
        &mut client,
        java_request(request::WIPE_WRITE_PERM_OF_BROKER, &fields),
    );
    assert_eq!(wiped.code, response::SUCCESS);
    assert_eq!(wiped.ext_field("wipeTopicCount"), Some("2"));
    assert_eq!(perm(&mut client), 4);

    let added = call(
        &mut client,
        java_request(request::ADD_WRITE_PERM_OF_BROKER, &fields),
    );
    assert_eq!(added.code, response::SUCCESS);
    assert_eq!(added.ext_field("addTopicCount"), Some("2"));
    assert_eq!(perm(&mut client), 6);
}

#[test]
fn kv_config_codes_work_and_survive_a_restart() {
    // PUT/GET/DELETE_KV_CONFIG and GET_KVLIST_BY_NAMESPACE; absent items are QUERY_NOT_FOUND;
    // what was put is still there after the process is killed and started on the same file.
    let namesrv = Namesrv::start(&[]);
    let mut client = namesrv.connect();
    let get = |client: &mut BlockingClient, key: &str| {
        call(
            client,
            java_request(request::GET_KV_CONFIG, &[("namespace", "ns"), ("key", key)]),
        )
    };
    let list = |client: &mut BlockingClient| {
        call(
            client,
            java_request(request::GET_KVLIST_BY_NAMESPACE, &[("namespace", "ns")]),
        )
    };
    assert_eq!(get(&mut client, "k1").code, response::QUERY_NOT_FOUND);
    assert_eq!(list(&mut client).code, response::QUERY_NOT_FOUND);
    for (key, value) in [("k1", "v1"), ("k2", "v2")] {
        let put = java_request(
            request::PUT_KV_CONFIG,
            &[("namespace", "ns"), ("key", key), ("value", value)],
        );
        assert_eq!(call(&mut client, put).code, response::SUCCESS);
    }
    let found = get(&mut client, "k1");
    assert_eq!(found.code, response::SUCCESS);
    assert_eq!(found.ext_field("value"), Some("v1"));
    let delete = java_request(
        request::DELETE_KV_CONFIG,
        &[("namespace", "ns"), ("key", "k2")],
    );
    assert_eq!(call(&mut client, delete).code, response::SUCCESS);
    assert_eq!(get(&mut client, "k2").code, response::QUERY_NOT_FOUND);

    drop(client);
    let namesrv = Namesrv::start_in(namesrv.stop(), &[]);
    let mut client = namesrv.connect();
    assert_eq!(get(&mut client, "k1").ext_field("value"), Some("v1"));
    assert_eq!(get(&mut client, "k2").code, response::QUERY_NOT_FOUND);
    let table: KvTable = serde_json::from_slice(&list(&mut client).body).unwrap();
    assert_eq!(table.table.len(), 1);
    assert_eq!(table.table["k1"], "v1");
}

#[test]
fn dash_p_prints_the_effective_config_and_exits() {
    // `mqnamesrv -p` prints key=value lines (command-line overrides applied) and exits 0.
    let output = Command::new(env!("CARGO_BIN_EXE_mqnamesrv"))
        .args([
            "-p",
            "--listenPort",
            "19999",
            "--brokerChannelExpiredTime",
            "3000",
        ])
        .output()
        .expect("run mqnamesrv -p");
    assert!(output.status.success(), "{output:?}");
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(
        text.lines().any(|line| line == "listenPort=19999"),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|line| line == "brokerChannelExpiredTime=3000"),
        "{text}"
    );
    assert!(
        text.lines().any(|line| line.starts_with("kvConfigPath=")),
        "{text}"
    );
}

#[test]
fn a_config_file_with_an_unknown_key_warns_and_starts() {
    // `-c file` applies RocketMQ's keys, warns about a key it does not know, and still boots.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("namesrv.properties");
    std::fs::write(
        &path,
        "# a namesrv.properties\nbrokerChannelExpiredTime=4321\nnoSuchNamesrvKey=1\n",
    )
    .unwrap();
    let path = path.to_str().unwrap();
    let namesrv = Namesrv::start(&["-c", path]);
    let stderr = namesrv.stderr_text();
    assert!(stderr.contains("unknown property ignored"), "{stderr}");
    assert!(stderr.contains("noSuchNamesrvKey"), "{stderr}");
    let mut client = namesrv.connect();
    let config = call(&mut client, java_request(request::GET_NAMESRV_CONFIG, &[]));
    assert_eq!(config.code, response::SUCCESS);
    let text = String::from_utf8(config.body.to_vec()).unwrap();
    assert!(text.contains("brokerChannelExpiredTime=4321"), "{text}");
}

#[test]
fn a_second_name_server_on_a_taken_port_refuses_to_start() {
    // Java's name server exits on "Address already in use". Listeners use SO_REUSEPORT, and
    // sharing the port would split brokers and clients between two name servers with
    // different routes (seen here: TOPIC_NOT_EXIST for a topic registered a moment before).
    let first = Namesrv::start(&[]);
    let port = first.addr().rsplit_once(':').unwrap().1;
    let dir = tempfile::tempdir().unwrap();
    let mut second = Command::new(env!("CARGO_BIN_EXE_mqnamesrv"))
        .args([
            "--bindAddress",
            "127.0.0.1",
            "--listenPort",
            port,
            "--shardCount",
            "1",
        ])
        .arg("--kvConfigPath")
        .arg(dir.path().join("kvConfig.json"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn a second mqnamesrv");
    let exited = poll_until(std::time::Duration::from_secs(5), || {
        second.try_wait().unwrap().is_some()
    });
    let _ = second.kill();
    let _ = second.wait();
    assert!(exited, "a second mqnamesrv kept running on port {port}");
}
