//! Chat commands (`!help`, `!transcript leadership-2011`, `!ask ...`),
//! parsed once here so that Matrix and IRC accept exactly the same language
//! and give the same error messages; a network only passes the message body.
//!
//! Parsing is separate from permission: [`Command::organiser_only`] says
//! who may use a command, and the engine checks the sender, so that a
//! participant who types `!end` learns that it is for organisers rather
//! than getting a usage error.

use std::fmt;

use chrono::{Duration, NaiveDate};
use chrono_tz::Tz;

/// A chat command, with its arguments checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `!help` (alias `!commands`): list the commands.
    Help,
    /// `!next`: when the next debate starts.
    Next,
    /// `!transcript [DEBATE] [DATE]`
    Transcript {
        /// The debate id as typed; the engine checks it exists.
        debate: Option<String>,
        /// The date of one occurrence of a repeating debate.
        date: Option<NaiveDate>,
    },
    /// `!start`: start the debate now.
    Start,
    /// `!skip`: move on to the next question.
    Skip,
    /// `!ask TEXT`: ask a question that is not in the schedule.
    Ask(String),
    /// `!end` (alias `!stop`): end the debate.
    End,
    /// `!extend DURATION`: give the running debate more time.
    Extend(Duration),
    /// `!tz [ZONE|clear]`: the sender's own time zone.
    Tz(TzCommand),
    /// `!propose TEXT`: a question from the floor, numbered P1, P2, ...
    Propose(String),
    /// `!vote P2`: one vote per person for a proposal.
    Vote(u32),
    /// `!unvote P2`: takes the vote back.
    Unvote(u32),
    /// `!proposals`: the open proposals with most votes.
    Proposals,
    /// `!ask P2` or `!ask top`: asks a proposal as the next question.
    AskProposal(Pick),
    /// `!rsvp DEBATE` registers; `!rsvp` alone lists the sender's.
    Rsvp(Option<String>),
    /// `!unrsvp [DEBATE]`: one registration, or all, taken back.
    Unrsvp(Option<String>),
    /// `!debate TITLE`: an unscheduled debate in this room, now.
    Debate(String),
    /// `!forget` (says what would go, and how to confirm) and `!forget
    /// confirm` (erases it).
    Forget { confirm: bool },
    /// A `!word` that is not a command; carried so the bot can answer "unknown command, try !help".
    ///
    /// Holds the word as typed, without the `!`, so the reply can quote it.
    Unknown(String),
}

/// What `!tz` asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TzCommand {
    /// `!tz`: which zone is remembered.
    Show,
    /// `!tz Europe/Berlin`
    Set(Tz),
    /// `!tz clear`
    Clear,
}

/// Which proposal `!ask` asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pick {
    /// `!ask P2`
    Number(u32),
    /// `!ask top`: the open proposal with most votes (the earliest of equals).
    Top,
}

/// Why a message that is a command could not be understood: a sentence to
/// send back to the person, with an example of the right form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandError(pub String);

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CommandError {}

/// Shown by `!help`. Kept next to the parser so that a new command and its
/// help line are reviewed together; a test checks every line parses.
const HELP: &str = "\
!help — list these commands
!next — when the next debate starts
!transcript [DEBATE] [DATE] — post the link to the transcript of a debate, the latest by default; DATE is YYYY-MM-DD
!start — (organisers) start the debate now
!skip — (organisers) move on to the next question
!ask TEXT — (organisers) ask TEXT as the next question; !ask P2 or !ask top asks a proposal
!extend DURATION — (organisers) move the rest of the debate DURATION later, such as 5m
!tz [ZONE] — show times in your own zone too, such as !tz Europe/Berlin; !tz clear forgets it
!propose TEXT — propose a question for the organisers to ask (one open proposal each)
!vote P2 — vote for proposal P2, once each
!unvote P2 — take your vote for P2 back
!proposals — the open proposals with most votes
!rsvp [DEBATE] — register for a debate's next occurrence and be reminded privately; alone, list yours
!unrsvp [DEBATE] — take a registration back (alone: all of them)
!forget — remove everything Podium holds about you (it asks you to confirm)
!end — (organisers) end the debate
!debate TITLE — (organisers) start an unscheduled debate in this room now: !ask its questions, !end closes it";

/// Shown with `!transcript` errors, so the person sees the right form.
const TRANSCRIPT_EXAMPLE: &str = "!transcript leadership-2011 2011-11-01";

impl Command {
    /// Parses a chat message.
    ///
    /// `None` when the message is not a command at all (does not start with `!` followed by a letter).
    /// That keeps `!!!`, `!1` and `! help` ordinary chat, so the bot never
    /// answers them. Otherwise the first word (case-insensitive) names the
    /// command and the rest are its arguments; an unknown word is
    /// `Some(Ok(Command::Unknown(..)))`, bad arguments are `Some(Err(..))`.
    pub fn parse(body: &str) -> Option<Result<Command, CommandError>> {
        if !crate::chat::is_command(body) {
            return None;
        }
        let after_bang = body.trim().strip_prefix('!')?;
        let word_end = after_bang
            .find(char::is_whitespace)
            .unwrap_or(after_bang.len());
        let (word, args) = after_bang.split_at(word_end);
        let args = args.trim_start();
        let name = word.to_lowercase();
        Some(match name.as_str() {
            // Extra words are harmless here: these only read, so they are ignored.
            "help" | "commands" => Ok(Command::Help),
            "next" => Ok(Command::Next),
            "transcript" => transcript(args),
            // These change a running debate, so anything after them is more
            // likely a mistake (`!end of my answer`) than intended.
            "start" => without_arguments(&name, args, Command::Start),
            "skip" => without_arguments(&name, args, Command::Skip),
            "end" | "stop" => without_arguments(&name, args, Command::End),
            "ask" if args.is_empty() => Err(CommandError(
                "`!ask` needs the question: !ask What next?".into(),
            )),
            "ask" => Ok(ask(args)),
            "propose" if args.is_empty() => Err(CommandError(
                "`!propose` needs the question: !propose What would you change first?".into(),
            )),
            "propose" => Ok(Command::Propose(args.to_owned())),
            "vote" => proposal_number(&name, args).map(Command::Vote),
            "unvote" => proposal_number(&name, args).map(Command::Unvote),
            "proposals" => Ok(Command::Proposals),
            "rsvp" => one_debate(&name, args).map(Command::Rsvp),
            "unrsvp" => one_debate(&name, args).map(Command::Unrsvp),
            "debate" if args.is_empty() => Err(CommandError(
                "`!debate` needs a title: !debate What makes a good mentor?".into(),
            )),
            "debate" => Ok(Command::Debate(args.to_owned())),
            "forget" if args.is_empty() => Ok(Command::Forget { confirm: false }),
            "forget" if args.eq_ignore_ascii_case("confirm") => {
                Ok(Command::Forget { confirm: true })
            }
            "forget" => Err(CommandError(
                "`!forget` takes nothing, or `confirm` once it has told you what goes: \
                 !forget confirm"
                    .into(),
            )),
            "extend" => extend(args),
            "tz" | "timezone" => tz(args),
            _ => Ok(Command::Unknown(word.to_owned())),
        })
    }

    /// True for the live controls only organisers may use (start, skip,
    /// ask, end). Transcripts are for everyone, as the issue lists them.
    pub fn organiser_only(&self) -> bool {
        match self {
            Command::Start
            | Command::Skip
            | Command::Ask(_)
            | Command::AskProposal(_)
            | Command::Debate(_)
            | Command::Extend(_)
            | Command::End => true,
            Command::Help
            | Command::Next
            | Command::Transcript { .. }
            | Command::Tz(_)
            | Command::Propose(_)
            | Command::Vote(_)
            | Command::Unvote(_)
            | Command::Proposals
            | Command::Forget { .. }
            | Command::Rsvp(_)
            | Command::Unrsvp(_)
            | Command::Unknown(_) => false,
        }
    }

    /// One line each, for `!help`.
    pub fn help_text() -> &'static str {
        HELP
    }
}

/// The shortest and longest single `!extend`: less than a few seconds is
/// surely a slip, and hours more is a new debate, not an extension.
pub const EXTEND_MIN: Duration = Duration::seconds(10);
pub const EXTEND_MAX: Duration = Duration::hours(2);

fn extend(args: &str) -> Result<Command, CommandError> {
    const EXAMPLE: &str = "!extend 5m";
    if args.is_empty() {
        return Err(CommandError(format!(
            "`!extend` needs how much more time: {EXAMPLE}"
        )));
    }
    let d = crate::schedule::time::parse_duration(args).map_err(|why| {
        CommandError(format!(
            "`!extend {args}` is not a duration ({why}); for example {EXAMPLE}"
        ))
    })?;
    if d < EXTEND_MIN || d > EXTEND_MAX {
        return Err(CommandError(format!(
            "`!extend` takes from 10 seconds to 2 hours at a time, such as {EXAMPLE}"
        )));
    }
    Ok(Command::Extend(d))
}

/// `!tz`: a zone is an IANA name (`Europe/Berlin`), as in the schedule;
/// a near miss gets the name meant, never a silent guess.
fn tz(args: &str) -> Result<Command, CommandError> {
    const EXAMPLE: &str = "!tz Europe/Berlin";
    if args.is_empty() {
        return Ok(Command::Tz(TzCommand::Show));
    }
    if args.eq_ignore_ascii_case("clear") {
        return Ok(Command::Tz(TzCommand::Clear));
    }
    // Quoted back, so bounded: a zone name is never this long.
    let shown: String = args.chars().take(40).collect();
    match crate::schedule::zones::parse_zone(args) {
        Ok(zone) => Ok(Command::Tz(TzCommand::Set(zone))),
        Err(Some(near)) => Err(CommandError(format!(
            "`{shown}` is not a time zone; did you mean {near}? Say !tz {near}"
        ))),
        Err(None) => Err(CommandError(format!(
            "`{shown}` is not a time zone: give a name from the IANA list, such as {EXAMPLE}"
        ))),
    }
}

/// The optional debate id of `!rsvp` and `!unrsvp`.
fn one_debate(name: &str, args: &str) -> Result<Option<String>, CommandError> {
    let words: Vec<&str> = args.split_whitespace().collect();
    match words.as_slice() {
        [] => Ok(None),
        [id] => Ok(Some((*id).to_owned())),
        _ => Err(CommandError(format!(
            "`!{name}` takes one debate, as !next names them: !{name} leadership-2011"
        ))),
    }
}

/// `!ask P2` and `!ask top` ask a proposal; anything else is the text of
/// a question. Only the whole argument counts, so `!ask Top ten risks?`
/// is a question.
fn ask(args: &str) -> Command {
    if args.eq_ignore_ascii_case("top") {
        return Command::AskProposal(Pick::Top);
    }
    match proposal_ref(args) {
        Some(n) => Command::AskProposal(Pick::Number(n)),
        None => Command::Ask(args.to_owned()),
    }
}

/// `P2` (or `p2`): a proposal's number.
fn proposal_ref(word: &str) -> Option<u32> {
    let digits = word.strip_prefix(['P', 'p'])?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|n| *n > 0)
}

/// The one argument of `!vote` and `!unvote`: `P2`, or just `2`.
fn proposal_number(name: &str, args: &str) -> Result<u32, CommandError> {
    let plain = args
        .bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| args.parse().ok().filter(|n: &u32| *n > 0))
        .flatten();
    proposal_ref(args).or(plain).ok_or_else(|| {
        CommandError(format!(
            "`!{name}` needs a proposal's number, as !proposals lists them: !{name} P2"
        ))
    })
}

fn without_arguments(name: &str, args: &str, command: Command) -> Result<Command, CommandError> {
    if args.is_empty() {
        Ok(command)
    } else {
        Err(CommandError(format!(
            "`!{name}` takes no arguments: send just !{name}"
        )))
    }
}

/// `!transcript [DEBATE] [DATE]`, in either order: a date is recognisable,
/// so people need not remember which comes first.
fn transcript(args: &str) -> Result<Command, CommandError> {
    let words: Vec<&str> = args.split_whitespace().collect();
    if words.len() > 2 {
        return Err(CommandError(format!(
            "`!transcript` takes at most a debate and a date: {TRANSCRIPT_EXAMPLE}"
        )));
    }
    let mut debate = None;
    let mut date = None;
    for word in words {
        match date_word(word) {
            Some(parsed) if date.is_none() => date = Some(parsed?),
            Some(_) => {
                return Err(CommandError(format!(
                    "`!transcript` takes one date, not two: {TRANSCRIPT_EXAMPLE}"
                )));
            }
            None if debate.is_none() => debate = Some(word.to_owned()),
            None => {
                return Err(CommandError(format!(
                    "`!transcript` takes one debate, not two (dates are YYYY-MM-DD): {TRANSCRIPT_EXAMPLE}"
                )));
            }
        }
    }
    Ok(Command::Transcript { debate, date })
}

/// `None` when `word` is not meant as a date. Three groups of digits joined
/// by `-` are meant as one, so `11-2-3` or `01-11-2011` get an error asking
/// for YYYY-MM-DD instead of being looked up as a debate id (and failing
/// with a confusing "no such debate"), or being guessed wrong.
fn date_word(word: &str) -> Option<Result<NaiveDate, CommandError>> {
    let parts: Vec<&str> = word.split('-').collect();
    let all_digits = |p: &&str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    if parts.len() != 3 || !parts.iter().all(all_digits) {
        return None;
    }
    if parts.iter().map(|p| p.len()).ne([4, 2, 2]) {
        return Some(Err(CommandError(format!(
            "`{word}` is not a date: write dates as YYYY-MM-DD, such as 2011-11-01"
        ))));
    }
    // All digits and at most 4 of them, so these parses cannot fail.
    let number = |p: &str| p.parse::<u32>().unwrap_or(0);
    let year = i32::try_from(number(parts[0])).unwrap_or(0);
    Some(
        NaiveDate::from_ymd_opt(year, number(parts[1]), number(parts[2])).ok_or_else(|| {
            CommandError(format!(
                "`{word}` is not a valid date: that day does not exist"
            ))
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_parser_and_the_networks_agree_on_what_is_a_command() {
        // The IRC adapter sheds floods of what `is_command` calls commands,
        // never anything else: the two must not disagree.
        for body in [
            "!help",
            "  !next  ",
            "!Skip",
            "!transcript x 2011-11-01",
            "!émoi",
            "!ask",
            "!!!",
            "!1",
            "! help",
            "!",
            "",
            "A1: !help",
            "help!",
            "\t!end",
        ] {
            assert_eq!(
                Command::parse(body).is_some(),
                crate::chat::is_command(body),
                "{body:?}"
            );
        }
    }

    fn ok(command: Command) -> Option<Result<Command, CommandError>> {
        Some(Ok(command))
    }

    fn err(message: &str) -> Option<Result<Command, CommandError>> {
        Some(Err(CommandError(message.into())))
    }

    fn transcript(debate: Option<&str>, date: Option<(i32, u32, u32)>) -> Command {
        Command::Transcript {
            debate: debate.map(String::from),
            date: date.map(|(y, m, d)| NaiveDate::from_ymd_opt(y, m, d).unwrap()),
        }
    }

    fn check(cases: &[(&str, Option<Result<Command, CommandError>>)]) {
        for (body, expected) in cases {
            assert_eq!(&Command::parse(body), expected, "Command::parse({body:?})");
        }
    }

    #[test]
    fn messages_that_do_not_start_with_a_bang_and_a_letter_are_not_commands() {
        check(&[
            ("", None),
            ("   ", None),
            ("!", None),
            ("!!!", None),
            ("! help", None),
            ("!1", None),
            ("!?", None),
            ("!-help", None),
            ("help", None),
            ("A1: !help", None),
            ("hello !help", None),
            ("> !help", None),
        ]);
    }

    #[test]
    fn command_words_are_case_insensitive_and_whitespace_is_trimmed() {
        check(&[
            ("!help", ok(Command::Help)),
            ("!HELP", ok(Command::Help)),
            ("!Help", ok(Command::Help)),
            ("  !help  ", ok(Command::Help)),
            ("!help\r\n", ok(Command::Help)),
            ("\t!next", ok(Command::Next)),
            ("!NEXT", ok(Command::Next)),
            ("!Start", ok(Command::Start)),
            ("!SKIP", ok(Command::Skip)),
            ("!End", ok(Command::End)),
            ("!TRANSCRIPT", ok(transcript(None, None))),
            ("!ASK Why?", ok(Command::Ask("Why?".into()))),
        ]);
    }

    #[test]
    fn aliases_map_to_their_command() {
        check(&[
            ("!commands", ok(Command::Help)),
            ("!COMMANDS", ok(Command::Help)),
            ("!stop", ok(Command::End)),
            ("!Stop", ok(Command::End)),
        ]);
    }

    #[test]
    fn help_and_next_ignore_extra_words() {
        check(&[
            ("!help please", ok(Command::Help)),
            ("!help transcript", ok(Command::Help)),
            ("!commands list", ok(Command::Help)),
            ("!next debate?", ok(Command::Next)),
            ("!next  one please", ok(Command::Next)),
        ]);
    }

    #[test]
    fn start_skip_and_end_refuse_extra_words_to_avoid_accidents() {
        check(&[
            (
                "!start now",
                err("`!start` takes no arguments: send just !start"),
            ),
            (
                "!skip this one",
                err("`!skip` takes no arguments: send just !skip"),
            ),
            (
                "!end of my answer",
                err("`!end` takes no arguments: send just !end"),
            ),
            (
                "!stop it",
                err("`!stop` takes no arguments: send just !stop"),
            ),
            ("!END now", err("`!end` takes no arguments: send just !end")),
            ("!start   ", ok(Command::Start)),
            ("!skip\n", ok(Command::Skip)),
        ]);
    }

    #[test]
    fn ask_keeps_its_text_exactly_apart_from_the_outer_whitespace() {
        check(&[
            ("!ask What next?", ok(Command::Ask("What next?".into()))),
            (
                "!ask   What,  exactly,   is \"leadership\"?  ",
                ok(Command::Ask("What,  exactly,   is \"leadership\"?".into())),
            ),
            (
                "!ask Who leads?\nAnd who follows?",
                ok(Command::Ask("Who leads?\nAnd who follows?".into())),
            ),
            ("!ask\tÇa va ? 🙂", ok(Command::Ask("Ça va ? 🙂".into()))),
            ("!ask !next", ok(Command::Ask("!next".into()))),
            ("!ask", err("`!ask` needs the question: !ask What next?")),
            (
                "!ask    ",
                err("`!ask` needs the question: !ask What next?"),
            ),
            (
                "!ASK \n ",
                err("`!ask` needs the question: !ask What next?"),
            ),
        ]);
    }

    #[test]
    fn extend_takes_a_duration_within_bounds() {
        check(&[
            ("!extend 5m", ok(Command::Extend(Duration::minutes(5)))),
            ("!EXTEND 1h 30m", ok(Command::Extend(Duration::minutes(90)))),
            ("!extend 10s", ok(Command::Extend(Duration::seconds(10)))),
            ("!extend 2h", ok(Command::Extend(Duration::hours(2)))),
            (
                "!extend",
                err("`!extend` needs how much more time: !extend 5m"),
            ),
            (
                "!extend 9s",
                err("`!extend` takes from 10 seconds to 2 hours at a time, such as !extend 5m"),
            ),
            (
                "!extend 2h 1s",
                err("`!extend` takes from 10 seconds to 2 hours at a time, such as !extend 5m"),
            ),
        ]);
        let Some(Err(e)) = Command::parse("!extend five") else {
            panic!("expected an error");
        };
        assert!(e.0.starts_with("`!extend five` is not a duration ("), "{e}");
        assert!(e.0.ends_with("; for example !extend 5m"), "{e}");
    }

    #[test]
    fn tz_takes_an_iana_zone_with_a_hint_for_near_misses() {
        check(&[
            ("!tz", ok(Command::Tz(TzCommand::Show))),
            ("!tz clear", ok(Command::Tz(TzCommand::Clear))),
            ("!TZ CLEAR", ok(Command::Tz(TzCommand::Clear))),
            (
                "!tz Europe/Berlin",
                ok(Command::Tz(TzCommand::Set(chrono_tz::Europe::Berlin))),
            ),
            (
                "!timezone America/New_York",
                ok(Command::Tz(TzCommand::Set(chrono_tz::America::New_York))),
            ),
            (
                "!tz Europe/Berln",
                err(
                    "`Europe/Berln` is not a time zone; did you mean Europe/Berlin? Say !tz Europe/Berlin",
                ),
            ),
            (
                "!tz london",
                err(
                    "`london` is not a time zone; did you mean Europe/London? Say !tz Europe/London",
                ),
            ),
            (
                "!tz <b>nowhere at all, really</b>",
                err(
                    "`<b>nowhere at all, really</b>` is not a time zone: give a name from the IANA list, such as !tz Europe/Berlin",
                ),
            ),
        ]);
    }

    #[test]
    fn proposals_are_proposed_voted_for_and_asked_by_number() {
        let vote_usage = "`!vote` needs a proposal's number, as !proposals lists them: !vote P2";
        check(&[
            (
                "!propose What would you change first?",
                ok(Command::Propose("What would you change first?".into())),
            ),
            (
                "!PROPOSE  two\nlines ",
                ok(Command::Propose("two\nlines".into())),
            ),
            (
                "!propose",
                err("`!propose` needs the question: !propose What would you change first?"),
            ),
            ("!vote P2", ok(Command::Vote(2))),
            ("!vote p12", ok(Command::Vote(12))),
            ("!Vote 3", ok(Command::Vote(3))),
            ("!unvote P2", ok(Command::Unvote(2))),
            ("!vote", err(vote_usage)),
            ("!vote P0", err(vote_usage)),
            ("!vote P2 P3", err(vote_usage)),
            ("!vote Q2", err(vote_usage)),
            ("!vote P99999999999", err(vote_usage)),
            (
                "!unvote x",
                err("`!unvote` needs a proposal's number, as !proposals lists them: !unvote P2"),
            ),
            ("!proposals", ok(Command::Proposals)),
            ("!proposals please", ok(Command::Proposals)),
            ("!ask P2", ok(Command::AskProposal(Pick::Number(2)))),
            ("!ask p7", ok(Command::AskProposal(Pick::Number(7)))),
            ("!ask top", ok(Command::AskProposal(Pick::Top))),
            ("!ask TOP", ok(Command::AskProposal(Pick::Top))),
            // Only the whole argument names a proposal: these are questions.
            (
                "!ask Top ten risks?",
                ok(Command::Ask("Top ten risks?".into())),
            ),
            ("!ask P2?", ok(Command::Ask("P2?".into()))),
            ("!ask P0", ok(Command::Ask("P0".into()))),
            ("!ask Pizza", ok(Command::Ask("Pizza".into()))),
        ]);
    }

    #[test]
    fn rsvp_takes_one_debate_or_none() {
        check(&[
            ("!rsvp", ok(Command::Rsvp(None))),
            (
                "!rsvp leadership-2011",
                ok(Command::Rsvp(Some("leadership-2011".into()))),
            ),
            ("!UNRSVP", ok(Command::Unrsvp(None))),
            ("!unrsvp weekly", ok(Command::Unrsvp(Some("weekly".into())))),
            (
                "!rsvp a b",
                err("`!rsvp` takes one debate, as !next names them: !rsvp leadership-2011"),
            ),
        ]);
    }

    #[test]
    fn debate_takes_a_title() {
        check(&[
            (
                "!debate What makes a good mentor?",
                ok(Command::Debate("What makes a good mentor?".into())),
            ),
            (
                "!debate",
                err("`!debate` needs a title: !debate What makes a good mentor?"),
            ),
        ]);
    }

    #[test]
    fn forget_asks_to_be_confirmed() {
        check(&[
            ("!forget", ok(Command::Forget { confirm: false })),
            ("!FORGET Confirm", ok(Command::Forget { confirm: true })),
            (
                "!forget me",
                err(
                    "`!forget` takes nothing, or `confirm` once it has told you what goes: \
                     !forget confirm",
                ),
            ),
        ]);
    }

    #[test]
    fn transcript_takes_a_debate_and_a_date_in_either_order() {
        let date = Some((2011, 11, 1));
        check(&[
            ("!transcript", ok(transcript(None, None))),
            (
                "!transcript leadership-2011",
                ok(transcript(Some("leadership-2011"), None)),
            ),
            ("!transcript 2011-11-01", ok(transcript(None, date))),
            (
                "!transcript leadership-2011 2011-11-01",
                ok(transcript(Some("leadership-2011"), date)),
            ),
            (
                "!transcript 2011-11-01 leadership-2011",
                ok(transcript(Some("leadership-2011"), date)),
            ),
            (
                "!transcript   practice.weekly\t 2026-09-01 ",
                ok(transcript(Some("practice.weekly"), Some((2026, 9, 1)))),
            ),
            (
                "!transcript 2024-02-29",
                ok(transcript(None, Some((2024, 2, 29)))),
            ),
            // A debate id keeps its case; only the command word is folded.
            (
                "!Transcript Leadership",
                ok(transcript(Some("Leadership"), None)),
            ),
            // Digits and dashes that are not three groups are an id, like `2011-11`.
            ("!transcript 2011-11", ok(transcript(Some("2011-11"), None))),
            (
                "!transcript 2011-11-01T20:00",
                ok(transcript(Some("2011-11-01T20:00"), None)),
            ),
        ]);
    }

    #[test]
    fn transcript_rejects_impossible_dates_and_too_many_arguments() {
        let example = "!transcript leadership-2011 2011-11-01";
        check(&[
            (
                "!transcript x 2011-02-30",
                err("`2011-02-30` is not a valid date: that day does not exist"),
            ),
            (
                "!transcript 2023-02-29",
                err("`2023-02-29` is not a valid date: that day does not exist"),
            ),
            (
                "!transcript 2011-13-01",
                err("`2011-13-01` is not a valid date: that day does not exist"),
            ),
            (
                "!transcript 2011-00-10",
                err("`2011-00-10` is not a valid date: that day does not exist"),
            ),
            (
                "!transcript 2011-1-1",
                err("`2011-1-1` is not a date: write dates as YYYY-MM-DD, such as 2011-11-01"),
            ),
            (
                "!transcript x 01-11-2011",
                err("`01-11-2011` is not a date: write dates as YYYY-MM-DD, such as 2011-11-01"),
            ),
            (
                "!transcript 2011-11-01 2011-11-08",
                err(&format!("`!transcript` takes one date, not two: {example}")),
            ),
            (
                "!transcript a b",
                err(&format!(
                    "`!transcript` takes one debate, not two (dates are YYYY-MM-DD): {example}"
                )),
            ),
            (
                "!transcript a b c",
                err(&format!(
                    "`!transcript` takes at most a debate and a date: {example}"
                )),
            ),
            (
                "!transcript a 2011-11-01 extra",
                err(&format!(
                    "`!transcript` takes at most a debate and a date: {example}"
                )),
            ),
        ]);
    }

    #[test]
    fn unknown_words_are_carried_as_typed_without_the_bang() {
        check(&[
            ("!hello", ok(Command::Unknown("hello".into()))),
            ("!Hello there", ok(Command::Unknown("Hello".into()))),
            ("!help!", ok(Command::Unknown("help!".into()))),
            (
                "!next-question",
                ok(Command::Unknown("next-question".into())),
            ),
            ("!asked why", ok(Command::Unknown("asked".into()))),
            ("!été", ok(Command::Unknown("été".into()))),
            ("!a1", ok(Command::Unknown("a1".into()))),
        ]);
    }

    #[test]
    fn only_the_live_controls_are_organiser_only() {
        let cases = [
            (Command::Help, false),
            (Command::Next, false),
            (Command::Unknown("x".into()), false),
            (transcript(None, None), false),
            (Command::Start, true),
            (Command::Skip, true),
            (Command::Ask("Why?".into()), true),
            (Command::End, true),
            (Command::Extend(Duration::minutes(5)), true),
            (Command::Tz(TzCommand::Show), false),
            (Command::Propose("Why?".into()), false),
            (Command::Vote(2), false),
            (Command::Unvote(2), false),
            (Command::Proposals, false),
            (Command::Forget { confirm: true }, false),
            (Command::Debate("Mentors".into()), true),
            (Command::AskProposal(Pick::Top), true),
            (Command::AskProposal(Pick::Number(2)), true),
        ];
        for (command, expected) in cases {
            assert_eq!(command.organiser_only(), expected, "{command:?}");
        }
    }

    #[test]
    fn help_lists_every_command_once_with_organiser_only_ones_marked() {
        let lines: Vec<&str> = Command::help_text().lines().collect();
        let words: Vec<&str> = lines
            .iter()
            .map(|l| l.split_whitespace().next().unwrap())
            .collect();
        assert_eq!(
            words,
            [
                "!help",
                "!next",
                "!transcript",
                "!start",
                "!skip",
                "!ask",
                "!extend",
                "!tz",
                "!propose",
                "!vote",
                "!unvote",
                "!proposals",
                "!rsvp",
                "!unrsvp",
                "!forget",
                "!end",
                "!debate"
            ]
        );
        for line in lines {
            let (usage, explanation) = line.split_once(" — ").expect(line);
            assert!(!explanation.trim().is_empty(), "{line}");
            // The usage line, with TEXT filled in, is itself a valid command.
            let example = usage
                .replace("TEXT", "Why?")
                .replace("DURATION", "5m")
                .replace("TITLE", "Mentors")
                .replace(" [ZONE]", "")
                .replace(" [DEBATE] [DATE]", "")
                .replace(" [DEBATE]", "");
            let command = Command::parse(&example).unwrap().unwrap();
            assert!(!matches!(command, Command::Unknown(_)), "{line}");
            assert_eq!(
                explanation.starts_with("(organisers)"),
                command.organiser_only(),
                "{line}"
            );
        }
    }

    #[test]
    fn errors_display_their_message_and_work_as_std_errors() {
        let Some(Err(e)) = Command::parse("!ask") else {
            panic!("expected an error");
        };
        assert_eq!(e.to_string(), "`!ask` needs the question: !ask What next?");
        let boxed: Box<dyn std::error::Error> = Box::new(e);
        assert!(boxed.source().is_none());
    }
}
