//! What the engine does for each chat command. Parsing is in
//! [`super::command`]; this file holds the effects, which need the engine's
//! state.

use chrono::{DateTime, Duration, Utc};

use super::command::Command;
use super::timeline::{self, Item};
use super::{Engine, OccKey};
use crate::chat::{Chat, Outgoing, Room, Sender};
use crate::schedule::Debate;
use crate::store::PostKind;

impl<C: Chat> Engine<C> {
    pub(super) async fn command(
        &mut self,
        room: &Room,
        sender: &Sender,
        message_id: &str,
        parsed: Result<Command, super::command::CommandError>,
        now: DateTime<Utc>,
    ) {
        let answer = match parsed {
            Err(e) => e.to_string(),
            Ok(cmd) if cmd.organiser_only() && !self.is_organiser(room, &sender.id).await => {
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
        if let Err(e) = self
            .chat
            .send(
                room,
                Outgoing {
                    key: &key,
                    body: &answer,
                },
            )
            .await
        {
            tracing::warn!(cause = %e, room = %room, "cannot answer a command");
        }
    }

    /// Organisers are those listed in the schedule for a debate held in the
    /// room, plus the room's moderators as the network reports them.
    async fn is_organiser(&self, room: &Room, user: &str) -> bool {
        let schedule = self.schedule.borrow().clone();
        let listed = schedule
            .debates
            .iter()
            .filter(|d| d.rooms.contains(room))
            .any(|d| d.organisers.iter().any(|o| o.eq_ignore_ascii_case(user)));
        listed || self.chat.is_moderator(room, user).await
    }

    async fn apply(
        &mut self,
        room: &Room,
        cmd: Command,
        now: DateTime<Utc>,
    ) -> anyhow::Result<String> {
        let schedule = self.schedule.borrow().clone();
        let here: Vec<&Debate> = schedule
            .debates
            .iter()
            .filter(|d| d.rooms.contains(room))
            .collect();
        let running = self
            .rooms
            .get(&room.to_string())
            .filter(|a| a.closes.is_none())
            .map(|a| a.key.clone());
        Ok(match cmd {
            Command::Help => Command::help_text().to_owned(),
            Command::Unknown(word) => format!("I do not know !{word}. Try !help."),
            Command::Next => {
                let pool: Vec<&Debate> = if here.is_empty() {
                    schedule.debates.iter().collect()
                } else {
                    here.clone()
                };
                let mut next: Vec<_> = pool
                    .iter()
                    .filter_map(|d| d.occurrences().find(|o| o.starts_at >= now))
                    .collect();
                next.sort_by_key(|o| o.starts_at);
                if next.is_empty() {
                    "No debates are scheduled.".to_owned()
                } else {
                    next.iter()
                        .take(3)
                        .map(|o| format!("“{}”: {}", o.debate.title, o.time_line().render()))
                        .collect::<Vec<_>>()
                        .join("\n")
                }
            }
            Command::Transcript { debate, date } => {
                let id = match debate.or_else(|| running.as_ref().map(|k| k.0.clone())) {
                    Some(id) => id,
                    None => match here.first() {
                        Some(d) => d.id.clone(),
                        None => return Ok("Which debate? Say !transcript DEBATE [DATE].".into()),
                    },
                };
                let found = crate::transcript::find(&self.store, &id, date, now, false).await?;
                let found = found.as_ref();
                match (found, schedule.debate(&id)) {
                    (Some(o), Some(d)) => {
                        format!(
                            "Transcript of “{}”: {}",
                            o.title,
                            self.transcript_url(d, o.scheduled_start)
                        )
                    }
                    (Some(o), None) => format!(
                        "Transcript of “{}”: {}/transcripts/{}/{}",
                        o.title,
                        self.config.public_url.trim_end_matches('/'),
                        o.debate,
                        o.scheduled_start
                            .with_timezone(
                                &o.timezone
                                    .parse::<chrono_tz::Tz>()
                                    .unwrap_or(chrono_tz::UTC)
                            )
                            .format("%Y-%m-%d")
                    ),
                    (None, _) => match date {
                        Some(d) => format!("I have no transcript of `{id}` on {d}."),
                        None => format!("I have no transcript of `{id}` yet."),
                    },
                }
            }
            Command::Start => {
                if let Some(key) = running {
                    return Ok(format!("“{}” is already running.", self.title(&key)));
                }
                let next = here
                    .iter()
                    .filter_map(|d| {
                        d.occurrences()
                            .find(|o| o.starts_at > now)
                            .filter(|o| o.starts_at - now <= super::START_AHEAD)
                            .map(|o| (*d, o.starts_at))
                    })
                    .min_by_key(|(_, s)| *s);
                let Some((debate, start)) = next else {
                    return Ok("No debate is due in this room in the next 24 hours.".to_owned());
                };
                let key: OccKey = (debate.id.clone(), start);
                self.load(&key, debate, now).await?;
                let id = self.occurrence_id(&key, debate, now).await?;
                let shift = now - start;
                self.store.set_shift(id, shift.num_seconds()).await?;
                self.occs.entry(key).or_default().live.shift =
                    Duration::seconds(shift.num_seconds());
                self.replan = true;
                format!("Starting “{}” now.", debate.title)
            }
            Command::End => {
                let Some(key) = running else {
                    return Ok("No debate is running in this room.".to_owned());
                };
                let id = self.occurrence_id_known(&key)?;
                self.store.set_ended(id, now).await?;
                let state = self.occs.entry(key.clone()).or_default();
                state.live.ended_at.get_or_insert(now);
                self.replan = true;
                format!("Closing “{}” now.", self.title(&key))
            }
            Command::Skip => {
                let Some(key) = running else {
                    return Ok("No debate is running in this room.".to_owned());
                };
                let Some(debate) = schedule.debate(&key.0) else {
                    return Ok("This debate is no longer in the schedule.".to_owned());
                };
                let live = self.occs.get(&key).map(|o| o.live).unwrap_or_default();
                let name = room.to_string();
                let next = timeline::timeline(debate, key.1, live)
                    .into_iter()
                    .find(|i| {
                        i.kind == PostKind::Question
                            && !self
                                .occs
                                .get(&key)
                                .is_some_and(|o| o.done.contains(&(name.clone(), i.kind, i.seq)))
                    });
                let Some(item) = next else {
                    return Ok("There are no more questions; say !end to close.".to_owned());
                };
                for r in &debate.rooms {
                    self.post_item(debate, &key, r, &item, now).await?;
                }
                self.replan = true;
                format!("Q{} posted early.", item.seq)
            }
            Command::Ask(text) => {
                let Some(key) = running else {
                    return Ok("No debate is running in this room.".to_owned());
                };
                let Some(debate) = schedule.debate(&key.0) else {
                    return Ok("This debate is no longer in the schedule.".to_owned());
                };
                let state = self.occs.entry(key.clone()).or_default();
                let n = state
                    .extra_questions
                    .max(u32::try_from(debate.questions.len()).unwrap_or(0))
                    + 1;
                // Reserved now: a retried or failed post keeps its number.
                state.extra_questions = n;
                let n = i64::from(n);
                let item = Item {
                    due: now,
                    kind: PostKind::Question,
                    seq: n,
                };
                for r in &debate.rooms {
                    self.post_item_with(debate, &key, r, &item, now, Some(&text))
                        .await?;
                }
                format!("Asked as Q{n}.")
            }
        })
    }

    fn title(&self, key: &OccKey) -> String {
        self.schedule
            .borrow()
            .debate(&key.0)
            .map_or_else(|| key.0.clone(), |d| d.title.clone())
    }

    fn occurrence_id_known(&self, key: &OccKey) -> anyhow::Result<i64> {
        self.occs
            .get(key)
            .and_then(|o| o.id)
            .ok_or_else(|| anyhow::anyhow!("running occurrence {key:?} has no stored row"))
    }
}
