//! The raw log beside a transcript (`/transcripts/DEBATE/DATE.log`), as
//! MeetBot's users expect one: everything said in the debate's rooms
//! during its window, Podium's own posts included, one line per message in
//! time order. Removed messages are left out and edited ones show their
//! last text; control characters and bidirectional overrides are made
//! harmless as in the text view, and a line break shows as `␤`, so a
//! message is always one line.
//!
//! The window of a room runs from [`LOG_BEFORE`] (10 minutes) before the
//! debate's start (as `!start` moved it) to the end of the collection of
//! answers there: the closing plus the collect grace, cut short where
//! another debate first posted in the room, or, without a closing, the
//! scheduled end plus the grace (and no later than now).

use std::fmt::Write as _;

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;

use crate::domain::{PostKind, PostStatus, Room};
use crate::safe_text::neutralise;
use crate::store::{self, HistoryLine, LOG_BEFORE, OccurrenceRow, Store};

/// Used for occurrences stored before their length and grace were.
const DEFAULT_DURATION: Duration = Duration::hours(1);
const DEFAULT_GRACE: Duration = Duration::minutes(10);

/// One room's window: its name, and from when until when.
type Window = (String, DateTime<Utc>, DateTime<Utc>);

/// The windows of each room the occurrence posted in, at `now`.
async fn windows(
    store: &Store,
    occ: &OccurrenceRow,
    now: DateTime<Utc>,
) -> store::Result<Vec<Window>> {
    let posts = store.posts(occ.id).await?;
    let start = occ.scheduled_start + Duration::seconds(occ.shift_seconds);
    let grace = occ.collect_grace.unwrap_or(DEFAULT_GRACE);
    let end = occ
        .ended_at
        .unwrap_or(start + occ.duration.unwrap_or(DEFAULT_DURATION));
    let mut rooms: Vec<&str> = Vec::new();
    for p in &posts {
        if !rooms.contains(&p.room.as_str()) {
            rooms.push(&p.room);
        }
    }
    let mut out = Vec::with_capacity(rooms.len());
    for room in rooms {
        let closed = posts
            .iter()
            .find(|p| p.room == room && p.kind == PostKind::Closing && p.status == PostStatus::Sent)
            .and_then(|p| p.sent_at)
            .unwrap_or(end);
        let mut until = (closed + grace).min(now);
        if let Some(next) = store.posted_by_others(room, occ.id, closed, until).await? {
            until = next;
        }
        out.push((room.to_owned(), start - LOG_BEFORE, until));
    }
    Ok(out)
}

/// What changes when anything in the log changes (a cheap summary of its
/// windows, for the web pages' cache).
///
/// # Errors
/// Store failures.
pub async fn fingerprint(
    store: &Store,
    occ: &OccurrenceRow,
    now: DateTime<Utc>,
) -> store::Result<String> {
    let mut out = String::new();
    for (room, from, until) in windows(store, occ, now).await? {
        let summary = store.room_history_summary(&room, from, until).await?;
        let _ = write!(out, "{room}|{from}|{until}|{summary};");
    }
    Ok(out)
}

/// The raw log of an occurrence as it stands at `now`.
///
/// # Errors
/// Store failures.
pub async fn render(
    store: &Store,
    occ: &OccurrenceRow,
    now: DateTime<Utc>,
) -> store::Result<String> {
    let zone: Tz = occ.timezone.parse().unwrap_or(chrono_tz::UTC);
    let mut lines: Vec<HistoryLine> = Vec::new();
    for (room, from, until) in windows(store, occ, now).await? {
        lines.extend(store.room_history(&room, from, until).await?);
    }
    // Stable: each room's lines are already in order.
    lines.sort_by_key(|l| l.at);
    let start = occ.scheduled_start + Duration::seconds(occ.shift_seconds);
    let mut out = format!(
        "# Raw log of “{}”, {} ({}): everything said in its rooms from {} minutes before the \
         start to the end of the collection of answers, Podium's posts included. Removed \
         messages are left out; edited ones show their last text. Times in {}.\n",
        one_line(&occ.title),
        start.with_timezone(&zone).format("%a %-d %b %Y %H:%M"),
        occ.debate,
        LOG_BEFORE.num_minutes(),
        zone.name(),
    );
    for l in &lines {
        out.push_str(&line(l, zone));
        out.push('\n');
    }
    Ok(out)
}

/// `2011-11-01 20:05:03 matrix #debate:example.org <ann (@ann:example.org)> text`;
/// an action is `* ann (@ann:example.org) waves`; Podium's posts are
/// `-Podium- text`, which no participant's line can look like.
fn line(l: &HistoryLine, zone: Tz) -> String {
    let (network, room) = match l.room.parse::<Room>() {
        Ok(Room::Matrix(r)) => ("matrix", r),
        Ok(Room::Irc(r)) => ("irc", r),
        Ok(Room::Console(r)) => ("console", r),
        Err(_) => ("?", l.room.clone()),
    };
    let time = l.at.with_timezone(&zone).format("%Y-%m-%d %H:%M:%S");
    let body = one_line(&l.body);
    let head = format!("{time} {network} {}", one_line(&room));
    match &l.author {
        None => format!("{head} -Podium- {body}"),
        Some((id, name)) => {
            let who = if id.strip_prefix("irc:") == Some(name.as_str()) {
                one_line(name)
            } else {
                format!("{} ({})", one_line(name), one_line(id))
            };
            if l.action {
                format!("{head} * {who} {body}")
            } else {
                format!("{head} <{who}> {body}")
            }
        }
    }
}

/// Chat text made harmless, on one line.
fn one_line(text: &str) -> String {
    neutralise(text).replace('\n', "␤")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn lines_name_time_network_room_and_author_and_stay_one_line() {
        let zone: Tz = "Europe/London".parse().unwrap();
        let said = |room: &str, id: &str, name: &str, body: &str, action: bool| HistoryLine {
            at: at("2011-11-01T20:05:03Z"),
            room: room.into(),
            author: Some((id.into(), name.into())),
            body: body.into(),
            action,
        };
        assert_eq!(
            line(
                &said(
                    "#d:example.org",
                    "@ann:example.org",
                    "ann",
                    "two\nlines \u{1b}[2J",
                    false
                ),
                zone
            ),
            "2011-11-01 20:05:03 matrix #d:example.org <ann (@ann:example.org)> two␤lines ␛[2J"
        );
        assert_eq!(
            line(&said("irc:#d", "irc:bob", "bob", "waves", true), zone),
            "2011-11-01 20:05:03 irc #d * bob waves"
        );
        assert_eq!(
            line(&said("irc:#d", "irc:robert", "bob", "hi", false), zone),
            "2011-11-01 20:05:03 irc #d <bob (irc:robert)> hi"
        );
        let podium = HistoryLine {
            author: None,
            ..said("#d:example.org", "", "", "Q1: Why?", false)
        };
        assert_eq!(
            line(&podium, zone),
            "2011-11-01 20:05:03 matrix #d:example.org -Podium- Q1: Why?"
        );
    }
}
