//! The codes and remarks a real `mqbroker` gives SQL92 subscriptions, over raw frames (the
//! third-party client used in interop/tests/broker_sql_filter.rs keeps the codes but drops
//! remarks): PULL_MESSAGE with the subscription in its header, HEART_BEAT, and
//! CHECK_CLIENT_CONFIG (46), with `enablePropertyFilter` on and off, and hostile
//! expressions (too long, too deep) answered without harm.

mod common;

use common::{call, create_topic, fields, pull_fields, StandaloneBroker};
use ramjet_net::client::BlockingClient;
use ramjet_net::code::{request, response};
use ramjet_net::RemotingCommand;

const TOPIC: &str = "SqlAnswers";

fn sql_pull(
    client: &mut BlockingClient,
    expression_type: &str,
    expression: &str,
) -> RemotingCommand {
    let mut pairs = pull_fields("sql_group", TOPIC, "0", "0");
    for (key, value) in pairs.iter_mut() {
        match key.as_str() {
            "subscription" => *value = expression.to_owned(),
            "expressionType" => *value = expression_type.to_owned(),
            _ => {}
        }
    }
    call(client, request::PULL_MESSAGE, fields(&pairs), b"").expect("pull answered")
}

fn subscription_json(expression_type: &str, expression: &str) -> serde_json::Value {
    serde_json::json!({
        "classFilterMode": false,
        "codeSet": [],
        "expressionType": expression_type,
        "subString": expression,
        "subVersion": 1,
        "tagsSet": [],
        "topic": TOPIC
    })
}

fn check_client_config(client: &mut BlockingClient, expression: &str) -> RemotingCommand {
    let body = serde_json::json!({
        "clientId": "127.0.0.1@sql",
        "group": "sql_group",
        "subscriptionData": subscription_json("SQL92", expression),
    });
    let body = body.to_string().into_bytes();
    call(
        client,
        request::CHECK_CLIENT_CONFIG,
        fields::<&str, &str>(&[]),
        &body,
    )
    .expect("CHECK_CLIENT_CONFIG answered")
}

fn heartbeat(client: &mut BlockingClient, group: &str, expression: &str) -> RemotingCommand {
    let body = serde_json::json!({
        "clientID": "127.0.0.1@sql",
        "producerDataSet": [],
        "consumerDataSet": [{
            "groupName": group,
            "consumeType": "CONSUME_PASSIVELY",
            "messageModel": "CLUSTERING",
            "consumeFromWhere": "CONSUME_FROM_FIRST_OFFSET",
            "subscriptionDataSet": [subscription_json("SQL92", expression)],
            "unitMode": false
        }]
    });
    let body = body.to_string().into_bytes();
    call(
        client,
        request::HEART_BEAT,
        fields::<&str, &str>(&[]),
        &body,
    )
    .expect("heartbeat answered")
}

fn remark(answer: &RemotingCommand) -> &str {
    answer.remark.as_deref().unwrap_or("")
}

#[test]
fn property_filter_on_names_parse_errors() {
    let broker = StandaloneBroker::start("sql_filter_on", &[("enablePropertyFilter", "true")]);
    let mut client = broker.connect();
    create_topic(&mut client, TOPIC, 1);

    // A good expression: nothing stored yet, so the pull is simply caught up.
    let answer = sql_pull(&mut client, "SQL92", "a BETWEEN 1 AND 3 AND b = 'x'");
    assert_eq!(answer.code, response::PULL_NOT_FOUND, "{}", remark(&answer));

    for (bad, names) in [
        ("a BETWEEN 3 AND 1", "Illegal values of between"),
        ("a = ", "Encountered \"<EOF>\""),
        ("a > 'x'", "cannot be compared"),
        ("a = 1 #", "Lexical error"),
    ] {
        let answer = sql_pull(&mut client, "SQL92", bad);
        assert_eq!(answer.code, response::SUBSCRIPTION_PARSE_FAILED, "{bad}");
        assert!(
            remark(&answer).contains(names),
            "{bad}: {}",
            remark(&answer)
        );
        assert!(
            remark(&answer).contains(bad.trim()),
            "{bad}: {}",
            remark(&answer)
        );

        let answer = check_client_config(&mut client, bad);
        assert_eq!(answer.code, response::SUBSCRIPTION_PARSE_FAILED, "{bad}");
        assert!(
            remark(&answer).contains(names),
            "{bad}: {}",
            remark(&answer)
        );

        let answer = heartbeat(&mut client, "sql_bad_group", bad);
        assert_eq!(answer.code, response::SUBSCRIPTION_PARSE_FAILED, "{bad}");
        assert!(
            remark(&answer).contains("sql_bad_group"),
            "{}",
            remark(&answer)
        );
        assert!(
            remark(&answer).contains(names),
            "{bad}: {}",
            remark(&answer)
        );
    }
    let answer = sql_pull(&mut client, "XPATH", "/a");
    assert_eq!(answer.code, response::SUBSCRIPTION_PARSE_FAILED);
    assert!(remark(&answer).contains("XPATH"), "{}", remark(&answer));

    // A refused heartbeat registered nothing: pulls that rely on it find no subscription.
    let mut registered = pull_fields("sql_bad_group", TOPIC, "0", "0");
    registered.retain(|(key, _)| key != "sysFlag");
    registered.push(("sysFlag".into(), "0".into()));
    let answer = call(&mut client, request::PULL_MESSAGE, fields(&registered), b"").unwrap();
    assert_eq!(
        answer.code,
        response::SUBSCRIPTION_NOT_EXIST,
        "{}",
        remark(&answer)
    );

    // A good heartbeat registers the SQL92 subscription; pulls without one in the header
    // use it.
    let answer = heartbeat(&mut client, "sql_good_group", "a IS NOT NULL");
    assert_eq!(answer.code, response::SUCCESS, "{}", remark(&answer));
    let answer = check_client_config(&mut client, "a IS NOT NULL");
    assert_eq!(answer.code, response::SUCCESS, "{}", remark(&answer));
    let mut registered = pull_fields("sql_good_group", TOPIC, "0", "0");
    registered.retain(|(key, _)| key != "sysFlag");
    registered.push(("sysFlag".into(), "0".into()));
    let answer = call(&mut client, request::PULL_MESSAGE, fields(&registered), b"").unwrap();
    assert_eq!(answer.code, response::PULL_NOT_FOUND, "{}", remark(&answer));

    // Hostile expressions: answered quickly with a code, the remark echo bounded.
    let long = format!("{}a = 1{}", "(".repeat(200_000), ")".repeat(200_000));
    let answer = sql_pull(&mut client, "SQL92", &long);
    assert_eq!(answer.code, response::SUBSCRIPTION_PARSE_FAILED);
    assert!(
        remark(&answer).len() < 1024,
        "remark of {} bytes",
        remark(&answer).len()
    );
    let deep = format!("{}a = 1{}", "(".repeat(2_000), ")".repeat(2_000));
    let answer = sql_pull(&mut client, "SQL92", &deep);
    assert_eq!(answer.code, response::SUBSCRIPTION_PARSE_FAILED);
    assert!(remark(&answer).contains("nests"), "{}", remark(&answer));
    let answer = check_client_config(&mut client, &"NOT ".repeat(3_000));
    assert_eq!(answer.code, response::SUBSCRIPTION_PARSE_FAILED);

    // CHECK_CLIENT_CONFIG for TAG, without a subscription, and with a body that is no JSON.
    let tag = serde_json::json!({"clientId": "c", "group": "g",
        "subscriptionData": subscription_json("TAG", "*")});
    let answer = call(
        &mut client,
        request::CHECK_CLIENT_CONFIG,
        fields::<&str, &str>(&[]),
        tag.to_string().as_bytes(),
    )
    .unwrap();
    assert_eq!(answer.code, response::SUCCESS);
    let answer = call(
        &mut client,
        request::CHECK_CLIENT_CONFIG,
        fields::<&str, &str>(&[]),
        b"",
    )
    .unwrap();
    assert_eq!(answer.code, response::SUCCESS);
    let answer = call(
        &mut client,
        request::CHECK_CLIENT_CONFIG,
        fields::<&str, &str>(&[]),
        b"{oops",
    )
    .unwrap();
    assert_eq!(answer.code, response::SYSTEM_ERROR);
    assert!(broker.panics().is_empty(), "{:?}", broker.panics());
}

#[test]
fn property_filter_off_refuses_sql92_as_java_does() {
    let broker = StandaloneBroker::start("sql_filter_off", &[]);
    let mut client = broker.connect();
    create_topic(&mut client, TOPIC, 1);
    let refusal = "The broker does not support consumer to filter message by SQL92";

    let answer = sql_pull(&mut client, "SQL92", "a = 1");
    assert_eq!(answer.code, response::SYSTEM_ERROR);
    assert_eq!(remark(&answer), refusal);
    let answer = check_client_config(&mut client, "a = 1");
    assert_eq!(answer.code, response::SYSTEM_ERROR);
    assert_eq!(remark(&answer), refusal);
    // Java's heartbeat registers SQL92 subscriptions whatever the switch; the pulls fail.
    let answer = heartbeat(&mut client, "sql_off_group", "a = 1");
    assert_eq!(answer.code, response::SUCCESS, "{}", remark(&answer));
    let mut registered = pull_fields("sql_off_group", TOPIC, "0", "0");
    registered.retain(|(key, _)| key != "sysFlag");
    registered.push(("sysFlag".into(), "0".into()));
    let answer = call(&mut client, request::PULL_MESSAGE, fields(&registered), b"").unwrap();
    assert_eq!(answer.code, response::SYSTEM_ERROR);
    assert_eq!(remark(&answer), refusal);
    // TAG pulls are served.
    let answer = sql_pull(&mut client, "TAG", "*");
    assert_eq!(answer.code, response::PULL_NOT_FOUND, "{}", remark(&answer));
}
