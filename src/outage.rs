//! Logging for failures that repeat while they last (a full disk, a store
//! that cannot be written): one clear error when it starts, a reminder now
//! and then while it lasts, and a line when it is over, rather than one
//! line per retry or per message.

use tokio::time::{Duration, Instant};

/// How often a lasting failure is mentioned again.
const REMIND_EVERY: Duration = Duration::from_secs(60);

#[derive(Debug, Default)]
pub struct Outage {
    /// When the failure started and when it was last logged.
    since: Option<(Instant, Instant)>,
}

/// What to log for a failure, if anything.
#[derive(Debug, PartialEq, Eq)]
pub enum Report {
    /// The first failure after a success.
    Started,
    /// Still failing; it started this long ago.
    Lasting(Duration),
    /// Already reported recently.
    Quiet,
}

impl Outage {
    pub fn failed(&mut self) -> Report {
        let now = Instant::now();
        match &mut self.since {
            None => {
                self.since = Some((now, now));
                Report::Started
            }
            Some((start, logged)) if now - *logged >= REMIND_EVERY => {
                *logged = now;
                Report::Lasting(now - *start)
            }
            Some(_) => Report::Quiet,
        }
    }

    /// Marks a success; returns how long the failure lasted, if there was one.
    pub fn recovered(&mut self) -> Option<Duration> {
        self.since.take().map(|(start, _)| Instant::now() - start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_lasting_failure_is_reported_once_then_every_minute() {
        let mut o = Outage::default();
        assert_eq!(o.recovered(), None);
        assert_eq!(o.failed(), Report::Started);
        for _ in 0..50 {
            tokio::time::advance(Duration::from_secs(1)).await;
            assert_eq!(o.failed(), Report::Quiet);
        }
        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(o.failed(), Report::Lasting(Duration::from_secs(60)));
        assert_eq!(o.failed(), Report::Quiet);
        assert_eq!(o.recovered(), Some(Duration::from_secs(60)));
        assert_eq!(o.failed(), Report::Started);
    }
}
