//! Debates started in a room with `!debate TITLE`, as MeetBot's
//! `#startmeeting` starts a meeting: no entry in debates.yaml, no
//! scheduled questions. It starts at once (intro now), organisers ask with
//! `!ask` (proposals and votes work as in any debate) and close it with
//! `!end`; it gets its transcript and link like any other. What makes one
//! is stored, and the engine sees it as one more debate of the schedule
//! (see [`Engine::schedule`]), so every rule of a scheduled debate applies.

use std::sync::Arc;

use chrono::{DateTime, Duration, SubsecRound as _, Utc};

use super::here::Here;
use super::{Engine, floor};
use crate::chat::{Chat, Room, Sender};
use crate::schedule::{AdHocDefaults, Debate, Schedule, zones};
use crate::store::AdHocRow;

/// The longest an ad-hoc debate runs: `!end` closes it sooner, `!extend`
/// gives it more.
pub const LONGEST: Duration = Duration::hours(4);

/// Shorter than this before the room's next scheduled debate is too short
/// to start one.
const SHORTEST: Duration = Duration::minutes(15);

/// The longest title, in characters.
pub const TITLE_MAX: usize = 120;

/// The debate an ad-hoc row describes, with the top of the file's zones,
/// organisers, ignore list and hashtag.
pub fn debate_of(row: &AdHocRow, defaults: &AdHocDefaults) -> Option<Debate> {
    let room: Room = row.room.parse().ok()?;
    let timezone = row.timezone.parse().unwrap_or(defaults.timezone);
    let mut zones = defaults.zones.clone();
    if !zones.contains(&timezone) {
        zones.insert(0, timezone);
    }
    Some(Debate {
        id: row.debate.clone(),
        title: row.title.clone(),
        timezone,
        zones,
        starts: row.starts_at.with_timezone(&timezone).naive_local(),
        first_start: row.starts_at,
        duration: Duration::seconds(row.seconds),
        questions: Vec::new(),
        rooms: vec![room],
        organisers: defaults.organisers.clone(),
        ignore: defaults.ignore.clone(),
        hashtag: defaults.hashtag.clone(),
        public: false,
        intro: Some(
            "An ad-hoc debate: organisers ask the questions with !ask, anyone may propose one \
             with !propose, and !end closes it."
                .to_owned(),
        ),
        closing: None,
        remind: Vec::new(),
        last_call: None,
        repeat: None,
        pos: crate::schedule::Pos::default(),
        starts_pos: crate::schedule::Pos::default(),
    })
}

/// A debate id from the room and the start, as ids are written in
/// debates.yaml: `adhoc-debate-example-org-20261205-201500`.
fn id_for(room: &Room, start: DateTime<Utc>) -> String {
    let mut slug = String::new();
    for c in room.to_string().chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
        if slug.len() >= 32 {
            break;
        }
    }
    let slug = slug.trim_end_matches('-');
    format!("adhoc-{slug}-{}", start.format("%Y%m%d-%H%M%S"))
}

impl<C: Chat> Engine<C> {
    /// The schedule as the engine sees it: the file's debates and the
    /// ad-hoc ones. The same `Arc` as long as neither changes.
    pub(super) fn schedule(&self) -> Arc<Schedule> {
        let file = self.schedule.borrow().clone();
        if self.adhoc.is_empty() {
            return file;
        }
        let mut cache = self
            .merged
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((from, merged)) = cache.as_ref()
            && Arc::ptr_eq(from, &file)
        {
            return merged.clone();
        }
        let mut all = (*file).clone();
        all.debates.extend(self.adhoc.iter().cloned());
        let merged = Arc::new(all);
        *cache = Some((file, merged.clone()));
        merged
    }

    fn set_adhoc(&mut self, debates: Vec<Debate>) {
        self.adhoc = debates;
        *self
            .merged
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
        self.replan = true;
    }

    /// The ad-hoc debates of the last [`super::FORGET_AFTER`], at start:
    /// one still running carries on.
    pub(super) async fn load_adhoc(&mut self, now: DateTime<Utc>) {
        match self.store.adhoc_since(now - super::FORGET_AFTER).await {
            Ok(rows) => {
                let defaults = self.schedule.borrow().adhoc.clone();
                let debates: Vec<Debate> = rows
                    .iter()
                    .filter_map(|r| debate_of(r, &defaults))
                    .collect();
                if !debates.is_empty() {
                    tracing::info!(debates = debates.len(), "ad-hoc debates carried on");
                }
                self.set_adhoc(debates);
            }
            Err(e) => tracing::error!(cause = %e, "cannot read the ad-hoc debates"),
        }
    }

    /// Drops ad-hoc debates long over from the engine's view (their
    /// transcripts stay).
    pub(super) fn forget_adhoc(&mut self, now: DateTime<Utc>) {
        let before = now - super::FORGET_AFTER;
        if self.adhoc.iter().any(|d| d.first_start < before) {
            let kept = self
                .adhoc
                .iter()
                .filter(|d| d.first_start >= before)
                .cloned()
                .collect();
            self.set_adhoc(kept);
        }
    }

    /// Who may start one: the room's moderators (as for any organiser
    /// command), those listed at the top of the file, and the organisers
    /// of a debate held in the room.
    pub(super) async fn may_start_adhoc(&self, room: &Room, sender: &Sender) -> bool {
        let schedule = self.schedule();
        let top = sender.verified
            && schedule
                .adhoc
                .organisers
                .iter()
                .any(|o| self.chat.same_user(room, o, &sender.id));
        top || self.is_organiser(room, sender).await
    }

    /// `!debate TITLE`
    pub(super) async fn start_adhoc(
        &mut self,
        here: &Here<'_>,
        title: &str,
        now: DateTime<Utc>,
    ) -> anyhow::Result<String> {
        if self.leadership.borrow().replica().is_some() {
            return Ok(
                "Ad-hoc debates are not available with replicas yet: add the debate \
                 to debates.yaml instead."
                    .to_owned(),
            );
        }
        if let Some(key) = &here.running {
            let title = here
                .schedule
                .debate(&key.0)
                .map_or(key.0.as_str(), |d| d.title.as_str());
            return Ok(format!("“{title}” is running in this room; !end it first."));
        }
        let title = floor::clean(title);
        let length = title.chars().count();
        if length == 0 {
            return Ok("`!debate` needs a title: !debate What makes a good mentor?".to_owned());
        }
        if length > TITLE_MAX {
            return Ok(format!(
                "That title is too long: at most {TITLE_MAX} characters, and it has {length}."
            ));
        }
        let start = now.trunc_subsecs(0);
        // Up to the room's next scheduled debate, which must not find
        // this one still running.
        let next = here
            .debates
            .iter()
            .filter_map(|d| d.occurrences().find(|o| o.starts_at > start))
            .map(|o| o.starts_at)
            .min();
        let mut length = LONGEST;
        if let Some(next) = next {
            length = length.min(next - start - Duration::minutes(1));
        }
        if length < SHORTEST {
            return Ok(
                "A scheduled debate starts here within a quarter of an hour: start it now with \
                 !start instead."
                    .to_owned(),
            );
        }
        let defaults = here.schedule.adhoc.clone();
        let row = AdHocRow {
            debate: id_for(here.room, start),
            title: title.clone(),
            room: here.room.to_string(),
            timezone: defaults.timezone.name().to_owned(),
            starts_at: start,
            seconds: length.num_seconds(),
        };
        let Some(debate) = debate_of(&row, &defaults) else {
            anyhow::bail!("room {} cannot be read back", row.room);
        };
        if !self.store.start_adhoc(&row).await? {
            return Ok("A debate was started here a moment ago.".to_owned());
        }
        tracing::info!(debate = %row.debate, room = %here.room, by = %here.sender.id,
            "ad-hoc debate started");
        let closes = zones::time_line(start + length, debate.timezone, &debate.zones);
        let mut all = self.adhoc.clone();
        all.push(debate);
        self.set_adhoc(all);
        Ok(format!(
            "Starting “{title}” now, as {}; it closes with !end, or {} at the latest.",
            row.debate,
            closes.render()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_made_of_the_room_and_the_start() {
        let at = DateTime::parse_from_rfc3339("2026-12-05T20:15:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            id_for(&Room::Matrix("#Debate:example.org".into()), at),
            "adhoc-debate-example-org-20261205-201500"
        );
        assert_eq!(
            id_for(&Room::Irc("##rust-éd".into()), at),
            "adhoc-irc-rust-d-20261205-201500"
        );
    }
}
