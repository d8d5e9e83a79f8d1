//! Request and response codes, with the numbers of RocketMQ's `RequestCode.java` and
//! `ResponseCode.java` (remoting-protocol.md sections 4 and 5).
//!
//! Codes travel as plain integers; these are named constants rather than enums because an
//! unknown request code is normal input (it gets REQUEST_CODE_NOT_SUPPORTED), not an error.

/// Request codes a name server, broker or client may send.
pub mod request {
    pub const PUT_KV_CONFIG: i32 = 100;
    pub const GET_KV_CONFIG: i32 = 101;
    pub const DELETE_KV_CONFIG: i32 = 102;
    pub const REGISTER_BROKER: i32 = 103;
    pub const UNREGISTER_BROKER: i32 = 104;
    pub const GET_ROUTEINFO_BY_TOPIC: i32 = 105;
    pub const GET_BROKER_CLUSTER_INFO: i32 = 106;
    pub const WIPE_WRITE_PERM_OF_BROKER: i32 = 205;
    pub const GET_ALL_TOPIC_LIST_FROM_NAMESERVER: i32 = 206;
    pub const DELETE_TOPIC_IN_NAMESRV: i32 = 216;
    pub const REGISTER_TOPIC_IN_NAMESRV: i32 = 217;
    pub const GET_KVLIST_BY_NAMESPACE: i32 = 219;
    pub const GET_TOPICS_BY_CLUSTER: i32 = 224;
    pub const GET_SYSTEM_TOPIC_LIST_FROM_NS: i32 = 304;
    pub const UPDATE_NAMESRV_CONFIG: i32 = 318;
    pub const GET_NAMESRV_CONFIG: i32 = 319;
    pub const QUERY_DATA_VERSION: i32 = 322;
    pub const ADD_WRITE_PERM_OF_BROKER: i32 = 327;
    pub const GET_UNIT_TOPIC_LIST: i32 = 311;
    pub const GET_HAS_UNIT_SUB_TOPIC_LIST: i32 = 312;
    pub const GET_HAS_UNIT_SUB_UNUNIT_TOPIC_LIST: i32 = 313;
    pub const BROKER_HEARTBEAT: i32 = 904;

    pub const SEND_MESSAGE: i32 = 10;
    pub const PULL_MESSAGE: i32 = 11;
    pub const QUERY_MESSAGE: i32 = 12;
    pub const QUERY_CONSUMER_OFFSET: i32 = 14;
    pub const UPDATE_CONSUMER_OFFSET: i32 = 15;
    pub const UPDATE_AND_CREATE_TOPIC: i32 = 17;
    pub const GET_ALL_TOPIC_CONFIG: i32 = 21;
    pub const UPDATE_BROKER_CONFIG: i32 = 25;
    pub const GET_BROKER_CONFIG: i32 = 26;
    pub const GET_BROKER_RUNTIME_INFO: i32 = 28;
    pub const SEARCH_OFFSET_BY_TIMESTAMP: i32 = 29;
    pub const GET_MAX_OFFSET: i32 = 30;
    pub const GET_MIN_OFFSET: i32 = 31;
    pub const GET_EARLIEST_MSG_STORETIME: i32 = 32;
    pub const VIEW_MESSAGE_BY_ID: i32 = 33;
    pub const HEART_BEAT: i32 = 34;
    pub const UNREGISTER_CLIENT: i32 = 35;
    pub const CONSUMER_SEND_MSG_BACK: i32 = 36;
    pub const END_TRANSACTION: i32 = 37;
    pub const GET_CONSUMER_LIST_BY_GROUP: i32 = 38;
    pub const CHECK_TRANSACTION_STATE: i32 = 39;
    pub const NOTIFY_CONSUMER_IDS_CHANGED: i32 = 40;
    pub const LOCK_BATCH_MQ: i32 = 41;
    pub const UNLOCK_BATCH_MQ: i32 = 42;
    pub const GET_ALL_CONSUMER_OFFSET: i32 = 43;
    pub const GET_ALL_DELAY_OFFSET: i32 = 45;
    pub const CHECK_CLIENT_CONFIG: i32 = 46;
    /// RocketMQ 5's timer checkpoint, asked by a slave (docs/replication.md).
    pub const GET_TIMER_CHECK_POINT: i32 = 60;
    /// ACL 1.0 administration (docs/acl.md).
    pub const UPDATE_AND_CREATE_ACL_CONFIG: i32 = 50;
    pub const DELETE_ACL_CONFIG: i32 = 51;
    pub const GET_BROKER_CLUSTER_ACL_INFO: i32 = 52;
    pub const UPDATE_GLOBAL_WHITE_ADDRS_CONFIG: i32 = 53;
    /// 4.9.0 to 4.9.7 (gone from the 4.9.x branch afterwards).
    pub const GET_BROKER_CLUSTER_ACL_CONFIG: i32 = 54;
    pub const UPDATE_AND_CREATE_SUBSCRIPTIONGROUP: i32 = 200;
    pub const GET_ALL_SUBSCRIPTIONGROUP_CONFIG: i32 = 201;
    pub const GET_TOPIC_STATS_INFO: i32 = 202;
    pub const GET_CONSUMER_CONNECTION_LIST: i32 = 203;
    pub const GET_PRODUCER_CONNECTION_LIST: i32 = 204;
    pub const DELETE_SUBSCRIPTIONGROUP: i32 = 207;
    pub const GET_CONSUME_STATS: i32 = 208;
    /// mqadmin asks the broker to move an online group's offsets (`resetOffsetByTime`).
    pub const INVOKE_BROKER_TO_RESET_OFFSET: i32 = 222;
    /// The broker tells each online consumer of the group its new offsets (oneway).
    pub const RESET_CONSUMER_CLIENT_OFFSET: i32 = 220;
    pub const DELETE_TOPIC_IN_BROKER: i32 = 215;
    pub const QUERY_TOPIC_CONSUME_BY_WHO: i32 = 300;
    /// Admin -> broker -> one consumer client, relayed: the client's ConsumerRunningInfo.
    pub const GET_CONSUMER_RUNNING_INFO: i32 = 307;
    /// Admin -> broker -> one consumer client, relayed: consume one stored message now.
    pub const CONSUME_MESSAGE_DIRECTLY: i32 = 309;
    /// BrokerStatsManager's minute/hour/day windows of one stats item (`mqadmin statsAll`).
    pub const VIEW_BROKER_STATS_DATA: i32 = 315;
    /// Every group's ConsumeStats on this broker (ConsumeStatsList).
    pub const GET_BROKER_CONSUME_STATS: i32 = 317;
    pub const SEND_MESSAGE_V2: i32 = 310;
    pub const SEND_BATCH_MESSAGE: i32 = 320;
    pub const GET_TOPIC_CONFIG: i32 = 351;
    pub const LITE_PULL_MESSAGE: i32 = 361;
}

/// Response codes (`RemotingSysResponseCode` and `ResponseCode`).
pub mod response {
    pub const SUCCESS: i32 = 0;
    pub const SYSTEM_ERROR: i32 = 1;
    pub const SYSTEM_BUSY: i32 = 2;
    pub const REQUEST_CODE_NOT_SUPPORTED: i32 = 3;
    pub const TRANSACTION_FAILED: i32 = 4;
    pub const FLUSH_DISK_TIMEOUT: i32 = 10;
    pub const SLAVE_NOT_AVAILABLE: i32 = 11;
    pub const FLUSH_SLAVE_TIMEOUT: i32 = 12;
    pub const MESSAGE_ILLEGAL: i32 = 13;
    pub const SERVICE_NOT_AVAILABLE: i32 = 14;
    pub const VERSION_NOT_SUPPORTED: i32 = 15;
    pub const NO_PERMISSION: i32 = 16;
    pub const TOPIC_NOT_EXIST: i32 = 17;
    pub const TOPIC_EXIST_ALREADY: i32 = 18;
    pub const PULL_NOT_FOUND: i32 = 19;
    pub const PULL_RETRY_IMMEDIATELY: i32 = 20;
    pub const PULL_OFFSET_MOVED: i32 = 21;
    pub const QUERY_NOT_FOUND: i32 = 22;
    pub const SUBSCRIPTION_PARSE_FAILED: i32 = 23;
    pub const SUBSCRIPTION_NOT_EXIST: i32 = 24;
    pub const SUBSCRIPTION_NOT_LATEST: i32 = 25;
    pub const SUBSCRIPTION_GROUP_NOT_EXIST: i32 = 26;
    pub const INVALID_PARAMETER: i32 = 29;
    pub const CONSUMER_NOT_ONLINE: i32 = 206;
    /// A relayed broker-to-client request (307, 309) got no answer in time.
    pub const CONSUME_MSG_TIMEOUT: i32 = 207;
    pub const UPDATE_AND_CREATE_ACL_CONFIG_FAILED: i32 = 209;
    pub const DELETE_ACL_CONFIG_FAILED: i32 = 210;
    pub const UPDATE_GLOBAL_WHITE_ADDRS_CONFIG_FAILED: i32 = 211;
    /// 5.x: an END_TRANSACTION refused (past the check immunity time, already resolved).
    pub const ILLEGAL_OPERATION: i32 = 604;
}

/// `MQVersion.Version` ordinals (remoting-protocol.md section 1.6). Responses carry the
/// responder's version; clients gate features on it, so it must never be 0.
pub mod version {
    pub const V4_9_4: i32 = 401;
    pub const V5_3_3: i32 = 479;
    /// What Ramjet reports as its own version: the newest protocol revision it follows.
    pub const CURRENT: i32 = V5_3_3;
    pub const CURRENT_DESC: &str = "V5_3_3";

    /// First ordinal of the regular part of `MQVersion.Version`: `V4_0_0_SNAPSHOT`. From
    /// there on every release x.y.z (y, z in 0..=9) takes two ordinals, its SNAPSHOT and
    /// itself.
    const V4_0_0_SNAPSHOT: i32 = 212;
    /// `HIGHER_VERSION`, after `V5_9_9`.
    const HIGHER_VERSION: i32 = V4_0_0_SNAPSHOT + 2 * 200;

    /// `MQVersion.getVersionDesc`: the name of an ordinal, such as `V5_3_3` for 479. 3.x
    /// ordinals do not follow a pattern and print as `V3(<ordinal>)`.
    pub fn desc(ordinal: i32) -> String {
        if ordinal >= HIGHER_VERSION {
            return "HIGHER_VERSION".to_owned();
        }
        if ordinal < V4_0_0_SNAPSHOT {
            return format!("V3({ordinal})");
        }
        let index = ordinal - V4_0_0_SNAPSHOT;
        let release = index / 2;
        let (major, minor, patch) = (4 + release / 100, release / 10 % 10, release % 10);
        let snapshot = if index % 2 == 0 { "_SNAPSHOT" } else { "" };
        format!("V{major}_{minor}_{patch}{snapshot}")
    }
}
