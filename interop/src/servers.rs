//! The Ramjet servers under test, each started as a real process on a free loopback port.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::process::{free_port, ServerProcess};
use crate::workspace;

/// A running `mqnamesrv`, killed when dropped.
pub struct Namesrv {
    pub process: ServerProcess,
    /// "127.0.0.1:<port>", as clients are told.
    pub addr: String,
    /// This test's directory under `target/interop-logs/` (config, kvConfig.json, log).
    pub dir: PathBuf,
}

impl Namesrv {
    /// Starts `mqnamesrv -c <dir>/namesrv.properties` (built first if needed) with
    /// RocketMQ's property names: a free `listenPort` on 127.0.0.1 and a `kvConfigPath` of its
    /// own, plus `extra_properties` (e.g. `("shardCount", "2")`). Returns once the port accepts
    /// connections.
    pub fn start(test_name: &str, extra_properties: &[(&str, &str)]) -> Namesrv {
        let binary = workspace::server_binary("ramjet-namesrv", "mqnamesrv");
        let dir = workspace::scratch_dir(test_name);
        let port = free_port();
        let mut properties = format!(
            "listenPort={port}\nbindAddress=127.0.0.1\nkvConfigPath={}\n",
            dir.join("kvConfig.json").display()
        );
        for (key, value) in extra_properties {
            properties.push_str(&format!("{key}={value}\n"));
        }
        let config_path = dir.join("namesrv.properties");
        std::fs::write(&config_path, properties).expect("write namesrv.properties");
        let args = vec!["-c".to_string(), config_path.display().to_string()];
        let mut process =
            ServerProcess::start("mqnamesrv", &binary, &args, &dir.join("mqnamesrv.log"));
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        process.wait_for_port(addr);
        Namesrv {
            process,
            addr: addr.to_string(),
            dir,
        }
    }
}
