//! How far Podium got: commands handled once, and where each network
//! resumes from.

use chrono::{DateTime, Utc};

use super::{Result, Store};

impl Store {
    /// Records that a command message is being handled; false if it was
    /// already (a re-delivery after a crash).
    ///
    /// # Errors
    /// Database failures.
    pub async fn claim_command(
        &self,
        network: &str,
        room: &str,
        network_id: &str,
        at: DateTime<Utc>,
    ) -> Result<bool> {
        run!(self, progress::claim_command(network, room, network_id, at))
    }

    /// Where `network` resumes from, for this replica (see
    /// [`Store::for_replica`]).
    ///
    /// # Errors
    /// Database failures.
    pub async fn cursor(&self, network: &str) -> Result<Option<String>> {
        run!(self, progress::cursor(&self.replica, network))
    }
}
