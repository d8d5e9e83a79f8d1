//! plain_acl.yml parsing and the permission decisions, on signed commands.

use std::net::IpAddr;

use ramjet_net::acl::SessionCredentials;
use ramjet_net::code::request;
use ramjet_net::remoting::ExtFields;
use ramjet_net::RemotingCommand;

use super::plain::{check_permission, parse_perm, PlainAcl, DENY, PUB, SUB};
use super::resource::AccessRequest;

const YML: &str = r#"
globalWhiteRemoteAddresses:
  - 10.10.103.*
  - 192.168.0.{100,101}

accounts:
  - accessKey: RocketMQ
    secretKey: 12345678
    whiteRemoteAddress:
    admin: false
    defaultTopicPerm: DENY
    defaultGroupPerm: SUB
    topicPerms:
      - topicA=DENY
      - topicB=PUB|SUB
      - topicC=SUB
    groupPerms:
      - groupA=DENY
      - groupB=PUB|SUB
      - groupC=SUB

  - accessKey: rocketmq2
    secretKey: 12345678
    whiteRemoteAddress: 192.168.1.*
    admin: true
"#;

fn acl() -> PlainAcl {
    PlainAcl::parse(YML).unwrap()
}

fn peer() -> IpAddr {
    "127.0.0.1".parse().unwrap()
}

fn send(topic: &str) -> RemotingCommand {
    let mut fields = ExtFields::new();
    fields.insert("a", "producerGroup");
    fields.insert("b", topic);
    RemotingCommand::request(request::SEND_MESSAGE_V2)
        .with_ext_fields(fields)
        .with_body(b"body".to_vec())
}

fn signed(mut command: RemotingCommand, ak: &str, sk: &str) -> RemotingCommand {
    SessionCredentials::new(ak, sk).sign(&mut command);
    command
}

fn decide(command: &RemotingCommand) -> Result<(), String> {
    acl().validate(&AccessRequest::parse(command).unwrap(), peer())
}

#[test]
fn parses_the_sample_file() {
    let acl = acl();
    assert!(!acl.account("RocketMQ").unwrap().admin);
    assert!(acl.account("rocketmq2").unwrap().admin);
    assert!(PlainAcl::parse("").is_ok());
    assert!(PlainAcl::parse("accounts: [").is_err());
    // Keys of 6 characters or fewer are refused, as Java does.
    assert!(PlainAcl::parse("accounts:\n  - accessKey: short\n    secretKey: 12345678\n").is_err());
    assert!(PlainAcl::parse("accounts:\n  - accessKey: longenough\n    secretKey: 12345678\n    topicPerms:\n      - topicA\n").is_err());
}

#[test]
fn permission_bits() {
    assert_eq!(parse_perm(Some("PUB|SUB")), PUB | SUB);
    assert_eq!(parse_perm(Some(" SUB|PUB ")), PUB | SUB);
    assert_eq!(parse_perm(Some("nonsense")), DENY);
    assert_eq!(parse_perm(None), DENY);
    assert!(check_permission(PUB, PUB | SUB));
    assert!(!check_permission(PUB, SUB));
    assert!(!check_permission(SUB, DENY | SUB));
}

#[test]
fn sends_need_pub_on_the_topic() {
    assert_eq!(
        decide(&signed(send("topicB"), "RocketMQ", "12345678")),
        Ok(())
    );
    let denied = decide(&signed(send("topicA"), "RocketMQ", "12345678")).unwrap_err();
    assert!(denied.contains("topic:topicA"), "{denied}");
    // Not listed: defaultTopicPerm DENY.
    assert!(decide(&signed(send("other"), "RocketMQ", "12345678")).is_err());
    assert!(decide(&signed(send("topicC"), "RocketMQ", "12345678")).is_err());
}

#[test]
fn signature_and_key_failures() {
    let unsigned = decide(&send("topicB")).unwrap_err();
    assert_eq!(unsigned, "No accessKey is configured");
    let unknown = decide(&signed(send("topicB"), "nobody1", "12345678")).unwrap_err();
    assert!(unknown.contains("No acl config for nobody1"), "{unknown}");
    let wrong = decide(&signed(send("topicB"), "RocketMQ", "wrongsecret")).unwrap_err();
    assert!(wrong.contains("Check signature failed"), "{wrong}");
    let mut tampered = signed(send("topicB"), "RocketMQ", "12345678");
    tampered.ext_fields_mut().insert("b", "topicC");
    assert!(decide(&tampered)
        .unwrap_err()
        .contains("Check signature failed"));
}

#[test]
fn pulls_need_sub_on_topic_and_group() {
    let pull = |topic: &str, group: &str| {
        let mut fields = ExtFields::new();
        fields.insert("topic", topic);
        fields.insert("consumerGroup", group);
        signed(
            RemotingCommand::request(request::PULL_MESSAGE).with_ext_fields(fields),
            "RocketMQ",
            "12345678",
        )
    };
    assert_eq!(decide(&pull("topicC", "groupC")), Ok(()));
    // defaultGroupPerm SUB covers an unlisted group.
    assert_eq!(decide(&pull("topicB", "anyGroup")), Ok(()));
    let denied = decide(&pull("topicC", "groupA")).unwrap_err();
    assert!(denied.contains("group:groupA"), "{denied}");
}

#[test]
fn admin_codes_need_an_admin() {
    let create = RemotingCommand::request(request::UPDATE_AND_CREATE_TOPIC)
        .with_ext_fields(ExtFields::new());
    let refused = decide(&signed(create.clone(), "RocketMQ", "12345678")).unwrap_err();
    assert!(refused.contains("Need admin permission"), "{refused}");
    assert_eq!(decide(&signed(create, "rocketmq2", "12345678")), Ok(()));
    // The ACL admin codes are admin codes here (Java 4.9 lets any account use them).
    for code in 50..=54 {
        let edit = RemotingCommand::request(code).with_ext_fields(ExtFields::new());
        let refused = decide(&signed(edit.clone(), "RocketMQ", "12345678")).unwrap_err();
        assert!(refused.contains(&format!("code={code}")), "{refused}");
        assert_eq!(decide(&signed(edit, "rocketmq2", "12345678")), Ok(()));
    }
}

#[test]
fn edits_are_written_and_in_force_at_once() {
    let dir = std::env::temp_dir().join(format!("ramjet-acl-edit-{}", std::process::id()));
    let path = dir.join("conf").join("plain_acl.yml");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, YML).unwrap();
    let state = super::AclState::load(path.clone()).unwrap();
    assert_eq!(state.current().data_version.counter, 0);
    let config = super::AccessConfig {
        access_key: "created01".into(),
        secret_key: Some("secret0001".into()),
        ..Default::default()
    };
    let version = state.edit(&super::Edit::Update(config)).unwrap();
    assert_eq!(version.counter, 1);
    assert!(state.current().account("created01").is_some());
    assert!(state.current().account("RocketMQ").is_some());
    let on_disk = PlainAcl::parse(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert!(on_disk.account("created01").is_some());
    assert_eq!(on_disk.data_version.counter, 1);

    state
        .edit(&super::Edit::Delete("created01".into()))
        .unwrap();
    assert!(state.current().account("created01").is_none());
    assert_eq!(state.current().data_version.counter, 2);
    // Nothing changes when an edit fails.
    assert!(state
        .edit(&super::Edit::Delete("created01".into()))
        .is_err());
    assert_eq!(state.current().data_version.counter, 2);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn whitelists_skip_the_signature() {
    let acl = acl();
    let unsigned = send("topicA");
    let access = AccessRequest::parse(&unsigned).unwrap();
    assert_eq!(
        acl.validate(&access, "10.10.103.7".parse().unwrap()),
        Ok(())
    );
    assert_eq!(
        acl.validate(&access, "192.168.0.101".parse().unwrap()),
        Ok(())
    );
    // The account whitelist needs the access key but no signature.
    let mut keyed = send("topicA");
    keyed.ext_fields_mut().insert("AccessKey", "rocketmq2");
    let access = AccessRequest::parse(&keyed).unwrap();
    assert_eq!(
        acl.validate(&access, "192.168.1.9".parse().unwrap()),
        Ok(())
    );
    assert!(acl.validate(&access, peer()).is_err());
}

#[test]
fn heartbeats_need_sub_on_every_subscription() {
    let body = br#"{"clientID":"c","consumerDataSet":[{"groupName":"groupC","consumeType":"CONSUME_PASSIVELY","messageModel":"CLUSTERING","consumeFromWhere":"CONSUME_FROM_LAST_OFFSET","subscriptionDataSet":[{"topic":"topicC","subString":"*"},{"topic":"topicA","subString":"*"}],"unitMode":false}],"producerDataSet":[]}"#;
    let heartbeat = RemotingCommand::request(request::HEART_BEAT)
        .with_ext_fields(ExtFields::new())
        .with_body(body.to_vec());
    let refused = decide(&signed(heartbeat, "RocketMQ", "12345678")).unwrap_err();
    assert!(refused.contains("topic:topicA"), "{refused}");
    let garbage = RemotingCommand::request(request::HEART_BEAT)
        .with_ext_fields(ExtFields::new())
        .with_body(b"{not json".to_vec());
    assert!(AccessRequest::parse(&garbage).is_err());
}
