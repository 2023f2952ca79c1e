use chrono::{DateTime, Utc};
use sqlx::Row as _;

use super::{Conn, Row, get_ts, ts};
use crate::store::Result;
use crate::store::rsvp::RsvpRow;

fn rsvp_row(r: &Row) -> Result<RsvpRow> {
    Ok(RsvpRow {
        occurrence_id: r.try_get("occurrence_id")?,
        debate: r.try_get("debate")?,
        scheduled_start: get_ts(r, "scheduled_start")?,
        person_id: r.try_get("person_id")?,
        name: r.try_get("name")?,
        network: r.try_get("network")?,
    })
}

pub async fn rsvp(
    conn: &mut Conn,
    occurrence_id: i64,
    person: &str,
    name: &str,
    network: &str,
    at: DateTime<Utc>,
) -> Result<bool> {
    let n = sqlx::query(
        "INSERT INTO rsvps (occurrence_id, person_id, name, network, registered_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (occurrence_id, person_id) DO NOTHING",
    )
    .bind(occurrence_id)
    .bind(person)
    .bind(name)
    .bind(network)
    .bind(ts(at))
    .execute(conn)
    .await?
    .rows_affected();
    Ok(n > 0)
}

pub async fn unrsvp(conn: &mut Conn, occurrence_id: i64, person: &str) -> Result<bool> {
    let n = sqlx::query("DELETE FROM rsvps WHERE occurrence_id = $1 AND person_id = $2")
        .bind(occurrence_id)
        .bind(person)
        .execute(conn)
        .await?
        .rows_affected();
    Ok(n > 0)
}

pub async fn rsvps_of(conn: &mut Conn, person: &str, from: DateTime<Utc>) -> Result<Vec<RsvpRow>> {
    let rows = sqlx::query(
        "SELECT r.occurrence_id, o.debate, o.scheduled_start, r.person_id, r.name, r.network \
         FROM rsvps r JOIN occurrences o ON o.id = r.occurrence_id \
         WHERE r.person_id = $1 AND o.scheduled_start >= $2 \
         ORDER BY o.scheduled_start, o.debate",
    )
    .bind(person)
    .bind(ts(from))
    .fetch_all(conn)
    .await?;
    rows.iter().map(rsvp_row).collect()
}

pub async fn registered(conn: &mut Conn, occurrence_id: i64) -> Result<i64> {
    Ok(
        sqlx::query_scalar("SELECT count(*) FROM rsvps WHERE occurrence_id = $1")
            .bind(occurrence_id)
            .fetch_one(conn)
            .await?,
    )
}

pub async fn claim_reminders(
    conn: &mut Conn,
    occurrence_id: i64,
    at: DateTime<Utc>,
) -> Result<Vec<RsvpRow>> {
    let Some(occ) = sqlx::query("SELECT debate, scheduled_start FROM occurrences WHERE id = $1")
        .bind(occurrence_id)
        .fetch_optional(&mut *conn)
        .await?
    else {
        return Ok(Vec::new());
    };
    let debate: String = occ.try_get("debate")?;
    let scheduled_start = get_ts(&occ, "scheduled_start")?;
    let rows = sqlx::query(
        "UPDATE rsvps SET reminded_at = $2 WHERE occurrence_id = $1 AND reminded_at IS NULL \
         RETURNING person_id, name, network",
    )
    .bind(occurrence_id)
    .bind(ts(at))
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(RsvpRow {
                occurrence_id,
                debate: debate.clone(),
                scheduled_start,
                person_id: r.try_get("person_id")?,
                name: r.try_get("name")?,
                network: r.try_get("network")?,
            })
        })
        .collect()
}
