//! One producer connection ("lane") of `mqbench produce`, on a glommio executor.
//!
//! ```text
//!   writer (this task): ticket ─► schedule slot ─► permit ─► frame(s) ─► write_all ─► socket
//!   reader task:        socket ─► frames ─► (code, opaque) ─► in_flight.remove ─► tally, permit
//! ```
//! The window is a semaphore: a request takes a permit before it is written and its answer
//! gives it back, so at most `window` requests are in flight. In the closed loop the writer
//! takes every free permit at once and writes all those frames with one call, so a burst of
//! answers costs one write rather than one per answer. Answers are matched by opaque (a
//! broker may answer out of order) and only their code is read: a client that shares the
//! machine with the broker should spend as little CPU per message as it can.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::net::TcpStream;
use glommio::sync::Semaphore;
use ramjet_net::remoting::FRAME_BYTES_MAX_DEFAULT;
use ramjet_net::SerializeType;

use crate::produce::{Outcome, Plan, Schedule, Tally};
use ramjet_net::body::MessageQueue;
use ramjet_net::client::UniqKeyGenerator;

use crate::rocketmq_client::{peek_code_and_opaque, SendFrameTemplate, LOOPBACK};

/// In-flight requests older than this much past the timeout are checked this often.
const REAP_INTERVAL: Duration = Duration::from_millis(100);
/// After the last request, answers still owed get this long.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// The reader's buffer; it grows only for a frame larger than this.
const READ_BUFFER_BYTES: usize = 1 << 20;
/// The writer stops batching frames into one write past this size.
const WRITE_BATCH_BYTES: usize = 1 << 20;

/// What one lane does.
pub(crate) struct LaneSpec {
    pub addr: String,
    pub queues: Vec<MessageQueue>,
    /// Acknowledged requests in flight at most.
    pub window: usize,
    /// Oneway mode: oneway requests written before each acknowledged barrier.
    pub oneway_burst: Option<usize>,
    pub schedule: Schedule,
    /// Keeps the message ids of lanes apart.
    pub salt: u32,
}

struct Pending {
    intended: Instant,
    sent: Instant,
}

/// What the writer and the reader share.
struct LaneState {
    in_flight: RefCell<HashMap<i32, Pending>>,
    permits: Rc<Semaphore>,
    closed: Cell<bool>,
}

/// How request frames are written: the JSON template for single messages, else the
/// general encoder (batches, binary headers).
enum FrameSource {
    Template(Box<SendFrameTemplate>),
    General,
}

/// Runs one lane until the plan says stop and its answers are in.
pub(crate) async fn run_lane(
    plan: Arc<Plan>,
    lane: LaneSpec,
    tally: Rc<RefCell<Tally>>,
) -> Result<(), String> {
    let addr = ramjet_net::client::resolve(&lane.addr)?;
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect {}: {e}", lane.addr))?;
    stream
        .set_nodelay(true)
        .map_err(|e| format!("nodelay {}: {e}", lane.addr))?;
    let (reader, mut writer) = futures_lite::io::split(stream);
    let state = Rc::new(LaneState {
        in_flight: RefCell::new(HashMap::with_capacity(lane.window * 2)),
        permits: Rc::new(Semaphore::new(lane.window.max(1) as u64)),
        closed: Cell::new(false),
    });
    let reader_task = glommio::spawn_local(read_answers(
        plan.clone(),
        state.clone(),
        reader,
        tally.clone(),
    ));
    glommio::spawn_local(reap_expired(plan.clone(), state.clone(), tally.clone())).detach();
    let source = match (plan.serialize_type, lane.queues.first()) {
        (SerializeType::Json, Some(queue)) => {
            SendFrameTemplate::new(&plan.spec, &queue.broker_name)
                .map_or(FrameSource::General, |t| FrameSource::Template(Box::new(t)))
        }
        _ => FrameSource::General,
    };
    let mut writer_state = Writer {
        plan: &plan,
        source,
        ids: UniqKeyGenerator::new(LOOPBACK, lane.salt),
        queues: lane.queues,
        next_queue: lane.salt as usize,
        next_opaque: 1,
        out: Vec::with_capacity(64 * 1024),
    };
    let mut schedule = lane.schedule;
    let closed_loop = !schedule.is_paced();
    'send: while let Some(sequence) = plan.take_ticket() {
        let intended = schedule.next_slot().await;
        if let Some(burst) = lane.oneway_burst {
            writer_state.push_oneway(sequence, intended, &tally);
            for _ in 1..burst {
                let Some(sequence) = plan.take_ticket() else {
                    break;
                };
                let intended = schedule.next_slot().await;
                writer_state.push_oneway(sequence, intended, &tally);
            }
            // The barrier: acknowledged, so the broker has read everything before it.
            let Some(sequence) = plan.take_ticket() else {
                let _ = writer.write_all(&writer_state.out).await;
                break;
            };
            let intended = schedule.next_slot().await;
            if state.permits.acquire(1).await.is_err() {
                break;
            }
            writer_state.push_acknowledged(sequence, intended, &state);
        } else {
            if state.permits.acquire(1).await.is_err() {
                break;
            }
            writer_state.push_acknowledged(sequence, intended, &state);
            while closed_loop && writer_state.out.len() < WRITE_BATCH_BYTES {
                if !matches!(state.permits.try_acquire(1), Ok(true)) {
                    break;
                }
                let Some(sequence) = plan.take_ticket() else {
                    state.permits.signal(1);
                    if writer.write_all(&writer_state.out).await.is_err() {
                        state.closed.set(true);
                    }
                    writer_state.out.clear();
                    break 'send;
                };
                writer_state.push_acknowledged(sequence, Instant::now(), &state);
            }
        }
        if state.closed.get() || writer.write_all(&writer_state.out).await.is_err() {
            break;
        }
        writer_state.out.clear();
    }
    // Wait for the answers still owed, then close our side; the broker closes its side
    // and the reader ends.
    let drain_until = Instant::now() + DRAIN_TIMEOUT;
    while !state.closed.get() && !state.in_flight.borrow().is_empty() {
        if Instant::now() > drain_until {
            break;
        }
        glommio::timer::sleep(Duration::from_millis(1)).await;
    }
    let _ = writer.close().await;
    state.closed.set(true);
    let _ = glommio::timer::timeout(Duration::from_secs(1), async {
        reader_task.await;
        Ok(())
    })
    .await;
    Ok(())
}

/// The writer's side of a lane.
struct Writer<'a> {
    plan: &'a Plan,
    source: FrameSource,
    ids: UniqKeyGenerator,
    queues: Vec<MessageQueue>,
    next_queue: usize,
    next_opaque: i32,
    out: Vec<u8>,
}

impl Writer<'_> {
    /// Round-robin over the lane's queues, as Java's default queue selector does.
    fn next_queue_index(&mut self) -> usize {
        let index = self.next_queue % self.queues.len();
        self.next_queue = self.next_queue.wrapping_add(1);
        index
    }

    fn write_frame(&mut self, sequence: u64, oneway: bool) -> i32 {
        let opaque = self.next_opaque;
        self.next_opaque = self.next_opaque.wrapping_add(1);
        let queue_index = self.next_queue_index();
        let queue = &self.queues[queue_index];
        match &self.source {
            FrameSource::Template(template) => template.write(
                &mut self.out,
                queue.queue_id,
                opaque,
                oneway,
                sequence,
                &mut self.ids,
            ),
            FrameSource::General => {
                let mut request = self.plan.spec.request(
                    queue,
                    &mut self.ids,
                    sequence,
                    self.plan.serialize_type,
                );
                request.opaque = opaque;
                if oneway {
                    request.mark_oneway();
                }
                request.encode_into(&mut self.out);
            }
        }
        opaque
    }

    fn push_acknowledged(&mut self, sequence: u64, intended: Instant, state: &LaneState) {
        let opaque = self.write_frame(sequence, false);
        let sent = Instant::now();
        state
            .in_flight
            .borrow_mut()
            .insert(opaque, Pending { intended, sent });
    }

    fn push_oneway(&mut self, sequence: u64, intended: Instant, tally: &Rc<RefCell<Tally>>) {
        self.write_frame(sequence, true);
        tally.borrow_mut().complete_oneway(self.plan, intended);
    }
}

/// Reads answers until the connection closes; every request still owed then fails.
async fn read_answers(
    plan: Arc<Plan>,
    state: Rc<LaneState>,
    mut reader: futures_lite::io::ReadHalf<TcpStream>,
    tally: Rc<RefCell<Tally>>,
) {
    let mut buf = vec![0u8; READ_BUFFER_BYTES];
    let (mut start, mut end) = (0usize, 0usize);
    let reason = 'read: loop {
        // Every whole frame in the buffer.
        while end - start >= 4 {
            let frame_bytes =
                u32::from_be_bytes(buf[start..start + 4].try_into().unwrap()) as usize;
            if !(4..=FRAME_BYTES_MAX_DEFAULT).contains(&frame_bytes) {
                break 'read format!("bad frame length {frame_bytes}");
            }
            if end - start < 4 + frame_bytes {
                if 4 + frame_bytes > buf.len() {
                    buf.resize(4 + frame_bytes, 0);
                }
                break;
            }
            let frame = &buf[start..start + 4 + frame_bytes];
            match peek_code_and_opaque(frame) {
                Some((code, opaque, true)) => {
                    let pending = state.in_flight.borrow_mut().remove(&opaque);
                    if let Some(pending) = pending {
                        tally
                            .borrow_mut()
                            .complete(&plan, pending.intended, Outcome::Code(code));
                        state.permits.signal(1);
                    }
                }
                // A request from the broker (NOTIFY_CONSUMER_IDS_CHANGED and the like):
                // a producer has nothing to say to it.
                Some((_, _, false)) => {}
                None => break 'read "undecodable frame header".to_owned(),
            }
            start += 4 + frame_bytes;
        }
        if start == end {
            (start, end) = (0, 0);
        } else if end == buf.len() || start > buf.len() / 2 {
            buf.copy_within(start..end, 0);
            (start, end) = (0, end - start);
        }
        match reader.read(&mut buf[end..]).await {
            Ok(0) => break "closed by the broker".to_owned(),
            Ok(read) => end += read,
            Err(error) => break format!("read: {error}"),
        }
    };
    let owed: Vec<Pending> = state
        .in_flight
        .borrow_mut()
        .drain()
        .map(|(_, p)| p)
        .collect();
    if !owed.is_empty() || !state.closed.get() {
        eprintln!(
            "mqbench: connection ended ({reason}), {} answers owed",
            owed.len()
        );
    }
    state.closed.set(true);
    for pending in owed {
        tally.borrow_mut().complete(
            &plan,
            pending.intended,
            Outcome::Failed("connection closed"),
        );
    }
    state.permits.close();
}

/// Fails requests that have waited longer than the timeout, returning their permits.
async fn reap_expired(plan: Arc<Plan>, state: Rc<LaneState>, tally: Rc<RefCell<Tally>>) {
    while !state.closed.get() {
        glommio::timer::sleep(REAP_INTERVAL).await;
        let now = Instant::now();
        let expired: Vec<i32> = state
            .in_flight
            .borrow()
            .iter()
            .filter(|(_, pending)| now.duration_since(pending.sent) > plan.timeout)
            .map(|(opaque, _)| *opaque)
            .collect();
        for opaque in expired {
            let pending = state.in_flight.borrow_mut().remove(&opaque);
            if let Some(pending) = pending {
                tally
                    .borrow_mut()
                    .complete(&plan, pending.intended, Outcome::Failed("timeout"));
                state.permits.signal(1);
            }
        }
    }
}
