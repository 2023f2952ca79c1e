//! Who is in each joined channel and with which status (`@` operator,
//! `+` voice...), kept by Podium itself from NAMES, JOIN, PART, KICK,
//! QUIT, NICK and MODE. The `irc` crate keeps a list too, but drops a
//! member's status when they change nick, so an operator who renamed
//! themselves would lose their organiser rights.
//!
//! It also remembers the channels Podium found empty when it joined: the
//! first to join an empty channel becomes its operator, so on such a
//! channel operator status proves nothing (anyone could have been first
//! after it emptied), and Podium never counts it as organiser rights there
//! for as long as it runs.

use std::collections::{HashMap, HashSet};

use super::casemap::CaseMapping;

/// The status modes a server has (`PREFIX=(ov)@+`), highest first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prefixes {
    modes: Vec<char>,
    symbols: Vec<char>,
}

impl Default for Prefixes {
    /// What most servers have, until ISUPPORT says.
    fn default() -> Self {
        Prefixes::parse("(qaohv)~&@%+").unwrap_or(Prefixes {
            modes: Vec::new(),
            symbols: Vec::new(),
        })
    }
}

impl Prefixes {
    /// An ISUPPORT `PREFIX` value: `(modes)symbols`.
    pub fn parse(value: &str) -> Option<Prefixes> {
        let (modes, symbols) = value.strip_prefix('(')?.split_once(')')?;
        let (modes, symbols): (Vec<char>, Vec<char>) =
            (modes.chars().collect(), symbols.chars().collect());
        (modes.len() == symbols.len()).then_some(Prefixes { modes, symbols })
    }

    /// The modes at or above operator (`o`): channel owners, admins and
    /// operators; not half-operators or voiced members.
    fn operator(&self, mode: char) -> bool {
        let top = self.modes.iter().position(|m| *m == 'o').unwrap_or(0);
        self.modes
            .iter()
            .position(|m| *m == mode)
            .is_some_and(|i| i <= top)
    }

    fn mode_of(&self, symbol: char) -> Option<char> {
        let i = self.symbols.iter().position(|s| *s == symbol)?;
        self.modes.get(i).copied()
    }

    fn is_mode(&self, mode: char) -> bool {
        self.modes.contains(&mode)
    }
}

/// Which channel modes take an argument (ISUPPORT `CHANMODES=A,B,C,D`):
/// lists (A) and settings (B) always, C only when set, D never.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChanModes {
    always: Vec<char>,
    when_set: Vec<char>,
    never: Vec<char>,
}

impl Default for ChanModes {
    fn default() -> Self {
        ChanModes::parse("beI,k,l,imnpst")
    }
}

impl ChanModes {
    pub fn parse(value: &str) -> ChanModes {
        let mut groups = value.split(',').map(|g| g.chars().collect::<Vec<_>>());
        let mut next = || groups.next().unwrap_or_default();
        let (a, b, c, d) = (next(), next(), next(), next());
        ChanModes {
            always: a.into_iter().chain(b).collect(),
            when_set: c,
            never: d,
        }
    }

    /// Whether `mode`, set (`plus`) or unset, takes an argument; `None`
    /// for a mode the server did not list.
    fn takes_arg(&self, plus: bool, mode: char) -> Option<bool> {
        if self.always.contains(&mode) {
            Some(true)
        } else if self.when_set.contains(&mode) {
            Some(plus)
        } else if self.never.contains(&mode) {
            Some(false)
        } else {
            None
        }
    }
}

/// One change of a channel MODE line: set or unset, the letter, its
/// argument as the `irc` crate read it.
pub type Change<'a> = (bool, char, Option<&'a str>);

#[derive(Debug, Default)]
struct Channel {
    /// Folded nick to its status modes.
    members: HashMap<String, HashSet<char>>,
    /// The NAMES that follows Podium's JOIN (or a NAMES asked again)
    /// replaces the list; until it ends, its lines are added to a new one.
    refreshing: bool,
    /// Podium's own JOIN: the end of this NAMES says whether it found the
    /// channel empty.
    first_names: bool,
}

#[derive(Debug, Default)]
pub struct Members {
    casemap: CaseMapping,
    prefixes: Prefixes,
    chanmodes: ChanModes,
    channels: HashMap<String, Channel>,
    found_empty: HashSet<String>,
}

impl Members {
    /// The server's rules, from ISUPPORT.
    pub fn set_casemap(&mut self, casemap: CaseMapping) {
        if casemap != self.casemap {
            self.casemap = casemap;
            // Keys folded the old way would never match again.
            self.channels.clear();
        }
    }

    pub fn set_prefixes(&mut self, prefixes: Prefixes) {
        self.prefixes = prefixes;
    }

    pub fn set_chanmodes(&mut self, chanmodes: ChanModes) {
        self.chanmodes = chanmodes;
    }

    /// A new connection: nobody is known to be anywhere yet. Channels found
    /// empty stay so.
    pub fn reset(&mut self) {
        self.channels.clear();
        self.casemap = CaseMapping::default();
        self.prefixes = Prefixes::default();
        self.chanmodes = ChanModes::default();
    }

    fn key(&self, name: &str) -> String {
        self.casemap.fold(name)
    }

    /// Podium joined `channel`: its NAMES comes next.
    pub fn joined_self(&mut self, name: &str) {
        let channel = Channel {
            refreshing: true,
            first_names: true,
            ..Channel::default()
        };
        self.channels.insert(self.key(name), channel);
    }

    /// Podium is to ask for `channel`'s NAMES again: the answer replaces
    /// what is known. False when an answer is awaited already (a flood of
    /// MODE lines asks once).
    pub fn refreshing(&mut self, channel: &str) -> bool {
        let key = self.key(channel);
        match self.channels.get_mut(&key) {
            Some(c) if !c.refreshing => {
                c.refreshing = true;
                true
            }
            _ => false,
        }
    }

    /// One RPL_NAMREPLY line: names with their status symbols (all of
    /// them, with `multi-prefix`), perhaps as `nick!user@host`.
    pub fn names(&mut self, channel: &str, names: &str) {
        let key = self.key(channel);
        let entries: Vec<(String, HashSet<char>)> = names
            .split_whitespace()
            .map(|name| {
                let bare = name.trim_start_matches(|c| self.prefixes.mode_of(c).is_some());
                let modes = name[..name.len() - bare.len()]
                    .chars()
                    .filter_map(|c| self.prefixes.mode_of(c))
                    .collect();
                let nick = bare.split('!').next().unwrap_or(bare);
                (self.key(nick), modes)
            })
            .collect();
        let Some(c) = self.channels.get_mut(&key) else {
            return;
        };
        if c.refreshing {
            c.members.clear();
            c.refreshing = false;
        }
        c.members.extend(entries);
    }

    /// RPL_ENDOFNAMES. After Podium's own JOIN, a channel where Podium
    /// (`me`) is alone is one it found empty.
    pub fn end_of_names(&mut self, channel: &str, me: &str) {
        let key = self.key(channel);
        let me = self.key(me);
        let Some(c) = self.channels.get_mut(&key) else {
            return;
        };
        // A NAMES with no names at all still ends the refresh.
        if c.refreshing {
            c.members.clear();
            c.refreshing = false;
        }
        if std::mem::take(&mut c.first_names) && c.members.keys().all(|n| *n == me) {
            self.found_empty.insert(key);
        }
    }

    pub fn joined(&mut self, channel: &str, nick: &str) {
        let (key, nick) = (self.key(channel), self.key(nick));
        if let Some(c) = self.channels.get_mut(&key) {
            c.members.insert(nick, HashSet::new());
        }
    }

    /// `nick` left `channel` (PART, KICK).
    pub fn left(&mut self, channel: &str, nick: &str) {
        let (key, nick) = (self.key(channel), self.key(nick));
        if let Some(c) = self.channels.get_mut(&key) {
            c.members.remove(&nick);
        }
    }

    /// Podium itself left `channel`.
    pub fn left_self(&mut self, channel: &str) {
        let key = self.key(channel);
        self.channels.remove(&key);
    }

    pub fn quit(&mut self, nick: &str) {
        let nick = self.key(nick);
        for c in self.channels.values_mut() {
            c.members.remove(&nick);
        }
    }

    /// A nick change keeps the member's status in every channel.
    pub fn renamed(&mut self, old: &str, new: &str) {
        let (old, new) = (self.key(old), self.key(new));
        for c in self.channels.values_mut() {
            if let Some(modes) = c.members.remove(&old) {
                c.members.insert(new.clone(), modes);
            }
        }
    }

    /// A channel MODE line. Returns false when it cannot be read safely
    /// (a mode the server did not describe, or the `irc` crate paired an
    /// argument with the wrong mode): then NAMES is to be asked again.
    pub fn mode(&mut self, channel: &str, changes: &[Change<'_>]) -> bool {
        let aligned = changes.iter().all(|(plus, mode, arg)| {
            let takes = if self.prefixes.is_mode(*mode) {
                Some(true)
            } else {
                self.chanmodes.takes_arg(*plus, *mode)
            };
            takes == Some(arg.is_some())
        });
        if !aligned {
            return false;
        }
        let key = self.key(channel);
        for (plus, mode, arg) in changes {
            let (Some(arg), true) = (arg, self.prefixes.is_mode(*mode)) else {
                continue;
            };
            let nick = self.key(arg);
            let Some(modes) = self
                .channels
                .get_mut(&key)
                .and_then(|c| c.members.get_mut(&nick))
            else {
                continue;
            };
            if *plus {
                modes.insert(*mode);
            } else {
                modes.remove(mode);
            }
        }
        true
    }

    /// Whether `nick` operates `channel` (or owns it...), as far as Podium
    /// has seen.
    pub fn is_operator(&self, channel: &str, nick: &str) -> bool {
        self.channels
            .get(&self.key(channel))
            .and_then(|c| c.members.get(&self.key(nick)))
            .is_some_and(|modes| modes.iter().any(|m| self.prefixes.operator(*m)))
    }

    /// Whether `nick` is in a channel Podium is in: online, as far as
    /// Podium can see.
    pub fn is_present(&self, nick: &str) -> bool {
        let nick = self.key(nick);
        self.channels
            .values()
            .any(|c| c.members.contains_key(&nick))
    }

    /// Whether Podium was alone in `channel` when it joined it, at any
    /// time since it started.
    pub fn found_empty(&self, channel: &str) -> bool {
        self.found_empty.contains(&self.key(channel))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inspircd() -> Members {
        let mut m = Members::default();
        m.set_casemap(CaseMapping::Rfc1459);
        m.set_prefixes(Prefixes::parse("(ov)@+").unwrap());
        m.set_chanmodes(ChanModes::parse("b,k,Hl,imnpst"));
        m
    }

    #[test]
    fn names_give_status_and_a_nick_change_keeps_it() {
        let mut m = inspircd();
        m.joined_self("#deb[1]");
        m.names("#deb{1}", "@+alice bob podium");
        m.end_of_names("#deb{1}", "podium");
        assert!(m.is_operator("#DEB[1]", "Alice"));
        assert!(!m.is_operator("#deb[1]", "bob"));
        m.renamed("alice", "alice[away]");
        assert!(m.is_operator("#deb[1]", "ALICE{AWAY}"));
        assert!(!m.is_operator("#deb[1]", "alice"));
        assert!(!m.found_empty("#deb[1]"));
    }

    #[test]
    fn modes_parts_and_quits_change_status() {
        let mut m = inspircd();
        m.joined_self("#d");
        m.names("#d", "podium");
        m.end_of_names("#d", "podium");
        m.joined("#d", "bob");
        assert!(m.mode("#d", &[(true, 'o', Some("bob")), (true, 'n', None)]));
        assert!(m.is_operator("#d", "bob"));
        assert!(m.mode("#d", &[(false, 'o', Some("bob"))]));
        assert!(!m.is_operator("#d", "bob"));
        assert!(m.mode("#d", &[(true, 'o', Some("bob"))]));
        m.left("#d", "bob");
        assert!(!m.is_operator("#d", "bob"));
        m.joined("#d", "bob");
        assert!(m.mode("#d", &[(true, 'o', Some("bob"))]));
        m.quit("bob");
        assert!(!m.is_operator("#d", "bob"));
    }

    #[test]
    fn a_mode_line_read_wrongly_asks_for_names_again() {
        let mut m = inspircd();
        m.joined_self("#d");
        m.names("#d", "podium bob");
        // `-l` takes no argument, but the crate pairs `bob` with it.
        assert!(!m.mode("#d", &[(false, 'l', Some("bob")), (true, 'o', None)]));
        // A mode the server never described.
        assert!(!m.mode("#d", &[(true, 'Z', None)]));
        assert!(!m.is_operator("#d", "bob"));
        // NAMES asked again (once) replaces the list.
        assert!(m.refreshing("#d"));
        assert!(!m.refreshing("#d"));
        m.names("#d", "podium @bob");
        m.end_of_names("#d", "podium");
        assert!(m.is_operator("#d", "bob"));
    }

    #[test]
    fn a_channel_found_empty_stays_so_across_reconnections() {
        let mut m = inspircd();
        m.joined_self("#empty");
        m.names("#empty", "@podium");
        m.end_of_names("#empty", "podium");
        assert!(m.found_empty("#EMPTY"));
        m.reset();
        m.set_prefixes(Prefixes::parse("(ov)@+").unwrap());
        m.joined_self("#empty");
        m.names("#empty", "@mallory podium");
        m.end_of_names("#empty", "podium");
        assert!(m.is_operator("#empty", "mallory"));
        assert!(m.found_empty("#empty"));
    }

    #[test]
    fn prefixes_rank_owners_admins_and_operators_above_halfops() {
        let p = Prefixes::parse("(qaohv)~&@%+").unwrap();
        assert!(p.operator('q') && p.operator('a') && p.operator('o'));
        assert!(!p.operator('h') && !p.operator('v'));
        assert_eq!(Prefixes::parse("(ov)@"), None);
        assert_eq!(Prefixes::default(), p);
    }
}
