//! Where a transcript is: the address of an occurrence's page, and the
//! occurrence an address names.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;

use crate::schedule::Schedule;
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

/// Whether anyone may see an occurrence's transcript now: it was public
/// when it was held, it is not a rehearsal, and its debate, if still in
/// the schedule, still is (a debate made private is private at once; one
/// made public does not publish what it had while private).
pub fn public_now(occ: &OccurrenceRow, schedule: &Schedule) -> bool {
    occ.public && !occ.rehearsal && schedule.debate(&occ.debate).is_none_or(|d| d.public)
}

/// The link of `occ` with its key, whether it is public or not.
pub fn keyed_url(public_url: &str, occ: &OccurrenceRow) -> String {
    if occ.rehearsal {
        return url_of(public_url, occ);
    }
    let zone: Tz = occ.timezone.parse().unwrap_or(chrono_tz::UTC);
    let date = occ.scheduled_start.with_timezone(&zone).date_naive();
    url(public_url, &occ.debate, date, Some(&occ.token))
}

/// [`url_of`] as the schedule has it now: with the key for an occurrence
/// whose debate has been made private since (see [`public_now`]).
pub fn url_now(public_url: &str, occ: &OccurrenceRow, schedule: &Schedule) -> String {
    if occ.rehearsal || public_now(occ, schedule) {
        return url_of(public_url, occ);
    }
    keyed_url(public_url, occ)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule(public: bool) -> Schedule {
        let yaml = format!(
            "timezone: Europe/London\nrooms: [\"#d:example.org\"]\ndebates:\n  - id: d\n    \
             title: D\n    public: {public}\n    starts: 2030-01-01 20:00\n    questions: [Q?]\n"
        );
        crate::schedule::parse(&yaml, "2029-01-01T00:00:00Z".parse().unwrap())
            .map_err(|d| d.render("t"))
            .unwrap()
            .0
    }

    fn occurrence(public: bool) -> OccurrenceRow {
        OccurrenceRow {
            id: 1,
            debate: "d".into(),
            scheduled_start: "2030-01-01T20:00:00Z".parse().unwrap(),
            title: "D".into(),
            timezone: "Europe/London".into(),
            shift_seconds: 0,
            ended_at: None,
            rehearsal: false,
            clock_real_base: None,
            clock_speed: None,
            questions: Vec::new(),
            zones: Vec::new(),
            public,
            token: "t0k".into(),
            purged_at: None,
            duration: None,
            collect_grace: None,
        }
    }

    #[test]
    fn a_debate_made_private_links_with_its_key_and_one_made_public_does_not_publish() {
        let base = "https://p.example";
        let plain = "https://p.example/transcripts/d/2030-01-01";
        let keyed = "https://p.example/transcripts/d/2030-01-01?key=t0k";
        assert_eq!(url_now(base, &occurrence(true), &schedule(true)), plain);
        assert_eq!(url_now(base, &occurrence(true), &schedule(false)), keyed);
        assert_eq!(url_now(base, &occurrence(false), &schedule(true)), keyed);
        let gone = Schedule::default();
        assert_eq!(url_now(base, &occurrence(true), &gone), plain);
        let mut rehearsal = occurrence(false);
        rehearsal.rehearsal = true;
        assert_eq!(
            url_now(base, &rehearsal, &schedule(true)),
            "https://p.example/rehearsals/d/20300101T200000000?key=t0k"
        );
    }
}
