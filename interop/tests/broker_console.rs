//! Issue 12, web console end to end (docs/console.md): headless Chromium, driven by
//! Selenium (interop/python/console_browser.py), against real mqnamesrv and mqbroker
//! processes, with the third-party `rocketmq-client-rust` 1.0 crate as producer and push
//! consumer. In the browser: create a topic, watch a topic's live throughput, find the
//! client's messages by time and by key, see a group's lag, reset the running group by time
//! and watch it consume again. Screenshots: target/console-screenshots/.
//!
//! Needs Debian's `chromium` and `chromium-driver` (.ci/run installs them when missing, or
//! `apt-get install -y chromium chromium-driver`) and the interop venv (selenium).

// The Rust client's deeply nested async types need more than the default query depth.
#![recursion_limit = "512"]

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::consume::{now_ms, wait_for_times};
use common::rust_client::{message, ConsumerOptions, RustClient};
use ramjet_interop::python::{run_script, ScriptOutput};
use ramjet_interop::servers::{Broker, Namesrv};
use ramjet_interop::{http, workspace};
use serde_json::Value;

const TEST: &str = "broker_console";
const TOPIC: &str = "ConsoleTopic";
const LIVE_TOPIC: &str = "ConsoleLiveTopic";
const MESSAGES: usize = 8;
const LATE: usize = 4;
const RESET_WAIT: Duration = Duration::from_secs(30);

/// Waits until the API shows the group `diff` behind on the topic.
fn wait_for_lag(api: &str, group: &str, diff: i64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let answer = http::get(
            api,
            &format!("/api/group/progress?group={group}&topic={TOPIC}"),
        );
        if answer.status == 200 && answer.json["diffTotal"] == diff {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "lag never {diff}: {}",
            answer.body
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// One phase of console_browser.py; its JSON result.
fn browser(api: &str, phase: &str, args: &[(&str, String)], broker: &Broker) -> Value {
    let shots = workspace::target_dir().join("console-screenshots");
    let mut argv = vec![
        "--url".to_owned(),
        format!("http://{api}/"),
        "--phase".to_owned(),
        phase.to_owned(),
        "--shots".to_owned(),
        shots.display().to_string(),
        "--topic".to_owned(),
        TOPIC.to_owned(),
    ];
    for (flag, value) in args {
        argv.push(format!("--{flag}"));
        argv.push(value.clone());
    }
    let output: ScriptOutput = run_script(
        "console_browser.py",
        &argv,
        &broker.dir,
        Duration::from_secs(90),
    );
    assert!(
        output.status.success() && !output.timed_out,
        "browser phase {phase} failed (screenshots in {}):\n{output}\n{}",
        shots.display(),
        broker.log_tail()
    );
    let result = output.json();
    eprintln!("browser {phase}: {result}");
    result
}

#[test]
fn console_in_chromium_creates_finds_shows_lag_and_resets() {
    for tool in ["/usr/bin/chromium", "/usr/bin/chromedriver"] {
        assert!(
            std::path::Path::new(tool).exists(),
            "{tool} missing: apt-get install -y chromium chromium-driver (.ci/run does when they are missing)"
        );
    }
    let started = Instant::now();
    let namesrv = Namesrv::start(TEST, &[]);
    let broker = Broker::start(&namesrv, TEST);
    let api = broker.http_addr().to_owned();

    // 1. The topic is created in the browser.
    browser(&api, "create", &[], &broker);
    let route = http::get(&api, &format!("/api/topic/route?topic={TOPIC}"));
    assert_eq!(route.status, 200, "{}", route.body);
    assert_eq!(
        route.json["queueDatas"][0]["writeQueueNums"], 4,
        "{}",
        route.body
    );

    // 2. A real client sends, a push consumer of the group takes everything, stops, and
    //    more messages arrive: the group is LATE behind.
    let client = RustClient::new("console");
    let producer = client.start_producer(&namesrv.addr, "console_p");
    let before = now_ms() - 1;
    let mut bodies = Vec::new();
    let mut sent = Vec::new();
    for index in 0..MESSAGES {
        let body = format!("console-body-{index}");
        let result = producer
            .send(message(
                TOPIC,
                "TagA",
                &format!("console-key-{index}"),
                &body,
            ))
            .unwrap_or_else(|error| panic!("send {body}: {error}\n{}", broker.log_tail()));
        sent.push(result);
        bodies.push(body);
    }
    let group = format!("console_g_{}", std::process::id());
    let mut consumer =
        client.start_push_consumer(&namesrv.addr, &ConsumerOptions::new(&group, TOPIC));
    wait_for_times(&consumer, &bodies, 1, RESET_WAIT, "first delivery");
    wait_for_lag(&api, &group, 0);
    consumer.shutdown();
    for index in 0..LATE {
        let body = format!("console-late-{index}");
        producer
            .send(message(TOPIC, "TagA", &body, &body))
            .unwrap_or_else(|error| panic!("send {body}: {error}"));
        bodies.push(body);
    }
    wait_for_lag(&api, &group, LATE as i64);

    // Live traffic on another topic while the browser watches its chart.
    producer
        .send(message(LIVE_TOPIC, "L", "live", "live"))
        .unwrap_or_else(|error| panic!("send live: {error}"));
    let sending = Arc::new(AtomicBool::new(true));
    let live_sender = {
        let (sending, shared) = (sending.clone(), producer.shared());
        client.spawn(async move {
            let mut sent = 0u64;
            while sending.load(Ordering::Relaxed) {
                let _ = shared
                    .send_with_timeout(message(LIVE_TOPIC, "L", "live", "live"), 3000)
                    .await;
                sent += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            sent
        })
    };

    // 3. In the browser: live chart, messages by time, one by key with its body, the lag.
    let key = "console-key-3";
    let inspected = browser(
        &api,
        "inspect",
        &[
            ("live-topic", LIVE_TOPIC.to_owned()),
            ("group", group.clone()),
            ("key", key.to_owned()),
            (
                "msg-id",
                sent[3].msg_id.clone().expect("the client's msgId"),
            ),
            ("body", "console-body-3".to_owned()),
            ("count", (MESSAGES + LATE).to_string()),
            ("lag", LATE.to_string()),
        ],
        &broker,
    );
    sending.store(false, Ordering::Relaxed);
    let live_sent = client.join(live_sender);
    assert!(live_sent > 0);
    let rates: Vec<f64> = inspected["live_rates"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_f64)
        .collect();
    assert!(
        rates.iter().any(|rate| *rate > 1.0),
        "the live chart never showed the traffic: {rates:?}"
    );
    let p50s: Vec<f64> = inspected["live_p50s"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_f64)
        .collect();
    assert!(
        p50s.iter().any(|p50| *p50 > 0.0),
        "the live chart never showed a send latency: {p50s:?} ({})",
        inspected["latency_text"]
    );
    assert_eq!(inspected["by_time"], (MESSAGES + LATE) as i64);
    assert_eq!(inspected["body"], "console-body-3");
    assert_eq!(inspected["lag"], LATE as i64);

    // 4. The group comes back online and catches up; the browser resets it to before the
    //    first send, and the running client consumes everything again.
    let mut consumer =
        client.start_push_consumer(&namesrv.addr, &ConsumerOptions::new(&group, TOPIC));
    let late: Vec<String> = bodies[MESSAGES..].to_vec();
    wait_for_times(
        &consumer,
        &late,
        1,
        RESET_WAIT,
        "late messages after restart",
    );
    wait_for_lag(&api, &group, 0);
    let reset = browser(
        &api,
        "reset",
        &[("group", group.clone()), ("timestamp", before.to_string())],
        &broker,
    );
    assert_eq!(reset["mode"], "online", "{reset}");
    let originals: Vec<String> = bodies[..MESSAGES].to_vec();
    // The first consumer took the originals once; this one takes them again after the reset.
    wait_for_times(
        &consumer,
        &originals,
        1,
        RESET_WAIT,
        "re-consumed after the reset in the browser",
    );
    consumer.shutdown();
    eprintln!("done after {:?}", started.elapsed());
}
