//! What the engine does for each chat command, one function each. Parsing
//! is in [`super::command`]; permission is checked here before a command is
//! applied, and every command gets an answer in its room, replying to it.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};

use super::command::{Command, CommandError};
use super::occurrences::OccKey;
use super::posting::Prepared;
use super::timeline::{self, Item};
use super::{Engine, START_AHEAD, scheduled_questions};
use crate::chat::{Chat, Outgoing, Room, Sender};
use crate::domain::PostKind;
use crate::schedule::{Debate, Schedule};

/// The room a command was given in, as the commands see it.
struct Here<'a> {
    room: &'a Room,
    schedule: &'a Schedule,
    /// The debates held in the room.
    debates: Vec<&'a Debate>,
    /// The occurrence running in the room, if any.
    running: Option<OccKey>,
}

const NOT_RUNNING: &str = "No debate is running in this room.";
const REMOVED: &str = "This debate is no longer in the schedule.";

impl<C: Chat> Engine<C> {
    /// Applies a parsed command (if the sender may use it) and answers it.
    pub(super) async fn command(
        &mut self,
        room: &Room,
        sender: &Sender,
        message_id: &str,
        parsed: Result<Command, CommandError>,
        now: DateTime<Utc>,
    ) {
        let answer = match parsed {
            Err(e) => e.to_string(),
            Ok(cmd) if cmd.organiser_only() && !self.is_organiser(room, sender).await => {
                format!(
                    "Sorry {}, only the organisers of a debate in this room can use that command. \
                     Try !help.",
                    sender.name
                )
            }
            Ok(cmd) => match self.apply(room, cmd, now).await {
                Ok(text) => text,
                Err(e) => {
                    tracing::error!(cause = %e, room = %room, "command failed");
                    "Sorry, that failed on my side; the organisers can find why in Podium's log."
                        .to_owned()
                }
            },
        };
        let key = format!("podium-cmd-{message_id}");
        let post = Outgoing {
            key: &key,
            body: &answer,
            kind: None,
            reply_to: Some(message_id),
        };
        if let Err(e) = self.chat.send(room, post).await {
            tracing::warn!(cause = %e, room = %room, "cannot answer a command");
        }
    }

    /// Organisers are those listed in the schedule for a debate held in the
    /// room, plus the room's moderators as the network reports them.
    async fn is_organiser(&self, room: &Room, sender: &Sender) -> bool {
        let schedule = self.schedule.borrow().clone();
        let listed = sender.verified
            && schedule
                .debates
                .iter()
                .filter(|d| d.rooms.contains(room))
                .any(|d| {
                    d.organisers
                        .iter()
                        .any(|o| self.chat.same_user(room, o, &sender.id))
                });
        listed || self.chat.is_moderator(room, &sender.id).await
    }

    async fn apply(
        &mut self,
        room: &Room,
        cmd: Command,
        now: DateTime<Utc>,
    ) -> anyhow::Result<String> {
        let schedule: Arc<Schedule> = self.schedule.borrow().clone();
        let here = Here {
            room,
            schedule: &schedule,
            debates: schedule
                .debates
                .iter()
                .filter(|d| d.rooms.contains(room))
                .collect(),
            running: self.rooms.running(&room.to_string()).cloned(),
        };
        match cmd {
            Command::Help => Ok(Command::help_text().to_owned()),
            Command::Unknown(word) => Ok(format!("I do not know !{word}. Try !help.")),
            Command::Next => Ok(next(&here, now)),
            Command::Transcript { debate, date } => self.transcript(&here, debate, date, now).await,
            Command::Start => self.start(&here, now).await,
            Command::End => self.end(&here, now).await,
            Command::Skip => self.skip(&here, now).await,
            Command::Ask(text) => self.ask(&here, &text, now).await,
        }
    }

    /// `!transcript [DEBATE] [DATE]`: the link, for the running debate or
    /// the room's first by default.
    async fn transcript(
        &self,
        here: &Here<'_>,
        debate: Option<String>,
        date: Option<NaiveDate>,
        now: DateTime<Utc>,
    ) -> anyhow::Result<String> {
        let running = here.running.as_ref().map(|k| k.0.clone());
        let Some(id) = debate
            .or(running)
            .or_else(|| here.debates.first().map(|d| d.id.clone()))
        else {
            return Ok("Which debate? Say !transcript DEBATE [DATE].".into());
        };
        let found = crate::transcript::find(&self.store, &id, date, now, false).await?;
        Ok(match found {
            Some(o) => {
                let url = self.transcript_url(&o);
                format!("Transcript of “{}”: {url}", o.title)
            }
            None => match date {
                Some(d) => format!("I have no transcript of `{id}` on {d}."),
                None => format!("I have no transcript of `{id}` yet."),
            },
        })
    }

    /// `!start`: the room's next debate (within a day) starts now; its
    /// whole time line moves.
    async fn start(&mut self, here: &Here<'_>, now: DateTime<Utc>) -> anyhow::Result<String> {
        if let Some(key) = &here.running {
            return Ok(format!("“{}” is already running.", title(here, key)));
        }
        let next = here
            .debates
            .iter()
            .filter_map(|d| {
                d.occurrences()
                    .find(|o| o.starts_at > now)
                    .filter(|o| o.starts_at - now <= START_AHEAD)
                    .map(|o| (*d, o.starts_at))
            })
            .min_by_key(|(_, s)| *s);
        let Some((debate, start)) = next else {
            return Ok("No debate is due in this room in the next 24 hours.".to_owned());
        };
        let key: OccKey = (debate.id.clone(), start);
        self.load(&key, debate, now).await?;
        let id = self.occurrence_id(&key, debate, now).await?;
        let shift = (now - start).num_seconds();
        self.store.set_shift(id, shift).await?;
        self.occs.set_shift(&key, shift);
        self.replan = true;
        Ok(format!("Starting “{}” now.", debate.title))
    }

    /// `!end`: the closing and the link follow now; questions still to
    /// come are dropped.
    async fn end(&mut self, here: &Here<'_>, now: DateTime<Utc>) -> anyhow::Result<String> {
        let Some(key) = &here.running else {
            return Ok(NOT_RUNNING.to_owned());
        };
        let id = self
            .occs
            .id(key)
            .ok_or_else(|| anyhow::anyhow!("running occurrence {key:?} has no stored row"))?;
        self.store.set_ended(id, now).await?;
        self.occs.set_ended(key, now);
        self.replan = true;
        Ok(format!("Closing “{}” now.", title(here, key)))
    }

    /// `!skip`: the next question not yet posted goes out now, in every
    /// room of the debate.
    async fn skip(&mut self, here: &Here<'_>, now: DateTime<Utc>) -> anyhow::Result<String> {
        let Some(key) = &here.running else {
            return Ok(NOT_RUNNING.to_owned());
        };
        let Some(debate) = here.schedule.debate(&key.0) else {
            return Ok(REMOVED.to_owned());
        };
        let name = here.room.to_string();
        let next = timeline::timeline(debate, key.1, self.occs.live(key))
            .into_iter()
            .find(|i| {
                i.kind == PostKind::Question
                    && !self.occs.is_done(key, &(name.clone(), i.kind, i.seq))
            });
        let Some(item) = next else {
            return Ok("There are no more questions; say !end to close.".to_owned());
        };
        self.post_now(debate, key, &item, now, None).await?;
        self.replan = true;
        Ok(format!("Q{} posted early.", item.seq))
    }

    /// `!ask TEXT`: an extra question, numbered after the scheduled ones.
    async fn ask(
        &mut self,
        here: &Here<'_>,
        text: &str,
        now: DateTime<Utc>,
    ) -> anyhow::Result<String> {
        let Some(key) = &here.running else {
            return Ok(NOT_RUNNING.to_owned());
        };
        let Some(debate) = here.schedule.debate(&key.0) else {
            return Ok(REMOVED.to_owned());
        };
        let n = self.occs.reserve_question(key, scheduled_questions(debate));
        // Answers tagged with the new number count from now on, before the
        // question is confirmed posted.
        for r in &debate.rooms {
            self.rooms.question(&r.to_string(), key, n, None);
        }
        let item = Item {
            due: now,
            kind: PostKind::Question,
            seq: i64::from(n),
        };
        self.post_now(debate, key, &item, now, Some(text)).await?;
        Ok(format!("Asked as Q{n}."))
    }

    /// Posts `item` in every room of the debate now.
    async fn post_now(
        &mut self,
        debate: &Debate,
        key: &OccKey,
        item: &Item,
        now: DateTime<Utc>,
        text: Option<&str>,
    ) -> anyhow::Result<()> {
        let mut ready = Vec::new();
        for r in &debate.rooms {
            if let Prepared::Send(post) = self.prepare(debate, key, r, item, now, text).await? {
                ready.push(*post);
            }
        }
        self.dispatch(ready);
        Ok(())
    }
}

/// `!next`: the next three debates of the room (of all, in a room that
/// holds none), each in every shown zone.
fn next(here: &Here<'_>, now: DateTime<Utc>) -> String {
    let pool: Vec<&Debate> = if here.debates.is_empty() {
        here.schedule.debates.iter().collect()
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
        .map(|o| format!("“{}”: {}", o.debate.title, o.time_line().render()))
        .collect::<Vec<_>>()
        .join("\n")
}

fn title(here: &Here<'_>, key: &OccKey) -> String {
    here.schedule
        .debate(&key.0)
        .map_or_else(|| key.0.clone(), |d| d.title.clone())
}
