//! `podium check`: every problem in the schedule, located, and the next
//! debate in every zone when there is none.

use std::io::Write;
use std::process::ExitCode;

use super::load::load;
use super::{Ctx, FileArg};
use crate::schedule::Severity;

pub fn run(ctx: &Ctx, args: &FileArg, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    let now = ctx.now;
    let file = match ctx.schedule_file(args.file.as_deref()) {
        Ok(f) => f,
        Err(code) => return Ok(code),
    };
    let file = file.as_path();
    let all = [Severity::Error, Severity::Warning, Severity::Note];
    let schedule = match load(file, now, &all) {
        Ok(s) => s,
        Err(code) => return Ok(code),
    };
    let repeating = schedule.debates.iter().filter(|d| d.is_repeating()).count();
    write!(
        out,
        "{}: ok, {} debate{} ({repeating} repeating)",
        file.display(),
        schedule.debates.len(),
        if schedule.debates.len() == 1 { "" } else { "s" },
    )?;
    match schedule.occurrences_after(now) {
        Some(next) => writeln!(
            out,
            "; next: {} on {}",
            next.debate.id,
            next.time_line().render()
        )?,
        None => writeln!(out, "; none still to come")?,
    }
    Ok(ExitCode::SUCCESS)
}
