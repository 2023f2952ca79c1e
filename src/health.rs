//! What each part of a running Podium says about itself, for `/healthz`:
//! the networks set their state here ("syncing", "cannot sync: ..."), the
//! web page reads it.
//!
//! A part that has not been well yet since the start is *starting*, not
//! failing, for [`START_WINDOW`]: connecting to a homeserver and syncing,
//! or registering on IRC and joining channels, takes a while, and an
//! orchestrator must be able to tell that from a part that was up and
//! fell over (which is unhealthy at once), or one that never came up.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// How long after the start a part that has not been well yet counts as
/// starting rather than unhealthy.
pub const START_WINDOW: Duration = Duration::from_secs(120);

#[derive(Clone, Debug)]
pub struct Health {
    parts: Arc<RwLock<BTreeMap<String, Part>>>,
    /// Sections shown beside the parts that say nothing of health (which
    /// replica this is, what it leads).
    sections: Arc<RwLock<BTreeMap<String, serde_json::Value>>>,
    started: Instant,
    start_window: Duration,
}

impl Default for Health {
    fn default() -> Self {
        Health::with_start_window(START_WINDOW)
    }
}

/// One part's state.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct State {
    pub ok: bool,
    pub detail: String,
}

#[derive(Clone, Debug)]
struct Part {
    state: State,
    /// Whether it has been well since the start.
    was_ok: bool,
}

/// What the parts add up to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Every part is well.
    Ok,
    /// Some part has not been well yet, and the start was less than the
    /// start window ago; none that was well has failed since.
    Starting,
    /// A part that was well is not, or one never came up in the window.
    Unhealthy,
}

impl Health {
    /// Health counting from now, with parts that are not well yet counted
    /// as starting for `window`.
    pub fn with_start_window(window: Duration) -> Health {
        Health {
            parts: Arc::default(),
            sections: Arc::default(),
            started: Instant::now(),
            start_window: window,
        }
    }

    pub fn set(&self, part: &str, ok: bool, detail: impl Into<String>) {
        let mut parts = self
            .parts
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let before = parts.get(part);
        let was_ok = ok || before.is_some_and(|p| p.was_ok);
        // Back after it was lost: up now, down just before, up once before.
        let back = ok && before.is_some_and(|p| p.was_ok && !p.state.ok);
        crate::metrics::network(part, ok, back);
        let state = State {
            ok,
            detail: detail.into(),
        };
        parts.insert(part.to_owned(), Part { state, was_ok });
    }

    /// Sets a section of `/healthz` that is information only.
    pub fn set_section(&self, name: &str, value: serde_json::Value) {
        self.sections
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(name.to_owned(), value);
    }

    pub fn sections(&self) -> BTreeMap<String, serde_json::Value> {
        self.sections
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    pub fn snapshot(&self) -> BTreeMap<String, State> {
        self.read()
            .iter()
            .map(|(name, p)| (name.clone(), p.state.clone()))
            .collect()
    }

    /// What the parts add up to now.
    pub fn status(&self) -> Status {
        let starting = self.started.elapsed() < self.start_window;
        let parts = self.read();
        let mut status = Status::Ok;
        for p in parts.values().filter(|p| !p.state.ok) {
            if p.was_ok || !starting {
                return Status::Unhealthy;
            }
            status = Status::Starting;
        }
        status
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Part>> {
        self.parts
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_part_not_up_yet_is_starting_and_one_that_fell_over_is_unhealthy() {
        let h = Health::default();
        assert_eq!(h.status(), Status::Ok, "nothing to wait for");
        h.set("matrix", false, "starting");
        h.set("irc", false, "connecting");
        assert_eq!(h.status(), Status::Starting);
        h.set("matrix", true, "syncing");
        assert_eq!(h.status(), Status::Starting, "IRC is not up yet");
        h.set("irc", true, "in 2 channels");
        assert_eq!(h.status(), Status::Ok);
        h.set("irc", false, "disconnected: ping timeout");
        assert_eq!(h.status(), Status::Unhealthy, "it was up");
        assert_eq!(h.snapshot()["irc"].detail, "disconnected: ping timeout");
    }

    #[test]
    fn a_network_back_after_it_was_lost_counts_as_a_reconnection() {
        let reconnects = || {
            crate::metrics::encode()
                .lines()
                .find_map(|l| {
                    l.strip_prefix("podium_network_reconnects_total{network=\"matrix\"} ")
                })
                .map_or(0.0, |v| v.parse::<f64>().unwrap())
        };
        let up = || crate::metrics::encode().contains("podium_network_up{network=\"matrix\"} 1\n");
        let before = reconnects();
        let h = Health::default();
        h.set("matrix", false, "logging in");
        h.set("matrix", true, "syncing");
        assert!(up());
        assert_eq!(
            reconnects(),
            before,
            "the first start is not a reconnection"
        );
        h.set("matrix", true, "syncing");
        assert_eq!(reconnects(), before, "still up");
        h.set("matrix", false, "cannot sync: timed out");
        assert!(!up());
        h.set("matrix", false, "cannot sync: timed out");
        h.set("matrix", true, "syncing");
        assert_eq!(reconnects(), before + 1.0);
    }

    #[test]
    fn a_part_that_never_came_up_is_unhealthy_after_the_window() {
        let h = Health::with_start_window(Duration::ZERO);
        h.set("irc", false, "connecting");
        assert_eq!(h.status(), Status::Unhealthy);
    }
}
