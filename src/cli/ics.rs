//! `podium ics`: the schedule as an iCalendar file for calendar apps.

use std::io::Write;
use std::process::ExitCode;

use super::load::load;
use super::{Ctx, IcsArgs};
use crate::schedule::Severity;

pub fn run(ctx: &Ctx, args: &IcsArgs, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    let now = ctx.now;
    let file = match ctx.schedule_file(args.file.file.as_deref()) {
        Ok(f) => f,
        Err(code) => return Ok(code),
    };
    let schedule = match load(&file, now, &[Severity::Error]) {
        Ok(s) => s,
        Err(code) => return Ok(code),
    };
    let text = crate::ics::calendar(&schedule, now);
    match &args.output {
        Some(path) => std::fs::write(path, text)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?,
        None => out.write_all(text.as_bytes())?,
    }
    Ok(ExitCode::SUCCESS)
}
