//! What the engine knows of occurrences from the store: loaded once per
//! occurrence, the row created the first time something is claimed, and
//! the rooms' attribution state rebuilt after a restart.

use chrono::{DateTime, Utc};

use super::occurrences::{OccKey, OccState};
use super::rooms::ActiveRoom;
use super::{Engine, scheduled_questions};
use crate::chat::Chat;
use crate::domain::PostKind;
use crate::schedule::Debate;
use crate::store::NewOccurrence;

impl<C: Chat> Engine<C> {
    /// Loads what the store knows of an occurrence, once.
    pub(super) async fn load(
        &mut self,
        key: &OccKey,
        debate: &Debate,
        now: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        if self.occs.contains(key) {
            return Ok(());
        }
        let mut state = OccState::default();
        if let Some(row) = self.store.find_occurrence(&key.0, key.1).await? {
            let posts = self.store.posts(row.id).await?;
            state = OccState::from_store(&row, &posts);
            state.live.extensions = self
                .store
                .extensions(row.id)
                .await?
                .into_iter()
                .map(|(at, s)| (at, chrono::Duration::seconds(s)))
                .collect();
            state.link = Some(self.transcript_links(&row));
            self.restore_rooms(key, row.id, debate, &posts, now).await?;
        }
        self.occs.insert(key.clone(), state);
        Ok(())
    }

    /// The occurrence's stored id, creating its row the first time.
    pub(super) async fn occurrence_id(
        &mut self,
        key: &OccKey,
        debate: &Debate,
        now: DateTime<Utc>,
    ) -> anyhow::Result<i64> {
        if let Some(id) = self.occs.id(key) {
            return Ok(id);
        }
        let row = self
            .store
            .occurrence(&NewOccurrence {
                debate: &debate.id,
                scheduled_start: key.1,
                title: &debate.title,
                timezone: debate.timezone.name(),
                questions: debate.questions.iter().map(|q| q.text.as_str()).collect(),
                zones: debate.zones.iter().map(|z| z.name()).collect(),
                public: debate.public,
                rehearsal_clock: self.config.rehearsal,
                duration: debate.duration,
                collect_grace: self.config.collect_grace,
                now,
            })
            .await?;
        self.occs.set_id(key, row.id);
        self.occs.set_link(key, self.transcript_links(&row));
        Ok(row.id)
    }

    /// Rebuilds attribution state for rooms where the occurrence was
    /// collecting replies when Podium stopped.
    async fn restore_rooms(
        &mut self,
        key: &OccKey,
        occurrence_id: i64,
        debate: &Debate,
        posts: &[crate::store::PostRow],
        now: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        for room in &debate.rooms {
            let name = room.to_string();
            if !posts
                .iter()
                .any(|p| p.room == name && p.kind == PostKind::Intro)
            {
                continue;
            }
            let active = self
                .rebuild_room(key, occurrence_id, debate, &name, posts)
                .await?;
            if active.closes.is_none_or(|c| c >= now) {
                self.rooms.open(name, active);
            }
        }
        Ok(())
    }

    /// A room's attribution state rebuilt from what the store holds.
    pub(super) async fn rebuild_room(
        &self,
        key: &OccKey,
        occurrence_id: i64,
        debate: &Debate,
        name: &str,
        posts: &[crate::store::PostRow],
    ) -> anyhow::Result<ActiveRoom> {
        let replies = self.store.reply_questions(occurrence_id, name).await?;
        Ok(ActiveRoom::rebuild(
            key,
            occurrence_id,
            scheduled_questions(debate),
            name,
            posts,
            replies,
            self.config.collect_grace,
        ))
    }

    /// The transcript link of a stored occurrence, as the schedule has it
    /// now: with the key when its debate has been made private since.
    pub(super) fn transcript_url(&self, occ: &crate::store::OccurrenceRow) -> String {
        crate::transcript::url_now(&self.config.public_url, occ, &self.schedule())
    }

    /// A stored occurrence's transcript link as its row has it, and with
    /// its key.
    fn transcript_links(&self, occ: &crate::store::OccurrenceRow) -> (String, String) {
        let url = &self.config.public_url;
        (
            crate::transcript::url_of(url, occ),
            crate::transcript::keyed_url(url, occ),
        )
    }
}
