//! GET_BROKER_CONSUME_STATS (317), `mqadmin brokerConsumeStats`: every subscription group's
//! ConsumeStats per topic it committed offsets on, and the broker's total lag
//! (AdminBrokerProcessor.fetchAllConsumeStatsInBroker).

use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use ramjet_net::body::{ConsumeStatsList, WireBody};
use ramjet_net::header::{CommandHeader, GetConsumeStatsInBrokerHeader};
use ramjet_net::RemotingCommand;

use super::stats::gather_consume_stats;
use crate::error::{BrokerError, BrokerResult};
use crate::response_code::success;
use crate::shard::BrokerShard;
use crate::shard_request::{PartReply, PartRequest};

pub async fn broker_consume_stats(
    shard: &Rc<BrokerShard>,
    request: &RemotingCommand,
) -> BrokerResult<RemotingCommand> {
    let header =
        GetConsumeStatsInBrokerHeader::decode(request.fields()).map_err(BrokerError::bad_header)?;
    // whichTopicByConsumer: the topics each group committed an offset on, from every shard.
    let mut committed: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for part in shard.parts(|| PartRequest::ConsumerOffsets).await? {
        if let PartReply::ConsumerOffsets(part) = part {
            for key in part.into_keys() {
                if let Some((topic, group)) = key.split_once('@') {
                    committed
                        .entry(group.to_owned())
                        .or_default()
                        .insert(topic.to_owned());
                }
            }
        }
    }
    let snapshot = shard.snapshot();
    let mut groups: Vec<&String> = snapshot.groups.keys().collect();
    groups.sort();
    let mut list = ConsumeStatsList {
        broker_addr: shard.config().broker_addr(),
        ..Default::default()
    };
    for group in groups {
        let subscriptions = snapshot.subscriptions.get(group.as_str());
        let mut per_topic = Vec::new();
        for topic in committed.get(group.as_str()).into_iter().flatten() {
            let Some(config) = snapshot.topics.get(topic) else {
                continue;
            };
            if header.is_order && !config.order {
                continue;
            }
            // An online group answers only for what it subscribes now; an offline one
            // (no subscription registered) for every topic it committed on.
            if let Some(subscribed) = subscriptions.filter(|s| !s.is_empty()) {
                if !subscribed.contains_key(topic) {
                    continue;
                }
            }
            let stats = gather_consume_stats(shard, group, vec![topic.clone()], false).await?;
            list.total_diff += stats.total_diff();
            per_topic.push(stats);
        }
        list.consume_stats_list.push((group.clone(), per_topic));
    }
    Ok(success(request).with_body(list.encode()))
}
