//! The token bucket that paces every line Podium sends on IRC: `burst`
//! lines at once, then one per `interval`, which keeps the bot under
//! common servers' flood limits. Lines that are nobody's record (answers
//! to commands, CTCP replies) leave half the burst in the bucket, so a
//! question that falls due (in two channels at once, say) finds lines
//! ready and goes at once instead of waiting out intervals behind them.

use std::time::Duration;

use tokio::time::Instant;

/// Lines per second a server allows, as a bucket: `burst` lines at once,
/// then one per `interval`.
#[derive(Debug)]
pub struct Bucket {
    burst: f64,
    interval: Duration,
    tokens: f64,
    last: Instant,
}

impl Bucket {
    pub fn new(burst: u32, interval: Duration) -> Bucket {
        Bucket {
            burst: f64::from(burst.max(1)),
            interval: interval.max(Duration::from_millis(1)),
            tokens: f64::from(burst.max(1)),
            last: Instant::now(),
        }
    }

    fn refill(&mut self) {
        let now = Instant::now();
        let gained = (now - self.last).as_secs_f64() / self.interval.as_secs_f64();
        self.tokens = (self.tokens + gained).min(self.burst);
        self.last = now;
    }

    /// Waits until a line that weighs `lines` lines may go, and counts it
    /// (a weight over the burst leaves the bucket in debt).
    pub async fn take(&mut self, lines: f64) {
        self.refill();
        let need = lines.min(self.burst);
        if self.tokens < need {
            tokio::time::sleep(self.interval.mul_f64(need - self.tokens)).await;
            self.refill();
        }
        self.tokens -= lines;
    }

    /// How long until `need` lines may go (`None`: now).
    pub fn wait_for(&mut self, need: f64) -> Option<Duration> {
        self.refill();
        let need = need.min(self.burst);
        (self.tokens < need).then(|| self.interval.mul_f64(need - self.tokens))
    }

    /// Lines the lower lanes leave in the bucket for posts: half the
    /// burst (two of the default four: the same question due in two
    /// channels at once), none when the bucket holds only one line.
    pub fn reserve(&self) -> f64 {
        (self.burst / 2.0).floor()
    }

    /// Returns what a line weighing `lines` took and did not use.
    pub fn give_back(&mut self, lines: f64) {
        self.tokens = (self.tokens + lines).min(self.burst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_bucket_lets_a_burst_through_then_paces_lines() {
        let mut b = Bucket::new(4, Duration::from_millis(1500));
        let start = Instant::now();
        let mut at = Vec::new();
        for _ in 0..7 {
            b.take(1.0).await;
            at.push((Instant::now() - start).as_millis());
        }
        assert_eq!(at, [0, 0, 0, 0, 1500, 3000, 4500]);
        // Idle long enough, the burst is back, and no more than it.
        tokio::time::sleep(Duration::from_secs(60)).await;
        let again = Instant::now();
        for _ in 0..5 {
            b.take(1.0).await;
        }
        assert_eq!((Instant::now() - again).as_millis(), 1500);
    }

    #[tokio::test(start_paused = true)]
    async fn the_reserve_is_half_the_burst() {
        let mut b = Bucket::new(4, Duration::from_millis(1500));
        assert_eq!(b.reserve(), 2.0);
        for _ in 0..2 {
            b.take(1.0).await;
        }
        // Two lines left: a lower lane waits for a third, a post does not.
        assert_eq!(b.wait_for(1.0), None);
        assert_eq!(
            b.wait_for(b.reserve() + 1.0),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(Bucket::new(1, Duration::from_secs(1)).reserve(), 0.0);
        assert_eq!(Bucket::new(5, Duration::from_secs(1)).reserve(), 2.0);
    }
}
