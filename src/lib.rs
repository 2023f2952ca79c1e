//! Podium hosts scheduled debates in Matrix rooms and IRC channels.
//!
//! # Layout
//!
//! From the top down; each module imports only those below it (see
//! `docs/architecture.md`).
//!
//! - [`cli`]: the command line, one file per command (`check`, `schedule`,
//!   `ics`, `run`, `rehearse`, `transcript`, `config`), each a thin layer
//!   over the library; `main.rs` only calls it.
//! - [`app`]: the one startup path ([`app::build`] from one
//!   [`app::Options`], used by `podium run`, rehearsals and the tests) and
//!   the one cooperative shutdown (a tree of cancellation tokens: networks
//!   stop before the engine, the engine before the reply writer's last
//!   commit); also rehearsals in the terminal and the retention period.
//! - [`engine`]: runs occurrences on a clock (reminders, intro, questions,
//!   closing, transcript link), posting through the chat boundary with
//!   claim, send, confirm; attributes replies and commits them in batches;
//!   answers chat commands.
//! - [`web`]: the transcript pages, the calendar feed and `/healthz`,
//!   served by `podium run` itself (hyper under axum's router, with its
//!   own limits on slow clients and open connections).
//! - [`chat`]: the boundary the engine talks to (the [`chat::Chat`] trait,
//!   incoming events, a router over the networks) and its networks:
//!   Matrix (matrix-sdk), IRC (the `irc` crate), the console for
//!   rehearsals, and an in-memory one for tests.
//! - [`transcript`]: one model built from the store (answers, authors
//!   told apart, gaps while Podium was away), rendered as HTML, Markdown,
//!   text, JSON and the raw log.
//! - [`schedule`]: `debates.yaml` parsed, validated and expanded into
//!   occurrences, with every time right in every zone; pure, but for its
//!   reloader (a file watcher and SIGHUP).
//! - [`replicas`]: several Podiums on one PostgreSQL database: the lease
//!   keeper, and the [`replicas::Leadership`] the engine reads to know
//!   which debates it leads.
//! - [`store`]: the database (SQLite in the data directory, or
//!   PostgreSQL) through sqlx; the only place with SQL.
//! - [`config`]: the typed configuration of `podium run`: `podium.toml`,
//!   `PODIUM_*` variables and flags, secrets kept out of logs.
//! - [`ics`]: the schedule as an iCalendar feed.
//! - At the bottom, shared by every layer: [`domain`] (rooms, networks,
//!   post kinds and states: the common vocabulary), [`clock`] ("now" and
//!   waiting, injected so tests pause time and rehearsals compress it),
//!   [`health`] (what each part says about itself, for `/healthz`),
//!   [`outage`] (logging failures that repeat, once when they start and
//!   once when they end) and [`safe_text`] (chat text made harmless for
//!   terminals and text files).

pub mod app;
pub mod chat;
pub mod cli;
pub mod clock;
pub mod config;
pub mod domain;
pub mod engine;
pub mod health;
pub mod ics;
pub mod metrics;
pub mod outage;
pub mod replicas;
pub mod safe_text;
pub mod schedule;
pub mod store;
pub mod transcript;
pub mod web;
