pub mod cli;
pub mod ics;
pub mod schedule;
