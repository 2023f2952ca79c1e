//! The timeline of one occurrence: what is posted when.

use chrono::{DateTime, Duration, Utc};

use crate::schedule::Debate;
use crate::store::PostKind;

/// One thing to post, in every room of the occurrence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    pub due: DateTime<Utc>,
    pub kind: PostKind,
    /// Question number (for a last call, of the question it announces),
    /// or reminder lead in seconds; 0 otherwise.
    pub seq: i64,
}

/// The most `!extend` may add to one occurrence in all: bounded, so that
/// looking for the occurrence a late message belongs to stays cheap.
pub const MAX_EXTENDED: Duration = Duration::hours(6);

/// Live changes made by organisers, as stored.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Live {
    /// `!start` moved the whole debate by this much (negative: earlier).
    pub shift: Duration,
    /// `!end` closed it at this instant.
    pub ended_at: Option<DateTime<Utc>>,
    /// `!extend`, oldest first: when it was said and by how much. Each
    /// moves what was still to come then, so what was posted stays where
    /// it was.
    pub extensions: Vec<(DateTime<Utc>, Duration)>,
}

impl Live {
    /// Where an item planned for `due` falls once the extensions said
    /// before it apply: each one said before the item (as earlier ones
    /// had moved it) pushes it later.
    pub fn moved(&self, due: DateTime<Utc>) -> DateTime<Utc> {
        self.extensions
            .iter()
            .fold(due, |d, (at, by)| if d > *at { d + *by } else { d })
    }

    /// How much later than planned the debate ends.
    pub fn extended(&self) -> Duration {
        self.extensions
            .iter()
            .fold(Duration::zero(), |total, (_, by)| total + *by)
    }
}

/// Reminders before the scheduled start, the intro at the (possibly
/// shifted) start, the questions at their offsets, the closing at the end
/// (or when `!end` was said), and the transcript link right after it.
/// Questions that would fall after an early end are left out; `!extend`
/// moves what was still to come when it was said (see [`Live::moved`]).
///
/// With `last_call`, a last call comes that long before each question
/// after the first and before the closing, when that is still after the
/// question before it: one crowded in before the question it follows
/// would cut that question short, and before Q1 nothing is being answered.
/// After `!end` the closing has none (it was not announced: it is now).
pub fn timeline(debate: &Debate, scheduled_start: DateTime<Utc>, live: &Live) -> Vec<Item> {
    let start = scheduled_start + live.shift;
    let close = live
        .ended_at
        .unwrap_or_else(|| live.moved(start + debate.duration));
    let mut items = Vec::with_capacity(debate.remind.len() + 2 * debate.questions.len() + 4);
    // When the question before the next one was due (`None` before Q1).
    let mut previous: Option<DateTime<Utc>> = None;
    let last_call =
        |items: &mut Vec<Item>, previous: Option<DateTime<Utc>>, due: DateTime<Utc>, seq: i64| {
            if let (Some(lead), Some(previous)) = (debate.last_call, previous)
                && due - lead > previous
            {
                items.push(Item {
                    due: due - lead,
                    kind: PostKind::LastCall,
                    seq,
                });
            }
        };
    for lead in &debate.remind {
        items.push(Item {
            due: scheduled_start - *lead,
            kind: PostKind::Reminder,
            seq: lead.num_seconds(),
        });
    }
    items.push(Item {
        due: start.min(close),
        kind: PostKind::Intro,
        seq: 0,
    });
    for (i, q) in debate.questions.iter().enumerate() {
        let due = live.moved(start + q.at);
        if due < close || (live.ended_at.is_none() && due <= close) {
            let seq = i64::try_from(i + 1).unwrap_or(i64::MAX);
            last_call(&mut items, previous, due, seq);
            items.push(Item {
                due,
                kind: PostKind::Question,
                seq,
            });
            previous = Some(due);
        }
    }
    if live.ended_at.is_none() {
        last_call(&mut items, previous, close, 0);
    }
    items.push(Item {
        due: close,
        kind: PostKind::Closing,
        seq: 0,
    });
    items.push(Item {
        due: close,
        kind: PostKind::Transcript,
        seq: 0,
    });
    items.sort_by_key(|i| (i.due, i.kind, i.seq));
    items
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    /// A debate at 20:00 UTC on 1 Nov 2011, of `duration`, with questions
    /// at these minutes and this `last_call`.
    fn debate(duration: &str, at: &[u32], last_call: Option<&str>) -> Debate {
        let questions: String = at
            .iter()
            .enumerate()
            .map(|(i, m)| format!("      - text: Q{}\n        at: {m}m\n", i + 1))
            .collect();
        let last_call = last_call.map_or(String::new(), |l| format!("    last_call: {l}\n"));
        let yaml = format!(
            "timezone: UTC\nrooms: [\"#d:example.org\"]\nremind: []\ndebates:\n  - id: d\n    title: D\n    starts: 2011-11-01 20:00\n    duration: {duration}\n{last_call}    questions:\n{questions}"
        );
        let now = Utc.with_ymd_and_hms(2011, 10, 1, 0, 0, 0).unwrap();
        crate::schedule::parse(&yaml, now)
            .map_err(|d| d.render("t"))
            .unwrap()
            .0
            .debates
            .remove(0)
    }

    fn start() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2011, 11, 1, 20, 0, 0).unwrap()
    }

    /// The time line as (minutes:seconds after the start, kind, seq).
    fn plan(debate: &Debate, live: Live) -> Vec<(String, &'static str, i64)> {
        timeline(debate, start(), &live)
            .into_iter()
            .map(|i| {
                let s = (i.due - start()).num_seconds();
                (format!("{}:{:02}", s / 60, s % 60), i.kind.as_str(), i.seq)
            })
            .collect()
    }

    #[test]
    fn last_calls_come_before_each_later_question_and_the_closing() {
        let d = debate("1h", &[5, 20, 40], Some("2m"));
        assert_eq!(
            plan(&d, Live::default()),
            vec![
                ("0:00".into(), "intro", 0),
                ("5:00".into(), "question", 1),
                ("18:00".into(), "last_call", 2),
                ("20:00".into(), "question", 2),
                ("38:00".into(), "last_call", 3),
                ("40:00".into(), "question", 3),
                ("58:00".into(), "last_call", 0),
                ("60:00".into(), "closing", 0),
                ("60:00".into(), "transcript", 0),
            ]
        );
    }

    #[test]
    fn without_last_call_the_time_line_is_as_before() {
        let d = debate("1h", &[5, 20, 40], None);
        assert!(
            timeline(&d, start(), &Live::default())
                .iter()
                .all(|i| i.kind != PostKind::LastCall)
        );
        assert_eq!(timeline(&d, start(), &Live::default()).len(), 6);
    }

    #[test]
    fn none_before_q1_and_none_crowded_before_the_question_it_follows() {
        // Q1 at the start: nothing before it. Q2 two minutes after Q1,
        // with a 2m last call: it would come with Q1 itself, so none. Q3
        // and Q4, 10 minutes after the one before: kept. The closing 1
        // minute after Q4: none either.
        let d = debate("23m", &[0, 2, 12, 22], Some("2m"));
        assert_eq!(
            plan(&d, Live::default()),
            vec![
                ("0:00".into(), "intro", 0),
                ("0:00".into(), "question", 1),
                ("2:00".into(), "question", 2),
                ("10:00".into(), "last_call", 3),
                ("12:00".into(), "question", 3),
                ("20:00".into(), "last_call", 4),
                ("22:00".into(), "question", 4),
                ("23:00".into(), "closing", 0),
                ("23:00".into(), "transcript", 0),
            ]
        );
        // One second after the question before it is enough.
        let d = debate("10m", &[0, 3], Some("2m 59s"));
        assert!(plan(&d, Live::default()).contains(&("0:01".into(), "last_call", 2)));
    }

    #[test]
    fn last_calls_move_with_start_and_the_closing_loses_its_own_at_end() {
        let d = debate("1h", &[5, 20, 40], Some("2m"));
        let shifted = Live {
            shift: Duration::minutes(-10),
            ..Live::default()
        };
        let calls: Vec<_> = plan(&d, shifted)
            .into_iter()
            .filter(|(_, k, _)| *k == "last_call")
            .collect();
        assert_eq!(
            calls,
            vec![
                ("8:00".into(), "last_call", 2),
                ("28:00".into(), "last_call", 3),
                ("48:00".into(), "last_call", 0),
            ]
        );
        // `!end` at 30 minutes: Q3 and its last call go, and the closing
        // (now) has none; the one before Q2, long past, stays.
        let ended = Live {
            ended_at: Some(start() + Duration::minutes(30)),
            ..Live::default()
        };
        let calls: Vec<_> = plan(&d, ended)
            .into_iter()
            .filter(|(_, k, _)| *k == "last_call")
            .collect();
        assert_eq!(calls, vec![("18:00".into(), "last_call", 2)]);
    }
}
