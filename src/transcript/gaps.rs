//! Where a transcript may be missing answers: the spans of a debate in
//! which Podium was not connected to a network that keeps no history (IRC),
//! derived from the presence the store records (see `store::presence`).
//! Every view shows them, so a reader knows that silence there may be
//! Podium's and not the room's.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::{Transcript, rfc3339};
use crate::domain::{Network, Room};
use crate::store::{self, OccurrenceRow, PRESENCE_EVERY, PostKind, PostRow, Store};

/// A span in which Podium was disconnected from a network the debate was
/// held on.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Gap {
    /// As stored (`irc`).
    pub network: String,
    pub from: String,
    /// For an ongoing gap: when the transcript was made.
    pub until: String,
    /// Still disconnected when the transcript was made, with the debate
    /// still collecting answers: the end is not known yet.
    pub ongoing: bool,
}

/// The collect grace of occurrences stored before it was recorded with
/// them: the configuration's default.
const DEFAULT_COLLECT_GRACE: Duration = Duration::minutes(10);

/// A connection's presence row extended less than this long ago may simply
/// not have been extended again yet: an absence that began since is not
/// known to be one.
fn not_yet_known() -> Duration {
    Duration::from_std(PRESENCE_EVERY * 2).unwrap_or(Duration::minutes(1))
}

/// When the occurrence collected answers, as far as `now` goes.
struct Window {
    from: DateTime<Utc>,
    until: DateTime<Utc>,
    /// Still collecting at `now` (then `until` is `now`).
    collecting: bool,
}

/// From the actual start (scheduled, moved by `!start`) to the end of
/// collection as the engine decides it: the closing (posted, or due when it
/// was not) or `!end`, plus the collect grace. Without either yet, the
/// scheduled end plus the grace bounds it; for an occurrence stored before
/// its duration was recorded, only `now` does.
fn window(occ: &OccurrenceRow, posts: &[PostRow], now: DateTime<Utc>) -> Option<Window> {
    let from = occ.scheduled_start + Duration::seconds(occ.shift_seconds);
    let grace = occ.collect_grace.unwrap_or(DEFAULT_COLLECT_GRACE);
    let closing = posts
        .iter()
        .filter(|p| p.kind == PostKind::Closing)
        .map(|p| p.sent_at.unwrap_or(p.due_at))
        .max();
    let end = closing
        .or(occ.ended_at)
        .or(occ.duration.map(|d| from + d))
        .map(|close| close + grace);
    let until = end.map_or(now, |e| e.min(now));
    (from < until).then_some(Window {
        from,
        until,
        collecting: end.is_none_or(|e| e > now),
    })
}

/// The networks of the rooms the occurrence was held in.
fn networks(posts: &[PostRow]) -> BTreeSet<Network> {
    posts
        .iter()
        .filter_map(|p| p.room.parse::<Room>().ok())
        .map(|r| r.network())
        .collect()
}

/// The gaps in the collection of an occurrence's answers, as known at `now`.
///
/// # Errors
/// Store failures.
pub(super) async fn gaps(
    store: &Store,
    occ: &OccurrenceRow,
    posts: &[PostRow],
    now: DateTime<Utc>,
) -> store::Result<Vec<Gap>> {
    let Some(w) = window(occ, posts, now) else {
        return Ok(Vec::new());
    };
    let known = now - not_yet_known();
    let mut out = Vec::new();
    for network in networks(posts) {
        let mut spans = store.absences(network, w.from, w.until).await?;
        let open_end = spans.last().filter(|s| s.1 == w.until && w.until > known);
        if open_end.is_some_and(|s| s.0 >= known) {
            spans.pop();
        }
        let last = spans.len().saturating_sub(1);
        out.extend(spans.iter().enumerate().map(|(i, (a, b))| Gap {
            network: network.as_str().to_owned(),
            from: rfc3339(*a),
            until: rfc3339(*b),
            ongoing: i == last && w.collecting && *b == w.until,
        }));
    }
    out.sort_by(|a, b| (&a.from, &a.network).cmp(&(&b.from, &b.network)));
    Ok(out)
}

/// What changes when anything a transcript shows changes: the store's
/// fingerprint of the occurrence, and its gaps. Gaps are not rows of the
/// occurrence, and they depend on `now` (a crash writes nothing), so the
/// store alone cannot say when they changed.
///
/// # Errors
/// Store failures.
pub async fn fingerprint(
    store: &Store,
    occ: &OccurrenceRow,
    now: DateTime<Utc>,
) -> store::Result<String> {
    Ok(state(store, occ, now).await?.fingerprint)
}

/// Where an occurrence stands at `now`, from one set of queries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct State {
    /// See [`fingerprint`].
    pub fingerprint: String,
    /// A short tag of what a reader of the page sees: it changes with the
    /// fingerprint, but not with the passing of time alone (an ongoing
    /// gap's end, which is `now`, is left out), so a live page is fetched
    /// again only when something happened.
    pub version: String,
    /// Still collecting answers: its page is live (see [`collecting`]).
    pub live: bool,
}

/// The fingerprint, the version and whether the occurrence is live.
///
/// # Errors
/// Store failures.
pub async fn state(store: &Store, occ: &OccurrenceRow, now: DateTime<Utc>) -> store::Result<State> {
    let posts = store.posts(occ.id).await?;
    let mut fingerprint = store.fingerprint(occ.id).await?;
    let mut seen = fingerprint.clone();
    for g in gaps(store, occ, &posts, now).await? {
        fingerprint.push_str(&format!(
            "|{}:{}:{}:{}",
            g.network, g.from, g.until, g.ongoing
        ));
        let until = if g.ongoing { "" } else { g.until.as_str() };
        seen.push_str(&format!("|{}:{}:{until}", g.network, g.from));
    }
    let live = collecting(occ, &posts, now);
    let mut h = std::hash::DefaultHasher::new();
    std::hash::Hash::hash(&(seen, live), &mut h);
    let version = format!("{:016x}", std::hash::Hasher::finish(&h));
    Ok(State {
        fingerprint,
        version,
        live,
    })
}

/// How long after its actual start an occurrence whose end is not known
/// (stored before durations were) is taken to be collecting answers.
const UNKNOWN_END: Duration = Duration::hours(24);

/// Whether the occurrence still collects answers at `now`: until the end
/// of collection (the closing, posted or due, or `!end`, plus the collect
/// grace; without either yet, the scheduled end plus the grace), before
/// its start too (its intro is still to come). A rehearsal is judged on
/// its own compressed clock.
pub fn collecting(occ: &OccurrenceRow, posts: &[PostRow], now: DateTime<Utc>) -> bool {
    let now = match (occ.rehearsal, occ.clock_real_base, occ.clock_speed) {
        (true, Some(base), Some(speed)) if speed > 0.0 => {
            let real = (now - base).num_milliseconds() as f64;
            base + Duration::milliseconds((real * speed) as i64)
        }
        _ => now,
    };
    let from = occ.scheduled_start + Duration::seconds(occ.shift_seconds);
    let grace = occ.collect_grace.unwrap_or(DEFAULT_COLLECT_GRACE);
    let closing = posts
        .iter()
        .filter(|p| p.kind == PostKind::Closing)
        .map(|p| p.sent_at.unwrap_or(p.due_at))
        .max();
    let end = closing
        .or(occ.ended_at)
        .or(occ.duration.map(|d| from + d))
        .map_or(from + UNKNOWN_END, |close| close + grace);
    now < end
}

/// How a network is named in a sentence.
fn network_name(network: &str) -> &str {
    match network {
        "console" => "the console",
        other => network_title(other),
    }
}

/// How a network is named on its own (a mark beside an answer).
pub(crate) fn network_title(network: &str) -> &'static str {
    match network {
        "irc" => "IRC",
        "matrix" => "Matrix",
        "console" => "console",
        _ => "another network",
    }
}

impl Transcript {
    /// The notice for one gap, times local to the debate's zone as
    /// elsewhere in the transcript (with seconds when the minutes alone
    /// would show a gap from 20:14 to 20:14).
    pub(crate) fn gap_sentence(&self, g: &Gap) -> String {
        let network = network_name(&g.network);
        let zone = &self.timezone;
        if g.ongoing {
            return format!(
                "Podium has been disconnected from {network} since {} ({zone}); \
                 answers sent since then are missing.",
                self.local(&g.from)
            );
        }
        let (mut from, mut until) = (self.local(&g.from), self.local(&g.until));
        if from == until {
            from = self.local_with(&g.from, "%H:%M:%S");
            until = self.local_with(&g.until, "%H:%M:%S");
        }
        format!(
            "Podium was disconnected from {network} from {from} to {until} ({zone}); \
             answers sent then are missing."
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn occurrence() -> OccurrenceRow {
        OccurrenceRow {
            id: 1,
            debate: "d".into(),
            scheduled_start: "2030-01-01T20:00:00Z".parse().unwrap(),
            title: "D".into(),
            timezone: "Europe/London".into(),
            shift_seconds: 0,
            ended_at: None,
            rehearsal: false,
            clock_real_base: None,
            clock_speed: None,
            questions: Vec::new(),
            zones: Vec::new(),
            public: false,
            token: String::new(),
            purged_at: None,
            duration: Some(Duration::hours(1)),
            collect_grace: Some(Duration::minutes(5)),
        }
    }

    fn closing(due: &str, sent: Option<&str>) -> PostRow {
        PostRow {
            id: 1,
            occurrence_id: 1,
            room: "irc:#d".into(),
            kind: PostKind::Closing,
            seq: 0,
            body: String::new(),
            question_text: None,
            due_at: due.parse().unwrap(),
            sent_at: sent.map(|s| s.parse().unwrap()),
            late: false,
            status: store::PostStatus::Sent,
            network_id: None,
            holder: None,
            epoch: None,
        }
    }

    fn span(w: Option<Window>) -> Option<(String, String, bool)> {
        w.map(|w| (rfc3339(w.from), rfc3339(w.until), w.collecting))
    }

    #[test]
    fn an_occurrence_is_live_until_the_end_of_collection() {
        let at = |s: &str| -> DateTime<Utc> { s.parse().unwrap() };
        let mut occ = occurrence();
        // Before the start, during, in the grace; not after it.
        for (now, live) in [
            ("2030-01-01T19:00:00Z", true),
            ("2030-01-01T20:30:00Z", true),
            ("2030-01-01T21:04:59Z", true),
            ("2030-01-01T21:05:00Z", false),
        ] {
            assert_eq!(collecting(&occ, &[], at(now)), live, "{now}");
        }
        // A closing posted late moves the end; `!end` ends it early.
        let posted = closing("2030-01-01T21:00:00Z", Some("2030-01-01T21:02:00Z"));
        assert!(collecting(&occ, &[posted], at("2030-01-01T21:06:00Z")));
        occ.ended_at = Some(at("2030-01-01T20:30:00Z"));
        assert!(!collecting(&occ, &[], at("2030-01-01T20:36:00Z")));
        // Stored without a duration: a day at most.
        occ.ended_at = None;
        occ.duration = None;
        assert!(collecting(&occ, &[], at("2030-01-02T19:59:00Z")));
        assert!(!collecting(&occ, &[], at("2030-01-02T20:00:00Z")));
        // A rehearsal at 60 times speed from 19:59: at 19:59:30 (real)
        // its clock says 20:29, still in it; at 20:00:06, 21:05, over.
        let mut r = occurrence();
        r.rehearsal = true;
        r.clock_real_base = Some(at("2030-01-01T19:59:00Z"));
        r.clock_speed = Some(60.0);
        assert!(collecting(&r, &[], at("2030-01-01T19:59:30Z")));
        assert!(!collecting(&r, &[], at("2030-01-01T20:00:06Z")));
    }

    #[test]
    fn the_window_runs_from_the_actual_start_to_the_end_of_collection() {
        let now = "2030-01-02T00:00:00Z".parse().unwrap();
        let mut occ = occurrence();
        let s = |a: &str, b: &str, c| Some((a.to_owned(), b.to_owned(), c));
        // No closing yet: the scheduled end plus the grace.
        assert_eq!(
            span(window(&occ, &[], now)),
            s("2030-01-01T20:00:00Z", "2030-01-01T21:05:00Z", false)
        );
        // The closing as posted (late here), plus the grace.
        let posted = closing("2030-01-01T21:00:00Z", Some("2030-01-01T21:02:00Z"));
        assert_eq!(
            span(window(&occ, &[posted], now)),
            s("2030-01-01T20:00:00Z", "2030-01-01T21:07:00Z", false)
        );
        // `!start` ten minutes early and `!end` at 20:30.
        occ.shift_seconds = -600;
        occ.ended_at = Some("2030-01-01T20:30:00Z".parse().unwrap());
        assert_eq!(
            span(window(&occ, &[], now)),
            s("2030-01-01T19:50:00Z", "2030-01-01T20:35:00Z", false)
        );
        // Still running: up to now.
        let during = "2030-01-01T20:20:00Z".parse().unwrap();
        assert_eq!(
            span(window(&occ, &[], during)),
            s("2030-01-01T19:50:00Z", "2030-01-01T20:20:00Z", true)
        );
        // Before the start: nothing to look at.
        let before = "2030-01-01T19:00:00Z".parse().unwrap();
        assert!(window(&occ, &[], before).is_none());
        // Stored before the duration was: bounded by now only.
        occ.ended_at = None;
        occ.duration = None;
        assert_eq!(
            span(window(&occ, &[], now)),
            s("2030-01-01T19:50:00Z", "2030-01-02T00:00:00Z", true)
        );
    }
}
