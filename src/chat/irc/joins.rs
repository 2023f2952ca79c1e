//! Joining hundreds of channels at once. Every line costs a turn of the
//! send queue (a line per 1.5 s by default, to stay under the servers'
//! flood limits), so a JOIN per channel would take 25 minutes for 1,000
//! channels after every reconnection: channels are asked for many to a
//! line (`JOIN #a,#b,#c`), as many as the line and the server allow.
//!
//! Servers also cap how many channels one user may be in (ISUPPORT
//! `CHANLIMIT`, formerly `MAXCHANNELS`). Asking for more only earns one
//! refusal per channel, every few minutes, for ever; so channels beyond
//! the cap are not asked for at all, and are reported instead (the
//! schedule's first channels win, so which ones are left out is stable
//! and up to whoever writes the schedule).

use std::collections::HashMap;

use super::lines;

/// What the server says about joining, from ISUPPORT.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Limits {
    /// The most channels one JOIN may name (`TARGMAX=JOIN:n`), when the
    /// server says.
    per_line: Option<usize>,
    /// The most channels one user may be in, by the channel prefixes that
    /// share each cap (`CHANLIMIT=#&:20,+:`: 20 `#` and `&` channels
    /// together, `+` channels without limit).
    per_user: Vec<(String, Option<usize>)>,
    /// The older `MAXCHANNELS=n`: channels of any kind, together; only
    /// where there is no `CHANLIMIT`.
    max_channels: Option<usize>,
    /// The tokens as the server wrote them, to quote in the warning.
    tokens: HashMap<&'static str, String>,
}

impl Limits {
    /// Takes one ISUPPORT token apart; true when it was one of these.
    pub fn isupport(&mut self, key: &str, value: &str) -> bool {
        match key {
            "TARGMAX" => {
                self.per_line = value.split(',').find_map(|t| {
                    let (command, n) = t.split_once(':')?;
                    command
                        .eq_ignore_ascii_case("JOIN")
                        .then(|| n.parse().ok())?
                });
                self.tokens.insert("TARGMAX", format!("TARGMAX={value}"));
            }
            "CHANLIMIT" => {
                self.per_user = value
                    .split(',')
                    .filter_map(|t| {
                        let (prefixes, n) = t.split_once(':')?;
                        (!prefixes.is_empty()).then(|| (prefixes.to_owned(), n.parse().ok()))
                    })
                    .collect();
                self.tokens
                    .insert("CHANLIMIT", format!("CHANLIMIT={value}"));
            }
            "MAXCHANNELS" => {
                self.max_channels = value.parse().ok();
                self.tokens
                    .insert("MAXCHANNELS", format!("MAXCHANNELS={value}"));
            }
            _ => return false,
        }
        true
    }

    /// The most channels one JOIN may name, when the server says.
    pub fn per_line(&self) -> Option<usize> {
        self.per_line
    }

    /// The cap `channel` counts against: its index among the caps, and
    /// how many channels it allows (`None` when nothing caps it).
    fn cap(&self, channel: &str) -> Option<(usize, usize)> {
        if self.per_user.is_empty() {
            return self.max_channels.map(|n| (0, n));
        }
        let first = channel.chars().next()?;
        self.per_user
            .iter()
            .enumerate()
            .find(|(_, (prefixes, _))| prefixes.contains(first))
            .and_then(|(i, (_, n))| n.map(|n| (i, n)))
    }

    /// The wanted channels (in the schedule's order, with whether Podium
    /// is in each) that do not fit the server's cap beside the channels
    /// Podium is in (`inside`: every one, wanted or not). Channels Podium
    /// is in always fit; the others take what room is left, in order.
    pub fn over<'a>(&self, inside: &[&str], wanted: &[(&'a str, bool)]) -> Vec<&'a str> {
        let mut used: HashMap<usize, usize> = HashMap::new();
        for channel in inside {
            if let Some((cap, _)) = self.cap(channel) {
                *used.entry(cap).or_default() += 1;
            }
        }
        let mut over = Vec::new();
        for (channel, joined) in wanted {
            if *joined {
                continue;
            }
            let Some((cap, most)) = self.cap(channel) else {
                continue;
            };
            let n = used.entry(cap).or_default();
            if *n < most {
                *n += 1;
            } else {
                over.push(*channel);
            }
        }
        over
    }

    /// The server's words for its cap, for the log and `/healthz`.
    pub fn describe(&self) -> String {
        let token = if self.per_user.is_empty() {
            self.tokens.get("MAXCHANNELS")
        } else {
            self.tokens.get("CHANLIMIT")
        };
        token.cloned().unwrap_or_default()
    }
}

/// The channel lists of JOIN lines that ask for `channels`: as many to a
/// line as fit in `room` bytes of parameters (commas included), and at
/// most `per_line`. A name is never split.
pub fn batches(channels: &[&str], room: usize, per_line: Option<usize>) -> Vec<String> {
    let most = per_line.unwrap_or(usize::MAX).max(1);
    let mut out = Vec::new();
    let mut line = String::new();
    let mut n = 0;
    for channel in channels {
        let needed = if line.is_empty() {
            channel.len()
        } else {
            line.len() + 1 + channel.len()
        };
        if !line.is_empty() && (needed > room || n >= most) {
            out.push(std::mem::take(&mut line));
            n = 0;
        }
        if !line.is_empty() {
            line.push(',');
        }
        line.push_str(channel);
        n += 1;
    }
    if !line.is_empty() {
        out.push(line);
    }
    out
}

/// Bytes a JOIN's channel list may take, leaving room for the CRLF and
/// for the prefix a server puts in front of what it passes on
/// (`:nick!user@host `), as for every other line Podium sends.
pub fn room(nick: &str, mask: usize) -> usize {
    lines::params_budget(nick, mask, "JOIN")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(tokens: &[&str]) -> Limits {
        let mut l = Limits::default();
        for t in tokens {
            let (k, v) = t.split_once('=').unwrap_or((t, ""));
            l.isupport(k, v);
        }
        l
    }

    fn names(n: usize, base: &str) -> Vec<String> {
        (0..n).map(|i| format!("#{base}{i:04}")).collect()
    }

    /// Each list as the line the server would pass on, with the longest
    /// user and host it allows.
    fn wire(nick: &str, list: &str) -> String {
        format!(
            ":{nick}!{}@{} JOIN {list}\r\n",
            "u".repeat(11),
            "h".repeat(63)
        )
    }

    #[test]
    fn a_thousand_channels_take_a_few_lines_that_fit_with_the_prefix() {
        let channels = names(1000, "debate-");
        let refs: Vec<&str> = channels.iter().map(String::as_str).collect();
        let nick = "podium-bot-with-a-long-nick";
        let lists = batches(&refs, room(nick, lines::UNKNOWN_MASK), None);
        for list in &lists {
            let line = wire(nick, list);
            assert!(line.len() <= 512, "{} bytes: {line}", line.len());
        }
        // Full lines, not a channel each: 13 bytes a name, ~400 a line.
        assert!(lists.len() <= 40, "{} lines", lists.len());
        let full = wire(nick, &lists[0]);
        assert!(full.len() > 512 - 14, "{}", full.len());
        let back: Vec<&str> = lists.iter().flat_map(|l| l.split(',')).collect();
        assert_eq!(back, refs, "every channel once, in order");
    }

    #[test]
    fn multibyte_names_are_counted_in_bytes_and_never_cut() {
        let channels: Vec<String> = (0..300).map(|i| format!("#débat-日本語-🙂{i}")).collect();
        let refs: Vec<&str> = channels.iter().map(String::as_str).collect();
        let lists = batches(&refs, room("podium", lines::UNKNOWN_MASK), None);
        assert!(lists.len() > 1);
        for list in &lists {
            let line = wire("podium", list);
            assert!(line.len() <= 512, "{} bytes", line.len());
        }
        let back: Vec<&str> = lists.iter().flat_map(|l| l.split(',')).collect();
        assert_eq!(back, refs);
    }

    #[test]
    fn targmax_caps_the_channels_of_a_line() {
        let l = limits(&["TARGMAX=PRIVMSG:4,NOTICE:4,JOIN:5,PART:"]);
        assert_eq!(l.per_line, Some(5));
        let channels = names(12, "c");
        let refs: Vec<&str> = channels.iter().map(String::as_str).collect();
        let lists = batches(&refs, 400, l.per_line);
        let counts: Vec<usize> = lists.iter().map(|l| l.split(',').count()).collect();
        assert_eq!(counts, [5, 5, 2]);
        // `JOIN:` with no number: no limit.
        assert_eq!(limits(&["TARGMAX=JOIN:,PRIVMSG:4"]).per_line, None);
        assert_eq!(batches(&refs, 400, None).len(), 1);
    }

    #[test]
    fn chanlimit_leaves_the_last_channels_of_the_schedule_out() {
        let l = limits(&["CHANLIMIT=#:3,&:"]);
        let wanted = [
            ("#a", false),
            ("#b", true),
            ("&local", false),
            ("#c", false),
            ("#d", false),
            ("#e", false),
        ];
        // Podium is in #b and in #other, which the schedule does not name.
        assert_eq!(l.over(&["#b", "#other"], &wanted), ["#c", "#d", "#e"]);
        assert_eq!(l.over(&["#b"], &wanted), ["#d", "#e"]);
        assert_eq!(l.describe(), "CHANLIMIT=#:3,&:");
        // Prefixes sharing a cap count together; unlisted ones are free.
        let l = limits(&["CHANLIMIT=#&:2"]);
        let wanted = [("#a", false), ("&b", false), ("#c", false), ("+d", false)];
        assert_eq!(l.over(&[], &wanted), ["#c"]);
    }

    #[test]
    fn maxchannels_counts_every_channel_unless_chanlimit_says() {
        let l = limits(&["MAXCHANNELS=2"]);
        let wanted = [("#a", false), ("&b", false), ("+c", false)];
        assert_eq!(l.over(&[], &wanted), ["+c"]);
        assert_eq!(l.describe(), "MAXCHANNELS=2");
        let l = limits(&["MAXCHANNELS=2", "CHANLIMIT=#:5"]);
        assert!(l.over(&[], &wanted).is_empty());
        assert!(Limits::default().over(&[], &wanted).is_empty());
    }
}
