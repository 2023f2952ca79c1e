//! What the engine does for each chat command, one function each. Parsing
//! is in [`super::command`]; the rate limits ([`super::limits`]) come first,
//! then permission is checked before a command is applied, and every
//! command within the limits gets an answer in its room, replying to it,
//! handed to the room's queue of answers ([`super::answers`]) so that the
//! engine never waits for the network. `!transcript` and `!next`, which
//! decide what a room may learn, are in [`super::links`].

use std::sync::Arc;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use tokio::time::Instant;

use super::answers::Answer;
use super::command::{Command, CommandError, TzCommand};
use super::here::Here;
use super::limits::{self, Verdict};
use super::links;
use super::occurrences::OccKey;
use super::posting::Prepared;
use super::timeline::{self, Item, MAX_EXTENDED};
use super::{Engine, START_AHEAD, scheduled_questions, text};
use crate::chat::{Chat, Room, Sender};
use crate::domain::PostKind;
use crate::schedule::{Debate, Schedule, zones};

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
            Ok(cmd) if cmd.organiser_only() && !self.may_use(room, sender, &cmd).await => {
                format!(
                    "Sorry {}, only the organisers of a debate in this room can use that command. \
                     Try !help.",
                    sender.name
                )
            }
            Ok(cmd) => match self.apply(room, sender, message_id, cmd, now).await {
                Ok(text) => text,
                Err(e) => {
                    tracing::error!(cause = %e, room = %room, "command failed");
                    "Sorry, that failed on my side; the organisers can find why in Podium's log."
                        .to_owned()
                }
            },
        };
        self.answer(room, message_id, answer);
    }

    /// Whether a command is within the rate limits (organisers' commands
    /// pass a room's limit); a sender over their own is told so once a
    /// window. Checked before anything else is done for the command.
    pub(super) async fn admit(&mut self, room: &Room, sender: &Sender, message_id: &str) -> bool {
        let now = Instant::now();
        let notice = match self.limits.check(room, &sender.id, now) {
            Verdict::Answer => return true,
            Verdict::OverRoom if self.is_organiser(room, sender).await => return true,
            Verdict::OverRoom => {
                crate::metrics::dropped(room.network(), crate::metrics::Dropped::Room);
                false
            }
            Verdict::OverSender { notice } => {
                crate::metrics::dropped(room.network(), crate::metrics::Dropped::Sender);
                notice
            }
        };
        if self.limits.ignored(room, now) {
            tracing::info!(room = %room, sender = %sender.id,
                "commands over the rate limit are ignored here for now");
        }
        tracing::debug!(room = %room, sender = %sender.id, "ignored a command over the rate limit");
        if notice {
            let text = format!(
                "{}, that is too many commands: I answer {} a minute from each person \
                 and ignore the rest.",
                sender.name,
                limits::PER_SENDER.burst
            );
            self.answer(room, message_id, text);
        }
        false
    }

    /// Hands an answer to its room's queue, shortened to what the room
    /// takes; the engine never waits for the network to send it.
    fn answer(&mut self, room: &Room, message_id: &str, text: String) {
        let body = match self.chat.max_chars(room, None) {
            Some(max) => text::shorten(&text, max),
            None => text,
        };
        let answer = Answer {
            body,
            reply_to: message_id.to_owned(),
        };
        if !self.answers.push(room, answer) {
            tracing::debug!(room = %room, "dropped an answer: the room's queue is full");
            self.limits.shed(room, Instant::now());
            crate::metrics::dropped(room.network(), crate::metrics::Dropped::Answer);
        }
    }

    /// Whether `sender` may use organiser command `cmd` here.
    async fn may_use(&self, room: &Room, sender: &Sender, cmd: &Command) -> bool {
        match cmd {
            Command::Debate(_) => self.may_start_adhoc(room, sender).await,
            _ => self.is_organiser(room, sender).await,
        }
    }

    /// Organisers are those listed in the schedule for a debate held in the
    /// room, plus the room's moderators as the network reports them.
    pub(super) async fn is_organiser(&self, room: &Room, sender: &Sender) -> bool {
        let schedule = self.schedule();
        let listed = schedule
            .debates
            .iter()
            .filter(|d| d.rooms.contains(room))
            .any(|d| self.lists_organiser(room, d, sender));
        listed || self.chat.is_moderator(room, &sender.id).await
    }

    async fn apply(
        &mut self,
        room: &Room,
        sender: &Sender,
        message_id: &str,
        cmd: Command,
        now: DateTime<Utc>,
    ) -> anyhow::Result<String> {
        let schedule: Arc<Schedule> = self.schedule();
        let here = Here {
            room,
            sender,
            schedule: &schedule,
            debates: schedule
                .debates
                .iter()
                .filter(|d| d.rooms.contains(room))
                .collect(),
            running: self.rooms.running(&room.to_string()).cloned(),
            max: self.chat.max_chars(room, None),
        };
        match cmd {
            Command::Help => Ok(Command::help_text().to_owned()),
            Command::Unknown(word) => Ok(format!("I do not know !{word}. Try !help.")),
            Command::Next => {
                let personal = self.personal_zone(sender, now).await;
                Ok(links::next(&here, now, personal))
            }
            Command::Tz(tz) => self.tz(sender, tz, now).await,
            Command::Transcript { debate, date } => self.transcript(&here, debate, date, now).await,
            Command::Start => self.start(&here, now).await,
            Command::End => self.end(&here, now).await,
            Command::Skip => self.skip(&here, now).await,
            Command::Ask(text) => self.ask(&here, &text, now).await,
            Command::Extend(by) => self.extend(&here, by, now).await,
            Command::Propose(text) => self.propose(&here, message_id, &text, now).await,
            Command::Vote(n) => self.vote(&here, n, true, now).await,
            Command::Unvote(n) => self.vote(&here, n, false, now).await,
            Command::Proposals => self.list_proposals(&here).await,
            Command::AskProposal(pick) => self.ask_proposal(&here, pick, now).await,
            Command::Forget { confirm } => self.forget(sender, confirm, now).await,
            Command::Debate(title) => self.start_adhoc(&here, &title, now).await,
            Command::Rsvp(Some(id)) => self.rsvp(&here, &id, now).await,
            Command::Rsvp(None) => self.my_rsvps(&here, now).await,
            Command::Unrsvp(id) => self.unrsvp(&here, id.as_deref(), now).await,
        }
    }

    /// The zone the sender chose with `!tz`, if any. A store failure or a
    /// zone this build no longer knows only loses the extra time shown.
    async fn personal_zone(&self, sender: &Sender, now: DateTime<Utc>) -> Option<Tz> {
        match self.store.zone_of(&sender.id, now).await {
            Ok(zone) => zone.and_then(|z| z.parse().ok()),
            Err(e) => {
                tracing::warn!(cause = %e, "cannot read a person's time zone");
                None
            }
        }
    }

    /// `!tz`: remembers, shows or forgets the sender's own zone.
    async fn tz(
        &mut self,
        sender: &Sender,
        tz: TzCommand,
        now: DateTime<Utc>,
    ) -> anyhow::Result<String> {
        Ok(match tz {
            TzCommand::Set(zone) => {
                self.store.set_zone(&sender.id, zone.name(), now).await?;
                format!(
                    "Your time zone is now {} (it is {} there). !next shows your time too; \
                     !tz clear forgets it.",
                    zone.name(),
                    text::personal_time(now, zone)
                )
            }
            TzCommand::Show => match self.personal_zone(sender, now).await {
                Some(zone) => format!(
                    "Your time zone is {} (it is {} there).",
                    zone.name(),
                    text::personal_time(now, zone)
                ),
                None => {
                    "You have not set a time zone; say !tz Europe/Berlin, for example.".to_owned()
                }
            },
            TzCommand::Clear => {
                if self.store.clear_zone(&sender.id).await? {
                    "Forgotten: your time zone.".to_owned()
                } else {
                    "You had no time zone set.".to_owned()
                }
            }
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

    /// `!extend D`: what is still to come (questions, last calls, the
    /// closing and its link) moves `by` later; what was posted stays.
    async fn extend(
        &mut self,
        here: &Here<'_>,
        by: chrono::Duration,
        now: DateTime<Utc>,
    ) -> anyhow::Result<String> {
        let Some(key) = &here.running else {
            return Ok(NOT_RUNNING.to_owned());
        };
        let Some(debate) = here.schedule.debate(&key.0) else {
            return Ok(REMOVED.to_owned());
        };
        let live = self.occs.live(key);
        if live.ended_at.is_some() {
            return Ok(format!("“{}” is closing already.", debate.title));
        }
        if live.extended() + by > MAX_EXTENDED {
            return Ok(format!(
                "“{}” has been extended by {} already; it can be by {} in all.",
                debate.title,
                text::lead_words(live.extended()),
                text::lead_words(MAX_EXTENDED)
            ));
        }
        // Two `!extend`s in the same instant (a second's resolution in
        // the store) are one, doubled: the second would move nothing more.
        if live.extensions.iter().any(|(at, _)| *at == now) {
            return Ok("Extended a moment ago; say it again in a second.".to_owned());
        }
        let id = self
            .occs
            .id(key)
            .ok_or_else(|| anyhow::anyhow!("running occurrence {key:?} has no stored row"))?;
        self.store.add_extension(id, now, by.num_seconds()).await?;
        self.occs.extend(key, now, by);
        self.replan = true;
        let live = self.occs.live(key);
        let close = live.moved(key.1 + live.shift + debate.duration);
        tracing::info!(debate = %debate.id, by_s = by.num_seconds(),
            extended_s = live.extended().num_seconds(), closes = %close, "debate extended");
        let line = zones::time_line(close, debate.timezone, &debate.zones);
        Ok(format!(
            "“{}” goes on {} longer: what is still to come moves with it, and it now closes {}.",
            debate.title,
            text::lead_words(by),
            line.render()
        ))
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
        let next = timeline::timeline(debate, key.1, &self.occs.live(key))
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
        if let Some((allowed, length)) = self.over_length(debate, key, text) {
            return Ok(format!(
                "That question is too long for this debate's rooms: at most {allowed} \
                 characters, and it has {length}. Nothing was asked."
            ));
        }
        let n = self.ask_numbered(debate, key, text, now).await?;
        Ok(format!("Asked as Q{n}."))
    }

    /// Posts `text` now in every room as the next extra question; its
    /// number, after the scheduled ones and those asked before.
    pub(super) async fn ask_numbered(
        &mut self,
        debate: &Debate,
        key: &OccKey,
        text: &str,
        now: DateTime<Utc>,
    ) -> anyhow::Result<u32> {
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
        Ok(n)
    }

    /// When `question` cannot be posted whole in every room of the debate:
    /// the characters it may have there and the ones it has. Checked
    /// before a number is given out, so that nothing is said to be asked
    /// that a network would refuse.
    pub(super) fn over_length(
        &self,
        debate: &Debate,
        key: &OccKey,
        question: &str,
    ) -> Option<(usize, usize)> {
        let asked = self.occs.get(key).map_or(0, |o| o.questions());
        let n = asked.max(scheduled_questions(debate)) + 1;
        let post = text::question(debate, i64::from(n), question)
            .chars()
            .count();
        let length = question.chars().count();
        let allowed = debate
            .rooms
            .iter()
            .filter_map(|r| self.chat.max_chars(r, Some(PostKind::Question)))
            .map(|max| max.saturating_sub(post - length))
            .min()?;
        (length > allowed).then_some((allowed, length))
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

fn title(here: &Here<'_>, key: &OccKey) -> String {
    here.schedule
        .debate(&key.0)
        .map_or_else(|| key.0.clone(), |d| d.title.clone())
}
