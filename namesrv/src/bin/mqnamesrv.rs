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
    // `-n` is accepted for compatibility with RocketMQ's scripts; a name server needs none.
    let line = ramjet_net::properties::CommandLine::parse(args, &[])?;
    if line.help {
        println!("{USAGE}");
        return Ok(None);
    }
    let mut config = NamesrvConfig::default();
    for path in &line.config_files {
        for key in config.load_file(path).map_err(|e| e.to_string())? {
            tracing::warn!(key, file = path, "unknown property ignored");
        }
    }
    for (key, value) in &line.overrides {
        if !config.set(key, value).map_err(|e| e.to_string())? {
            return Err(format!("unknown property --{key}"));
        }
    }
    if line.print {
        for (key, value) in config.to_pairs() {
            println!("{key}={value}");
        }
        return Ok(None);
    }
    Ok(Some(config))
}
