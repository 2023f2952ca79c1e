//! The room a command was given in, and who gave it, as every command
//! sees them: one value handed to the commands' handlers (`commands`) and
//! to what they may tell of debates (`links`).

use super::occurrences::OccKey;
use crate::chat::{Room, Sender};
use crate::schedule::{Debate, Schedule};

/// The room a command was given in, and who gave it, as the commands see
/// them.
pub(super) struct Here<'a> {
    pub room: &'a Room,
    pub sender: &'a Sender,
    pub schedule: &'a Schedule,
    /// The debates held in the room.
    pub debates: Vec<&'a Debate>,
    /// The occurrence running in the room, if any.
    pub running: Option<OccKey>,
    /// The longest answer the room takes, in characters.
    pub max: Option<usize>,
}
