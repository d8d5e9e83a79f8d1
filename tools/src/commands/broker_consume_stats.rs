//! `brokerConsumeStats` (Java's `BrokerConsumeStatsSubCommad`): every group's lag on one
//! broker, from GET_BROKER_CONSUME_STATS (317), printed as Java prints it.

use std::time::Duration;

use clap::Args;
use ramjet_net::body::ConsumeStatsList;
use ramjet_net::code::request;
use ramjet_net::header::{CommandHeader, GetConsumeStatsInBrokerHeader};
use ramjet_net::RemotingCommand;

use crate::error::AdminResult;
use crate::format::front;
use crate::remote::{expect_success, read_body, Remote};
use crate::time::date_time;

#[derive(Args, Debug)]
pub struct BrokerConsumeStats {
    /// Broker address
    #[arg(short = 'b', long = "brokerAddr")]
    broker: String,
    /// request timeout Millis
    #[arg(short = 't', long = "timeoutMillis", default_value_t = 50_000)]
    timeout_millis: u64,
    /// threshold of print diff
    #[arg(short = 'l', long = "level", default_value_t = 0)]
    level: i64,
    /// order topic
    #[arg(short = 'o', long = "order", default_value = "false")]
    order: String,
}

pub fn broker_consume_stats(remote: &mut Remote, args: &BrokerConsumeStats) -> AdminResult<()> {
    let addr = args.broker.trim();
    // Java's Boolean.parseBoolean: anything but "true" (any case) is false.
    let header = GetConsumeStatsInBrokerHeader {
        is_order: args.order.trim().eq_ignore_ascii_case("true"),
    };
    let request = RemotingCommand::request(request::GET_BROKER_CONSUME_STATS)
        .with_ext_fields(header.to_ext_fields());
    let response =
        remote.invoke_broker_within(addr, request, Duration::from_millis(args.timeout_millis))?;
    let response = expect_success("GET_BROKER_CONSUME_STATS", addr, response)?;
    let list: ConsumeStatsList = read_body("GET_BROKER_CONSUME_STATS", addr, &response.body)?;
    print!("{}", render(&list, args.level));
    Ok(())
}

/// Java's table: queues whose lag reaches `level` and that were ever consumed
/// (lastTimestamp > 0), then the broker's total lag.
fn render(list: &ConsumeStatsList, level: i64) -> String {
    let mut out = format!(
        "{:<64}  {:<64}  {:<32}  {:<4}  {:<20}  {:<20}  {:<20}  {}\n",
        "#Topic",
        "#Group",
        "#Broker Name",
        "#QID",
        "#Broker Offset",
        "#Consumer Offset",
        "#Diff",
        "#LastTime"
    );
    for (group, stats) in &list.consume_stats_list {
        for one in stats {
            // BTreeMap order is MessageQueue.compareTo's, as Java sorts.
            for (queue, offsets) in &one.offset_table {
                let diff = offsets.broker_offset - offsets.consumer_offset;
                if diff < level || offsets.last_timestamp <= 0 {
                    continue;
                }
                out.push_str(&format!(
                    "{:<64}  {:<64}  {:<32}  {:<4}  {:<20}  {:<20}  {:<20}  {}\n",
                    front(&queue.topic, 64),
                    group,
                    front(&queue.broker_name, 32),
                    queue.queue_id,
                    offsets.broker_offset,
                    offsets.consumer_offset,
                    diff,
                    date_time(offsets.last_timestamp)
                ));
            }
        }
    }
    out.push_str(&format!("\nDiff Total: {}\n", list.total_diff));
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use ramjet_net::body::{ConsumeStats, MessageQueue, OffsetWrapper};

    use super::*;

    #[test]
    fn prints_consumed_queues_over_the_level_and_the_total() {
        let wrapper = |broker_offset, consumer_offset, last_timestamp| OffsetWrapper {
            broker_offset,
            consumer_offset,
            last_timestamp,
            pull_offset: 0,
        };
        let list = ConsumeStatsList {
            broker_addr: "127.0.0.1:10911".into(),
            consume_stats_list: vec![(
                "G".into(),
                vec![ConsumeStats {
                    consume_tps: 0.0,
                    offset_table: BTreeMap::from([
                        (
                            MessageQueue::new("T", "b", 0),
                            wrapper(10, 4, 1_700_000_000_000),
                        ),
                        (
                            MessageQueue::new("T", "b", 1),
                            wrapper(3, 3, 1_700_000_000_000),
                        ),
                        // Never consumed: Java skips it.
                        (MessageQueue::new("T", "b", 2), wrapper(7, 0, 0)),
                    ]),
                }],
            )],
            total_diff: 13,
        };
        let text = render(&list, 1);
        let rows: Vec<&str> = text.lines().collect();
        assert!(rows[0].starts_with("#Topic"));
        assert_eq!(rows.len(), 4, "{text}");
        let fields: Vec<&str> = rows[1].split_whitespace().collect();
        assert_eq!(&fields[..7], ["T", "G", "b", "0", "10", "4", "6"]);
        assert_eq!(rows[3], "Diff Total: 13");
    }
}
