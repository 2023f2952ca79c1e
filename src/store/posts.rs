//! Posts: what Podium sends to a room, claimed before it is sent.

use chrono::{DateTime, Utc};
// Dynamic SQL here only splices the fixed column lists below, never input.
use sqlx::{AssertSqlSafe, Row};

use super::codec::{opt_ts, parse_ts, ts};
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
}

fn post_row(r: &sqlx::sqlite::SqliteRow) -> Result<PostRow> {
    Ok(PostRow {
        id: r.try_get("id")?,
        occurrence_id: r.try_get("occurrence_id")?,
        room: r.try_get("room")?,
        kind: r.try_get::<String, _>("kind")?.parse()?,
        seq: r.try_get("seq")?,
        body: r.try_get("body")?,
        question_text: r.try_get("question_text")?,
        due_at: parse_ts(&r.try_get::<String, _>("due_at")?)?,
        sent_at: opt_ts(r.try_get("sent_at")?)?,
        late: r.try_get::<i64, _>("late")? != 0,
        status: r.try_get::<String, _>("status")?.parse()?,
        network_id: r.try_get("network_id")?,
    })
}

const POST_COLS: &str = "id, occurrence_id, room, kind, seq, body, question_text, due_at, \
                         sent_at, late, status, network_id";

impl Store {
    /// Every post of an occurrence, in the order they were due.
    ///
    /// # Errors
    /// Database failures.
    pub async fn posts(&self, occurrence_id: i64) -> Result<Vec<PostRow>> {
        let mut c = self.conn().await?;
        let r = sqlx::query(AssertSqlSafe(format!(
            "SELECT {POST_COLS} FROM posts WHERE occurrence_id = ? ORDER BY due_at, id"
        )))
        .bind(occurrence_id)
        .fetch_all(c.c())
        .await;
        let rows = c.check(r)?;
        rows.iter().map(post_row).collect()
    }

    /// Records a post before it is sent. Returns the new row, or the
    /// existing one when this item was already claimed: the unique key is
    /// what guarantees a question is never posted twice.
    ///
    /// # Errors
    /// Database failures.
    pub async fn claim_post(&self, post: &NewPost<'_>) -> Result<(PostRow, bool)> {
        let mut c = self.conn().await?;
        let r = sqlx::query(
            "INSERT INTO posts (occurrence_id, room, kind, seq, body, question_text, due_at, \
             late, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (occurrence_id, room, kind, seq) DO NOTHING",
        )
        .bind(post.occurrence_id)
        .bind(post.room)
        .bind(post.kind.as_str())
        .bind(post.seq)
        .bind(post.body)
        .bind(post.question_text)
        .bind(ts(post.due_at))
        .bind(i64::from(post.late))
        .bind(post.status.as_str())
        .execute(c.c())
        .await;
        let inserted = c.check(r)?.rows_affected() == 1;
        let r = sqlx::query(AssertSqlSafe(format!(
            "SELECT {POST_COLS} FROM posts WHERE occurrence_id = ? AND room = ? AND kind = ? \
             AND seq = ?"
        )))
        .bind(post.occurrence_id)
        .bind(post.room)
        .bind(post.kind.as_str())
        .bind(post.seq)
        .fetch_one(c.c())
        .await;
        let row = c.check(r)?;
        Ok((post_row(&row)?, inserted))
    }

    /// # Errors
    /// Database failures.
    pub async fn mark_sent(
        &self,
        post_id: i64,
        sent_at: DateTime<Utc>,
        network_id: &str,
    ) -> Result<()> {
        let mut c = self.conn().await?;
        let r = sqlx::query(
            "UPDATE posts SET status = 'sent', sent_at = ?, network_id = ? WHERE id = ?",
        )
        .bind(ts(sent_at))
        .bind(network_id)
        .bind(post_id)
        .execute(c.c())
        .await;
        c.check(r)?;
        Ok(())
    }

    /// # Errors
    /// Database failures.
    pub async fn mark_status(&self, post_id: i64, status: PostStatus) -> Result<()> {
        let mut c = self.conn().await?;
        let r = sqlx::query("UPDATE posts SET status = ? WHERE id = ?")
            .bind(status.as_str())
            .bind(post_id)
            .execute(c.c())
            .await;
        c.check(r)?;
        Ok(())
    }

    /// A post that is going out late: its text (with the late note) and
    /// flag, before it is sent again.
    ///
    /// # Errors
    /// Database failures.
    pub async fn set_late_body(&self, post_id: i64, body: &str) -> Result<()> {
        let mut c = self.conn().await?;
        let r = sqlx::query("UPDATE posts SET body = ?, late = 1 WHERE id = ?")
            .bind(body)
            .bind(post_id)
            .execute(c.c())
            .await;
        c.check(r)?;
        Ok(())
    }
}
