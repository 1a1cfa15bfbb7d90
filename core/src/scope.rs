//! What an API token may do. Tokens belong to one tenant; ingest checks `events:write`
//! (platform events), the console's API checks `read` and `write`.

use std::fmt;

/// One permission of an API token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// Read entrypoints and statistics (`GET` on the REST API).
    Read,
    /// Create and change entrypoints (unsafe methods on the REST API).
    Write,
    /// Send platform events to `POST /v1/events`.
    EventsWrite,
}

impl Scope {
    /// Every scope, in display order.
    pub const ALL: [Scope; 3] = [Scope::Read, Scope::Write, Scope::EventsWrite];

    /// Parses `read`, `write` or `events:write`.
    pub fn parse(raw: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|s| s.as_str() == raw)
    }

    /// The scope's name, as tokens are created and listed with it.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Write => "write",
            Scope::EventsWrite => "events:write",
        }
    }

    /// Parses a comma-separated list (`read,write`), refusing unknown and empty lists.
    pub fn parse_list(raw: &str) -> Option<Vec<Scope>> {
        let mut scopes = raw
            .split(',')
            .map(|s| Scope::parse(s.trim()))
            .collect::<Option<Vec<_>>>()?;
        scopes.sort();
        scopes.dedup();
        (!scopes.is_empty()).then_some(scopes)
    }

    /// A list as `parse_list` reads it back.
    pub fn join(scopes: &[Scope]) -> String {
        scopes
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_parse_sorted_without_duplicates_and_round_trip() {
        let scopes = Scope::parse_list("events:write, read,read").unwrap();
        assert_eq!(scopes, vec![Scope::Read, Scope::EventsWrite]);
        assert_eq!(Scope::join(&scopes), "read,events:write");
        assert_eq!(Scope::parse_list(&Scope::join(&scopes)), Some(scopes));
        assert_eq!(Scope::parse_list("read,admin"), None);
        assert_eq!(Scope::parse_list(""), None);
    }
}
