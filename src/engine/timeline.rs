//! The timeline of one occurrence: what is posted when.

use chrono::{DateTime, Duration, Utc};

use crate::schedule::Debate;
use crate::store::PostKind;

/// One thing to post, in every room of the occurrence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    pub due: DateTime<Utc>,
    pub kind: PostKind,
    /// Question number, or reminder lead in seconds; 0 otherwise.
    pub seq: i64,
}

/// Live changes made by organisers, as stored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Live {
    /// `!start` moved the whole debate by this much (negative: earlier).
    pub shift: Duration,
    /// `!end` closed it at this instant.
    pub ended_at: Option<DateTime<Utc>>,
}

/// Reminders before the scheduled start, the intro at the (possibly
/// shifted) start, the questions at their offsets, the closing at the end
/// (or when `!end` was said), and the transcript link right after it.
/// Questions that would fall after an early end are left out.
pub fn timeline(debate: &Debate, scheduled_start: DateTime<Utc>, live: Live) -> Vec<Item> {
    let start = scheduled_start + live.shift;
    let close = live.ended_at.unwrap_or(start + debate.duration);
    let mut items = Vec::with_capacity(debate.remind.len() + debate.questions.len() + 3);
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
        let due = start + q.at;
        if due < close || (live.ended_at.is_none() && due <= close) {
            items.push(Item {
                due,
                kind: PostKind::Question,
                seq: i64::try_from(i + 1).unwrap_or(i64::MAX),
            });
        }
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
