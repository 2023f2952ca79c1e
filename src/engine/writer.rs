//! The reply writer: a task that commits incoming replies in batches, so a
//! busy debate never waits on the disk, and answers each event's
//! acknowledgement only once its batch is committed. A failed batch is
//! retried (with backoff) rather than dropped: losing replies is never an
//! option, and the engine's channel applies back-pressure meanwhile. While
//! the store cannot be written (a full disk), nothing is acknowledged; the
//! operator gets one error when it starts, a reminder every minute and a
//! line when everything held has been stored.

use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::chat::Receipt;
use crate::domain::Cursor;
use crate::metrics;
use crate::outage::{Outage, Report};
use crate::store::{Store, WriteOp};

/// Most events committed in one transaction.
const BATCH: usize = 1024;

#[derive(Debug)]
pub struct Job {
    pub op: WriteOp,
    pub cursor: Option<Cursor>,
    pub ack: Option<oneshot::Sender<Receipt>>,
    /// What to acknowledge once committed.
    pub receipt: Receipt,
}

pub fn spawn(store: Store, capacity: usize) -> (mpsc::Sender<Job>, JoinHandle<()>) {
    let (tx, rx) = mpsc::channel(capacity);
    (tx, tokio::spawn(run(store, rx)))
}

async fn run(store: Store, mut rx: mpsc::Receiver<Job>) {
    let mut jobs = Vec::with_capacity(BATCH);
    let mut outage = Outage::default();
    while rx.recv_many(&mut jobs, BATCH).await > 0 {
        metrics::writer_queue(jobs.len() + rx.len());
        // The last position per network covers every event before it.
        let mut cursors: Vec<Cursor> = Vec::new();
        for c in jobs.iter_mut().filter_map(|j| j.cursor.take()) {
            match cursors.iter_mut().find(|k| k.network == c.network) {
                Some(k) => k.position = c.position,
                None => cursors.push(c),
            }
        }
        let (ops, replies): (Vec<WriteOp>, Vec<_>) = jobs
            .drain(..)
            .map(|j| {
                let update = matches!(j.op, WriteOp::Edit { .. } | WriteOp::Delete { .. });
                let vote = matches!(j.op, WriteOp::Vote { .. } | WriteOp::Rsvp { .. });
                (j.op, (j.ack, j.receipt, update, vote))
            })
            .unzip();
        let mut backoff = Duration::from_millis(100);
        let nothing = ops.iter().all(|op| matches!(op, WriteOp::Nothing));
        let touched = loop {
            if nothing && cursors.is_empty() {
                break vec![0; ops.len()];
            }
            match store.write_batch(&ops, &cursors).await {
                Ok(t) => {
                    if let Some(lasted) = outage.recovered() {
                        tracing::warn!(lasted = ?lasted, events = ops.len(),
                            "the store is writable again; the replies held meanwhile are stored");
                    }
                    break t;
                }
                Err(e) => {
                    metrics::store_error(metrics::StoreJob::Replies);
                    let held = ops.len() + rx.len();
                    match outage.failed() {
                        Report::Started => tracing::error!(cause = %e, held,
                            "cannot store incoming replies (is the disk full, or the database unreachable?); holding them \
                             and retrying: none is acknowledged until it is stored"),
                        Report::Lasting(lasted) => tracing::error!(cause = %e, held,
                            lasted = ?lasted, "still cannot store incoming replies; retrying"),
                        Report::Quiet => {}
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        };
        for (op, n) in ops.iter().zip(&touched) {
            if let WriteOp::Insert(reply) = op
                && *n > 0
            {
                metrics::replies_stored(&reply.network, 1);
            }
        }
        metrics::writer_queue(rx.len());
        for ((ack, receipt, update, vote), n) in replies.into_iter().zip(touched) {
            let receipt = if update && n == 0 {
                Receipt::Ignored("no stored reply has that id")
            } else if vote && n > 0 {
                Receipt::Updated
            } else {
                receipt
            };
            if let Some(ack) = ack {
                let _ = ack.send(receipt);
            }
        }
    }
}
