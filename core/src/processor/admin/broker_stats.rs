//! VIEW_BROKER_STATS_DATA (315): one BrokerStatsManager item's minute, hour and day
//! windows (`AdminBrokerProcessor.ViewBrokerStatsData`), added up over the shards
//! (`stats::broker_stats`). `mqadmin statsAll` reads TOPIC_PUT_NUMS by topic and
//! GROUP_GET_NUMS by `topic@group`.

use std::rc::Rc;

use ramjet_net::header::{CommandHeader, ViewBrokerStatsDataRequestHeader};
use ramjet_net::RemotingCommand;
use serde_json::json;

use crate::error::{BrokerError, BrokerResult};
use crate::response_code::success;
use crate::shard::BrokerShard;
use crate::shard_request::{PartReply, PartRequest};
use crate::stats::broker_stats::{ItemStats, WindowStats};

pub async fn view_broker_stats_data(
    shard: &Rc<BrokerShard>,
    request: &RemotingCommand,
) -> BrokerResult<RemotingCommand> {
    let header = ViewBrokerStatsDataRequestHeader::decode(request.fields())
        .map_err(BrokerError::bad_header)?;
    let parts = shard
        .parts(|| PartRequest::BrokerStats {
            name: header.stats_name.clone(),
            key: header.stats_key.clone(),
        })
        .await?;
    let mut total: Option<ItemStats> = None;
    for part in parts {
        match part {
            PartReply::BrokerStats(Some(item)) => {
                let sum = total.get_or_insert_with(ItemStats::default);
                sum.minute.add(&item.minute);
                sum.hour.add(&item.hour);
                sum.day.add(&item.day);
            }
            PartReply::BrokerStats(None) => {}
            _ => return Err(BrokerError::Internal("expected BrokerStats parts".into())),
        }
    }
    let Some(total) = total else {
        return Err(BrokerError::Refused(format!(
            "The stats <{}> <{}> not exist",
            header.stats_name, header.stats_key
        )));
    };
    Ok(success(request).with_body(body(&total)))
}

/// `BrokerStatsData` as fastjson writes it: statsDay, statsHour, statsMinute, each a
/// `BrokerStatsItem {avgpt, sum, tps}`.
fn body(stats: &ItemStats) -> Vec<u8> {
    let item = |window: &WindowStats| json!({"avgpt": window.avgpt(), "sum": window.sum, "tps": window.tps});
    serde_json::to_vec(&json!({
        "statsDay": item(&stats.day),
        "statsHour": item(&stats.hour),
        "statsMinute": item(&stats.minute),
    }))
    .unwrap_or_default()
}
