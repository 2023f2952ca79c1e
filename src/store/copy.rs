//! `podium db copy`: an existing SQLite store moved into PostgreSQL, every
//! table and every row as it is (ids too, so transcript links and the
//! posts' unique keys stay what they were), in one transaction.

use std::path::Path;

use chrono::{DateTime, Utc};
// Dynamic SQL here only splices the fixed table and column names below.
use sqlx::{AssertSqlSafe, ConnectOptions, Connection, Row as _};

use super::codec::parse_ts;
use super::{Backend, Result, Store, StoreError};

/// How a column is read from SQLite and written to PostgreSQL.
#[derive(Clone, Copy)]
enum Kind {
    Int,
    Text,
    /// Fixed-width text on SQLite, `timestamptz` on PostgreSQL.
    Time,
    /// 0/1 on SQLite, `boolean` on PostgreSQL.
    Flag,
    Real,
}

use Kind::{Flag, Int, Real, Text, Time};

/// Every table, parents first, with every column.
const TABLES: &[(&str, &[(&str, Kind)])] = &[
    (
        "occurrences",
        &[
            ("id", Int),
            ("debate", Text),
            ("scheduled_start", Time),
            ("title", Text),
            ("timezone", Text),
            ("shift_seconds", Int),
            ("ended_at", Time),
            ("rehearsal", Flag),
            ("clock_real_base", Time),
            ("clock_speed", Real),
            ("created_at", Time),
            ("questions", Text),
            ("public", Flag),
            ("token", Text),
            ("zones", Text),
            ("purged_at", Time),
            ("duration_seconds", Int),
            ("collect_grace_seconds", Int),
        ],
    ),
    (
        "adhoc",
        &[
            ("debate", Text),
            ("title", Text),
            ("room", Text),
            ("timezone", Text),
            ("starts_at", Time),
            ("seconds", Int),
        ],
    ),
    (
        "extensions",
        &[("occurrence_id", Int), ("at", Time), ("seconds", Int)],
    ),
    (
        "proposals",
        &[
            ("id", Int),
            ("occurrence_id", Int),
            ("number", Int),
            ("text", Text),
            ("proposer_id", Text),
            ("proposer_name", Text),
            ("network", Text),
            ("room", Text),
            ("network_id", Text),
            ("proposed_at", Time),
            ("asked_as", Int),
            ("withdrawn_at", Time),
        ],
    ),
    (
        "votes",
        &[
            ("proposal_id", Int),
            ("voter_id", Text),
            ("at", Time),
            ("network_id", Text),
        ],
    ),
    (
        "rsvps",
        &[
            ("occurrence_id", Int),
            ("person_id", Text),
            ("name", Text),
            ("network", Text),
            ("network_id", Text),
            ("registered_at", Time),
            ("reminded_at", Time),
        ],
    ),
    (
        "posts",
        &[
            ("id", Int),
            ("occurrence_id", Int),
            ("room", Text),
            ("kind", Text),
            ("seq", Int),
            ("body", Text),
            ("question_text", Text),
            ("due_at", Time),
            ("sent_at", Time),
            ("late", Flag),
            ("status", Text),
            ("network_id", Text),
            ("holder", Text),
            ("epoch", Int),
        ],
    ),
    (
        "replies",
        &[
            ("id", Int),
            ("occurrence_id", Int),
            ("network", Text),
            ("room", Text),
            ("sender_id", Text),
            ("sender_name", Text),
            ("original_body", Text),
            ("body", Text),
            ("question", Int),
            ("attributed_by", Text),
            ("network_id", Text),
            ("server_ts", Time),
            ("received_at", Time),
            ("edited_at", Time),
            ("deleted_at", Time),
            ("in_reply_to", Text),
            ("action", Flag),
            ("led", Flag),
        ],
    ),
    (
        "cursors",
        &[
            ("replica", Text),
            ("network", Text),
            ("position", Text),
            ("updated_at", Time),
        ],
    ),
    (
        "handled_commands",
        &[
            ("network", Text),
            ("room", Text),
            ("network_id", Text),
            ("handled_at", Time),
        ],
    ),
    (
        "presence",
        &[
            ("id", Int),
            ("network", Text),
            ("since", Time),
            ("until", Time),
        ],
    ),
    (
        "people",
        &[("person_id", Text), ("zone", Text), ("used_at", Time)],
    ),
    (
        "room_log",
        &[
            ("id", Int),
            ("network", Text),
            ("room", Text),
            ("network_id", Text),
            ("sender_id", Text),
            ("sender_name", Text),
            ("body", Text),
            ("action", Flag),
            ("at", Time),
            ("edited_at", Time),
            ("deleted_at", Time),
        ],
    ),
];

/// Rows read and written per statement: 18 columns at most, far under
/// PostgreSQL's 65,535 parameters.
const CHUNK: i64 = 1000;

/// One value on its way.
enum Val {
    Int(Option<i64>),
    Text(Option<String>),
    Time(Option<DateTime<Utc>>),
    Flag(bool),
    Real(Option<f64>),
}

/// Rows in each table: (table, in SQLite, in PostgreSQL after the copy).
pub type Counts = Vec<(&'static str, i64, i64)>;

impl Store {
    /// Copies the SQLite store in `data_dir` (read only; a running Podium
    /// there may go on, though what it writes meanwhile is not copied)
    /// into this store, which must be PostgreSQL, opened as a writer (so
    /// no Podium runs on it), and empty. Returns the rows in each table on
    /// both sides; the caller compares them.
    ///
    /// # Errors
    /// This store is not PostgreSQL or not empty, the SQLite store is
    /// missing or not upgraded, or either database fails; then nothing is
    /// copied.
    pub async fn copy_from_sqlite(&self, data_dir: &Path) -> Result<Counts> {
        let Backend::Postgres(pg) = &*self.backend else {
            return Err(StoreError::Unsupported("copying into SQLite"));
        };
        // Checks the file and its version the way `podium transcript` does.
        drop(Store::open_read_only(data_dir).await?);
        let mut src = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(data_dir.join("podium.db"))
            .read_only(true)
            .connect()
            .await?;
        let mut dst = pg.conn().await?;
        let mut tx = dst.begin().await?;
        for (table, _) in TABLES {
            let n: i64 = sqlx::query_scalar(AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
                .fetch_one(&mut *tx)
                .await?;
            if n > 0 {
                return Err(StoreError::NotEmpty { table, rows: n });
            }
        }
        let mut counts = Vec::new();
        // One snapshot of the source for every table.
        let mut read = src.begin().await?;
        for (table, columns) in TABLES {
            let names: Vec<&str> = columns.iter().map(|(n, _)| *n).collect();
            let list = names.join(", ");
            let mut after = i64::MIN;
            let mut copied = 0i64;
            loop {
                let rows = sqlx::query(AssertSqlSafe(format!(
                    "SELECT rowid AS podium_rowid, {list} FROM {table} WHERE rowid > $1 \
                     ORDER BY rowid LIMIT {CHUNK}"
                )))
                .bind(after)
                .fetch_all(&mut *read)
                .await?;
                let Some(last) = rows.last() else { break };
                after = last.try_get("podium_rowid")?;
                let mut values = Vec::with_capacity(rows.len());
                for r in &rows {
                    let mut row = Vec::with_capacity(columns.len());
                    for (name, kind) in *columns {
                        row.push(match kind {
                            Int => Val::Int(r.try_get(*name)?),
                            Text => Val::Text(r.try_get(*name)?),
                            Time => Val::Time(
                                r.try_get::<Option<String>, _>(*name)?
                                    .as_deref()
                                    .map(parse_ts)
                                    .transpose()?,
                            ),
                            Flag => Val::Flag(r.try_get::<i64, _>(*name)? != 0),
                            Real => Val::Real(r.try_get(*name)?),
                        });
                    }
                    values.push(row);
                }
                let mut q = sqlx::QueryBuilder::<sqlx::Postgres>::new(format!(
                    "INSERT INTO {table} ({list}) "
                ));
                q.push_values(values, |mut b, row| {
                    for v in row {
                        match v {
                            Val::Int(x) => b.push_bind(x),
                            Val::Text(x) => b.push_bind(x),
                            Val::Time(x) => b.push_bind(x),
                            Val::Flag(x) => b.push_bind(x),
                            Val::Real(x) => b.push_bind(x),
                        };
                    }
                });
                copied += i64::try_from(rows.len()).unwrap_or(i64::MAX);
                q.build().execute(&mut *tx).await?;
            }
            if names.contains(&"id") {
                // New rows get ids after the copied ones.
                sqlx::query(AssertSqlSafe(format!(
                    "SELECT setval(pg_get_serial_sequence('{table}', 'id'), \
                     coalesce((SELECT max(id) FROM {table}), 0) + 1, false)"
                )))
                .execute(&mut *tx)
                .await?;
            }
            let there: i64 =
                sqlx::query_scalar(AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
                    .fetch_one(&mut *tx)
                    .await?;
            counts.push((*table, copied, there));
        }
        read.rollback().await?;
        tx.commit().await?;
        Ok(counts)
    }

    /// Every occurrence, oldest first: for comparing two stores.
    ///
    /// # Errors
    /// Database failures.
    pub async fn all_occurrences(&self) -> Result<Vec<super::OccurrenceRow>> {
        run!(self, occurrences::all_occurrences())
    }
}
