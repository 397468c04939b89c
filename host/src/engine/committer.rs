//! Group commit: a walk that commits while another is writing queues its
//! commit; the writing walk (the leader) writes everything queued in one
//! store transaction before it steps down, and answers each walk once its
//! commit is durable. Uncontended, a walk writes its own commit at once with
//! no hand-over; with many tasks in flight one transaction (and its WAL
//! pages) serves many commits. Committed events reach the sink in order.

use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use super::EventSink;
use crate::store::{Commit, CommitRequest, Store, StoreError};

/// The most commits written in one transaction.
const MAX_BATCH: usize = 64;

struct Request {
    task: String,
    run: i64,
    commit: Commit,
    reply: oneshot::Sender<Result<(), StoreError>>,
}

#[derive(Default)]
struct Queue {
    pending: Vec<Request>,
    writing: bool,
}

/// What walks commit through.
pub(crate) struct Committer {
    store: Arc<dyn Store>,
    sink: Arc<dyn EventSink>,
    queue: Mutex<Queue>,
}

impl Committer {
    pub(crate) fn new(store: Arc<dyn Store>, sink: Arc<dyn EventSink>) -> Self {
        Self { store, sink, queue: Mutex::default() }
    }

    /// Commits `commit` for `task` and returns once it is durable.
    pub(crate) async fn commit(&self, task: &str, run: i64, commit: Commit) -> Result<(), StoreError> {
        let (reply, answer) = oneshot::channel();
        let lead = {
            let mut queue = self.queue.lock().expect("the commit queue lock is not poisoned");
            queue.pending.push(Request { task: task.to_owned(), run, commit, reply });
            !std::mem::replace(&mut queue.writing, true)
        };
        if lead {
            self.write_queued();
        }
        answer.await.map_err(|_| StoreError::Corrupt("the store writer stopped before committing".into()))?
    }

    /// Writes batches until the queue is empty, then steps down.
    fn write_queued(&self) {
        loop {
            let batch: Vec<Request> = {
                let mut queue = self.queue.lock().expect("the commit queue lock is not poisoned");
                if queue.pending.is_empty() {
                    queue.writing = false;
                    return;
                }
                let take = queue.pending.len().min(MAX_BATCH);
                queue.pending.drain(..take).collect()
            };
            let requests: Vec<CommitRequest<'_>> =
                batch.iter().map(|r| CommitRequest { task: &r.task, run: Some(r.run), commit: &r.commit }).collect();
            let results = self.store.commit_batch(&requests);
            let written: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).flatten().cloned().collect();
            self.sink.emit(&written);
            for (request, result) in batch.into_iter().zip(results) {
                // A walk that was dropped meanwhile no longer waits.
                let _ = request.reply.send(result.map(drop));
            }
        }
    }
}
