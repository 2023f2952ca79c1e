//! IRCv3 capabilities: which Podium asks for, how a CAP line reads, and
//! what the server's say about accounts.

use std::collections::{HashMap, HashSet};

use irc::proto::{CapSubCommand, Command};

/// Capabilities Podium asks for: timestamps, tags (`+draft/reply`, the
/// sender's account), channel operators seen through every prefix, and the
/// echo of its own lines with their labels (their message ids; servers
/// label only for clients that also take `batch`, which labelled
/// responses of several lines come in).
pub const WANTED: &[&str] = &[
    "server-time",
    "message-tags",
    "account-tag",
    "multi-prefix",
    "echo-message",
    "labeled-response",
    "batch",
];

/// Whether the server has accounts: it tags messages with them
/// (`account-tag`), or tells of them (`account-notify`, `extended-join`),
/// or logs people in (`sasl`). Then a nick is anyone's to take and only an
/// account vouches for a person, whether or not the services that hand out
/// accounts answer. A server without any of these has nicks only.
pub fn has_accounts(offered: &HashMap<String, String>, acked: &HashSet<String>) -> bool {
    acked.contains("account-tag")
        || ["account-tag", "account-notify", "extended-join", "sasl"]
            .iter()
            .any(|c| offered.contains_key(*c))
}

/// A CAP message's subcommand, whether more lines follow (`*`), and its
/// list.
pub fn cap_parts(command: &Command) -> Option<(CapSubCommand, bool, String)> {
    let Command::CAP(target, sub, a, b) = command else {
        return None;
    };
    let mut rest: Vec<&String> = [a, b].into_iter().flatten().collect();
    let list = rest.pop().cloned().unwrap_or_default();
    let more = rest.first().is_some_and(|s| *s == "*");
    let _ = target;
    Some((*sub, more, list))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_lines_are_read_whole_or_continued() {
        let parse = |line: &str| {
            let m: irc::proto::Message = line.parse().unwrap();
            cap_parts(&m.command)
        };
        assert_eq!(
            parse(":irc.localhost CAP * LS * :multi-prefix sasl=PLAIN"),
            Some((CapSubCommand::LS, true, "multi-prefix sasl=PLAIN".into()))
        );
        assert_eq!(
            parse(":irc.localhost CAP * LS :server-time"),
            Some((CapSubCommand::LS, false, "server-time".into()))
        );
        assert_eq!(
            parse(":irc.localhost CAP podium ACK :echo-message"),
            Some((CapSubCommand::ACK, false, "echo-message".into()))
        );
    }

    #[test]
    fn accounts_are_decided_by_what_tags_or_tells_of_them_not_by_sasl_alone() {
        let caps = |offered: &[&str], acked: &[&str]| {
            let offered = offered
                .iter()
                .map(|c| ((*c).to_owned(), String::new()))
                .collect();
            let acked = acked.iter().map(|c| (*c).to_owned()).collect();
            has_accounts(&offered, &acked)
        };
        // InspIRCd as scripts/ircd-up.sh starts it: no SASL, account-tag.
        let inspircd = [
            "account-notify",
            "account-tag",
            "away-notify",
            "batch",
            "cap-notify",
            "chghost",
            "echo-message",
            "extended-join",
            "invite-notify",
            "labeled-response",
            "message-tags",
            "multi-prefix",
            "server-time",
            "userhost-in-names",
        ];
        assert!(caps(&inspircd, &["account-tag", "server-time"]));
        assert!(caps(&["account-notify"], &[]));
        assert!(caps(&["extended-join"], &[]));
        assert!(caps(&["sasl"], &[]));
        assert!(!caps(
            &["server-time", "message-tags", "echo-message"],
            &["server-time"]
        ));
        assert!(!caps(&[], &[]));
    }
}
