//! `mqnamesrv`: starts the name server, as RocketMQ's script of the same name does.
//!
//! ```text
//! mqnamesrv [-c namesrv.properties] [-p] [--<property> <value> | --<property>=<value>]...
//! ```
//! `-c` loads RocketMQ's property names, `--listenPort 9877` style flags override the file,
//! `-p` prints the effective configuration and exits.

use ramjet_namesrv::NamesrvConfig;

const USAGE: &str =
    "usage: mqnamesrv [-c <namesrv.properties>] [-p] [-n <ignored>] [--<property> <value>]...
  -c <file>             load RocketMQ name server properties (listenPort, kvConfigPath, ...)
  -p                    print the effective configuration and exit
  --<key> <value>       override one property, e.g. --listenPort 9877 or --shardCount=1
  -h                    this help";

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("RAMJET_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let config = match parse_args(&args) {
        Ok(Some(config)) => config,
        Ok(None) => return,
        Err(message) => {
            eprintln!("mqnamesrv: {message}\n{USAGE}");
            std::process::exit(2);
        }
    };
    if let Err(error) = ramjet_namesrv::server::run(config) {
        eprintln!("mqnamesrv: {error}");
        std::process::exit(1);
    }
}

/// Returns `Ok(None)` when the command only printed something.
fn parse_args(args: &[String]) -> Result<Option<NamesrvConfig>, String> {
    let mut config = NamesrvConfig::default();
    let mut overrides = Vec::new();
    let mut print = false;
    let mut index = 0;
    while index < args.len() {
        let arg = &args[index];
        let mut value = || {
            index += 1;
            args.get(index)
                .cloned()
                .ok_or_else(|| format!("{arg} needs a value"))
        };
        match arg.as_str() {
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(None);
            }
            "-p" | "--printConfigItem" => print = true,
            "-c" | "--configFile" => {
                let path = value()?;
                for key in config.load_file(&path).map_err(|e| e.to_string())? {
                    tracing::warn!(key, file = path, "unknown property ignored");
                }
            }
            "-n" | "--namesrvAddr" => {
                value()?; // Accepted for compatibility with RocketMQ's scripts; unused here.
            }
            flag if flag.starts_with("--") => {
                let flag = &flag[2..];
                let (key, val) = match flag.split_once('=') {
                    Some((key, val)) => (key.to_owned(), val.to_owned()),
                    None => (flag.to_owned(), value()?),
                };
                overrides.push((key, val));
            }
            other => return Err(format!("unexpected argument {other:?}")),
        }
        index += 1;
    }
    for (key, value) in overrides {
        if !config.set(&key, &value).map_err(|e| e.to_string())? {
            return Err(format!("unknown property --{key}"));
        }
    }
    if print {
        for (key, value) in config.to_pairs() {
            println!("{key}={value}");
        }
        return Ok(None);
    }
    Ok(Some(config))
}
