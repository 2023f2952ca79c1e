//! `podium rehearse`: the command line over [`crate::app::rehearsal`].

use std::process::ExitCode;

use super::load::load;
use super::{Ctx, EXIT_FAILURE, RehearseArgs, runtime};
use crate::app::rehearsal::{self, Options};
use crate::config::Overrides;
use crate::engine::EngineConfig;
use crate::schedule::Severity;

pub fn run(ctx: &Ctx, args: RehearseArgs) -> ExitCode {
    crate::store::keep_new_files_private();
    let config = match ctx.config_with(Overrides {
        schedule: args.file.clone(),
        public_url: args.public_url.clone(),
        ..ctx.overrides.clone()
    }) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let schedule = match load(&config.schedule, ctx.now, &[Severity::Error]) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let Some(debate) = schedule.debate(&args.debate).cloned() else {
        let ids: Vec<&str> = schedule.debates.iter().map(|d| d.id.as_str()).collect();
        eprintln!(
            "podium: no debate `{}` in {}; its debates are: {}",
            args.debate,
            config.schedule.display(),
            ids.join(", ")
        );
        return ExitCode::from(EXIT_FAILURE);
    };
    let opts = Options {
        debate,
        speed: args.speed,
        data_dir: config.data_dir.clone(),
        database: config.database.clone(),
        fresh: args.fresh,
        engine: EngineConfig::new(config.timings, &config.public_url),
    };
    let result = runtime().and_then(|rt| {
        let result = rt.block_on(rehearsal::run(opts, Box::new(std::io::stdout())));
        // Reading stdin blocks a thread until a line or EOF arrives; do not
        // wait for it once the rehearsal is over.
        rt.shutdown_background();
        result
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("podium: {e:#}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}
