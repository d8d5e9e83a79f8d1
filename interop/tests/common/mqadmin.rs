//! Running Ramjet's `mqadmin` against a test's name server.

#![allow(dead_code)] // Each test binary uses a different subset.

use std::process::Command;

use ramjet_interop::servers::Namesrv;
use ramjet_interop::workspace;

/// `mqadmin <command> -n <namesrv> <args>`: (succeeded, stdout, stderr).
pub fn mqadmin(namesrv: &Namesrv, command: &str, args: &[&str]) -> (bool, String, String) {
    let output = Command::new(workspace::server_binary("ramjet-tools", "mqadmin"))
        .arg(command)
        .args(["-n", &namesrv.addr])
        .args(args)
        .env_remove("NAMESRV_ADDR")
        .output()
        .expect("run mqadmin");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// `mqadmin` that must succeed; its stdout.
pub fn admin_ok(namesrv: &Namesrv, command: &str, args: &[&str]) -> String {
    let (ok, stdout, stderr) = mqadmin(namesrv, command, args);
    assert!(ok, "mqadmin {command} {args:?} failed\n{stdout}\n{stderr}");
    stdout
}
