//! RSVPs and personal reminders: `!rsvp DEBATE` registers the sender for
//! the debate's next occurrence, `!rsvp` lists theirs, `!unrsvp [DEBATE]`
//! takes them back. At the debate's shortest reminder before its start,
//! each registered person gets a reminder of their own, privately (a
//! direct-message room on Matrix, a NOTICE on IRC while they are online),
//! with the time in their own zone too (`!tz`).

use chrono::{DateTime, Duration, Utc};

use super::here::Here;
use super::occurrences::OccKey;
use super::{Engine, text};
use crate::chat::{Chat, Network};
use crate::schedule::{Debate, zones};

/// When a debate has no reminders, people who registered are reminded
/// this long before its start.
pub const DEFAULT_LEAD: Duration = Duration::minutes(10);

/// How long before the start a registered person is reminded: the
/// debate's shortest reminder.
#[must_use]
pub fn lead(debate: &Debate) -> Duration {
    debate.remind.last().copied().unwrap_or(DEFAULT_LEAD)
}

fn network_of(name: &str) -> Option<Network> {
    match name {
        "matrix" => Some(Network::Matrix),
        "irc" => Some(Network::Irc),
        "console" => Some(Network::Console),
        _ => None,
    }
}

impl<C: Chat> Engine<C> {
    /// " (your time: ...)" for a person who set a zone with `!tz`, unless
    /// the debate shows that zone already.
    async fn your_time(
        &self,
        person: &str,
        debate: &Debate,
        at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> String {
        let zone = match self.store.zone_of(person, now).await {
            Ok(z) => z.and_then(|z| z.parse::<chrono_tz::Tz>().ok()),
            Err(e) => {
                tracing::warn!(cause = %e, "cannot read a person's time zone");
                None
            }
        };
        match zone {
            Some(z) if !debate.zones.contains(&z) && debate.timezone != z => {
                format!(" (your time: {})", text::personal_time(at, z))
            }
            _ => String::new(),
        }
    }

    /// `!rsvp DEBATE`
    pub(super) async fn rsvp(
        &mut self,
        here: &Here<'_>,
        id: &str,
        now: DateTime<Utc>,
    ) -> anyhow::Result<String> {
        let sender = here.sender;
        if !sender.verified {
            return Ok(format!(
                "{}, registering is by account here: log in to your account on this network \
                 (NickServ), then ask again.",
                sender.name
            ));
        }
        // A private debate is known only in its own rooms, as its link is.
        let debate = here
            .schedule
            .debate(id)
            .filter(|d| d.public || d.rooms.contains(here.room));
        let next = debate.and_then(|d| {
            d.occurrences()
                .find(|o| o.starts_at > now)
                .map(|o| (d, o.starts_at))
        });
        let Some((debate, start)) = next else {
            return Ok(format!(
                "There is no upcoming debate `{}` to register for; !next lists them.",
                id.chars().take(40).collect::<String>()
            ));
        };
        let key: OccKey = (debate.id.clone(), start);
        self.load(&key, debate, now).await?;
        let occ = self.occurrence_id(&key, debate, now).await?;
        let at = start + self.occs.shift(&key);
        let network = here.room.network().as_str();
        let new = self
            .store
            .rsvp(occ, &sender.id, &sender.name, network, now)
            .await?;
        let when = zones::time_line(at, debate.timezone, &debate.zones).render();
        let yours = self.your_time(&sender.id, debate, at, now).await;
        let how = if here.room.network() == Network::Matrix {
            "in a direct message"
        } else {
            "with a private notice, if you are online then"
        };
        let due = at - lead(debate);
        Ok(if new && due <= now {
            format!(
                "Registered for “{}”: {when}{yours}. It starts in {}, sooner than I remind \
                 people, so no reminder will come.",
                debate.title,
                text::time_left(at - now)
            )
        } else if new {
            tracing::info!(debate = %debate.id, person = %sender.id, "registered");
            format!(
                "Registered for “{}”: {when}{yours}. I will remind you {} before, {how}. \
                 !unrsvp {} takes it back.",
                debate.title,
                text::lead_words(lead(debate)),
                debate.id
            )
        } else {
            format!(
                "You are registered for “{}” already: {when}{yours}.",
                debate.title
            )
        })
    }

    /// `!rsvp`: the sender's registrations to come.
    pub(super) async fn my_rsvps(
        &mut self,
        here: &Here<'_>,
        now: DateTime<Utc>,
    ) -> anyhow::Result<String> {
        let rows = self.store.rsvps_of(&here.sender.id, now).await?;
        if rows.is_empty() {
            return Ok(
                "You have not registered for a debate; !rsvp DEBATE does, !next lists them."
                    .to_owned(),
            );
        }
        let mut lines = Vec::new();
        let mut elsewhere = 0;
        for r in &rows {
            // A private debate is named only in its own rooms.
            let Some(debate) = here
                .schedule
                .debate(&r.debate)
                .filter(|d| d.public || d.rooms.contains(here.room))
            else {
                elsewhere += 1;
                continue;
            };
            let when = zones::time_line(r.scheduled_start, debate.timezone, &debate.zones);
            let yours = self
                .your_time(&here.sender.id, debate, r.scheduled_start, now)
                .await;
            lines.push(format!(
                "“{}” ({}): {}{yours}",
                debate.title,
                debate.id,
                when.render()
            ));
        }
        let more = match elsewhere {
            0 => String::new(),
            1 => " (and for 1 debate this room does not hold: ask in its room)".to_owned(),
            n => format!(" (and for {n} debates this room does not hold: ask in their rooms)"),
        };
        if lines.is_empty() {
            return Ok(format!(
                "You are registered for no debate of this room{more}."
            ));
        }
        Ok(format!(
            "You are registered for: {}{more}.",
            lines.join("; ")
        ))
    }

    /// `!unrsvp [DEBATE]`
    pub(super) async fn unrsvp(
        &mut self,
        here: &Here<'_>,
        id: Option<&str>,
        now: DateTime<Utc>,
    ) -> anyhow::Result<String> {
        let rows = self.store.rsvps_of(&here.sender.id, now).await?;
        let mut gone = 0;
        for r in rows.iter().filter(|r| id.is_none_or(|id| r.debate == id)) {
            if self.store.unrsvp(r.occurrence_id, &here.sender.id).await? {
                gone += 1;
            }
        }
        Ok(match (gone, id) {
            (0, Some(id)) => format!(
                "You were not registered for `{}`.",
                id.chars().take(40).collect::<String>()
            ),
            (0, None) => "You were not registered for any debate.".to_owned(),
            (_, Some(id)) => format!("Unregistered from `{id}`."),
            (1, None) => "Unregistered from 1 debate.".to_owned(),
            (n, None) => format!("Unregistered from {n} debates."),
        })
    }

    /// Sends the personal reminders of an occurrence starting at `start`,
    /// once: each is claimed in the store before it goes (a crash loses
    /// one rather than sending it twice), and the network's slowness holds
    /// up nothing.
    pub(super) async fn remind_people(
        &mut self,
        debate: &Debate,
        occurrence_id: i64,
        start: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        let claimed = self.store.claim_reminders(occurrence_id, now).await?;
        if claimed.is_empty() {
            return Ok(());
        }
        tracing::info!(debate = %debate.id, people = claimed.len(), "personal reminders");
        let when = zones::time_line(start, debate.timezone, &debate.zones).render();
        let left = text::time_left(start - now);
        let rooms: Vec<String> = debate.rooms.iter().map(ToString::to_string).collect();
        for r in claimed {
            let Some(network) = network_of(&r.network) else {
                continue;
            };
            let yours = self.your_time(&r.person_id, debate, start, now).await;
            let body = format!(
                "Reminder: “{}” starts in {left}: {when}{yours}. In {}.",
                debate.title,
                rooms.join(", ")
            );
            let chat = self.chat.clone();
            tokio::spawn(async move {
                if let Err(e) = chat
                    .send_direct(network, &r.person_id, &r.name, &body)
                    .await
                {
                    tracing::warn!(person = %r.person_id, cause = %e,
                        "a personal reminder could not be sent");
                }
            });
        }
        Ok(())
    }
}
