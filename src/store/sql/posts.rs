use chrono::{DateTime, Utc};
use sqlx::Row as _;

use super::{Conn, Row, get_opt_ts, get_ts, ts};
use crate::store::posts::{Fence, NewPost, PostRow};
use crate::store::{PostStatus, Result};

fn post_row(r: &Row) -> Result<PostRow> {
    Ok(PostRow {
        id: r.try_get("id")?,
        occurrence_id: r.try_get("occurrence_id")?,
        room: r.try_get("room")?,
        kind: r.try_get::<String, _>("kind")?.parse()?,
        seq: r.try_get("seq")?,
        body: r.try_get("body")?,
        question_text: r.try_get("question_text")?,
        due_at: get_ts(r, "due_at")?,
        sent_at: get_opt_ts(r, "sent_at")?,
        late: r.try_get("late")?,
        status: r.try_get::<String, _>("status")?.parse()?,
        network_id: r.try_get("network_id")?,
        holder: r.try_get("holder")?,
        epoch: r.try_get("epoch")?,
    })
}

pub async fn posts(conn: &mut Conn, occurrence_id: i64) -> Result<Vec<PostRow>> {
    let rows = sqlx::query(
        "SELECT id, occurrence_id, room, kind, seq, body, question_text, due_at, sent_at, late, \
         status, network_id, holder, epoch FROM posts WHERE occurrence_id = $1 ORDER BY due_at, id",
    )
    .bind(occurrence_id)
    .fetch_all(conn)
    .await?;
    rows.iter().map(post_row).collect()
}

pub async fn claim_post(conn: &mut Conn, post: &NewPost<'_>) -> Result<(PostRow, bool)> {
    let inserted = sqlx::query(
        "INSERT INTO posts (occurrence_id, room, kind, seq, body, question_text, due_at, \
         late, status) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         ON CONFLICT (occurrence_id, room, kind, seq) DO NOTHING",
    )
    .bind(post.occurrence_id)
    .bind(post.room)
    .bind(post.kind.as_str())
    .bind(post.seq)
    .bind(post.body)
    .bind(post.question_text)
    .bind(ts(post.due_at))
    .bind(post.late)
    .bind(post.status.as_str())
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1;
    let row = sqlx::query(
        "SELECT id, occurrence_id, room, kind, seq, body, question_text, due_at, sent_at, late, \
         status, network_id, holder, epoch FROM posts \
         WHERE occurrence_id = $1 AND room = $2 AND kind = $3 AND seq = $4",
    )
    .bind(post.occurrence_id)
    .bind(post.room)
    .bind(post.kind.as_str())
    .bind(post.seq)
    .fetch_one(conn)
    .await?;
    Ok((post_row(&row)?, inserted))
}

pub async fn hand_post(conn: &mut Conn, post_id: i64, fence: &Fence<'_>) -> Result<bool> {
    let r = match fence.lease {
        None => {
            sqlx::query(
                "UPDATE posts SET status = 'sending', holder = $2 \
                 WHERE id = $1 AND status IN ('queued', 'sending')",
            )
            .bind(post_id)
            .bind(fence.holder)
            .execute(conn)
            .await?
        }
        // Replicas run on PostgreSQL only (refused at start otherwise).
        Some((debate, epoch)) => {
            sqlx::query(concat!(
                "UPDATE posts SET status = 'sending', holder = $2, epoch = $3 \
                 WHERE id = $1 AND status IN ('queued', 'sending') AND EXISTS \
                 (SELECT 1 FROM leases l JOIN replicas r ON r.name = l.holder \
                  WHERE l.debate = $4 AND l.holder = $2 AND l.epoch = $3 AND ",
                crate::store::leases::live!("r"),
                ")"
            ))
            .bind(post_id)
            .bind(fence.holder)
            .bind(epoch)
            .bind(debate)
            .execute(conn)
            .await?
        }
    };
    Ok(r.rows_affected() == 1)
}

pub async fn mark_sent(
    conn: &mut Conn,
    post_id: i64,
    sent_at: DateTime<Utc>,
    network_id: &str,
) -> Result<()> {
    sqlx::query("UPDATE posts SET status = 'sent', sent_at = $1, network_id = $2 WHERE id = $3")
        .bind(ts(sent_at))
        .bind(network_id)
        .bind(post_id)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn mark_status(conn: &mut Conn, post_id: i64, status: PostStatus) -> Result<()> {
    sqlx::query("UPDATE posts SET status = $1 WHERE id = $2")
        .bind(status.as_str())
        .bind(post_id)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn set_late_body(conn: &mut Conn, post_id: i64, body: &str) -> Result<()> {
    sqlx::query("UPDATE posts SET body = $1, late = true WHERE id = $2")
        .bind(body)
        .bind(post_id)
        .execute(conn)
        .await?;
    Ok(())
}
