//! Group commit: a walk that commits while another commit is being written
//! queues its commit; the walk that found the queue idle (the leader) starts
//! a writer on a blocking thread, which writes everything queued in one store
//! transaction per batch until the queue is empty, and answers each walk
//! once its commit is durable. A walk may queue a commit without waiting for
//! it (an LLM reply, durable about one commit later) as long as it waits for
//! every queued commit before it acts; commits are written in queue order. Store and sink I/O never runs on the async
//! executor, so a commit waits at most for the batch being written and its
//! own (one commit interval), however busy the tasks are. With many tasks in
//! flight one transaction (and its WAL pages) serves many commits. Committed
//! events reach the sink in order.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::oneshot;

use super::EventSink;
use crate::store::{Commit, CommitRequest, Store, StoreError};

/// The most commits written in one transaction.
const MAX_BATCH: usize = 64;

struct Request {
    task: String,
    run: i64,
    commit: Commit,
    reply: oneshot::Sender<Result<Instant, StoreError>>,
}

#[derive(Default)]
struct Queue {
    pending: Vec<Request>,
    writing: bool,
}

/// What walks commit through.
pub(crate) struct Committer {
    inner: Arc<Writer>,
}

/// The queue and where it is written.
struct Writer {
    store: Arc<dyn Store>,
    sink: Arc<dyn EventSink>,
    queue: Mutex<Queue>,
}

impl Committer {
    pub(crate) fn new(store: Arc<dyn Store>, sink: Arc<dyn EventSink>) -> Self {
        Self { inner: Arc::new(Writer { store, sink, queue: Mutex::default() }) }
    }

    /// Queues `commit` for `task` and starts writing it if no one is; the
    /// returned future resolves when it is durable, with the time it became
    /// so. Commits are written in the order they are queued.
    pub(crate) fn enqueue(&self, task: &str, run: i64, commit: Commit) -> Durable {
        let (reply, answer) = oneshot::channel();
        let lead = {
            let mut queue = self.inner.queue.lock().expect("the commit queue lock is not poisoned");
            queue.pending.push(Request { task: task.to_owned(), run, commit, reply });
            !std::mem::replace(&mut queue.writing, true)
        };
        if lead {
            let writer = Arc::clone(&self.inner);
            tokio::task::spawn_blocking(move || writer.write_queued());
        }
        Durable(answer)
    }
}

/// A queued commit: resolves when it is durable (or failed).
pub(crate) struct Durable(oneshot::Receiver<Result<Instant, StoreError>>);

impl std::future::Future for Durable {
    type Output = Result<Instant, StoreError>;

    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<Self::Output> {
        std::pin::Pin::new(&mut self.0).poll(cx).map(|answer| {
            answer.unwrap_or_else(|_| Err(StoreError::Corrupt("the store writer stopped before committing".into())))
        })
    }
}

impl Writer {
    /// Writes batches until the queue is empty, then steps down (also if
    /// writing panics, so later commits are not left waiting for nobody).
    fn write_queued(&self) {
        struct StepDown<'a>(&'a Mutex<Queue>);
        impl Drop for StepDown<'_> {
            fn drop(&mut self) {
                if std::thread::panicking() {
                    let mut queue = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                    queue.writing = false;
                }
            }
        }
        let _guard = StepDown(&self.queue);
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
            let durable = Instant::now();
            self.sink.emit(&written);
            for (request, result) in batch.into_iter().zip(results) {
                // A walk that was dropped meanwhile no longer waits.
                let _ = request.reply.send(result.map(|_| durable));
            }
        }
    }
}
