//! CPU time of this process, of another one, and of a PostgreSQL server
//! started by `scripts/postgres-up.sh` (its postmaster and every backend),
//! read from `/proc`: the benchmarks say where the time went.

use std::path::Path;
use std::time::Duration;

/// CPU time used so far by this process and by the PostgreSQL server whose
/// data dir is `pg` (its live processes, and those that have exited).
#[derive(Clone, Copy, Default)]
pub struct Cpu {
    pub ours: Duration,
    pub server: Duration,
}

impl Cpu {
    pub fn now(pg: Option<&Path>) -> Cpu {
        Cpu {
            ours: process_cpu("self").unwrap_or_default(),
            server: pg.and_then(server_cpu).unwrap_or_default(),
        }
    }

    pub fn since(self, before: Cpu) -> Cpu {
        Cpu {
            ours: self.ours.saturating_sub(before.ours),
            server: self.server.saturating_sub(before.server),
        }
    }
}

/// utime + stime (and, with `children`, those of waited-for children) of
/// `/proc/PID/stat`, in clock ticks of 10 ms.
fn stat_ticks(pid: &str, children: bool) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // rest[0] is field 3 (state): utime is field 14, stime 15, cutime 16,
    // cstime 17.
    let n = |i: usize| f.get(i - 3).and_then(|v| v.parse::<u64>().ok());
    let mut t = n(14)? + n(15)?;
    if children {
        t += n(16)? + n(17)?;
    }
    Some(t)
}

fn ticks(t: u64) -> Duration {
    Duration::from_millis(t * 10)
}

pub fn process_cpu(pid: &str) -> Option<Duration> {
    stat_ticks(pid, false).map(ticks)
}

/// The postmaster's own and its exited children's CPU, plus that of its
/// live children (the backends, the WAL writer...).
pub fn server_cpu(data: &Path) -> Option<Duration> {
    let pid = std::fs::read_to_string(data.join("cluster/postmaster.pid")).ok()?;
    let pid = pid.lines().next()?.trim().to_owned();
    let mut t = stat_ticks(&pid, true)?;
    for p in std::fs::read_dir("/proc").ok()?.flatten() {
        let name = p.file_name();
        let Some(child) = name
            .to_str()
            .filter(|s| s.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(p.path().join("stat")) else {
            continue;
        };
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 2..]) else {
            continue;
        };
        if rest.split_whitespace().nth(1) == Some(pid.as_str()) {
            t += stat_ticks(child, false).unwrap_or(0);
        }
    }
    Some(ticks(t))
}
