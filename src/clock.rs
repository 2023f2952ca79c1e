//! Where the engine gets "now" and how it waits. Injected so that tests run
//! a whole debate in milliseconds under tokio's paused time, and so that
//! `podium rehearse` can compress an hour into a minute.

use chrono::{DateTime, Duration, Utc};
use tokio::time::Instant;

#[derive(Clone, Debug)]
pub enum Clock {
    /// The wall clock.
    System,
    /// Virtual time running `speed` times faster than tokio's clock, from
    /// `virtual_base` at the moment the clock was made (plus `elapsed`, the
    /// real time that had already passed on this time line before, so a
    /// restarted rehearsal picks up where the wall clock says it is).
    Scaled {
        virtual_base: DateTime<Utc>,
        real_base: Instant,
        elapsed: Duration,
        speed: f64,
    },
}

impl Clock {
    /// Virtual time starting at `at`, advancing with tokio's clock (paused
    /// in tests, so it only moves when every task is waiting).
    pub fn starting_at(at: DateTime<Utc>) -> Clock {
        Clock::Scaled {
            virtual_base: at,
            real_base: Instant::now(),
            elapsed: Duration::zero(),
            speed: 1.0,
        }
    }

    /// A compressed time line: at real wall-clock instant `real_origin` the
    /// virtual time was `virtual_origin`, and it runs `speed` times faster.
    pub fn compressed(
        virtual_origin: DateTime<Utc>,
        real_origin: DateTime<Utc>,
        speed: f64,
    ) -> Clock {
        Clock::Scaled {
            virtual_base: virtual_origin,
            real_base: Instant::now(),
            elapsed: (Utc::now() - real_origin).max(Duration::zero()),
            speed: speed.max(f64::MIN_POSITIVE),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        match self {
            Clock::System => Utc::now(),
            Clock::Scaled {
                virtual_base,
                real_base,
                elapsed,
                speed,
            } => {
                let real =
                    *elapsed + Duration::from_std(real_base.elapsed()).unwrap_or(Duration::zero());
                let nanos = real.num_nanoseconds().unwrap_or(i64::MAX) as f64 * speed;
                *virtual_base + Duration::nanoseconds(nanos as i64)
            }
        }
    }

    /// How long, in tokio's time, until virtual instant `at`.
    pub fn real_delay(&self, at: DateTime<Utc>) -> std::time::Duration {
        let span = (at - self.now()).max(Duration::zero());
        let speed = match self {
            Clock::System => 1.0,
            Clock::Scaled { speed, .. } => *speed,
        };
        let nanos = span.num_nanoseconds().unwrap_or(i64::MAX) as f64 / speed;
        std::time::Duration::from_nanos(nanos.ceil() as u64)
    }

    /// Sleeps until virtual instant `at` (at once if it has passed).
    pub async fn sleep_until(&self, at: DateTime<Utc>) {
        tokio::time::sleep(self.real_delay(at)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn virtual_time_follows_tokio_time_and_sleeps_until_an_instant() {
        let base: DateTime<Utc> = "2011-11-01T19:00:00Z".parse().unwrap();
        let clock = Clock::starting_at(base);
        assert_eq!(clock.now(), base);
        clock.sleep_until(base + Duration::minutes(90)).await;
        assert_eq!(clock.now(), base + Duration::minutes(90));
        // An instant in the past does not wait.
        clock.sleep_until(base).await;
        assert_eq!(clock.now(), base + Duration::minutes(90));
    }

    #[tokio::test(start_paused = true)]
    async fn a_compressed_clock_runs_faster_and_resumes_from_its_real_origin() {
        let origin: DateTime<Utc> = "2030-01-01T20:00:00Z".parse().unwrap();
        // Started 10 real seconds ago at 60x: ten virtual minutes have passed.
        let clock = Clock::compressed(origin, Utc::now() - Duration::seconds(10), 60.0);
        let passed = clock.now() - origin;
        assert!(
            passed >= Duration::minutes(10) && passed < Duration::minutes(11),
            "{passed}"
        );
        let before = tokio::time::Instant::now();
        clock.sleep_until(clock.now() + Duration::minutes(60)).await;
        let real = tokio::time::Instant::now() - before;
        assert!(
            real >= std::time::Duration::from_secs(59)
                && real <= std::time::Duration::from_secs(61),
            "{real:?}"
        );
    }
}
