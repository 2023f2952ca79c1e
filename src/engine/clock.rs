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

    /// Converts a virtual span to real time (for rehearsal grace periods).
    pub fn speed(&self) -> f64 {
        match self {
            Clock::System => 1.0,
            Clock::Scaled { speed, .. } => *speed,
        }
    }
}
