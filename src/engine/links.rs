//! `!transcript` and `!next`: what a room may learn of debates. A private
//! debate's link carries its key, and the key is the only thing between
//! anyone and its answers, so the link is only ever posted in the debate's
//! own rooms (where its closing posts it anyway). Asked for elsewhere, a
//! private debate gets the very answer a debate that does not exist gets,
//! except that its verified organisers are told to ask in one of its rooms:
//! answering them with the link would hand it to everyone in this one.
//! Public debates are available everywhere.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;

use super::here::Here;
use super::{Engine, text};
use crate::chat::{Chat, Room, Sender};
use crate::schedule::Debate;
use crate::store::OccurrenceRow;

impl<C: Chat> Engine<C> {
    /// Whether `debate` lists `sender` among its organisers, as the network
    /// of `room` compares names (IRC's CASEMAPPING); only a sender the
    /// network vouches for can match.
    pub(super) fn lists_organiser(&self, room: &Room, debate: &Debate, sender: &Sender) -> bool {
        sender.verified
            && debate
                .organisers
                .iter()
                .any(|o| self.chat.same_user(room, o, &sender.id))
    }

    /// `!transcript [DEBATE] [DATE]`: the link, for the named debate, else
    /// the room's running one, else the latest that has started here.
    pub(super) async fn transcript(
        &self,
        here: &Here<'_>,
        debate: Option<String>,
        date: Option<NaiveDate>,
        now: DateTime<Utc>,
    ) -> anyhow::Result<String> {
        let Some(id) = debate else {
            return Ok(match self.room_occurrence(here, date, now).await? {
                Some(occ) => self.link_answer(here, &occ),
                None => match date {
                    Some(d) => format!("No debate of this room was held on {d}."),
                    None => "No debate has started in this room yet.".to_owned(),
                },
            });
        };
        let found = crate::transcript::find(&self.store, &id, date, now, false).await?;
        let scheduled = here.schedule.debate(&id);
        let held_here = scheduled.is_some_and(|d| d.rooms.contains(here.room));
        Ok(match found {
            Some(occ) if held_here || !is_private(&occ, scheduled) => self.link_answer(here, &occ),
            Some(_)
                if scheduled.is_some_and(|d| self.lists_organiser(here.room, d, here.sender)) =>
            {
                format!(
                    "`{id}` is private: I give its link only in its own rooms, \
                 so that nobody else here reads it. Ask there."
                )
            }
            // Not found, or private and not ours to give: the same words.
            _ => match date {
                Some(d) => format!("I have no transcript of `{id}` on {d}."),
                None => format!("I have no transcript of `{id}` yet."),
            },
        })
    }

    /// The room's occurrence `!transcript` means without a debate: on
    /// `date` if given (the latest of that day), else the running one, else
    /// the latest that has started among the debates held in the room.
    async fn room_occurrence(
        &self,
        here: &Here<'_>,
        date: Option<NaiveDate>,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Option<OccurrenceRow>> {
        if let (None, Some(key)) = (date, &here.running)
            && let Some(occ) = self.store.find_occurrence(&key.0, key.1).await?
        {
            return Ok(Some(occ));
        }
        let mut latest: Option<OccurrenceRow> = None;
        for d in &here.debates {
            let Some(occ) = crate::transcript::find(&self.store, &d.id, date, now, false).await?
            else {
                continue;
            };
            if latest
                .as_ref()
                .is_none_or(|l| actual_start(&occ) > actual_start(l))
            {
                latest = Some(occ);
            }
        }
        Ok(latest)
    }

    fn link_answer(&self, here: &Here<'_>, occ: &OccurrenceRow) -> String {
        let url = self.transcript_url(occ);
        super::text::titled(here.max, &occ.title, |title| {
            format!("Transcript of “{title}”: {url}")
        })
    }
}

/// `!next`: the next three debates of the room (in a room that holds
/// none, of the public ones), each in every shown zone.
///
/// With the sender's own zone (`!tz`) each line also says the time there,
/// unless that zone is among the ones shown already.
pub(super) fn next(here: &Here<'_>, now: DateTime<Utc>, personal: Option<Tz>) -> String {
    let pool: Vec<&Debate> = if here.debates.is_empty() {
        here.schedule.debates.iter().filter(|d| d.public).collect()
    } else {
        here.debates.clone()
    };
    let mut next: Vec<_> = pool
        .iter()
        .filter_map(|d| d.occurrences().find(|o| o.starts_at >= now))
        .collect();
    next.sort_by_key(|o| o.starts_at);
    if next.is_empty() {
        return "No debates are scheduled.".to_owned();
    }
    next.iter()
        .take(3)
        .map(|o| {
            let mine = personal
                .filter(|z| !o.debate.zones.contains(z))
                .map(|z| format!(" (your time: {})", text::personal_time(o.starts_at, z)))
                .unwrap_or_default();
            format!("“{}”: {}{mine}", o.debate.title, o.time_line().render())
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Private as stored (its link carries the key) or as scheduled now (made
/// private since): either way its link is not for other rooms.
fn is_private(occ: &OccurrenceRow, scheduled: Option<&Debate>) -> bool {
    !occ.public || scheduled.is_some_and(|d| !d.public)
}

fn actual_start(occ: &OccurrenceRow) -> DateTime<Utc> {
    occ.scheduled_start + chrono::Duration::seconds(occ.shift_seconds)
}
