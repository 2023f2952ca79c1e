//! What participants type: answer tags and chat commands. Both parsers see
//! every message of every room, so they must take any text without
//! panicking, and read back what a person following the help would type.

use chrono::{Duration, NaiveDate};
use chrono_tz::TZ_VARIANTS;
use proptest::prelude::*;
use proptest::sample::select;

use podium::chat::is_command;
use podium::chat::tag::parse_tag;
use podium::engine::command::{Command, EXTEND_MAX, EXTEND_MIN, Pick, TzCommand};
use podium::schedule::time::format_duration;

/// Text of any kind, and text that starts like a tag or a command, where
/// the parsers do most of their work.
fn message() -> impl Strategy<Value = String> {
    let lead = select(vec![
        "",
        "A",
        "a",
        "A ",
        "Answer",
        "answer ",
        "**A",
        "*a ",
        "__A",
        "!",
        " !",
        "\t!",
        "!ask ",
        "!transcript ",
        "!vote ",
        "!tz ",
        "!extend ",
        "!forget ",
        "!rsvp ",
        "!ASK ",
    ]);
    let tail = prop_oneof![
        any::<String>(),
        "[0-9]{0,4}[:\\-–—).,/*_ \n\r\t]{0,3}\\PC{0,20}",
        "[Pp0-9\\-:a-z ]{0,20}",
    ];
    (lead, tail).prop_map(|(lead, tail)| format!("{lead}{tail}"))
}

property! {
    /// Any message: no panic; a tag found is a real question number with
    /// its answer trimmed and borrowed from the message.
    fn any_message_is_tagged_or_not_without_panicking
        / any_message_is_tagged_or_not_without_panicking_long / crate::QUICK;
    (body in message()) {
        if let Some(tag) = parse_tag(&body) {
            prop_assert!((1..=999).contains(&tag.number));
            prop_assert_eq!(tag.rest, tag.rest.trim());
            let range = body.as_bytes().as_ptr_range();
            prop_assert!(tag.rest.is_empty() || range.contains(&tag.rest.as_ptr()));
        }
    }
}

/// How a person writes the tag of question `n`, as the help and the
/// intro suggest and in the shapes the parser accepts.
fn tag_shape() -> impl Strategy<Value = (&'static str, &'static str, &'static str)> {
    (
        select(vec!["", "**", "*", "__", "_"]),
        select(vec!["A", "a", "Answer ", "answer", "A ", "ANSWER "]),
        select(vec![
            ":", " :", ")", " -", " --", "—", " – ", ".", ",", "/", ":\n",
        ]),
    )
}

/// An answer as people write it: anything, but not starting with what
/// would read as part of the tag (a separator run, emphasis), since the
/// parser rightly takes those as the tag's.
fn answer_text() -> impl Strategy<Value = String> {
    "\\PC{0,40}".prop_filter("starts like the tag", |s| {
        !s.trim_start()
            .starts_with([':', '-', '–', '—', ')', '.', ',', '/', '*', '_'])
            && !s.trim_end().ends_with(['*', '_'])
    })
}

property! {
    /// The tag of question `n` with an answer parses back to `n` and the
    /// answer (trimmed).
    fn a_written_tag_parses_back_to_its_number_and_answer
        / a_written_tag_parses_back_to_its_number_and_answer_long / crate::QUICK;
    (n in 1u32..=999, zeros in 0usize..3, (emphasis, word, separator) in tag_shape(),
     before in "[ \t]{0,2}", answer in answer_text()) {
        // A spaced `A 1` needs a separator, which every shape here has.
        let digits = format!("{n:0width$}", width = (n.to_string().len() + zeros).min(3));
        let closing: String = emphasis.chars().rev().collect();
        let body = format!("{before}{emphasis}{word}{digits}{closing}{separator} {answer}");
        let tag = parse_tag(&body);
        prop_assert!(tag.is_some(), "no tag in {:?}", body);
        let tag = tag.unwrap();
        prop_assert_eq!(tag.number, n, "{:?}", body);
        prop_assert_eq!(tag.rest, answer.trim(), "{:?}", body);
    }
}

property! {
    /// Any message: no panic, and the parser agrees with the networks on
    /// what is a command (the IRC flood shedding relies on it).
    fn any_message_is_a_command_or_not_without_panicking
        / any_message_is_a_command_or_not_without_panicking_long / crate::QUICK;
    (body in message()) {
        let parsed = Command::parse(&body);
        prop_assert_eq!(parsed.is_some(), is_command(&body));
        // What was understood, typed back, is understood the same way.
        if let Some(Ok(command)) = parsed {
            let typed = typed(&command, &Typing::plain());
            prop_assert_eq!(Command::parse(&typed), Some(Ok(command)), "{:?}", typed);
        }
    }
}

/// The liberties people take when typing a command.
#[derive(Clone, Debug)]
struct Typing {
    /// Which letters of the command word are upper case (cycled).
    upper: Vec<bool>,
    before: &'static str,
    between: &'static str,
    after: &'static str,
    /// The alias instead of the name, where there is one.
    alias: bool,
    /// `!transcript DATE DEBATE`; `!vote 2` for `!vote P2`.
    other_form: bool,
}

impl Typing {
    fn plain() -> Typing {
        Typing {
            upper: vec![false],
            before: "",
            between: " ",
            after: "",
            alias: false,
            other_form: false,
        }
    }
}

fn typing() -> impl Strategy<Value = Typing> {
    let space = || select(vec!["", " ", "\t", "  ", "\u{a0}", "\r\n"]);
    (
        proptest::collection::vec(any::<bool>(), 1..4),
        space(),
        select(vec![" ", "  ", "\t", " \u{3000}"]),
        space(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(upper, before, between, after, alias, other_form)| Typing {
                upper,
                before,
                between,
                after,
                alias,
                other_form,
            },
        )
}

/// `command` as a person following `!help` would type it.
fn typed(command: &Command, how: &Typing) -> String {
    let p = |n: u32| {
        if how.other_form {
            n.to_string()
        } else {
            format!("P{n}")
        }
    };
    let (word, args): (String, Vec<String>) = match command {
        Command::Help => (if how.alias { "commands" } else { "help" }.into(), vec![]),
        Command::Next => ("next".into(), vec![]),
        Command::Transcript { debate, date } => {
            let mut args: Vec<String> = debate.iter().cloned().collect();
            args.extend(date.map(|d| d.format("%Y-%m-%d").to_string()));
            if how.other_form {
                args.reverse();
            }
            ("transcript".into(), args)
        }
        Command::Start => ("start".into(), vec![]),
        Command::Skip => ("skip".into(), vec![]),
        Command::End => (if how.alias { "stop" } else { "end" }.into(), vec![]),
        Command::Ask(text) => ("ask".into(), vec![text.clone()]),
        Command::AskProposal(Pick::Top) => ("ask".into(), vec!["top".into()]),
        Command::AskProposal(Pick::Number(n)) => ("ask".into(), vec![format!("P{n}")]),
        Command::Extend(d) => ("extend".into(), vec![format_duration(*d)]),
        Command::Tz(TzCommand::Show) => (if how.alias { "timezone" } else { "tz" }.into(), vec![]),
        Command::Tz(TzCommand::Clear) => ("tz".into(), vec!["clear".into()]),
        Command::Tz(TzCommand::Set(zone)) => ("tz".into(), vec![zone.name().into()]),
        Command::Propose(text) => ("propose".into(), vec![text.clone()]),
        Command::Vote(n) => ("vote".into(), vec![p(*n)]),
        Command::Unvote(n) => ("unvote".into(), vec![p(*n)]),
        Command::Proposals => ("proposals".into(), vec![]),
        Command::Rsvp(id) => ("rsvp".into(), id.iter().cloned().collect()),
        Command::Unrsvp(id) => ("unrsvp".into(), id.iter().cloned().collect()),
        Command::Debate(title) => ("debate".into(), vec![title.clone()]),
        Command::Forget { confirm } => (
            "forget".into(),
            if *confirm {
                vec!["confirm".into()]
            } else {
                vec![]
            },
        ),
        Command::Unknown(word) => (word.clone(), vec![]),
    };
    let word: String = if matches!(command, Command::Unknown(_)) {
        word
    } else {
        word.chars()
            .zip(how.upper.iter().cycle())
            .map(|(c, up)| if *up { c.to_ascii_uppercase() } else { c })
            .collect()
    };
    let mut out = format!("{}!{word}", how.before);
    for arg in args {
        out.push_str(how.between);
        out.push_str(&arg);
    }
    out.push_str(how.after);
    out
}

const NAMES: [&str; 24] = [
    "help",
    "commands",
    "next",
    "transcript",
    "start",
    "skip",
    "end",
    "stop",
    "ask",
    "extend",
    "tz",
    "timezone",
    "propose",
    "vote",
    "unvote",
    "proposals",
    "rsvp",
    "unrsvp",
    "debate",
    "forget",
    "",
    "",
    "",
    "",
];

/// A question, proposal or title: any text but blank, without the
/// surrounding whitespace the parser trims, and not one of `!ask`'s
/// keywords.
fn free_text() -> impl Strategy<Value = String> {
    "\\PC{1,60}".prop_filter_map("blank or a keyword", |s| {
        let s = s.trim().to_owned();
        let keyword = s.eq_ignore_ascii_case("top")
            || s.strip_prefix(['P', 'p'])
                .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()));
        (!s.is_empty() && !keyword).then_some(s)
    })
}

/// A debate id as the schedule allows them, never taken for a date.
fn debate_id() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9_.\\-]{1,64}".prop_filter("reads as a date", |s| {
        let parts: Vec<&str> = s.split('-').collect();
        !(parts.len() == 3
            && parts
                .iter()
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())))
    })
}

fn date() -> impl Strategy<Value = NaiveDate> {
    (1000i32..=9999, 1u32..=12, 1u32..=31)
        .prop_filter_map("no such day", |(y, m, d)| NaiveDate::from_ymd_opt(y, m, d))
}

fn command() -> impl Strategy<Value = Command> {
    let proposal = 1u32..=u32::MAX;
    prop_oneof![
        Just(Command::Help),
        Just(Command::Next),
        (
            proptest::option::of(debate_id()),
            proptest::option::of(date())
        )
            .prop_map(|(debate, date)| Command::Transcript { debate, date }),
        Just(Command::Start),
        Just(Command::Skip),
        Just(Command::End),
        free_text().prop_map(Command::Ask),
        Just(Command::AskProposal(Pick::Top)),
        proposal
            .clone()
            .prop_map(|n| Command::AskProposal(Pick::Number(n))),
        (EXTEND_MIN.num_seconds()..=EXTEND_MAX.num_seconds())
            .prop_map(|s| Command::Extend(Duration::seconds(s))),
        Just(Command::Tz(TzCommand::Show)),
        Just(Command::Tz(TzCommand::Clear)),
        select(TZ_VARIANTS.to_vec()).prop_map(|z| Command::Tz(TzCommand::Set(z))),
        free_text().prop_map(Command::Propose),
        proposal.clone().prop_map(Command::Vote),
        proposal.prop_map(Command::Unvote),
        Just(Command::Proposals),
        proptest::option::of(debate_id()).prop_map(Command::Rsvp),
        proptest::option::of(debate_id()).prop_map(Command::Unrsvp),
        free_text().prop_map(Command::Debate),
        any::<bool>().prop_map(|confirm| Command::Forget { confirm }),
        "\\p{Alphabetic}[^\\s]{0,12}".prop_filter_map("a command's name", |w| {
            let lower = w.to_lowercase();
            (!NAMES.contains(&lower.as_str())).then_some(Command::Unknown(w))
        }),
    ]
}

property! {
    /// A command typed as the help shows it (in any case, spacing and
    /// alias) parses to that command.
    fn a_typed_command_parses_to_itself
        / a_typed_command_parses_to_itself_long / crate::QUICK;
    (command in command(), how in typing()) {
        let body = typed(&command, &how);
        prop_assert_eq!(Command::parse(&body), Some(Ok(command)), "{:?}", body);
    }
}
