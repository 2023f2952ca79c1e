//! Posts: what Podium sends to a room, claimed before it is sent.

use chrono::{DateTime, Utc};

use super::{PostKind, PostStatus, Result, Store};

/// A post about to be sent.
#[derive(Clone, Debug)]
pub struct NewPost<'a> {
    pub occurrence_id: i64,
    pub room: &'a str,
    pub kind: PostKind,
    pub seq: i64,
    pub body: &'a str,
    pub question_text: Option<&'a str>,
    pub due_at: DateTime<Utc>,
    pub late: bool,
    pub status: PostStatus,
}

#[derive(Clone, Debug, PartialEq)]
pub struct PostRow {
    pub id: i64,
    pub occurrence_id: i64,
    pub room: String,
    pub kind: PostKind,
    pub seq: i64,
    pub body: String,
    pub question_text: Option<String>,
    pub due_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub late: bool,
    pub status: PostStatus,
    pub network_id: Option<String>,
    /// The replica that handed it to the network, and under which lease
    /// epoch (`None` before it was handed, and without replicas before
    /// they existed).
    pub holder: Option<String>,
    pub epoch: Option<i64>,
}

/// Under what a post is handed to the network: with replicas, the
/// claimant's lease of the post's debate.
#[derive(Clone, Debug)]
pub struct Fence<'a> {
    pub holder: &'a str,
    /// `None` without replicas: nothing to check.
    pub lease: Option<(&'a str, i64)>,
}

impl Store {
    /// Every post of an occurrence, in the order they were due.
    ///
    /// # Errors
    /// Database failures.
    pub async fn posts(&self, occurrence_id: i64) -> Result<Vec<PostRow>> {
        run!(self, posts::posts(occurrence_id))
    }

    /// Records a post before it is sent. Returns the new row, or the
    /// existing one when this item was already claimed: the unique key is
    /// what guarantees a question is never posted twice.
    ///
    /// # Errors
    /// Database failures.
    pub async fn claim_post(&self, post: &NewPost<'_>) -> Result<(PostRow, bool)> {
        run!(self, posts::claim_post(post))
    }

    /// Moves a claim to `Sending` as it is handed to the network, recording
    /// who hands it. With replicas this is the fence: it succeeds only while
    /// `fence.lease` (debate and epoch) is this replica's and unexpired, by
    /// the database's clock, in the same statement. False: not to be sent
    /// (the lease was lost, or the claim is no longer waiting).
    ///
    /// # Errors
    /// Database failures.
    pub async fn hand_post(&self, post_id: i64, fence: &Fence<'_>) -> Result<bool> {
        run!(self, posts::hand_post(post_id, fence))
    }

    /// # Errors
    /// Database failures.
    pub async fn mark_sent(
        &self,
        post_id: i64,
        sent_at: DateTime<Utc>,
        network_id: &str,
    ) -> Result<()> {
        run!(self, posts::mark_sent(post_id, sent_at, network_id))
    }

    /// # Errors
    /// Database failures.
    pub async fn mark_status(&self, post_id: i64, status: PostStatus) -> Result<()> {
        run!(self, posts::mark_status(post_id, status))
    }

    /// A post that is going out late: its text (with the late note) and
    /// flag, before it is sent again.
    ///
    /// # Errors
    /// Database failures.
    pub async fn set_late_body(&self, post_id: i64, body: &str) -> Result<()> {
        run!(self, posts::set_late_body(post_id, body))
    }
}
