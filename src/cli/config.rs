//! `podium config`: the effective configuration and where each value came
//! from, secrets shown as `***`. The output is itself a valid podium.toml
//! (but for the secrets), so it can start a file of one's own.

use std::io::Write;
use std::process::ExitCode;

use super::Ctx;
use crate::config::{Kind, Origin, Setting};

pub fn run(ctx: &Ctx, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    let config = match ctx.config() {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let source = match &config.file {
        Some(f) => format!("{}, ", f.display()),
        None => String::new(),
    };
    writeln!(
        out,
        "# Podium's effective configuration, from {source}the environment and the defaults.\n\
         # Each value says where it came from; secrets are shown as ***."
    )?;
    let mut section = None;
    for s in &config.settings {
        if s.key.section != section {
            section = s.key.section;
            if let Some(name) = section {
                writeln!(out, "\n[{name}]")?;
            }
        }
        writeln!(out, "{}", line(s))?;
    }
    // On stderr: stdout stays a valid podium.toml.
    for exposed in config.exposed_secrets() {
        eprintln!("podium: warning: {}", exposed.message());
    }
    Ok(ExitCode::SUCCESS)
}

/// `name = value  # origin (ENV)`, or a comment for a key not set.
fn line(s: &Setting) -> String {
    let env = s.key.env();
    let Some(shown) = &s.shown else {
        return format!("# {} (not set; {env}): {}", s.key.name, s.key.doc);
    };
    let value = match s.key.kind {
        Kind::Bool => shown.clone(),
        _ => toml_string(shown),
    };
    let origin = match &s.origin {
        Origin::Default => format!("default; {env} overrides"),
        other => other.to_string(),
    };
    format!("{} = {value}  # {origin}", s.key.name)
}

/// A TOML basic string.
fn toml_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
