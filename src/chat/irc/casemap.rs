//! How the server compares names. IRC servers fold nicks and channel
//! names their own way and say which in ISUPPORT (`CASEMAPPING=rfc1459`):
//! under rfc1459, the RFC's default and InspIRCd's, `#deb[1]` and `#deb{1}`
//! are one channel and `org[a]` and `org{a}` one nick. Comparing with
//! Unicode or ASCII lower case instead would leave Podium believing it is
//! not in a channel it joined, and refuse an organiser the server
//! considers the same person.

/// A server's CASEMAPPING.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CaseMapping {
    /// `A-Z` fold to `a-z` only.
    Ascii,
    /// ASCII, and `[]\~` fold to `{}|^` (the RFC's default, assumed until
    /// the server says otherwise).
    #[default]
    Rfc1459,
    /// ASCII, and `[]\` fold to `{}|`, but `~` and `^` stay apart.
    Rfc1459Strict,
    /// A mapping Podium does not know (`rfc7613`, `utf8`...): Unicode lower
    /// case, the nearest general rule.
    Unicode,
}

impl CaseMapping {
    /// The mapping an ISUPPORT `CASEMAPPING` value names.
    pub fn parse(value: &str) -> CaseMapping {
        match value.to_ascii_lowercase().as_str() {
            "ascii" => CaseMapping::Ascii,
            "rfc1459" => CaseMapping::Rfc1459,
            "rfc1459-strict" | "strict-rfc1459" => CaseMapping::Rfc1459Strict,
            _ => CaseMapping::Unicode,
        }
    }

    /// `name` in the form two names the server deems equal share.
    pub fn fold(self, name: &str) -> String {
        match self {
            CaseMapping::Unicode => name.to_lowercase(),
            _ => name.chars().map(|c| self.fold_char(c)).collect(),
        }
    }

    fn fold_char(self, c: char) -> char {
        match (self, c) {
            (_, 'A'..='Z') => c.to_ascii_lowercase(),
            (CaseMapping::Rfc1459 | CaseMapping::Rfc1459Strict, '[') => '{',
            (CaseMapping::Rfc1459 | CaseMapping::Rfc1459Strict, ']') => '}',
            (CaseMapping::Rfc1459 | CaseMapping::Rfc1459Strict, '\\') => '|',
            (CaseMapping::Rfc1459, '~') => '^',
            _ => c,
        }
    }

    /// Whether the server deems `a` and `b` the same name.
    pub fn same(self, a: &str, b: &str) -> bool {
        self.fold(a) == self.fold(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1459_folds_brackets_and_the_tilde() {
        let m = CaseMapping::parse("rfc1459");
        assert!(m.same("#Deb[1]", "#deb{1}"));
        assert!(m.same("org[a]", "ORG{A}"));
        assert!(m.same("a\\b~", "a|b^"));
        assert!(!m.same("#deb1", "#deb{1}"));
        // Only ASCII letters fold: the server does not know Unicode case.
        assert!(!m.same("#Ärger", "#ärger"));
    }

    #[test]
    fn strict_keeps_the_tilde_and_ascii_keeps_brackets_apart() {
        let strict = CaseMapping::parse("rfc1459-strict");
        assert!(strict.same("[x]\\", "{X}|"));
        assert!(!strict.same("x~", "x^"));
        let ascii = CaseMapping::parse("ascii");
        assert!(ascii.same("#DEB", "#deb"));
        assert!(!ascii.same("#deb[1]", "#deb{1}"));
    }

    #[test]
    fn an_unknown_mapping_folds_unicode_case() {
        let m = CaseMapping::parse("rfc7613");
        assert_eq!(m, CaseMapping::Unicode);
        assert!(m.same("#Ärger", "#ärger"));
        assert_eq!(CaseMapping::default(), CaseMapping::Rfc1459);
    }
}
