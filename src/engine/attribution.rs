//! Which question a reply answers, in the order the design sets out: an
//! explicit answer tag; else a reply (or thread) relation to a question or
//! to an attributed reply; else the latest question posted in the room;
//! before Q1, the intro.

use std::collections::HashMap;

use super::tag::parse_tag;

/// How a reply was attributed; stored with it, so transcripts can show
/// which attributions were guesses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttributedBy {
    Tag,
    Reply,
    Latest,
    Intro,
}

impl AttributedBy {
    pub fn as_str(self) -> &'static str {
        match self {
            AttributedBy::Tag => "tag",
            AttributedBy::Reply => "reply",
            AttributedBy::Latest => "latest",
            AttributedBy::Intro => "intro",
        }
    }
}

/// What a room knows while an occurrence runs in it.
#[derive(Clone, Debug, Default)]
pub struct RoomState {
    /// Network message id of each posted question.
    pub question_ids: HashMap<String, u32>,
    /// Question of each stored reply, by network message id.
    pub reply_questions: HashMap<String, Option<u32>>,
    /// The highest-numbered question posted so far, in posting order.
    pub latest: Option<u32>,
    /// How many questions the occurrence has (scheduled plus extra).
    pub questions: u32,
}

impl RoomState {
    /// Attributes a message; `in_reply_to` is the network id it replies to.
    pub fn attribute(&self, body: &str, in_reply_to: Option<&str>) -> (Option<u32>, AttributedBy) {
        if let Some(tag) = parse_tag(body)
            && tag.number >= 1
            && tag.number <= self.questions
        {
            return (Some(tag.number), AttributedBy::Tag);
        }
        if let Some(parent) = in_reply_to {
            if let Some(q) = self.question_ids.get(parent) {
                return (Some(*q), AttributedBy::Reply);
            }
            if let Some(Some(q)) = self.reply_questions.get(parent) {
                return (Some(*q), AttributedBy::Reply);
            }
        }
        match self.latest {
            Some(q) => (Some(q), AttributedBy::Latest),
            None => (None, AttributedBy::Intro),
        }
    }

    /// The question a valid tag in an edited body points to, if any.
    pub fn retag(&self, body: &str) -> Option<u32> {
        parse_tag(body)
            .map(|t| t.number)
            .filter(|n| *n >= 1 && *n <= self.questions)
    }
}
