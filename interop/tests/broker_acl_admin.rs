//! The ACL admin codes (UPDATE_AND_CREATE_ACL_CONFIG 50, DELETE_ACL_CONFIG 51,
//! GET_BROKER_CLUSTER_ACL_INFO 52, UPDATE_GLOBAL_WHITE_ADDRS_CONFIG 53) driven by mqadmin
//! against real `mqnamesrv` and `mqbroker` processes with `aclEnable=true`:
//!
//! - an account created by `mqadmin updateAclConfig` lets the third-party
//!   rocketmq-client-rust 1.0 crate (its own `AclClientRPCHook`) send at once, where it was
//!   refused before; `deleteAclConfig` refuses it again, without restart;
//! - `clusterAclConfigVersion` prints a version that grows with every edit;
//! - a non-admin key, a short secret and a bad permission are refused with a remark;
//! - `updateGlobalWhiteAddr` lets unsigned requests from 127.0.0.1 through, and back;
//! - without flags, mqadmin signs with `$ROCKETMQ_HOME/conf/tools.yml`;
//! - a broker without aclEnable refuses the codes with their error codes.

#![recursion_limit = "512"]

mod common;

use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use common::rust_client::{message, RustClient};
use ramjet_interop::servers::{Broker, Namesrv};
use ramjet_net::acl::SessionCredentials;
use ramjet_net::body::MessageQueue;
use ramjet_net::client::blocking::BlockingClient;
use ramjet_net::client::requests;
use ramjet_net::RemotingCommand;

const TIMEOUT: Duration = Duration::from_secs(5);
const SUCCESS: i32 = 0;
const SYSTEM_ERROR: i32 = 1;

const ADMIN: (&str, &str) = ("adminKey01", "adminSecret01");
const APP: (&str, &str) = ("appKey0001", "appSecret001");
/// The account mqadmin creates and deletes.
const NEW: (&str, &str) = ("newKey0001", "newSecret001");
const TOPIC: &str = "TopicAclAdmin";

fn acl_yml() -> String {
    format!(
        "globalWhiteRemoteAddresses:\n\
         accounts:\n  \
           - accessKey: {}\n    secretKey: {}\n    admin: true\n  \
           - accessKey: {}\n    secretKey: {}\n    admin: false\n    defaultTopicPerm: PUB\n",
        ADMIN.0, ADMIN.1, APP.0, APP.1
    )
}

fn write_acl(home: &Path, text: &str) {
    let conf = home.join("conf");
    std::fs::create_dir_all(&conf).unwrap();
    std::fs::write(conf.join("plain_acl.yml"), text).unwrap();
}

struct Mqadmin {
    binary: std::path::PathBuf,
    namesrv: String,
}

impl Mqadmin {
    /// Runs `mqadmin [--accessKey K --secretKey S] <args>`.
    fn run(&self, keys: Option<(&str, &str)>, args: &[&str]) -> Output {
        let mut command = std::process::Command::new(&self.binary);
        if let Some((ak, sk)) = keys {
            command.args(["--accessKey", ak, "--secretKey", sk]);
        }
        command
            .args(args)
            .args(["-n", &self.namesrv])
            .env_remove("ROCKETMQ_ACCESS_KEY")
            .env_remove("ROCKETMQ_SECRET_KEY")
            .env_remove("ROCKETMQ_HOME");
        command.output().expect("run mqadmin")
    }

    /// Runs as the admin and expects success; returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        let output = self.run(Some(ADMIN), args);
        assert!(
            output.status.success(),
            "mqadmin {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Runs with `keys` and expects failure; returns stderr.
    fn refused(&self, keys: (&str, &str), args: &[&str]) -> String {
        let output = self.run(Some(keys), args);
        assert!(
            !output.status.success(),
            "mqadmin {args:?} succeeded: {}",
            String::from_utf8_lossy(&output.stdout)
        );
        String::from_utf8_lossy(&output.stderr).into_owned()
    }

    /// The ACL file's counter that `clusterAclConfigVersion -b` prints for `broker`.
    fn version(&self, broker: &str) -> i64 {
        let out = self.ok(&["clusterAclConfigVersion", "-b", broker]);
        assert!(
            out.contains("get broker's plain access config version success."),
            "{out}"
        );
        let row = out
            .lines()
            .find(|line| line.contains(broker))
            .unwrap_or_else(|| panic!("no row for {broker}: {out}"));
        // cluster, broker name, address, file, counter, date, time
        let cells: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(cells.len(), 7, "{row}");
        assert!(cells[3].ends_with("conf/plain_acl.yml"), "{row}");
        cells[4].parse().unwrap_or_else(|_| panic!("{row}"))
    }
}

fn raw(broker: &str, credentials: Option<(&str, &str)>) -> BlockingClient {
    BlockingClient::connect(broker, TIMEOUT)
        .unwrap()
        .with_credentials(credentials.map(|(ak, sk)| SessionCredentials::new(ak, sk)))
}

fn code_of(client: &mut BlockingClient, request: RemotingCommand) -> (i32, String) {
    let response = client.invoke(request, TIMEOUT).expect("the broker answers");
    (response.code, response.remark.unwrap_or_default())
}

#[test]
fn mqadmin_edits_the_acl_without_restart() {
    let started = Instant::now();
    let test = "broker_acl_admin";
    let namesrv = Namesrv::start(test, &[]);
    let home = namesrv.dir.join("rocketmq_home");
    write_acl(&home, &acl_yml());
    let home_text = home.display().to_string();
    let broker = Broker::start_with(
        &namesrv,
        test,
        &[("aclEnable", "true"), ("rocketmqHome", &home_text)],
    );
    let addr = broker.addr().to_owned();
    let mqadmin = Mqadmin {
        binary: ramjet_interop::workspace::server_binary("ramjet-tools", "mqadmin"),
        namesrv: namesrv.addr.clone(),
    };
    let mut admin = raw(&addr, Some(ADMIN));
    let create = requests::create_topic(&requests::topic_config(TOPIC, 4), None);
    assert_eq!(code_of(&mut admin, create).0, SUCCESS);

    // The cluster form prints Java's header and a row per master.
    let cluster = mqadmin.ok(&["clusterAclConfigVersion", "-c", "DefaultCluster"]);
    assert!(
        cluster.contains("#AclConfigVersionNum") && cluster.contains(&addr),
        "{cluster}"
    );
    let version0 = mqadmin.version(&addr);

    // Before the account exists the third-party client is refused.
    let newcomer = RustClient::new("acl-admin-new").with_credentials(NEW.0, NEW.1);
    let producer = newcomer.start_producer(&namesrv.addr, "aclAdminProducer");
    let refused = producer.send(message(TOPIC, "TagA", "k0", "before"));
    assert!(refused.is_err(), "an unknown account sent: {refused:?}");

    // mqadmin creates it; it is in force when mqadmin returns (no wait for the reload).
    let out = mqadmin.ok(&[
        "updateAclConfig",
        "-b",
        &addr,
        "-a",
        NEW.0,
        "-s",
        NEW.1,
        "-i",
        "DENY",
        "-t",
        &format!("{TOPIC}=PUB"),
    ]);
    assert!(
        out.contains(&format!(
            "create or update plain access config to {addr} success."
        )),
        "{out}"
    );
    assert!(!out.contains(NEW.1), "the secret is printed: {out}");
    let sent = producer
        .send(message(TOPIC, "TagA", "k1", "after create"))
        .unwrap_or_else(|e| panic!("the new account's send: {e}\n{}", broker.log_tail()));
    assert_eq!(sent.status, "SendOk", "{sent:?}");
    // Its default topic permission is DENY: another topic stays refused.
    assert!(producer.send(message("TBW102", "TagA", "k", "x")).is_err());
    let version1 = mqadmin.version(&addr);
    assert!(version1 > version0, "{version0} -> {version1}");
    let file = std::fs::read_to_string(home.join("conf/plain_acl.yml")).unwrap();
    assert!(
        file.contains(NEW.0) && file.contains("dataVersion") && file.contains(APP.0),
        "{file}"
    );

    // Refusals, each with a remark and nothing changed.
    let stderr = mqadmin.refused(
        APP,
        &[
            "updateAclConfig",
            "-b",
            &addr,
            "-a",
            "grabKey001",
            "-s",
            "grabSecret1",
            "-m",
            "true",
        ],
    );
    assert!(
        stderr.contains("Need admin permission for request code=50"),
        "{stderr}"
    );
    let stderr = mqadmin.refused(
        ADMIN,
        &[
            "updateAclConfig",
            "-b",
            &addr,
            "-a",
            "shortKey01",
            "-s",
            "123456",
        ],
    );
    assert!(
        stderr.contains("UPDATE_AND_CREATE_ACL_CONFIG_FAILED (209)")
            && stderr.contains("length should longer than 6"),
        "{stderr}"
    );
    let stderr = mqadmin.refused(
        ADMIN,
        &[
            "updateAclConfig",
            "-b",
            &addr,
            "-a",
            "badPerm001",
            "-s",
            "badPerm0001",
            "-t",
            "T=WRITE",
        ],
    );
    assert!(
        stderr.contains("Parse resource permission error for T=WRITE"),
        "{stderr}"
    );
    let stderr = mqadmin.refused(
        ADMIN,
        &["updateGlobalWhiteAddr", "-b", &addr, "-g", "10.0.*.1"],
    );
    assert!(
        stderr.contains("UPDATE_GLOBAL_WHITE_ADDRS_CONFIG_FAILED (211)"),
        "{stderr}"
    );
    assert_eq!(mqadmin.version(&addr), version1, "a refused edit counted");

    // Delete: refused again at once, and a second delete fails.
    let out = mqadmin.ok(&["deleteAclConfig", "-b", &addr, "-a", NEW.0]);
    assert!(
        out.contains(&format!(
            "delete plain access config account from {addr} success."
        )) && out.contains(&format!("account's accesskey is:{}", NEW.0)),
        "{out}"
    );
    let refused = producer.send(message(TOPIC, "TagA", "k2", "after delete"));
    assert!(refused.is_err(), "a deleted account sent: {refused:?}");
    let stderr = mqadmin.refused(ADMIN, &["deleteAclConfig", "-b", &addr, "-a", NEW.0]);
    assert!(
        stderr.contains("DELETE_ACL_CONFIG_FAILED (210)"),
        "{stderr}"
    );

    // Global white addresses: 127.0.0.1 skips every check, then no more.
    let mut unsigned = raw(&addr, None);
    let queue = MessageQueue {
        topic: TOPIC.into(),
        broker_name: "broker-a".into(),
        queue_id: 0,
    };
    let probe = || requests::get_max_offset(&queue);
    assert_eq!(code_of(&mut unsigned, probe()).0, SYSTEM_ERROR);
    let out = mqadmin.ok(&["updateGlobalWhiteAddr", "-b", &addr, "-g", "127.0.0.1"]);
    assert!(
        out.contains(&format!(
            "update global white remote addresses to {addr} success."
        )),
        "{out}"
    );
    assert_eq!(code_of(&mut unsigned, probe()), (SUCCESS, String::new()));
    mqadmin.ok(&["updateGlobalWhiteAddr", "-b", &addr, "-g", "10.10.103.*"]);
    assert_eq!(code_of(&mut unsigned, probe()).0, SYSTEM_ERROR);

    // The reload thread sees the edited file a second later and must not undo anything.
    std::thread::sleep(Duration::from_millis(2500));
    assert!(producer
        .send(message(TOPIC, "TagA", "k3", "still deleted"))
        .is_err());
    assert_eq!(code_of(&mut unsigned, probe()).0, SYSTEM_ERROR);
    assert_eq!(mqadmin.version(&addr), version1 + 3);
    let log = broker.log_tail();
    assert!(!log.contains("does not parse"), "{log}");

    // getAclConfig lists the accounts as the file holds them.
    let listed = mqadmin.ok(&["getAclConfig", "-b", &addr]);
    assert!(
        listed.contains(ADMIN.0) && listed.contains(APP.0) && !listed.contains(NEW.0),
        "{listed}"
    );
    assert!(listed.contains("[10.10.103.*]"), "{listed}");
    drop(producer);

    // Without flags mqadmin signs with $ROCKETMQ_HOME/conf/tools.yml, as Java's does.
    let tools_home = namesrv.dir.join("tools_home");
    std::fs::create_dir_all(tools_home.join("conf")).unwrap();
    std::fs::write(
        tools_home.join("conf/tools.yml"),
        format!("accessKey: {}\nsecretKey: {}\n", ADMIN.0, ADMIN.1),
    )
    .unwrap();
    let with_tools_yml = |home: &Path| {
        std::process::Command::new(&mqadmin.binary)
            .args(["clusterAclConfigVersion", "-b", &addr, "-n", &namesrv.addr])
            .env_remove("ROCKETMQ_ACCESS_KEY")
            .env_remove("ROCKETMQ_SECRET_KEY")
            .env("ROCKETMQ_HOME", home)
            .output()
            .expect("run mqadmin")
    };
    let signed = with_tools_yml(&tools_home);
    assert!(
        signed.status.success(),
        "{}",
        String::from_utf8_lossy(&signed.stderr)
    );
    let unsigned_run = with_tools_yml(&namesrv.dir.join("no_such_home"));
    let stderr = String::from_utf8_lossy(&unsigned_run.stderr);
    assert!(
        !unsigned_run.status.success() && stderr.contains("No accessKey is configured"),
        "{stderr}"
    );

    // Without aclEnable, Java's broker has no validator: the codes fail with their codes.
    let plain_ns = Namesrv::start("broker_acl_admin_off", &[]);
    let plain = Broker::start(&plain_ns, "broker_acl_admin_off");
    let mut client = raw(plain.addr(), None);
    let mut update = RemotingCommand::request(50);
    for (key, value) in [
        ("accessKey", NEW.0),
        ("secretKey", NEW.1),
        ("admin", "false"),
    ] {
        update.ext_fields_mut().insert(key, value);
    }
    let (code, remark) = code_of(&mut client, update);
    assert_eq!(code, 209, "{remark}");
    assert!(remark.contains("aclEnable=false"), "{remark}");
    let (code, remark) = code_of(&mut client, RemotingCommand::request(52));
    assert_eq!(code, SYSTEM_ERROR, "{remark}");
    assert!(remark.contains("aclEnable=false"), "{remark}");
    eprintln!("broker_acl_admin took {:?}", started.elapsed());
}
