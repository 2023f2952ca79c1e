//! Presence: when Podium was connected to a network that keeps no history
//! (IRC). Answers sent there while it was not are lost for good, so the
//! transcripts say when that was.
//!
//! What is recorded is presence, not absence: a crash, or a Podium that is
//! not running at all, writes nothing, and must show all the same. While a
//! connection is up (registered, channels joined) the network adapter keeps
//! one row for it: begun when it comes up, extended every
//! [`PRESENCE_EVERY`] and once more when it is lost or Podium stops.
//! Absences are derived: the parts of a span that no row covers. After a
//! crash the last row ends where it was last extended, so the absence
//! shown starts up to [`PRESENCE_EVERY`] before the crash: an answer sent
//! in those seconds may have been stored and still fall inside the span
//! shown as missing. Erring that way is the safe side.

use chrono::{DateTime, Duration, Utc};

use super::{Result, Store};
use crate::domain::Network;

/// How often a connection's presence row should be extended. The absence
/// after a crash starts up to this much too early, and a presence row not
/// extended for a little longer than this means the connection is gone.
pub const PRESENCE_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

/// Absences shorter than this are not reported. A reconnection that took a
/// couple of seconds most likely lost nothing, while a transcript dotted
/// with two-second notices would teach readers to skip them (and the one
/// that matters with them); timer and write jitter between the end of one
/// row and the start of the next can also leave slivers of a second.
pub const MIN_ABSENCE: Duration = Duration::seconds(5);

/// Presence rows are kept this long before the retention cutoff: `!start`
/// can move a debate up to a day earlier than scheduled, so an occurrence
/// just inside the retention period can have started before the cutoff,
/// and its absences need the rows covering that start.
pub(super) const KEPT_BEFORE_CUTOFF: Duration = Duration::days(2);

impl Store {
    /// `network` is reachable from `at`: a new presence row; its id.
    ///
    /// Call it with the engine's clock (not the wall clock), so presence
    /// and posts are on the same time line.
    ///
    /// # Errors
    /// Database failures.
    pub async fn presence_begin(&self, network: Network, at: DateTime<Utc>) -> Result<i64> {
        run!(self, presence::presence_begin(network, at))
    }

    /// Still reachable at `at` (also called once more when the connection
    /// is lost). Call it on evidence that the connection is alive (a message
    /// or a PONG since the last call), not on a timer alone: a connection
    /// that died silently would otherwise count as present until the ping
    /// timeout noticed. A row never moves back: an earlier `at` (the clock
    /// stepped back) leaves it as it is. A failed call loses nothing that
    /// the next successful one does not restore, since it covers the span
    /// from the row's start.
    ///
    /// # Errors
    /// Database failures.
    pub async fn presence_extend(&self, id: i64, at: DateTime<Utc>) -> Result<()> {
        run!(self, presence::presence_extend(id, at))
    }

    /// The parts of [from, until] in which `network` was not known to be
    /// reachable, merged and in order, each at least [`MIN_ABSENCE`] long;
    /// empty when no presence was ever recorded for `network` up to `until`
    /// (a network Podium was not hosting on then records nothing, and must
    /// not show as absent, e.g. the in-memory chat of the tests or a
    /// schedule with IRC rooms but no IRC configured).
    ///
    /// # Errors
    /// Database failures.
    pub async fn absences(
        &self,
        network: Network,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<(DateTime<Utc>, DateTime<Utc>)>> {
        if until <= from {
            return Ok(Vec::new());
        }
        let rows = run!(self, presence::presence_in(network, from, until))?;
        Ok(rows.map_or_else(Vec::new, |rows| uncovered(from, until, &rows)))
    }
}

/// The parts of [from, until] that no span in `covered` (sorted by start)
/// covers, the short ones left out.
fn uncovered(
    from: DateTime<Utc>,
    until: DateTime<Utc>,
    covered: &[(DateTime<Utc>, DateTime<Utc>)],
) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let mut out = Vec::new();
    // Everything before `reached` is covered.
    let mut reached = from;
    for &(since, end) in covered {
        if since > reached {
            out.push((reached, since.min(until)));
        }
        reached = reached.max(end);
        if reached >= until {
            break;
        }
    }
    if reached < until {
        out.push((reached, until));
    }
    out.retain(|(a, b)| *b - *a >= MIN_ABSENCE);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minute: u32, second: u32) -> DateTime<Utc> {
        format!("2030-01-01T20:{minute:02}:{second:02}Z")
            .parse()
            .unwrap()
    }

    #[test]
    fn uncovered_parts_are_merged_clipped_and_the_short_ones_dropped() {
        let (from, until) = (at(0, 0), at(30, 0));
        assert_eq!(
            uncovered(from, until, &[]),
            [(from, until)],
            "nothing covered"
        );
        let rows = [
            (at(0, 0) - Duration::hours(1), at(5, 0)),
            // Overlaps the first: one covered stretch.
            (at(4, 0), at(10, 0)),
            // Inside the second: changes nothing.
            (at(6, 0), at(7, 0)),
            // After a 4 s gap: too short to report.
            (at(10, 4), at(14, 0)),
            (at(16, 0), at(20, 0)),
        ];
        assert_eq!(
            uncovered(from, until, &rows),
            [(at(14, 0), at(16, 0)), (at(20, 0), until)]
        );
        let late = [(at(2, 0), until + Duration::hours(1))];
        assert_eq!(uncovered(from, until, &late), [(from, at(2, 0))]);
    }
}
