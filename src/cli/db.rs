//! `podium db copy`: the SQLite store moved into PostgreSQL, and shown to
//! be the same there: rows counted on both sides, every transcript rendered
//! from both and compared byte for byte.

use std::io::Write;
use std::process::ExitCode;

use super::{Ctx, DbCopyArgs, EXIT_CONFIG, EXIT_FAILURE, runtime};
use crate::store::{Database, Store, redact};
use crate::transcript::Format;

pub fn copy(ctx: &Ctx, args: &DbCopyArgs, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    let config = match ctx.config() {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let Some(url) = args.to.clone().or_else(|| config.database.url.clone()) else {
        eprintln!(
            "podium: nowhere to copy to: give --to postgres://..., or set PODIUM_DATABASE_URL \
             (or database.url)"
        );
        return Ok(ExitCode::from(EXIT_CONFIG));
    };
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        eprintln!(
            "podium: `{}` is not a postgres:// URL: the copy goes from SQLite into PostgreSQL",
            redact(&url)
        );
        return Ok(ExitCode::from(EXIT_CONFIG));
    }
    let target = Database {
        url: Some(url.clone()),
        pool: config.database.pool,
    };
    let shown = redact(&url);
    let rt = runtime()?;
    rt.block_on(async {
        let source = Store::open_read_only(&config.data_dir).await?;
        // A data directory of its own for the lock a writer takes there:
        // the source's own may be held by a Podium still running on it.
        let scratch = tempfile_dir()?;
        let dest = Store::open_at(&target, &scratch).await?;
        writeln!(
            out,
            "Copying {} into {shown}",
            config.data_dir.join("podium.db").display()
        )?;
        let counts = dest.copy_from_sqlite(&config.data_dir).await?;
        let mut same = true;
        for (table, from, to) in &counts {
            let mark = if from == to { "" } else { "  DIFFERS" };
            same &= from == to;
            writeln!(out, "  {table:<17} {from:>9} rows -> {to:>9}{mark}")?;
        }
        drop(dest);
        let _ = std::fs::remove_dir_all(&scratch);
        let reader = Store::open_readers_at(&target, &config.data_dir, 1).await?;
        let occurrences = source.all_occurrences().await?;
        let mut differ = Vec::new();
        for occ in &occurrences {
            let there = reader
                .find_occurrence(&occ.debate, occ.scheduled_start)
                .await?;
            let Some(there) = there else {
                differ.push(format!("{} {} (missing)", occ.debate, occ.scheduled_start));
                continue;
            };
            let a = crate::transcript::build(&source, occ, ctx.now).await?;
            let b = crate::transcript::build(&reader, &there, ctx.now).await?;
            for format in [Format::Html, Format::Md, Format::Txt, Format::Json] {
                if a.render(format) != b.render(format) {
                    differ.push(format!(
                        "{} {} ({format:?})",
                        occ.debate, occ.scheduled_start
                    ));
                }
            }
        }
        writeln!(
            out,
            "  transcripts: {} occurrences, each in 4 formats: {}",
            occurrences.len(),
            if differ.is_empty() {
                "byte-identical".to_owned()
            } else {
                format!("{} differ", differ.len())
            }
        )?;
        for d in &differ {
            writeln!(out, "    differs: {d}")?;
        }
        if same && differ.is_empty() {
            writeln!(
                out,
                "Done. Set PODIUM_DATABASE_URL (or database.url) to this database and start \
                 Podium; keep {} as a backup.",
                config.data_dir.join("podium.db").display()
            )?;
            anyhow::Ok(ExitCode::SUCCESS)
        } else {
            anyhow::Ok(ExitCode::from(EXIT_FAILURE))
        }
    })
}

/// A private temporary directory for the lock the writer takes in its
/// data directory (removed after the copy).
fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("podium-db-copy-{}", std::process::id()));
    crate::store::create_private_dir(&dir)?;
    Ok(dir)
}
