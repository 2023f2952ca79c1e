//! Property tests of the parsers and the page renderer: the code that takes
//! text from people (organisers' `debates.yaml`, participants' messages) and
//! must neither panic on it nor let it out anywhere it could do harm.
//!
//! Each property runs twice: a few hundred cases in the ordinary `cargo
//! test`, and many thousands in its `#[ignore]`d `_long` twin, meant for
//! `cargo test --release --lib --test properties -- --ignored` (see
//! README, "Property tests"). `PROPTEST_CASES` overrides both counts. Failures
//! found once are replayed first on every run from
//! `proptest-regressions/properties.txt`, which is kept in the repository.
//!
//! The IRC line splitter is private to its module, so its properties live
//! beside it (`src/chat/irc/lines.rs`).

use proptest::test_runner::{Config, FileFailurePersistence};

/// Cases of a property in the ordinary run.
pub const QUICK: u32 = 256;
/// Cases of a property's `_long` twin.
pub const LONG: u32 = 25_000;

/// A property's configuration: `cases` unless `PROPTEST_CASES` says
/// otherwise, failures kept in the repository's regression file.
pub fn config(cases: u32) -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(cases);
    Config {
        cases,
        // Integration tests have no `lib.rs` beside them, where proptest
        // looks by default; without this it would write next to this file.
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/proptest-regressions/properties.txt"
        )))),
        ..Config::default()
    }
}

/// One property, as a quick test and its long `#[ignore]`d twin.
macro_rules! property {
    ($(#[$meta:meta])* fn $name:ident / $long:ident / $quick:expr; ($($args:tt)*) $body:block) => {
        proptest::proptest! {
            #![proptest_config(crate::config($quick))]
            $(#[$meta])*
            #[test]
            fn $name($($args)*) $body
        }
        proptest::proptest! {
            #![proptest_config(crate::config(crate::LONG))]
            $(#[$meta])*
            #[test]
            #[ignore = "long property run: cargo test --release --lib --test properties -- --ignored"]
            fn $long($($args)*) $body
        }
    };
}

mod html;
mod messages;
mod schedule;
