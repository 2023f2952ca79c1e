//! Podium hosts scheduled debates in Matrix rooms and IRC channels.
//!
//! # Layout
//! - [`schedule`]: `debates.yaml` parsed, validated and expanded into
//!   occurrences, with every time right in every zone. Pure.
//! - [`engine`]: runs occurrences on a clock: reminders, intro, questions,
//!   closing, transcript link; attributes replies; handles chat commands.
//! - [`chat`]: the boundary trait the engine talks to, and its
//!   implementations (console for rehearsals, in-memory for tests).
//! - [`store`]: SQLite through sqlx; the only place with SQL.
//! - [`transcript`]: one model built from the store, rendered as Markdown,
//!   text or JSON.
//! - [`cli`], [`rehearse`]: the command line.

pub mod app;
pub mod chat;
pub mod cli;
pub mod clock;
pub mod config;
pub mod domain;
pub mod engine;
pub mod health;
pub mod ics;
pub mod outage;
pub mod safe_text;
pub mod schedule;
pub mod store;
pub mod transcript;
pub mod web;
