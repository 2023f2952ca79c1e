//! Every statement of the store, written once for both databases.
//!
//! This directory is compiled twice: as `store::sqlite::sql` and as
//! `store::postgres::sql` (each backend loads it with `#[path]`). The names
//! imported below come from whichever backend loads it: its connection and
//! row types, how it binds and reads a time, and `pick`, which chooses
//! between the two texts of a statement whose SQL must differ, written side
//! by side so a reader sees both dialects at once. Everything else (the
//! `$N` parameters, `ON CONFLICT`, `RETURNING`, `true`/`false`) is SQL both
//! accept. So a statement cannot drift between backends, and each one is
//! still compiled against its backend's concrete types: no `Any` driver, no
//! types lost.

pub(in crate::store) mod adhoc;
pub(in crate::store) mod floor;
pub(in crate::store) mod forget;
pub(in crate::store) mod occurrences;
pub(in crate::store) mod people;
pub(in crate::store) mod posts;
pub(in crate::store) mod presence;
pub(in crate::store) mod progress;
pub(in crate::store) mod replies;
pub(in crate::store) mod room_log;
pub(in crate::store) mod rsvp;

use super::{Conn, INSERT_ROWS, Row, after_erase, get_opt_ts, get_ts, insert_replies, pick, ts};
