//! What an operator alerts on, as Prometheus metrics: posts made, late,
//! skipped or failed per network and how late they went out; replies
//! stored; the reply writer's queue; commands ignored by the rate limits;
//! each network's connection and reconnections; the store's errors.
//!
//! The metrics are the process's own (one Podium per process), so each
//! part counts where the thing happens without a handle threaded through
//! every constructor; they are served only when `metrics.addr` is set, on
//! an address of their own (see [`crate::web::serve_metrics`]), since what
//! they tell (room counts, error rates) is for the operator, not the
//! public pages' readers.

use std::sync::LazyLock;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

use crate::domain::Network;

/// What became of a post Podium made (or meant to make).
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum Outcome {
    /// The network took it within `late_after` of its time.
    Sent,
    /// The network took it, more than `late_after` after its time.
    Late,
    /// Too late to mean anything (past the grace window), or its network
    /// is not configured: recorded as skipped, never sent.
    Skipped,
    /// The network refused it for good.
    Failed,
    /// Sending failed for now; it is tried again.
    Retried,
}

/// Why a command was not answered.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum Dropped {
    /// Its sender was over their own rate limit.
    Sender,
    /// Its room was over the room's rate limit.
    Room,
    /// The answer was ready but its room's queue of answers was full.
    Answer,
    /// Shed by the network before the engine saw it: too many of its
    /// sender's (or everyone's) commands were waiting to be handled.
    Backlog,
}

/// Which of the store's jobs failed.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum StoreJob {
    /// Committing incoming replies (retried until it succeeds).
    Replies,
    /// Advancing the time line: claiming posts, loading debates.
    Timeline,
    /// Recording a post as sent.
    Posts,
    /// Recording a command or its effect.
    Commands,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Sent => "sent",
            Outcome::Late => "late",
            Outcome::Skipped => "skipped",
            Outcome::Failed => "failed",
            Outcome::Retried => "retried",
        }
    }
}

impl Dropped {
    fn as_str(self) -> &'static str {
        match self {
            Dropped::Sender => "sender",
            Dropped::Room => "room",
            Dropped::Answer => "answer",
            Dropped::Backlog => "backlog",
        }
    }
}

impl StoreJob {
    fn as_str(self) -> &'static str {
        match self {
            StoreJob::Replies => "replies",
            StoreJob::Timeline => "timeline",
            StoreJob::Posts => "posts",
            StoreJob::Commands => "commands",
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct NetworkLabel {
    network: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PostLabels {
    network: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DropLabels {
    network: &'static str,
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StoreLabels {
    job: &'static str,
}

/// Seconds: from on time to the end of the default grace window.
const LATENESS_BUCKETS: [f64; 12] = [
    0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0,
];

fn lateness_histogram() -> Histogram {
    Histogram::new(LATENESS_BUCKETS)
}

struct Metrics {
    registry: Registry,
    posts: Family<PostLabels, Counter>,
    lateness: Family<NetworkLabel, Histogram, fn() -> Histogram>,
    replies: Family<NetworkLabel, Counter>,
    writer_queue: Gauge,
    dropped: Family<DropLabels, Counter>,
    up: Family<NetworkLabel, Gauge>,
    reconnects: Family<NetworkLabel, Counter>,
    store_errors: Family<StoreLabels, Counter>,
}

static METRICS: LazyLock<Metrics> = LazyLock::new(|| {
    let mut registry = Registry::with_prefix("podium");
    let m = Metrics {
        posts: Family::default(),
        lateness: Family::new_with_constructor(lateness_histogram as fn() -> Histogram),
        replies: Family::default(),
        writer_queue: Gauge::default(),
        dropped: Family::default(),
        up: Family::default(),
        reconnects: Family::default(),
        store_errors: Family::default(),
        registry: Registry::default(),
    };
    registry.register(
        "build",
        "This Podium's version",
        Info::new(vec![("version", env!("CARGO_PKG_VERSION"))]),
    );
    registry.register(
        "posts",
        "Posts (reminders, intros, questions, closings) by network and outcome",
        m.posts.clone(),
    );
    registry.register(
        "post_lateness_seconds",
        "How long after its time the network took each post",
        m.lateness.clone(),
    );
    registry.register(
        "replies_stored",
        "Replies (answers and other messages in a debate) committed to the store",
        m.replies.clone(),
    );
    registry.register(
        "writer_queue_depth",
        "Incoming events waiting for the reply writer to commit them",
        m.writer_queue.clone(),
    );
    registry.register(
        "commands_dropped",
        "Commands not answered because of the rate limits, and answers shed",
        m.dropped.clone(),
    );
    registry.register(
        "network_up",
        "Whether the network is connected and usable (1) or not (0)",
        m.up.clone(),
    );
    registry.register(
        "network_reconnects",
        "Times a network came back after it had been up and was lost",
        m.reconnects.clone(),
    );
    registry.register(
        "store_errors",
        "Failed store operations by job (each retried or logged)",
        m.store_errors.clone(),
    );
    Metrics { registry, ..m }
});

fn name(network: Network) -> &'static str {
    match network {
        Network::Matrix => "matrix",
        Network::Irc => "irc",
        Network::Console => "console",
    }
}

/// A post's outcome; `late_by` (seconds, for posts the network took) goes
/// into the lateness histogram.
pub fn post(network: Network, outcome: Outcome, late_by: Option<f64>) {
    let network = name(network);
    METRICS
        .posts
        .get_or_create(&PostLabels {
            network,
            outcome: outcome.as_str(),
        })
        .inc();
    if let Some(s) = late_by {
        METRICS
            .lateness
            .get_or_create(&NetworkLabel { network })
            .observe(s.max(0.0));
    }
}

/// Replies committed to the store, on `network` (its stored name).
pub fn replies_stored(network: &str, n: u64) {
    let network = match network {
        "matrix" => "matrix",
        "irc" => "irc",
        _ => "console",
    };
    METRICS
        .replies
        .get_or_create(&NetworkLabel { network })
        .inc_by(n);
}

pub fn writer_queue(depth: usize) {
    METRICS
        .writer_queue
        .set(i64::try_from(depth).unwrap_or(i64::MAX));
}

pub fn dropped(network: Network, reason: Dropped) {
    METRICS
        .dropped
        .get_or_create(&DropLabels {
            network: name(network),
            reason: reason.as_str(),
        })
        .inc();
}

/// A network's state, from its health part (`matrix`, `irc`); `back` when
/// it is up again after it was lost.
pub fn network(part: &str, up: bool, back: bool) {
    let network = match part {
        "matrix" => "matrix",
        "irc" => "irc",
        _ => return,
    };
    let label = NetworkLabel { network };
    METRICS.up.get_or_create(&label).set(i64::from(up));
    if back {
        METRICS.reconnects.get_or_create(&label).inc();
    }
}

pub fn store_error(job: StoreJob) {
    METRICS
        .store_errors
        .get_or_create(&StoreLabels { job: job.as_str() })
        .inc();
}

/// Every metric, in the OpenMetrics text format.
pub fn encode() -> String {
    let mut text = String::new();
    // Writing to a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut text, &METRICS.registry);
    text
}

/// The content type of [`encode`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_names_every_metric_with_its_labels() {
        post(Network::Irc, Outcome::Late, Some(75.0));
        dropped(Network::Matrix, Dropped::Sender);
        network("irc", true, true);
        store_error(StoreJob::Replies);
        replies_stored("matrix", 3);
        writer_queue(7);
        let text = encode();
        for line in [
            "podium_posts_total{network=\"irc\",outcome=\"late\"}",
            "podium_post_lateness_seconds_bucket{le=\"120.0\",network=\"irc\"}",
            "podium_commands_dropped_total{network=\"matrix\",reason=\"sender\"}",
            "podium_network_up{network=\"irc\"} 1",
            "podium_network_reconnects_total{network=\"irc\"}",
            "podium_store_errors_total{job=\"replies\"}",
            "podium_replies_stored_total{network=\"matrix\"}",
            "podium_writer_queue_depth 7",
            "podium_build_info{version=",
        ] {
            assert!(text.contains(line), "{line} is missing from\n{text}");
        }
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}
