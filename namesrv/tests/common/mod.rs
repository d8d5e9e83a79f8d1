//! What the `mqnamesrv` process tests share: starting the real binary on a free loopback
//! port with its own kvConfig file, killing it by PID on drop, and building the requests a
//! Java broker sends.

#![allow(dead_code)] // Each test binary uses a different part of this module.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub use ramjet_interop::process::free_port;
use ramjet_net::body::TopicRouteData;
use ramjet_net::client::BlockingClient;
use ramjet_net::code::{request, response};
use ramjet_net::remoting::{decode_frame, FRAME_BYTES_MAX_DEFAULT};
use ramjet_net::{LanguageCode, RemotingCommand};

/// How long one request may take before the test fails.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// How long `mqnamesrv` gets to print its boot line.
const BOOT_TIMEOUT: Duration = Duration::from_secs(15);

/// What the process prints on stdout once every shard listens.
const BOOT_LINE: &str = "The Name Server boot success";

/// Java 5.3.3's `MQVersion` ordinal, what a current Java broker puts in `version`.
pub const JAVA_5_VERSION: i32 = 479;
/// Java 4.9.4's ordinal.
pub const JAVA_4_VERSION: i32 = 401;

/// A running `mqnamesrv`. Dropping it kills the process by its PID and removes its files.
pub struct Namesrv {
    child: Child,
    addr: String,
    dir: tempfile::TempDir,
    stderr_path: PathBuf,
}

impl Namesrv {
    /// Starts a one-shard name server with its own kvConfig file.
    pub fn start(args: &[&str]) -> Namesrv {
        Self::start_in(tempfile::tempdir().expect("temp dir"), args)
    }

    /// Starts a name server whose kvConfig file lives in `dir`, so a restart can reuse it.
    /// `--shardCount 1` unless `args` says otherwise: these tests share two cores.
    pub fn start_in(dir: tempfile::TempDir, args: &[&str]) -> Namesrv {
        // Another process may take the free port before the server binds it; try again then.
        let mut dir = Some(dir);
        for attempt in 1..=3 {
            match Self::try_start(dir.take().expect("dir is put back on failure"), args) {
                Ok(namesrv) => return namesrv,
                Err((returned_dir, why)) if attempt < 3 => {
                    eprintln!("mqnamesrv did not start (attempt {attempt}): {why}");
                    dir = Some(returned_dir);
                }
                Err((_, why)) => panic!("mqnamesrv did not start: {why}"),
            }
        }
        unreachable!("the last attempt returns or panics")
    }

    fn try_start(
        dir: tempfile::TempDir,
        args: &[&str],
    ) -> Result<Namesrv, (tempfile::TempDir, String)> {
        let port = free_port();
        let kv_config_path = dir.path().join("kvConfig.json");
        let stderr_path = dir.path().join("stderr.log");
        let stderr = std::fs::File::create(&stderr_path).expect("create the stderr log");
        let mut command = Command::new(env!("CARGO_BIN_EXE_mqnamesrv"));
        command
            .args([
                "--bindAddress",
                "127.0.0.1",
                "--listenPort",
                &port.to_string(),
            ])
            .arg("--kvConfigPath")
            .arg(&kv_config_path);
        if !args.contains(&"--shardCount") {
            command.args(["--shardCount", "1"]);
        }
        let mut child = command
            .args(args)
            .env("HOME", dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("spawn mqnamesrv");
        let booted = wait_for_line(child.stdout.take().expect("piped stdout"), BOOT_LINE);
        let mut namesrv = Namesrv {
            child,
            addr: format!("127.0.0.1:{port}"),
            dir,
            stderr_path,
        };
        if booted {
            return Ok(namesrv);
        }
        let why = format!("no boot line; stderr:\n{}", namesrv.stderr_text());
        namesrv.kill();
        // Move the directory out of the dead process's handle so the caller can reuse it.
        let dir = std::mem::replace(&mut namesrv.dir, tempfile::tempdir().expect("temp dir"));
        Err((dir, why))
    }

    pub fn addr(&self) -> &str {
        &self.addr
    }

    pub fn connect(&self) -> BlockingClient {
        BlockingClient::connect(&self.addr, TIMEOUT).expect("connect to mqnamesrv")
    }

    /// A plain socket, for sending bytes no well-behaved client would.
    pub fn connect_raw(&self) -> TcpStream {
        let stream = TcpStream::connect(&self.addr).expect("connect to mqnamesrv");
        stream.set_read_timeout(Some(TIMEOUT)).expect("set timeout");
        stream
    }

    pub fn stderr_text(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// Kills the process and hands back its directory (kvConfig file included).
    pub fn stop(mut self) -> tempfile::TempDir {
        self.kill();
        std::mem::replace(&mut self.dir, tempfile::tempdir().expect("temp dir"))
    }

    fn kill(&mut self) {
        // Child::kill signals exactly this child's PID (SIGKILL); wait reaps it.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Namesrv {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Reads `stdout` on a thread until `line` shows up; false if it does not within the boot
/// timeout or the process closes stdout first (it exited).
fn wait_for_line(stdout: std::process::ChildStdout, line: &'static str) -> bool {
    let (found, wait) = mpsc::channel();
    std::thread::spawn(move || {
        for text in BufReader::new(stdout).lines().map_while(Result::ok) {
            if text.contains(line) {
                let _ = found.send(());
            }
        }
    });
    wait.recv_timeout(BOOT_TIMEOUT).is_ok()
}

/// Polls `condition` every 20 ms until it holds or `limit` passes; returns whether it held.
pub fn poll_until(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A request as a Java 5.x client or broker sends it.
pub fn java_request(code: i32, fields: &[(&str, &str)]) -> RemotingCommand {
    let mut command = RemotingCommand::request(code);
    command.language = LanguageCode::Java;
    command.version = JAVA_5_VERSION;
    let ext = command.ext_fields_mut();
    for (key, value) in fields {
        ext.insert(*key, *value);
    }
    command
}

/// Sends `command` and returns the response, failing the test on a transport error.
pub fn call(client: &mut BlockingClient, command: RemotingCommand) -> RemotingCommand {
    client.invoke(command, TIMEOUT).expect("a response")
}

/// GET_ROUTEINFO_BY_TOPIC: the raw response.
pub fn get_route(client: &mut BlockingClient, topic: &str) -> RemotingCommand {
    call(
        client,
        java_request(request::GET_ROUTEINFO_BY_TOPIC, &[("topic", topic)]),
    )
}

/// GET_ROUTEINFO_BY_TOPIC: the parsed route, or `None` for TOPIC_NOT_EXIST.
pub fn route_of(client: &mut BlockingClient, topic: &str) -> Option<TopicRouteData> {
    let response = get_route(client, topic);
    match response.code {
        response::SUCCESS => Some(TopicRouteData::from_json(&response.body).expect("a route body")),
        response::TOPIC_NOT_EXIST => None,
        other => panic!(
            "GET_ROUTEINFO_BY_TOPIC {topic}: code {other} {:?}",
            response.remark
        ),
    }
}

/// Whether a fresh connection sees `topic` (each connection may land on another shard).
pub fn fresh_connection_sees(namesrv: &Namesrv, topic: &str) -> bool {
    route_of(&mut namesrv.connect(), topic).is_some()
}

/// One broker as it identifies itself in REGISTER_BROKER.
#[derive(Debug, Clone)]
pub struct Broker {
    pub cluster: String,
    pub name: String,
    pub addr: String,
    pub ha_addr: String,
    pub id: i64,
}

impl Broker {
    /// A master (brokerId 0) of `DefaultCluster` on `127.0.0.1:<port>`.
    pub fn master(name: &str, port: u16) -> Broker {
        Broker {
            cluster: "DefaultCluster".into(),
            name: name.into(),
            addr: format!("127.0.0.1:{port}"),
            ha_addr: format!("127.0.0.1:{}", port + 1),
            id: 0,
        }
    }

    pub fn slave_of(master: &Broker, port: u16) -> Broker {
        Broker {
            addr: format!("127.0.0.1:{port}"),
            ha_addr: format!("127.0.0.1:{}", port + 1),
            id: 1,
            ..master.clone()
        }
    }

    /// The identity fields every broker-to-name-server request carries.
    fn identity(&self) -> Vec<(&'static str, String)> {
        vec![
            ("brokerAddr", self.addr.clone()),
            ("brokerId", self.id.to_string()),
            ("brokerName", self.name.clone()),
            ("clusterName", self.cluster.clone()),
        ]
    }

    /// REGISTER_BROKER with `body` as a 5.x Java broker sends it (`BrokerOuterAPI`):
    /// header fields in fastjson's order, `bodyCrc32` as given.
    pub fn register(&self, body: &[u8], compressed: bool, crc: BodyCrc) -> RemotingCommand {
        let mut fields = self.identity();
        fields.extend([
            ("compressed", compressed.to_string()),
            ("enableActingMaster", "false".to_owned()),
            ("haServerAddr", self.ha_addr.clone()),
        ]);
        fields.push(("bodyCrc32", crc.value_for(body).to_string()));
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        java_request(request::REGISTER_BROKER, &fields).with_body(body.to_vec())
    }

    /// REGISTER_BROKER as a 4.9 broker sends it: no `enableActingMaster`, 4.x version.
    pub fn register_4x(&self, body: &[u8], compressed: bool) -> RemotingCommand {
        let mut command = self.register(body, compressed, BodyCrc::Correct);
        command.version = JAVA_4_VERSION;
        command.ext_fields_mut().remove("enableActingMaster");
        command
    }

    pub fn unregister(&self) -> RemotingCommand {
        let fields = self.identity();
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        java_request(request::UNREGISTER_BROKER, &fields)
    }

    /// QUERY_DATA_VERSION with the broker's DataVersion as body.
    pub fn query_data_version(&self, counter: i64) -> RemotingCommand {
        let fields = self.identity();
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        java_request(request::QUERY_DATA_VERSION, &fields)
            .with_body(data_version_json(counter).into_bytes())
    }
}

/// What to put in the `bodyCrc32` header.
#[derive(Debug, Clone, Copy)]
pub enum BodyCrc {
    /// `UtilAll.crc32(body)`: CRC-32 with the sign bit cleared.
    Correct,
    /// 0 means "don't check" (brokers before 4.9.4 never send it).
    Zero,
    Wrong,
}

impl BodyCrc {
    fn value_for(self, body: &[u8]) -> i32 {
        let correct = (crc32fast::hash(body) & 0x7fff_ffff) as i32;
        match self {
            BodyCrc::Correct => correct,
            BodyCrc::Zero => 0,
            BodyCrc::Wrong => correct ^ 0x5a5a,
        }
    }
}

/// A DataVersion as fastjson writes it.
pub fn data_version_json(counter: i64) -> String {
    format!(r#"{{"counter":{counter},"stateVersion":0,"timestamp":1700000000000}}"#)
}

/// A 4.9 broker's JSON body: no mapping fields, TopicConfig without `attributes`.
pub fn body_4x(topics: &[&str], counter: i64) -> Vec<u8> {
    let table: Vec<String> = topics
        .iter()
        .map(|topic| {
            format!(
                r#""{topic}":{{"order":false,"perm":6,"readQueueNums":4,"topicFilterType":"SINGLE_TAG","topicName":"{topic}","topicSysFlag":0,"writeQueueNums":4}}"#
            )
        })
        .collect();
    format!(
        r#"{{"filterServerList":[],"topicConfigSerializeWrapper":{{"dataVersion":{},"topicConfigTable":{{{}}}}}}}"#,
        data_version_json(counter),
        table.join(",")
    )
    .into_bytes()
}

/// A 5.x broker's JSON body (`TopicConfigAndMappingSerializeWrapper`): mapping fields, one
/// static-topic mapping entry, and TopicConfig `attributes`.
pub fn body_5x(topics: &[&str], counter: i64) -> Vec<u8> {
    let table: Vec<String> = topics
        .iter()
        .map(|topic| {
            format!(
                r#""{topic}":{{"attributes":{{"+message.type":"NORMAL"}},"order":false,"perm":6,"readQueueNums":8,"topicFilterType":"SINGLE_TAG","topicName":"{topic}","topicSysFlag":0,"writeQueueNums":8}}"#
            )
        })
        .collect();
    let mapping = r#"{"StaticT":{"bname":"broker-a","currIdMap":{0:0},"dirty":false,"epoch":0,"scope":"__global__","topic":"StaticT","totalQueues":1}}"#;
    format!(
        r#"{{"filterServerList":[],"topicConfigSerializeWrapper":{{"dataVersion":{},"mappingDataVersion":{},"topicConfigTable":{{{}}},"topicQueueMappingDetailMap":{{}},"topicQueueMappingInfoMap":{}}}}}"#,
        data_version_json(counter),
        data_version_json(0),
        table.join(","),
        mapping
    )
    .into_bytes()
}

/// Writes one raw frame: length word, header-length word (with `serialize_type` in its high
/// byte), header, body.
pub fn raw_frame(serialize_type: u8, header: &[u8], body: &[u8]) -> Vec<u8> {
    let mut out = ((4 + header.len() + body.len()) as u32)
        .to_be_bytes()
        .to_vec();
    let word = (u32::from(serialize_type) << 24) | header.len() as u32;
    out.extend_from_slice(&word.to_be_bytes());
    out.extend_from_slice(header);
    out.extend_from_slice(body);
    out
}

/// Reads one frame from a raw socket.
pub fn read_frame(stream: &mut TcpStream) -> RemotingCommand {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 64 * 1024];
    loop {
        if let Some((command, _)) = decode_frame(&buf, FRAME_BYTES_MAX_DEFAULT).expect("a frame") {
            return command;
        }
        let read = stream.read(&mut chunk).expect("read a frame");
        assert!(read > 0, "connection closed before a whole frame arrived");
        buf.extend_from_slice(&chunk[..read]);
    }
}

/// Sends `bytes` on a raw socket.
pub fn send_raw(stream: &mut TcpStream, bytes: &[u8]) {
    stream.write_all(bytes).expect("send raw bytes");
}

/// The path of a recorded client frame in `net/tests/golden`.
pub fn golden_frame(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../net/tests/golden")
        .join(name)
}
