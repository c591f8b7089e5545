//! The events queue: [`Queue`] is SQS in AWS or [`LocalQueue`], the queue in process for
//! `backroom dev` and tests, with the semantics of a standard
//! SQS queue that the worker relies on: a received message is hidden for a visibility timeout
//! and comes back unless deleted; each receive is counted; after `max_receives` receives a
//! message moves to the dead-letter queue instead of coming back.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use backroom_aws::SqsQueue;
use backroom_core::ports::{EventQueue, QueueError, QueueMessage};

/// A message handed to a consumer, with what it needs to delete it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Received {
    pub message_id: String,
    pub receipt: u64,
    pub receive_count: u32,
    pub message: QueueMessage,
}

#[derive(Debug)]
struct Entry {
    message_id: String,
    message: QueueMessage,
    receive_count: u32,
    visible_at: Instant,
    receipt: u64,
}

#[derive(Debug, Default)]
struct State {
    ready: VecDeque<Entry>,
    dead: Vec<Received>,
    next_id: u64,
    unavailable: bool,
}

#[derive(Clone, Debug)]
pub struct LocalQueue {
    state: Arc<Mutex<State>>,
    notify: Arc<tokio::sync::Notify>,
    visibility: Duration,
    max_receives: u32,
}

impl Default for LocalQueue {
    fn default() -> Self {
        LocalQueue::new(Duration::from_secs(30), 5)
    }
}

impl LocalQueue {
    pub fn new(visibility: Duration, max_receives: u32) -> LocalQueue {
        LocalQueue {
            state: Arc::default(),
            notify: Arc::new(tokio::sync::Notify::new()),
            visibility,
            max_receives: max_receives.max(1),
        }
    }

    /// Makes every send fail, as when SQS cannot be reached (for tests of the 503 path).
    pub fn set_unavailable(&self, unavailable: bool) {
        self.state.lock().expect("queue lock").unavailable = unavailable;
    }

    /// Up to `max` visible messages; each is hidden for the visibility timeout. A message that
    /// has already been received `max_receives` times moves to the dead-letter queue instead.
    pub fn receive(&self, max: usize) -> Vec<Received> {
        let mut state = self.state.lock().expect("queue lock");
        let now = Instant::now();
        let mut out = vec![];
        let mut kept = VecDeque::with_capacity(state.ready.len());
        let mut next_receipt = state.next_id;
        while let Some(mut e) = state.ready.pop_front() {
            if out.len() >= max || e.visible_at > now {
                kept.push_back(e);
                continue;
            }
            if e.receive_count >= self.max_receives {
                state.dead.push(Received {
                    message_id: e.message_id,
                    receipt: e.receipt,
                    receive_count: e.receive_count,
                    message: e.message,
                });
                continue;
            }
            next_receipt += 1;
            e.receive_count += 1;
            e.visible_at = now + self.visibility;
            e.receipt = next_receipt;
            out.push(Received {
                message_id: e.message_id.clone(),
                receipt: e.receipt,
                receive_count: e.receive_count,
                message: e.message.clone(),
            });
            kept.push_back(e);
        }
        state.ready = kept;
        state.next_id = next_receipt;
        out
    }

    /// Deletes a received message; a stale receipt (the message was received again since) is
    /// ignored, as SQS ignores it.
    pub fn delete(&self, message_id: &str, receipt: u64) {
        let mut state = self.state.lock().expect("queue lock");
        state
            .ready
            .retain(|e| !(e.message_id == message_id && e.receipt == receipt));
    }

    /// Makes a received message visible again at once (a failed message in a partial batch).
    pub fn release(&self, message_id: &str, receipt: u64) {
        let mut state = self.state.lock().expect("queue lock");
        if let Some(e) = state
            .ready
            .iter_mut()
            .find(|e| e.message_id == message_id && e.receipt == receipt)
        {
            e.visible_at = Instant::now();
        }
        drop(state);
        self.notify.notify_one();
    }

    /// Messages waiting or in flight (not in the dead-letter queue).
    pub fn depth(&self) -> usize {
        self.state.lock().expect("queue lock").ready.len()
    }

    /// The dead-letter queue.
    pub fn dead_letters(&self) -> Vec<Received> {
        self.state.lock().expect("queue lock").dead.clone()
    }

    /// Moves every dead letter back to the queue with its receive count reset.
    pub fn redrive(&self) -> usize {
        let mut state = self.state.lock().expect("queue lock");
        let dead = std::mem::take(&mut state.dead);
        let n = dead.len();
        for d in dead {
            state.ready.push_back(Entry {
                message_id: d.message_id,
                message: d.message,
                receive_count: 0,
                visible_at: Instant::now(),
                receipt: 0,
            });
        }
        drop(state);
        self.notify.notify_one();
        n
    }

    /// Waits until a message may be available (or the timeout passes).
    pub async fn wait(&self, timeout: Duration) {
        let _ = tokio::time::timeout(timeout, self.notify.notified()).await;
    }
}

impl EventQueue for LocalQueue {
    async fn send(&self, message: &QueueMessage) -> Result<(), QueueError> {
        let mut state = self.state.lock().expect("queue lock");
        if state.unavailable {
            return Err(QueueError("the local queue is switched off".into()));
        }
        state.next_id += 1;
        let message_id = format!("local-{}", state.next_id);
        state.ready.push_back(Entry {
            message_id,
            message: message.clone(),
            receive_count: 0,
            visible_at: Instant::now(),
            receipt: 0,
        });
        drop(state);
        self.notify.notify_one();
        Ok(())
    }
}

/// The queue the webhook routes write to: SQS in AWS, in process locally.
#[derive(Clone, Debug)]
pub enum Queue {
    Sqs(SqsQueue),
    Local(LocalQueue),
}

impl EventQueue for Queue {
    async fn send(&self, message: &QueueMessage) -> Result<(), QueueError> {
        match self {
            Queue::Sqs(q) => q.send(message).await,
            Queue::Local(q) => q.send(message).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use backroom_core::ports::EventSource;

    use super::*;

    fn msg(id: &str) -> QueueMessage {
        QueueMessage {
            source: EventSource::Stripe,
            event_id: id.into(),
            event_type: "t".into(),
            body: "{}".into(),
        }
    }

    #[tokio::test]
    async fn received_messages_hide_then_return_until_deleted() {
        let q = LocalQueue::new(Duration::from_millis(50), 5);
        q.send(&msg("a")).await.unwrap();
        let first = q.receive(10);
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].receive_count, 1);
        assert!(q.receive(10).is_empty(), "hidden while in flight");
        tokio::time::sleep(Duration::from_millis(60)).await;
        let again = q.receive(10);
        assert_eq!(again[0].receive_count, 2, "back after the visibility timeout");
        q.delete(&first[0].message_id, first[0].receipt);
        assert_eq!(q.depth(), 1, "a stale receipt deletes nothing");
        q.delete(&again[0].message_id, again[0].receipt);
        assert_eq!(q.depth(), 0);
    }

    #[tokio::test]
    async fn after_the_maximum_receives_a_message_goes_to_the_dead_letter_queue() {
        let q = LocalQueue::new(Duration::from_secs(60), 3);
        q.send(&msg("poison")).await.unwrap();
        for n in 1..=3 {
            let r = q.receive(1);
            assert_eq!(r[0].receive_count, n);
            q.release(&r[0].message_id, r[0].receipt);
        }
        assert!(q.receive(1).is_empty());
        let dead = q.dead_letters();
        assert_eq!(dead.len(), 1);
        assert_eq!(dead[0].message.event_id, "poison");
        assert_eq!(q.redrive(), 1);
        assert_eq!(q.receive(1)[0].receive_count, 1);
    }

    #[tokio::test]
    async fn a_switched_off_queue_refuses_sends() {
        let q = LocalQueue::default();
        q.set_unavailable(true);
        assert!(q.send(&msg("a")).await.is_err());
        q.set_unavailable(false);
        q.send(&msg("a")).await.unwrap();
        assert_eq!(q.receive(5).len(), 1);
        assert!(q.receive(5).is_empty());
    }
}
