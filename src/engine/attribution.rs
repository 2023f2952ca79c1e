//! Which question a reply answers, in the order the design sets out: an
//! explicit answer tag; else a reply (or thread) relation to a question or
//! to an attributed reply; else the latest question posted in the room;
//! before Q1, the intro.

use std::collections::HashMap;

use crate::chat::tag::parse_tag;
pub use crate::domain::AttributedBy;

/// What a room knows while an occurrence runs in it.
#[derive(Clone, Debug, Default)]
pub struct RoomState {
    /// Network message id of each posted question.
    pub question_ids: HashMap<String, u32>,
    /// Question of each stored reply, by network message id.
    pub reply_questions: HashMap<String, Option<u32>>,
    /// Who wrote each stored reply (the sender's id), by network message
    /// id: only they may edit it (the Matrix rule for `m.replace`), and
    /// the check comes before anything moves.
    pub reply_authors: HashMap<String, String>,
    /// The highest-numbered question posted so far, in posting order.
    pub latest: Option<u32>,
    /// How many questions the occurrence has (scheduled plus extra).
    pub questions: u32,
}

impl RoomState {
    /// Attributes a message; `in_reply_to` is the network id it replies to.
    pub fn attribute(&self, body: &str, in_reply_to: Option<&str>) -> (Option<u32>, AttributedBy) {
        self.attribute_with_latest(body, in_reply_to, self.latest)
    }

    /// As [`RoomState::attribute`], with the latest question as it was when
    /// the message was sent (messages caught up after a restart).
    pub fn attribute_with_latest(
        &self,
        body: &str,
        in_reply_to: Option<&str>,
        latest: Option<u32>,
    ) -> (Option<u32>, AttributedBy) {
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
        match latest {
            Some(q) => (Some(q), AttributedBy::Latest),
            None => (None, AttributedBy::Intro),
        }
    }

    /// Remembers a stored reply: its question and its author.
    pub fn remember(&mut self, id: String, author: String, question: Option<u32>) {
        self.reply_questions.insert(id.clone(), question);
        self.reply_authors.insert(id, author);
    }

    /// Whether `sender` may change reply `id`: false only for a reply
    /// known here to be someone else's (an unknown one is checked by the
    /// store, which knows every reply's author).
    pub fn may_change(&self, id: &str, sender: &str) -> bool {
        self.reply_authors.get(id).is_none_or(|a| a == sender)
    }

    /// The question a valid tag in an edited body points to, if any.
    pub fn retag(&self, body: &str) -> Option<u32> {
        parse_tag(body)
            .map(|t| t.number)
            .filter(|n| *n >= 1 && *n <= self.questions)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A room after Q1 ($q1) and Q2 ($q2) were posted, with two replies stored.
    fn room() -> RoomState {
        let mut s = RoomState {
            questions: 4,
            latest: Some(2),
            ..RoomState::default()
        };
        s.question_ids.insert("$q1".into(), 1);
        s.question_ids.insert("$q2".into(), 2);
        s.reply_questions.insert("$r1".into(), Some(1));
        s.reply_questions.insert("$r0".into(), None);
        s
    }

    #[test]
    fn real_looking_messages_are_attributed_in_the_documented_order() {
        use AttributedBy::*;
        let cases: &[(&str, Option<&str>, Option<u32>, AttributedBy)] = &[
            ("A1: leadership starts with listening", None, Some(1), Tag),
            ("a1) it depends on the team", None, Some(1), Tag),
            ("A 1: same here", None, Some(1), Tag),
            ("A1 - role models matter", None, Some(1), Tag),
            ("A3: answering ahead", None, Some(3), Tag),
            ("**A2:** bold answer", None, Some(2), Tag),
            (
                "A2: tag wins over the reply relation",
                Some("$q1"),
                Some(2),
                Tag,
            ),
            (
                "A9: no such question, so the tag is ignored",
                None,
                Some(2),
                Latest,
            ),
            ("Totally agree with this", Some("$q1"), Some(1), Reply),
            ("+1 to what Bob said", Some("$r1"), Some(1), Reply),
            ("replying to an intro chat", Some("$r0"), Some(2), Latest),
            (
                "replying to something we never saw",
                Some("$zzz"),
                Some(2),
                Latest,
            ),
            ("Good evening all, Ann from Leeds", None, Some(2), Latest),
            ("Q1: is that a question?", None, Some(2), Latest),
            ("A4 paper is fine", None, Some(4), Tag),
        ];
        let state = room();
        for (body, reply, question, by) in cases {
            assert_eq!(state.attribute(body, *reply), (*question, *by), "{body}");
        }
    }

    #[test]
    fn before_the_first_question_replies_go_to_the_intro() {
        let state = RoomState {
            questions: 3,
            ..RoomState::default()
        };
        assert_eq!(
            state.attribute("Hello from Leeds", None),
            (None, AttributedBy::Intro)
        );
        assert_eq!(
            state.attribute("A2: eager", None),
            (Some(2), AttributedBy::Tag)
        );
    }

    #[test]
    fn an_edit_retags_only_with_a_valid_question() {
        let state = room();
        assert_eq!(state.retag("A3: changed my mind"), Some(3));
        assert_eq!(state.retag("A7: nope"), None);
        assert_eq!(state.retag("no tag"), None);
    }
}
