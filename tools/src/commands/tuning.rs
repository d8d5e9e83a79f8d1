//! checkTuning: the running machine against a `tuning/*.conf` profile, read-only.

use std::path::PathBuf;

use clap::Args;

use crate::error::{AdminError, AdminResult};
use crate::tuning::{parse_profile, Check, Machine};

#[derive(Args, Debug)]
#[command(after_help = "Reads /proc/sys, /sys/kernel/mm/transparent_hugepage, \
    /sys/block/*/queue/scheduler, /sys/module/*/parameters and this process's limits \
    (getrlimit, inherited from the shell); changes nothing and needs no root. Prints each \
    setting with its expected and actual value and ok, differs, unreadable or n/a (a kernel \
    module this machine has not got). Exit status 0, or 1 with --strict when a setting \
    differs or cannot be read.")]
pub struct CheckTuning {
    /// the profile, e.g. tuning/throughput.conf
    #[arg(short = 'p', long = "profile")]
    profile: PathBuf,
    /// exit 1 when any setting differs or cannot be read
    #[arg(long = "strict")]
    strict: bool,
    /// also print each setting's reason
    #[arg(short = 'v', long = "verbose")]
    verbose: bool,
}

pub fn check_tuning(args: &CheckTuning) -> AdminResult<bool> {
    let text = std::fs::read_to_string(&args.profile).map_err(|source| AdminError::Io {
        what: format!("read profile {}", args.profile.display()),
        source,
    })?;
    let settings = parse_profile(&text)
        .map_err(|reason| AdminError::Usage(format!("{}: {reason}", args.profile.display())))?;
    let machine = Machine::local();
    let checks: Vec<Check> = settings.iter().flat_map(|s| machine.check(s)).collect();
    println!(
        "{:<44} {:<28} {:<28} #Status",
        "#Setting", "#Expected", "#Actual"
    );
    for check in &checks {
        let actual = match &check.actual {
            Ok(value) => value.clone(),
            Err(_) => "?".to_owned(),
        };
        println!(
            "{:<44} {:<28} {:<28} {}",
            check.key,
            check.expected,
            actual,
            check.status()
        );
        if let (Err(why), true) = (&check.actual, check.applies) {
            println!("    cannot read: {why}");
        }
        if args.verbose && !check.reason.is_empty() {
            println!("    why: {}", check.reason);
        }
    }
    let count = |status: &str| checks.iter().filter(|c| c.status() == status).count();
    let (ok, differ, unreadable) = (count("ok"), count("differs"), count("unreadable"));
    let absent = count("n/a");
    println!();
    println!(
        "{} settings from {}: {ok} ok, {differ} differ, {unreadable} unreadable, {absent} n/a",
        checks.len(),
        args.profile.display()
    );
    Ok(!args.strict || ok + absent == checks.len())
}
