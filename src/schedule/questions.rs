//! A debate's `questions`: each a text, or a `{text, at}` pinned to an
//! offset from the start; the unpinned ones are spread evenly around the
//! pinned ones.

use chrono::Duration;

use super::model::Question;
use super::read::Ctx;
use super::time::format_duration;
use super::yaml::{Node, Pos, Value};

const QUESTION_KEYS: &[&str] = &["text", "at"];

/// One question as written, read without errors.
struct Written {
    text: String,
    at: Option<Duration>,
    /// Where a problem with its offset is reported: the `at` if given, else
    /// the question.
    pos: Pos,
}

/// Reads the list of questions and places them within `duration` (`None`
/// when the debate's duration is broken: the questions are still read, so
/// their own problems are reported).
pub(super) fn read_questions(
    ctx: &mut Ctx,
    node: &Node,
    duration: Option<Duration>,
) -> Option<Vec<Question>> {
    let Value::Seq(items) = &node.value else {
        ctx.error(
            node.pos,
            format!("`questions` should be a list, found {}", node.value.kind()),
        );
        return None;
    };
    if items.is_empty() {
        ctx.error(node.pos, "a debate needs at least one question");
        return None;
    }
    // Every question is read, so one bad question does not hide the next.
    let written: Vec<Option<Written>> = items
        .iter()
        .enumerate()
        .map(|(i, item)| read_question(ctx, item, i + 1))
        .collect();
    let duration = duration?;
    let written: Vec<Written> = written.into_iter().collect::<Option<_>>()?;
    if !offsets_fit(ctx, &written, duration) {
        return None;
    }
    let ats: Vec<Option<Duration>> = written.iter().map(|w| w.at).collect();
    let placed = place_questions(&ats, duration);
    Some(
        written
            .into_iter()
            .zip(placed)
            .map(|(w, at)| Question { text: w.text, at })
            .collect(),
    )
}

/// Question `n` (counting from 1), plain text or a `{text, at}` mapping.
fn read_question(ctx: &mut Ctx, item: &Node, n: usize) -> Option<Written> {
    if !matches!(item.value, Value::Map(_)) {
        let text = ctx.text(item, &format!("question {n}"))?;
        return Some(Written {
            text,
            at: None,
            pos: item.pos,
        });
    }
    let f = ctx.fields(item, &format!("question {n}"), QUESTION_KEYS)?;
    // Both fields are read before either failure counts, so both are reported.
    let text = match f.get("text") {
        Some(t) => ctx.text(t, &format!("the text of question {n}")),
        None => {
            ctx.error(item.pos, format!("question {n} has no `text`"));
            None
        }
    };
    let at = f
        .get("at")
        .map(|a| (ctx.duration(a, &format!("`at` of question {n}")), a.pos));
    match (text?, at) {
        (text, None) => Some(Written {
            text,
            at: None,
            pos: item.pos,
        }),
        (text, Some((at, pos))) => Some(Written {
            text,
            at: Some(at?),
            pos,
        }),
    }
}

/// Checks the pinned offsets: each within the debate and none before the
/// one pinned above it. Reports every offset that is wrong.
fn offsets_fit(ctx: &mut Ctx, written: &[Written], duration: Duration) -> bool {
    let mut ok = true;
    let mut last: Option<(usize, Duration)> = None;
    for (i, w) in written.iter().enumerate() {
        let Some(at) = w.at else { continue };
        if at >= duration {
            ctx.error(
                w.pos,
                format!(
                    "question {} is at {}, but the debate is over after {}",
                    i + 1,
                    format_duration(at),
                    format_duration(duration)
                ),
            );
            ok = false;
        }
        if let Some((j, prev)) = last
            && at < prev
        {
            ctx.error(
                w.pos,
                format!(
                    "question {} is at {}, before question {} at {}: list questions in the order they are asked",
                    i + 1,
                    format_duration(at),
                    j + 1,
                    format_duration(prev)
                ),
            );
            ok = false;
        }
        last = Some((i, at));
    }
    ok
}

/// Places the questions: an explicit `at` is kept; the others are spread
/// evenly between their explicit neighbours (or the start and the end).
fn place_questions(at: &[Option<Duration>], duration: Duration) -> Vec<Duration> {
    let mut out = vec![Duration::zero(); at.len()];
    let mut i = 0;
    while i < at.len() {
        if let Some(a) = at[i] {
            out[i] = a;
            i += 1;
            continue;
        }
        let run_start = i;
        while i < at.len() && at[i].is_none() {
            i += 1;
        }
        let run = i32::try_from(i - run_start).unwrap_or(i32::MAX);
        let next = at.get(i).copied().flatten().unwrap_or(duration);
        let (base, slots, first) = match run_start.checked_sub(1).and_then(|p| at[p]) {
            Some(prev) => (prev, run + 1, 1),
            None => (Duration::zero(), run, 0),
        };
        let step = (next - base) / slots;
        for (k, slot) in out[run_start..i].iter_mut().enumerate() {
            *slot = base + step * (i32::try_from(k).unwrap_or(0) + first);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn questions_without_offsets_are_spread_evenly() {
        let placed = place_questions(&[None, None, None, None], Duration::hours(1));
        let minutes: Vec<i64> = placed.iter().map(|d| d.num_minutes()).collect();
        assert_eq!(minutes, vec![0, 15, 30, 45]);
    }

    #[test]
    fn questions_between_fixed_ones_share_the_gap() {
        let placed = place_questions(
            &[
                None,
                Some(Duration::minutes(20)),
                None,
                None,
                Some(Duration::minutes(50)),
            ],
            Duration::hours(1),
        );
        let minutes: Vec<i64> = placed.iter().map(|d| d.num_minutes()).collect();
        assert_eq!(minutes, vec![0, 20, 30, 40, 50]);
    }
}
