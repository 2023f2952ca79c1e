//! `podium replicas`: the replicas that share this PostgreSQL database and
//! the leases of the schedule's debates, read-only, as text or JSON. Each
//! replica is listed with the debates it leads (and, from the schedule,
//! their rooms); then the leases no live replica holds (free, or expired
//! after their holder went silent), and the schedule's debates that have
//! no lease row yet.
//!
//! Liveness is the database's judgement (its own clock), as the replicas
//! themselves see it; this command never changes a row.

use std::collections::HashMap;
use std::io::Write;
use std::process::ExitCode;

use chrono::{DateTime, SecondsFormat, Utc};
use clap::Args;
use serde::Serialize;

use super::{Ctx, EXIT_CONFIG, runtime};
use crate::store::{LeaseRow, ReplicaRow, Store, StoreError};

#[derive(Debug, Args)]
pub struct ReplicasArgs {
    /// Print one JSON object instead of text (its shape is in README.md,
    /// under Commands).
    #[arg(long)]
    pub json: bool,
}

/// What `podium replicas` says on SQLite.
const NEED_POSTGRES: &str = "podium: replicas need PostgreSQL: this Podium's store is SQLite \
(podium.db in the data directory), one file on one machine, which replicas cannot share.
  hint: set database.url (PODIUM_DATABASE_URL) to the PostgreSQL database the replicas \
share; see docs/replicas.md";

/// The whole `--json` document.
#[derive(Serialize)]
struct Report<'a> {
    /// Live replicas first, then by name.
    replicas: Vec<ReplicaJson<'a>>,
    /// Every lease, by debate.
    leases: Vec<LeaseJson<'a>>,
    /// Debates of the schedule that have no lease row yet (no replica has
    /// read this version of the schedule).
    unleased: Vec<&'a str>,
    /// Whether the schedule could be read: without it, `rooms` are empty
    /// and `in_schedule` is null.
    schedule_read: bool,
}

#[derive(Serialize)]
struct ReplicaJson<'a> {
    name: &'a str,
    /// "live", "stopped" (stopped cleanly, its leases handed back) or
    /// "silent" (not seen within its lease time and never stopped: killed,
    /// crashed or cut off from the database).
    state: &'static str,
    live: bool,
    started_at: String,
    seen_at: String,
    stopped_at: Option<String>,
    /// The unexpired leases it holds.
    leads: Vec<LedJson<'a>>,
}

#[derive(Serialize)]
struct LedJson<'a> {
    debate: &'a str,
    epoch: i64,
    expires_at: Option<String>,
    /// Null when the schedule could not be read.
    in_schedule: Option<bool>,
    rooms: Vec<String>,
}

#[derive(Serialize)]
struct LeaseJson<'a> {
    debate: &'a str,
    /// "held" (by a holder, unexpired), "expired" (its holder stopped
    /// renewing it; the next replica with room in its share takes it) or
    /// "free" (never taken, or handed back).
    state: &'static str,
    /// The holder, or for an expired lease the last one.
    holder: Option<&'a str>,
    epoch: i64,
    expires_at: Option<String>,
    /// Null when the schedule could not be read.
    in_schedule: Option<bool>,
    rooms: Vec<String>,
}

fn utc(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn replica_state(r: &ReplicaRow) -> &'static str {
    if r.live {
        "live"
    } else if r.stopped_at.is_some() {
        "stopped"
    } else {
        "silent"
    }
}

fn lease_state(l: &LeaseRow) -> &'static str {
    if l.live {
        "held"
    } else if l.holder.is_some() {
        "expired"
    } else {
        "free"
    }
}

/// The schedule's rooms by debate id, and its debates in file order;
/// `None` when it cannot be read (said once on stderr).
type Rooms = (HashMap<String, Vec<String>>, Vec<String>);

fn schedule_rooms(ctx: &Ctx, file: &std::path::Path) -> Option<Rooms> {
    match crate::schedule::load(file, ctx.now) {
        Ok((schedule, _)) => {
            let ids = schedule.debates.iter().map(|d| d.id.clone()).collect();
            let rooms = schedule
                .debates
                .iter()
                .map(|d| {
                    (
                        d.id.clone(),
                        d.rooms.iter().map(ToString::to_string).collect(),
                    )
                })
                .collect();
            Some((rooms, ids))
        }
        Err(e) => {
            let why = match e {
                crate::schedule::LoadError::Read { source, .. } => source.to_string(),
                crate::schedule::LoadError::Invalid { .. } => {
                    "it has errors; `podium check` shows them".to_owned()
                }
            };
            eprintln!(
                "podium: the schedule {} could not be read ({why}); leases are shown without \
                 their rooms",
                file.display()
            );
            None
        }
    }
}

pub fn run(ctx: &Ctx, args: &ReplicasArgs, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    let config = match ctx.config() {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    if config.database.postgres().is_none() {
        eprintln!("{NEED_POSTGRES}");
        return Ok(ExitCode::from(EXIT_CONFIG));
    }
    let rt = runtime()?;
    let rows = rt.block_on(async {
        // Read-only transactions, no lock: beside running replicas.
        let store = Store::open_readers_at(&config.database, &config.data_dir, 1).await?;
        let replicas = store.replicas().await?;
        let leases = store.leases().await?;
        Ok::<_, StoreError>((replicas, leases))
    });
    let (replicas, leases) = match rows {
        Ok(rows) => rows,
        Err(e @ StoreError::Connect { .. }) => {
            // As `podium run`: a database that refuses us is configuration.
            eprintln!("podium: {e}");
            return Ok(ExitCode::from(EXIT_CONFIG));
        }
        Err(StoreError::Unsupported(_)) => {
            eprintln!("{NEED_POSTGRES}");
            return Ok(ExitCode::from(EXIT_CONFIG));
        }
        Err(e) => return Err(e.into()),
    };
    let schedule = schedule_rooms(ctx, &config.schedule);
    let report = report(&replicas, &leases, schedule.as_ref());
    if args.json {
        serde_json::to_writer_pretty(&mut *out, &report)?;
        writeln!(out)?;
    } else {
        write_text(&report, out)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn report<'a>(
    replicas: &'a [ReplicaRow],
    leases: &'a [LeaseRow],
    schedule: Option<&'a Rooms>,
) -> Report<'a> {
    let rooms = |debate: &str| -> Vec<String> {
        schedule
            .and_then(|(rooms, _)| rooms.get(debate))
            .cloned()
            .unwrap_or_default()
    };
    let in_schedule =
        |debate: &str| -> Option<bool> { schedule.map(|(rooms, _)| rooms.contains_key(debate)) };
    let replicas_json = replicas
        .iter()
        .map(|r| ReplicaJson {
            name: &r.name,
            state: replica_state(r),
            live: r.live,
            started_at: utc(r.started_at),
            seen_at: utc(r.seen_at),
            stopped_at: r.stopped_at.map(utc),
            leads: leases
                .iter()
                .filter(|l| l.live && l.holder.as_deref() == Some(r.name.as_str()))
                .map(|l| LedJson {
                    debate: &l.debate,
                    epoch: l.epoch,
                    expires_at: l.expires_at.map(utc),
                    in_schedule: in_schedule(&l.debate),
                    rooms: rooms(&l.debate),
                })
                .collect(),
        })
        .collect();
    let leases_json = leases
        .iter()
        .map(|l| LeaseJson {
            debate: &l.debate,
            state: lease_state(l),
            holder: l.holder.as_deref(),
            epoch: l.epoch,
            expires_at: l.expires_at.map(utc),
            in_schedule: in_schedule(&l.debate),
            rooms: rooms(&l.debate),
        })
        .collect();
    let unleased = schedule
        .map(|(_, ids)| {
            ids.iter()
                .filter(|id| !leases.iter().any(|l| &l.debate == *id))
                .map(String::as_str)
                .collect()
        })
        .unwrap_or_default();
    Report {
        replicas: replicas_json,
        leases: leases_json,
        unleased,
        schedule_read: schedule.is_some(),
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn rooms_text(rooms: &[String], in_schedule: Option<bool>) -> String {
    match in_schedule {
        Some(false) => "(not in the schedule)".to_owned(),
        _ if rooms.is_empty() => String::new(),
        _ => format!("rooms {}", rooms.join(", ")),
    }
}

fn write_text(r: &Report<'_>, out: &mut dyn Write) -> std::io::Result<()> {
    let held = r.leases.iter().filter(|l| l.state == "held").count();
    writeln!(
        out,
        "Replicas: {} live of {} known. Leases: {held} held of {}.",
        r.replicas.iter().filter(|x| x.live).count(),
        r.replicas.len(),
        r.leases.len()
    )?;
    if r.replicas.is_empty() {
        writeln!(
            out,
            "\nNo replica has run against this database yet (replicas.enabled = true)."
        )?;
    }
    let name_w = r.replicas.iter().map(|x| x.name.len()).max().unwrap_or(0);
    for x in &r.replicas {
        writeln!(out)?;
        let end = match (&x.stopped_at, x.state) {
            (Some(at), _) => format!("  stopped {at}"),
            (None, "silent") => {
                "  (not seen within its lease time: killed, crashed or cut off)".to_owned()
            }
            _ => String::new(),
        };
        writeln!(
            out,
            "{:<name_w$}  {:<7}  started {}  last seen {}{end}",
            x.name, x.state, x.started_at, x.seen_at
        )?;
        if x.leads.is_empty() {
            if x.live {
                writeln!(out, "  leads nothing")?;
            }
            continue;
        }
        writeln!(
            out,
            "  leads {}:",
            plural(x.leads.len(), "debate", "debates")
        )?;
        let w = x.leads.iter().map(|l| l.debate.len()).max().unwrap_or(0);
        for l in &x.leads {
            let line = format!(
                "    {:<w$}  epoch {:<3}  until {}  {}",
                l.debate,
                l.epoch,
                l.expires_at.as_deref().unwrap_or("-"),
                rooms_text(&l.rooms, l.in_schedule)
            );
            writeln!(out, "{}", line.trim_end())?;
        }
    }
    // Every held lease was listed under its holder above, unless the
    // holder has no replica row (never the case through Podium itself).
    let listed = |l: &LeaseJson<'_>| {
        l.state == "held" && r.replicas.iter().any(|x| Some(x.name) == l.holder)
    };
    let rest: Vec<&LeaseJson<'_>> = r.leases.iter().filter(|l| !listed(l)).collect();
    writeln!(out)?;
    if rest.is_empty() {
        if !r.leases.is_empty() {
            writeln!(out, "Every lease is held.")?;
        }
    } else {
        writeln!(out, "Leases not held ({}):", rest.len())?;
        let w = rest.iter().map(|l| l.debate.len()).max().unwrap_or(0);
        for l in &rest {
            let what = match (l.state, l.holder) {
                ("expired", Some(h)) => format!(
                    "since {} (last held by {h})",
                    l.expires_at.as_deref().unwrap_or("-")
                ),
                ("held", Some(h)) => {
                    format!("by {h} until {}", l.expires_at.as_deref().unwrap_or("-"))
                }
                _ => String::new(),
            };
            let line = [
                format!("  {:<w$}  {:<7}  epoch {}", l.debate, l.state, l.epoch),
                what,
                rooms_text(&l.rooms, l.in_schedule),
            ]
            .into_iter()
            .filter(|part| !part.is_empty())
            .collect::<Vec<_>>()
            .join("  ");
            writeln!(out, "{line}")?;
        }
    }
    if !r.unleased.is_empty() {
        writeln!(
            out,
            "Debates of the schedule without a lease yet (a replica adds them when it reads \
             the schedule): {}",
            r.unleased.join(", ")
        )?;
    }
    if !r.schedule_read {
        writeln!(
            out,
            "(The schedule could not be read: rooms are not shown.)"
        )?;
    }
    Ok(())
}
