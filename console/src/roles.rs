//! What each role of a tenant may do, and what an API token's scopes allow.

use satisfy_core::Scope;

/// A user's role in a tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Entrypoints, users and tokens of the ente, and everything below.
    Admin,
    /// Entrypoints and snippets.
    Editor,
    /// Dashboards and exports.
    Viewer,
    /// Read-only evidence: entrypoints, aggregate statistics, never free-text comments
    /// (they may hold personal data).
    Auditor,
}

impl Role {
    /// Every role, most powerful first.
    pub const ALL: [Role; 4] = [Role::Admin, Role::Editor, Role::Viewer, Role::Auditor];

    /// Parses `admin`, `editor`, `viewer` or `auditor`.
    pub fn parse(raw: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == raw)
    }

    /// The role's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Editor => "editor",
            Role::Viewer => "viewer",
            Role::Auditor => "auditor",
        }
    }
}

/// Something a request may want to do in its tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capability {
    /// See the entrypoint list and an entrypoint's settings.
    ListEntrypoints,
    /// Create and change entrypoints, and read their snippets.
    ManageEntrypoints,
    /// Read aggregate statistics.
    ReadStats,
    /// Read free-text comments.
    ReadComments,
    /// Invite users, issue and revoke tokens, read the audit log of the tenant.
    ManageTeam,
    /// Read the PNRR compliance reports of the tenant's site.
    ReadCompliance,
    /// Start a PNRR compliance run.
    RunCompliance,
}

impl Capability {
    /// Whether `role` has this capability.
    pub fn granted_to(self, role: Role) -> bool {
        match self {
            Capability::ListEntrypoints => true,
            Capability::ManageEntrypoints => matches!(role, Role::Admin | Role::Editor),
            Capability::ReadStats => !matches!(role, Role::Editor),
            Capability::ReadComments => matches!(role, Role::Admin | Role::Viewer),
            Capability::ManageTeam => matches!(role, Role::Admin),
            Capability::ReadCompliance => matches!(role, Role::Admin | Role::Auditor),
            Capability::RunCompliance => matches!(role, Role::Admin),
        }
    }

    /// Whether a token with `scopes` has this capability: `read` reads everything,
    /// `write` changes entrypoints.
    pub fn granted_by(self, scopes: &[Scope]) -> bool {
        match self {
            Capability::ManageEntrypoints => scopes.contains(&Scope::Write),
            // Tokens never manage people or other tokens, nor start a browser.
            Capability::ManageTeam | Capability::RunCompliance => false,
            _ => scopes.contains(&Scope::Read),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_parse_and_grant_what_their_description_says() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("root"), None);
        let granted = |c: Capability| {
            Role::ALL
                .into_iter()
                .filter(|r| c.granted_to(*r))
                .collect::<Vec<_>>()
        };
        assert_eq!(granted(Capability::ListEntrypoints), Role::ALL);
        assert_eq!(
            granted(Capability::ManageEntrypoints),
            [Role::Admin, Role::Editor]
        );
        assert_eq!(
            granted(Capability::ReadStats),
            [Role::Admin, Role::Viewer, Role::Auditor]
        );
        assert_eq!(
            granted(Capability::ReadComments),
            [Role::Admin, Role::Viewer]
        );
        assert_eq!(granted(Capability::ManageTeam), [Role::Admin]);
        assert_eq!(
            granted(Capability::ReadCompliance),
            [Role::Admin, Role::Auditor]
        );
        assert_eq!(granted(Capability::RunCompliance), [Role::Admin]);
        assert!(!Capability::RunCompliance.granted_by(&Scope::ALL));
        assert!(!Capability::ManageTeam.granted_by(&Scope::ALL));
        assert!(!Capability::ManageEntrypoints.granted_by(&[Scope::Read]));
        assert!(Capability::ReadComments.granted_by(&[Scope::Read]));
        assert!(!Capability::ReadStats.granted_by(&[Scope::EventsWrite]));
    }
}
