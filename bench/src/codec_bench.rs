//! `mqbench codec`: CPU per request of the remoting codec on the send path, no sockets.
//!
//! Times, on one thread, what a shard does per SEND_MESSAGE_V2 before and after the store:
//! split the frame off the read buffer and decode its JSON header, read the typed send
//! header from the extFields, and encode the SEND_OK response header. The request is
//! shaped as the Java client 4.9.8 writes it (fields `a`..`m`, properties joined by the
//! \u0001/\u0002 separators that fastjson escapes), with a 1 KiB body. The last line printed
//! is `RESULT codec frame_ns=.. typed_ns=.. response_ns=..`, the best of `--rounds`.

use std::hint::black_box;
use std::time::Instant;

use bytes::BytesMut;
use ramjet_net::code::request;
use ramjet_net::header::{CommandHeader, SendMessageRequestHeader, SendMessageResponseHeader};
use ramjet_net::remoting::{decode_frame_split, FRAME_BYTES_MAX_DEFAULT};
use ramjet_net::RemotingCommand;

/// The JSON header of a Java `DefaultMQProducer` sync send of one message with a tag.
const JAVA_SEND_HEADER: &str = r#"{"code":310,"extFields":{"a":"please_rename_unique_group_name","b":"T1K","c":"TBW102","d":"4","e":"2","f":"0","g":"1764934400123","h":"0","i":"UNIQ_KEY\u00017F0000010B5C18B4AAC2475A1F8D0001\u0002WAIT\u0001true\u0002TAGS\u0001TagA\u0002","j":"0","k":"false","m":"false"},"flag":0,"language":"JAVA","opaque":123456,"serializeTypeCurrentRPC":"JSON","version":395}"#;

#[derive(clap::Args, Debug)]
pub struct CodecBenchArgs {
    /// Requests per round.
    #[arg(long, default_value_t = 1_000_000)]
    pub iterations: u32,
    /// Rounds; the best is reported (the others show the noise).
    #[arg(long, default_value_t = 3)]
    pub rounds: u32,
}

pub fn run(args: CodecBenchArgs) -> Result<(), String> {
    let frame = java_send_frame();
    let request = decode_frame_split(&mut BytesMut::from(&frame[..]), FRAME_BYTES_MAX_DEFAULT)
        .map_err(|e| format!("the Java-shaped frame does not decode: {e}"))?
        .ok_or("the Java-shaped frame is incomplete")?;
    let mut best = [f64::MAX; 3];
    for round in 1..=args.rounds {
        let frame_ns = per_iteration(args.iterations, || {
            let mut buf = BytesMut::from(black_box(&frame[..]));
            let command = decode_frame_split(&mut buf, FRAME_BYTES_MAX_DEFAULT);
            black_box(command.ok().flatten().map(|c| c.opaque));
        });
        let typed_ns = per_iteration(args.iterations, || {
            let header = SendMessageRequestHeader::decode_for_code(
                request::SEND_MESSAGE_V2,
                black_box(request.fields()),
            );
            black_box(header.map(|h| h.queue_id).ok());
        });
        let mut out = Vec::with_capacity(512);
        let response_ns = per_iteration(args.iterations, || {
            out.clear();
            send_ok(black_box(&request)).encode_into(&mut out);
            black_box(out.len());
        });
        println!(
            "round {round}: frame {frame_ns:.0} ns, typed header {typed_ns:.0} ns, response {response_ns:.0} ns"
        );
        for (best, now) in best.iter_mut().zip([frame_ns, typed_ns, response_ns]) {
            *best = best.min(now);
        }
    }
    println!(
        "RESULT codec frame_ns={:.0} typed_ns={:.0} response_ns={:.0}",
        best[0], best[1], best[2]
    );
    Ok(())
}

fn java_send_frame() -> Vec<u8> {
    let header = JAVA_SEND_HEADER.as_bytes();
    let body = vec![b'x'; 1024];
    let mut frame = Vec::with_capacity(8 + header.len() + body.len());
    frame.extend_from_slice(&((4 + header.len() + body.len()) as u32).to_be_bytes());
    frame.extend_from_slice(&(header.len() as u32).to_be_bytes());
    frame.extend_from_slice(header);
    frame.extend_from_slice(&body);
    frame
}

/// The response a shard writes for a stored message, as `processor/send.rs` builds it.
fn send_ok(request: &RemotingCommand) -> RemotingCommand {
    let header = SendMessageResponseHeader {
        msg_id: "7F00000100002A9F0000000000012C40".to_owned(),
        queue_id: 2,
        queue_offset: 123_456,
        transaction_id: None,
        batch_uniq_id: None,
        msg_region: Some("DefaultRegion".to_owned()),
        trace_on: Some("true".to_owned()),
    };
    RemotingCommand::response_to(request, 0).with_ext_fields(header.to_ext_fields())
}

fn per_iteration(iterations: u32, mut step: impl FnMut()) -> f64 {
    let started = Instant::now();
    for _ in 0..iterations {
        step();
    }
    started.elapsed().as_nanos() as f64 / f64::from(iterations.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_java_shaped_request_decodes_to_a_send() {
        let mut buf = BytesMut::from(&java_send_frame()[..]);
        let request = decode_frame_split(&mut buf, FRAME_BYTES_MAX_DEFAULT)
            .unwrap()
            .unwrap();
        assert!(buf.is_empty());
        assert_eq!(request.body.len(), 1024);
        let header =
            SendMessageRequestHeader::decode_for_code(request::SEND_MESSAGE_V2, request.fields())
                .unwrap();
        assert_eq!((header.topic.as_str(), header.queue_id), ("T1K", 2));
        assert!(header
            .properties
            .unwrap()
            .starts_with("UNIQ_KEY\u{1}7F0000010B5C18B4AAC2475A1F8D0001\u{2}"));
        run(CodecBenchArgs {
            iterations: 10,
            rounds: 1,
        })
        .unwrap();
    }
}
