//! Runs the `rocketmq-client-rust` 1.0 crate against a name server and prints one JSON line,
//! so scripts (interop/python/record_golden.py) can capture the frames it sends.
//!
//!   cargo run -p ramjet-interop --example rust_client_probe -- route 127.0.0.1:9876 TopicTest
//!   ... -- publish-queues <namesrv> <topic>
//!   ... -- produce <namesrv> <topic> <count>
//!   ... -- consume <namesrv> <topic> <expression> <seconds>

// The client's deeply nested async types need more than the default query depth.
#![recursion_limit = "512"]

#[path = "../tests/common/rust_client.rs"]
mod rust_client;

use std::process::ExitCode;
use std::time::Duration;

use rust_client::RustClient;
use serde_json::json;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let client = RustClient::new("probe");
    let outcome = match args.as_slice() {
        ["route", namesrv, topic] => client.topic_route(namesrv, topic).map(|route| match route {
            None => json!({"topic": topic, "found": false}),
            Some(route) => json!({
                "topic": topic,
                "found": true,
                "brokers": format!("{:?}", route.brokers),
                "queues": format!("{:?}", route.queues),
            }),
        }),
        ["publish-queues", namesrv, topic] => client
            .publish_queues(namesrv, topic)
            .map(|queues| json!({"topic": topic, "queues": format!("{queues:?}")})),
        ["produce", namesrv, topic, count] => {
            let count = count.parse().expect("count is a number");
            client
                .produce(namesrv, "interop_rust_producer", topic, "TagA", count)
                .map(|sent| json!({"sent": format!("{sent:?}")}))
        }
        ["consume", namesrv, topic, expression, seconds] => {
            let wait = Duration::from_secs_f64(seconds.parse().expect("seconds is a number"));
            client
                .consume(namesrv, "interop_rust_consumer", topic, expression, 0, wait)
                .map(|received| json!({"received": format!("{received:?}")}))
        }
        _ => {
            eprintln!("usage: rust_client_probe route|publish-queues|produce|consume ...");
            return ExitCode::from(64);
        }
    };
    drop(client);
    match outcome {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            println!("{}", json!({ "error": error }));
            ExitCode::from(2)
        }
    }
}
