//! `podium transcript`: a transcript from the store, read-only, so it works
//! beside a running Podium and on a read-only copy of its data.

use std::io::Write;
use std::process::ExitCode;

use super::{Ctx, EXIT_FAILURE, TranscriptArgs, runtime};
use crate::store::Store;

pub fn run(ctx: &Ctx, args: &TranscriptArgs, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    let config = match ctx.config() {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let rt = runtime()?;
    let text = rt.block_on(async {
        // Without the data directory's lock: reading needs none. On
        // PostgreSQL every transaction is read-only.
        let store = Store::open_readers_at(&config.database, &config.data_dir, 1).await?;
        let found = crate::transcript::find(&store, &args.debate, args.date, ctx.now, true).await?;
        let Some(occ) = found else {
            return anyhow::Ok(None);
        };
        Ok(Some(
            crate::transcript::build(&store, &occ, ctx.now)
                .await?
                .render(args.format),
        ))
    })?;
    let Some(text) = text else {
        match args.date {
            Some(d) => eprintln!(
                "podium: no occurrence of `{}` on {d} in the store",
                args.debate
            ),
            None => eprintln!("podium: no occurrence of `{}` has started yet", args.debate),
        }
        return Ok(ExitCode::from(EXIT_FAILURE));
    };
    out.write_all(text.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}
