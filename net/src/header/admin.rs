//! Headers of the broker's admin codes, used by mqadmin and dashboards
//! (remoting-protocol.md section 4.3).

use super::macros::command_header;

command_header! {
    /// UPDATE_AND_CREATE_TOPIC (17).
    pub struct CreateTopicRequestHeader {
        topic: String = "topic",
        default_topic: String = "defaultTopic",
        read_queue_nums: i32 = "readQueueNums",
        write_queue_nums: i32 = "writeQueueNums",
        perm: i32 = "perm",
        topic_filter_type: String = "topicFilterType",
        topic_sys_flag: Option<i32> = "topicSysFlag",
        order: bool = "order",
        attributes: Option<String> = "attributes",
        force: Option<bool> = "force",
    }
}

command_header! {
    /// Codes that name one topic: DELETE_TOPIC_IN_BROKER (215), GET_TOPIC_STATS_INFO (202),
    /// GET_TOPIC_CONFIG (351), QUERY_TOPIC_CONSUME_BY_WHO (300).
    pub struct TopicRequestHeader {
        topic: String = "topic",
    }
}

command_header! {
    /// GET_CONSUME_STATS (208).
    pub struct GetConsumeStatsRequestHeader {
        consumer_group: String = "consumerGroup",
        topic: Option<String> = "topic",
    }
}

command_header! {
    /// GET_BROKER_CONSUME_STATS (317): `isOrder` keeps only orderly topics.
    pub struct GetConsumeStatsInBrokerHeader {
        is_order: bool = "isOrder",
    }
}

command_header! {
    /// GET_PRODUCER_CONNECTION_LIST (204).
    pub struct GetProducerConnectionListRequestHeader {
        producer_group: String = "producerGroup",
    }
}

command_header! {
    /// DELETE_SUBSCRIPTIONGROUP (207).
    pub struct DeleteSubscriptionGroupRequestHeader {
        group_name: String = "groupName",
        clean_offset: Option<bool> = "cleanOffset",
    }
}

command_header! {
    /// GET_ALL_TOPIC_CONFIG response (5.x).
    pub struct GetAllTopicConfigResponseHeader {
        total_topic_num: Option<i32> = "totalTopicNum",
    }
}

command_header! {
    /// GET_BROKER_CONFIG response: the DataVersion JSON of the broker's config.
    pub struct GetBrokerConfigResponseHeader {
        version: Option<String> = "version",
    }
}

command_header! {
    /// INVOKE_BROKER_TO_RESET_OFFSET (222) from mqadmin, and RESET_CONSUMER_CLIENT_OFFSET
    /// (220) from the broker to its clients. `queueId` and `offset` are 5.x's: a queue id of
    /// -1 (what 5.x writes when it means every queue) or none resets every queue; an offset
    /// of -1 or none means "search by `timestamp`".
    pub struct ResetOffsetRequestHeader {
        topic: String = "topic",
        group: String = "group",
        timestamp: i64 = "timestamp",
        is_force: bool = "isForce",
        queue_id: Option<i32> = "queueId",
        offset: Option<i64> = "offset",
    }
}

command_header! {
    /// CONSUME_MESSAGE_DIRECTLY (309), from an admin to the broker and, relayed, from the
    /// broker to one consumer client. The broker adds `brokerName`, `topicSysFlag` and
    /// `groupSysFlag` before relaying (AdminBrokerProcessor.consumeMessageDirectly).
    pub struct ConsumeMessageDirectlyResultRequestHeader {
        consumer_group: String = "consumerGroup",
        client_id: Option<String> = "clientId",
        msg_id: Option<String> = "msgId",
        broker_name: Option<String> = "brokerName",
        topic: Option<String> = "topic",
        topic_sys_flag: Option<i32> = "topicSysFlag",
        group_sys_flag: Option<i32> = "groupSysFlag",
    }
}

command_header! {
    /// GET_CONSUMER_RUNNING_INFO (307), from an admin to the broker and, relayed, to the
    /// client. `jstackEnable` is a Java primitive: absent reads as false.
    pub struct GetConsumerRunningInfoRequestHeader {
        consumer_group: String = "consumerGroup",
        client_id: String = "clientId",
        jstack_enable: Option<bool> = "jstackEnable",
    }
}

command_header! {
    /// VIEW_BROKER_STATS_DATA (315): one BrokerStatsManager item by name and key.
    pub struct ViewBrokerStatsDataRequestHeader {
        stats_name: String = "statsName",
        stats_key: String = "statsKey",
    }
}
