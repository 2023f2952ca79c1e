//! Where a transcript is: the address of an occurrence's page, and the
//! occurrence an address names.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;

use crate::store::{self, OccurrenceRow, Store};

/// The transcript page of an occurrence: `PUBLIC_URL/transcripts/DEBATE/DATE`,
/// DATE being the occurrence's local date in its debate's zone, with
/// `?key=TOKEN` when the debate is private. The one place this address is
/// built (the web server reads it back).
pub fn url(public_url: &str, debate: &str, date: NaiveDate, token: Option<&str>) -> String {
    let key = token.map(|t| format!("?key={t}")).unwrap_or_default();
    format!(
        "{}/transcripts/{debate}/{}{key}",
        public_url.trim_end_matches('/'),
        date.format("%Y-%m-%d")
    )
}

/// A rehearsal's stamp, in its address and its files' names: its start, to
/// the millisecond, in UTC (`20261204T101500123`).
pub fn rehearsal_stamp(start: DateTime<Utc>) -> String {
    start.format("%Y%m%dT%H%M%S%3f").to_string()
}

/// The transcript page of a stored occurrence (with its token if private).
/// A rehearsal's is `PUBLIC_URL/rehearsals/DEBATE/STAMP?key=TOKEN`: a
/// rehearsal is always private, and several can be held on one day, on
/// the day of the debate itself too.
pub fn url_of(public_url: &str, occ: &OccurrenceRow) -> String {
    if occ.rehearsal {
        return format!(
            "{}/rehearsals/{}/{}?key={}",
            public_url.trim_end_matches('/'),
            occ.debate,
            rehearsal_stamp(occ.scheduled_start),
            occ.token
        );
    }
    let zone: Tz = occ.timezone.parse().unwrap_or(chrono_tz::UTC);
    let date = occ.scheduled_start.with_timezone(&zone).date_naive();
    let token = (!occ.public).then_some(occ.token.as_str());
    url(public_url, &occ.debate, date, token)
}

/// Picks the occurrence: on `date` (local to the debate) if given, else the
/// most recent one that has started by `now`.
///
/// # Errors
/// Store failures.
pub async fn find(
    store: &Store,
    debate: &str,
    date: Option<NaiveDate>,
    now: DateTime<Utc>,
    rehearsals: bool,
) -> store::Result<Option<OccurrenceRow>> {
    let all = store.occurrences_of(debate).await?;
    Ok(all
        .into_iter()
        .filter(|o| rehearsals || !o.rehearsal)
        .find(|o| {
            let tz: Tz = o.timezone.parse().unwrap_or(chrono_tz::UTC);
            match date {
                Some(d) => o.scheduled_start.with_timezone(&tz).date_naive() == d,
                // A rehearsal runs on its own compressed clock: it has started
                // as soon as it exists.
                None => {
                    o.rehearsal
                        || o.scheduled_start + chrono::Duration::seconds(o.shift_seconds) <= now
                }
            }
        }))
}

/// The rehearsal of `debate` with this [`rehearsal_stamp`].
///
/// # Errors
/// Store failures.
pub async fn find_rehearsal(
    store: &Store,
    debate: &str,
    stamp: &str,
) -> store::Result<Option<OccurrenceRow>> {
    let all = store.occurrences_of(debate).await?;
    Ok(all
        .into_iter()
        .find(|o| o.rehearsal && rehearsal_stamp(o.scheduled_start) == stamp))
}
