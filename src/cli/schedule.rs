//! `podium schedule`: the occurrences in a window, in every shown zone, as
//! text or JSON, written as they are produced.

use std::io::Write;
use std::process::ExitCode;

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde::Serialize;

use super::load::load;
use super::{Ctx, EXIT_USAGE, ScheduleArgs};
use crate::schedule::{self, Occurrence, Severity};

/// One occurrence as `podium schedule --json` prints it (see the design's contracts).
#[derive(Serialize)]
struct OccurrenceJson<'a> {
    debate: &'a str,
    title: &'a str,
    starts_at: String,
    ends_at: String,
    timezone: &'a str,
    /// Zone name → local time, by zone name (as a JSON object map sorts them).
    local: std::collections::BTreeMap<&'a str, String>,
    zones: Vec<&'a str>,
    rooms: Vec<String>,
    /// The announcement form, "Tue 1 Nov 2011 20:00 London · 16:00 New York".
    time_line: String,
    notes: Vec<String>,
    /// 0-based position in the series, counting skipped dates.
    occurrence: u32,
    /// "gap" or "fold" when the wall time had to be adjusted for daylight saving.
    adjusted: Option<&'static str>,
}

fn utc_string(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

impl<'a> OccurrenceJson<'a> {
    /// `line` is the occurrence's time line, computed once by the caller
    /// with remembered spreads.
    fn new(o: &Occurrence<'a>, line: schedule::zones::TimeLine) -> Self {
        let d = o.debate;
        OccurrenceJson {
            debate: &d.id,
            title: &d.title,
            starts_at: utc_string(o.starts_at),
            ends_at: utc_string(o.ends_at),
            timezone: d.timezone.name(),
            local: d
                .zones
                .iter()
                .map(|z| {
                    let local = o.starts_at.with_timezone(z);
                    (z.name(), local.to_rfc3339_opts(SecondsFormat::Secs, false))
                })
                .collect(),
            zones: d.zones.iter().map(|z| z.name()).collect(),
            rooms: d.rooms.iter().map(ToString::to_string).collect(),
            notes: line
                .mismatches
                .iter()
                .map(|m| m.sentence(o.starts_at))
                .collect(),
            time_line: line.text,
            occurrence: o.index,
            adjusted: o.adjustment.map(|a| match a {
                schedule::model::Adjustment::Gap => "gap",
                schedule::model::Adjustment::Fold => "fold",
            }),
        }
    }
}

pub fn run(ctx: &Ctx, args: &ScheduleArgs, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    let now = ctx.now;
    let from = args.from.unwrap_or(now);
    let until = args.until.unwrap_or(from + Duration::days(90));
    if until <= from {
        eprintln!(
            "podium: --until ({}) must be after --from ({}{})",
            utc_string(until),
            utc_string(from),
            if args.from.is_none() { ", now" } else { "" }
        );
        return Ok(ExitCode::from(EXIT_USAGE));
    }
    // Warnings as `check` prints them (an occurrence moved by a gap or a
    // fold); notes are shown beside each occurrence instead.
    let file = match ctx.schedule_file(args.file.file.as_deref()) {
        Ok(f) => f,
        Err(code) => return Ok(code),
    };
    let schedule = match load(&file, now, &[Severity::Error, Severity::Warning]) {
        Ok(s) => s,
        Err(code) => return Ok(code),
    };
    // Streamed: each occurrence is written as it comes out of the merge, so
    // memory does not grow with the window.
    let mut spreads = schedule::zones::Spreads::default();
    let occurrences = schedule.occurrences_between(from, until).map(|o| {
        let line = o.time_line_in(&mut spreads);
        (o, line)
    });
    if args.json {
        let mut json = serde_json::Serializer::pretty(&mut *out);
        serde::Serializer::collect_seq(
            &mut json,
            occurrences.map(|(o, line)| OccurrenceJson::new(&o, line)),
        )?;
        writeln!(out)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut listed = false;
    for (o, line) in occurrences {
        listed = true;
        writeln!(out, "{}", line.text)?;
        writeln!(
            out,
            "    {}: {} ({})",
            o.debate.id,
            o.debate.title,
            schedule::time::format_duration(o.debate.duration)
        )?;
        for m in &line.mismatches {
            writeln!(out, "    note: {}", m.sentence(o.starts_at))?;
        }
    }
    if !listed {
        writeln!(
            out,
            "No debates between {} and {} (use --from and --until to look elsewhere).",
            utc_string(from),
            utc_string(until)
        )?;
    }
    Ok(ExitCode::SUCCESS)
}
