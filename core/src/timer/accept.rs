//! The send-path hook: `HookUtils.handleScheduleMessage` / `transformTimerMessage` for
//! timer messages. Called once per send, right after the put is built.

use ramjet_store::message::sys_flag::{
    transaction_type, TRANSACTION_COMMIT_TYPE, TRANSACTION_NOT_TYPE,
};
use ramjet_store::{MessageRecord, Properties};

use super::*;
use crate::config::BrokerConfig;
use crate::error::{BrokerError, BrokerResult};
use crate::shard_request::PutRequest;
use crate::topic_config_manager::now_ms;

/// Diverts a timer message due later into the timer queue, or refuses it. Everything else
/// (batches, PREPARED/ROLLBACK halves, delay-level messages, due-now messages) is left as
/// it is. A delay level wins over timer properties, which are then dropped, as in Java.
pub fn divert_on_send(config: &BrokerConfig, put: &mut PutRequest) -> BrokerResult<()> {
    if put.topic == TIMER_TOPIC {
        // Java lets a client write the timer queue directly, which would let it forge
        // REAL_TOPIC; only the broker writes it here.
        return Err(BrokerError::NoPermission(format!(
            "Sending message to topic[{TIMER_TOPIC}] is forbidden."
        )));
    }
    // Java's hook runs for single-message puts only (batches keep their properties).
    if put.batch || put.records.len() != 1 {
        return Ok(());
    }
    let record = &mut put.records[0];
    let Some(deliver_ms) = check(config, record, now_ms())? else {
        return Ok(());
    };
    hold_until(record, deliver_ms, config.timer.precision_ms);
    put.topic = TIMER_TOPIC.to_owned();
    put.queue_id = 0;
    Ok(())
}

/// `checkIfTimerMessage` + the checks of `transformTimerMessage`: `Some(deliver_ms)` for a
/// message to hold, `None` for one to store as it is.
fn check(config: &BrokerConfig, record: &mut MessageRecord, now: i64) -> BrokerResult<Option<i64>> {
    let tran_type = transaction_type(record.sys_flag);
    if tran_type != TRANSACTION_NOT_TYPE && tran_type != TRANSACTION_COMMIT_TYPE {
        return Ok(None);
    }
    let properties = &mut record.properties;
    if delay_level(properties) > 0 {
        for name in [
            PROPERTY_TIMER_DELIVER_MS,
            PROPERTY_TIMER_DELAY_SEC,
            PROPERTY_TIMER_DELAY_MS,
        ] {
            properties.remove(name);
        }
        return Ok(None);
    }
    // Already converted (a delivered timer message sent back, say): not again.
    if properties.get(PROPERTY_TIMER_OUT_MS).is_some() || !is_timer_message(properties) {
        return Ok(None);
    }
    if !config.timer.wheel_enable {
        return Err(BrokerError::FeatureOff(
            "accurate timer message is not enabled, timerWheelEnable is false".into(),
        ));
    }
    let max_delay_ms = config.timer.max_delay_sec.saturating_mul(1000);
    let illegal = |problem: String| {
        BrokerError::MessageIllegal(format!(
            "timer message illegal, the delay time should not be bigger than the max delay \
             {max_delay_ms}ms; or if set del msg, the delay time should be bigger than the \
             current time ({problem})"
        ))
    };
    let deliver_ms = deliver_ms(properties, now).map_err(illegal)?;
    if deliver_ms <= now {
        if properties.get(PROPERTY_TIMER_DEL_UNIQKEY).is_some() {
            return Err(illegal("a delete marker whose time has passed".into()));
        }
        return Ok(None);
    }
    if deliver_ms - now > max_delay_ms {
        return Err(illegal(format!(
            "due in {}ms, timerMaxDelaySec is {}",
            deliver_ms - now,
            config.timer.max_delay_sec
        )));
    }
    if properties.get(PROPERTY_TIMER_DEL_UNIQKEY).is_some() {
        // Cancelling a pending timer message is not built; accepting the marker would
        // promise a cancellation that never happens.
        return Err(BrokerError::NotSupported(
            "deleting timer messages (TIMER_DEL_UNIQKEY) is not supported".into(),
        ));
    }
    Ok(Some(deliver_ms))
}

pub fn is_timer_message(properties: &Properties) -> bool {
    [
        PROPERTY_TIMER_DELIVER_MS,
        PROPERTY_TIMER_DELAY_SEC,
        PROPERTY_TIMER_DELAY_MS,
    ]
    .iter()
    .any(|name| properties.get(name).is_some())
}

/// `Message.getDelayTimeLevel`: the DELAY property, 0 when absent or not a number.
fn delay_level(properties: &Properties) -> i32 {
    properties
        .get(PROPERTY_DELAY_TIME_LEVEL)
        .and_then(|level| level.parse().ok())
        .unwrap_or(0)
}

/// The deliver time of a timer message whose relative delays count from `base_ms`
/// (`transformTimerMessage`: TIMER_DELAY_SEC first, then TIMER_DELAY_MS, then
/// TIMER_DELIVER_MS). The error names the bad property.
pub fn deliver_ms(properties: &Properties, base_ms: i64) -> Result<i64, String> {
    let parse = |name: &str| -> Result<Option<i64>, String> {
        match properties.get(name) {
            None => Ok(None),
            Some(text) => text
                .parse::<i64>()
                .map(Some)
                .map_err(|_| format!("{name}={text:?} is not a number")),
        }
    };
    let overflow = |name: &str| format!("{name} is out of range");
    if let Some(sec) = parse(PROPERTY_TIMER_DELAY_SEC)? {
        return sec
            .checked_mul(1000)
            .and_then(|ms| base_ms.checked_add(ms))
            .ok_or_else(|| overflow(PROPERTY_TIMER_DELAY_SEC));
    }
    if let Some(ms) = parse(PROPERTY_TIMER_DELAY_MS)? {
        return base_ms
            .checked_add(ms)
            .ok_or_else(|| overflow(PROPERTY_TIMER_DELAY_MS));
    }
    parse(PROPERTY_TIMER_DELIVER_MS)?.ok_or_else(|| "no timer property".to_owned())
}

/// The deliver time of a stored timer record: its relative delay counts from the time the
/// record was stored, which is after the send was accepted, so it is never early. A record
/// without a readable timer property falls back on `TIMER_OUT_MS`.
pub fn stored_deliver_ms(properties: &Properties, store_timestamp: i64) -> Option<i64> {
    deliver_ms(properties, store_timestamp).ok().or_else(|| {
        properties
            .get(PROPERTY_TIMER_OUT_MS)
            .and_then(|text| text.parse().ok())
    })
}

/// `transformTimerMessage`'s rewrite: TIMER_OUT_MS (rounded to the precision as Java
/// does), REAL_TOPIC, REAL_QID, and the timer queue as the destination.
fn hold_until(record: &mut MessageRecord, deliver_ms: i64, precision_ms: i64) {
    let precision_ms = precision_ms.max(1);
    let timer_out_ms = if deliver_ms % precision_ms == 0 {
        deliver_ms - precision_ms
    } else {
        deliver_ms / precision_ms * precision_ms
    };
    let properties = &mut record.properties;
    properties.set(PROPERTY_TIMER_OUT_MS, &timer_out_ms.to_string());
    properties.set(PROPERTY_REAL_TOPIC, &record.topic);
    properties.set(PROPERTY_REAL_QUEUE_ID, &record.queue_id.to_string());
    record.topic = TIMER_TOPIC.to_owned();
    record.queue_id = 0;
}

#[cfg(test)]
mod tests {
    use super::*;
    use ramjet_store::message::sys_flag::TRANSACTION_PREPARED_TYPE;

    fn record(properties: &[(&str, &str)]) -> MessageRecord {
        let mut props = Properties::new();
        for (name, value) in properties {
            props.set(name, value);
        }
        MessageRecord {
            topic: "T".into(),
            queue_id: 3,
            flag: 0,
            body: bytes::Bytes::from_static(b"x"),
            properties: props,
            sys_flag: 0,
            born_timestamp: 0,
            born_host: "127.0.0.1:1".parse().unwrap(),
            store_host: "127.0.0.1:2".parse().unwrap(),
            reconsume_times: 0,
            prepared_transaction_offset: 0,
        }
    }

    fn put(properties: &[(&str, &str)]) -> PutRequest {
        PutRequest {
            topic: "T".into(),
            queue_id: 3,
            records: vec![record(properties)],
            batch: false,
        }
    }

    #[test]
    fn a_delayed_message_goes_to_the_timer_queue() {
        let config = BrokerConfig::default();
        let mut p = put(&[(PROPERTY_TIMER_DELAY_SEC, "30")]);
        let before = now_ms();
        divert_on_send(&config, &mut p).unwrap();
        assert_eq!((p.topic.as_str(), p.queue_id), (TIMER_TOPIC, 0));
        let r = &p.records[0];
        assert_eq!((r.topic.as_str(), r.queue_id), (TIMER_TOPIC, 0));
        assert_eq!(r.properties.get(PROPERTY_REAL_TOPIC), Some("T"));
        assert_eq!(r.properties.get(PROPERTY_REAL_QUEUE_ID), Some("3"));
        let out: i64 = r
            .properties
            .get(PROPERTY_TIMER_OUT_MS)
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(out % 1000, 0);
        assert!(out >= before + 29_000 && out <= now_ms() + 30_000, "{out}");
    }

    #[test]
    fn timer_out_ms_is_rounded_as_java_rounds() {
        let mut r = record(&[]);
        hold_until(&mut r, 5_000, 1000);
        assert_eq!(r.properties.get(PROPERTY_TIMER_OUT_MS), Some("4000"));
        let mut r = record(&[]);
        hold_until(&mut r, 5_001, 1000);
        assert_eq!(r.properties.get(PROPERTY_TIMER_OUT_MS), Some("5000"));
    }

    #[test]
    fn what_is_not_held() {
        let config = BrokerConfig::default();
        // Due now or in the past: stored as sent.
        for props in [
            vec![(PROPERTY_TIMER_DELIVER_MS, "1")],
            vec![(PROPERTY_TIMER_DELAY_MS, "-5")],
            vec![],
        ] {
            let mut p = put(&props);
            divert_on_send(&config, &mut p).unwrap();
            assert_eq!(p.topic, "T");
        }
        // A delay level wins and the timer properties go.
        let mut p = put(&[
            (PROPERTY_TIMER_DELAY_SEC, "30"),
            (PROPERTY_DELAY_TIME_LEVEL, "2"),
        ]);
        divert_on_send(&config, &mut p).unwrap();
        assert_eq!(p.topic, "T");
        assert!(!is_timer_message(&p.records[0].properties));
        // PREPARED halves are the transaction's business.
        let mut p = put(&[(PROPERTY_TIMER_DELAY_SEC, "30")]);
        p.records[0].sys_flag = TRANSACTION_PREPARED_TYPE;
        divert_on_send(&config, &mut p).unwrap();
        assert_eq!(p.topic, "T");
        // Batches are stored as they are.
        let mut p = put(&[(PROPERTY_TIMER_DELAY_SEC, "30")]);
        p.batch = true;
        divert_on_send(&config, &mut p).unwrap();
        assert_eq!(p.topic, "T");
        // Already converted once.
        let mut p = put(&[
            (PROPERTY_TIMER_DELAY_SEC, "30"),
            (PROPERTY_TIMER_OUT_MS, "1"),
        ]);
        divert_on_send(&config, &mut p).unwrap();
        assert_eq!(p.topic, "T");
    }

    #[test]
    fn refusals_name_the_problem() {
        let config = BrokerConfig::default();
        let too_far = (config.timer.max_delay_sec + 10).to_string();
        for (props, fragment) in [
            (
                vec![(PROPERTY_TIMER_DELAY_SEC, too_far.as_str())],
                "timerMaxDelaySec",
            ),
            (vec![(PROPERTY_TIMER_DELAY_SEC, "soon")], "is not a number"),
            (
                vec![(PROPERTY_TIMER_DELAY_SEC, "9223372036854775807")],
                "out of range",
            ),
            (vec![(PROPERTY_TIMER_DELIVER_MS, "")], "is not a number"),
        ] {
            let mut p = put(&props);
            match divert_on_send(&config, &mut p) {
                Err(BrokerError::MessageIllegal(remark)) => {
                    assert!(remark.contains(fragment), "{remark}");
                    assert!(remark.starts_with("timer message illegal"), "{remark}");
                }
                other => panic!("{props:?}: {other:?}"),
            }
        }
        let mut off = BrokerConfig::default();
        off.timer.wheel_enable = false;
        let mut p = put(&[(PROPERTY_TIMER_DELAY_SEC, "30")]);
        assert!(matches!(
            divert_on_send(&off, &mut p),
            Err(BrokerError::FeatureOff(_))
        ));
        let mut p = put(&[]);
        p.topic = TIMER_TOPIC.into();
        assert!(matches!(
            divert_on_send(&config, &mut p),
            Err(BrokerError::NoPermission(_))
        ));
    }
}
