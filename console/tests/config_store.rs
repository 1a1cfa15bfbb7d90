//! One conformance suite for both configuration backends: SQLite (embedded mode) and
//! PostgreSQL (distributed mode, a private cluster started by tests/run.sh). Every
//! scenario runs on each backend with the same expectations.

mod support;

use satisfy_console::roles::Role;
use satisfy_console::store::{
    ApiToken, AuditEntry, ComplianceStatus, ConfigError, EntrypointChanges, Member, NewSession,
    Tenant, TenantStatus, User, new_entrypoint,
};
use satisfy_console::{ConfigStore, SharedConfigStore};
use satisfy_core::{EntrypointKind, EntrypointStatus, Origin, Scope, TenantId};
use std::future::Future;

fn slug(raw: &str) -> TenantId {
    TenantId::parse(raw).unwrap()
}

fn tenant(raw: &str, name: &str) -> Tenant {
    Tenant {
        slug: slug(raw),
        name: name.into(),
        ipa_code: None,
        site_url: None,
        time_zone: "Europe/Rome".into(),
        languages: vec!["it".into()],
        status: TenantStatus::Active,
        created_at: 1_700_000_000,
        retention_months: Tenant::DEFAULT_RETENTION_MONTHS,
    }
}

fn user(username: &str, tenant: &str, role: Role) -> User {
    User {
        username: username.into(),
        tenant: slug(tenant),
        password_hash: format!("hash-of-{username}"),
        role,
        platform_admin: false,
    }
}

fn later() -> i64 {
    chrono::Utc::now().timestamp() + 3600
}

/// Runs `scenario` on a fresh store of every backend.
async fn on_every_backend<F, Fut>(scenario: F)
where
    F: Fn(&'static str, SharedConfigStore) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().unwrap();
    for (backend, store) in support::backends(dir.path()).await {
        scenario(backend, store).await;
    }
}

/// Two tenants, `bugliano` with an admin and a viewer, `altrove` with an admin.
async fn two_tenants(store: &dyn ConfigStore) {
    store
        .create_tenant(&tenant("bugliano", "Comune di Bugliano"))
        .await
        .unwrap();
    store
        .create_tenant(&tenant("altrove", "Comune di Altrove"))
        .await
        .unwrap();
    store
        .create_user(user("anna", "bugliano", Role::Admin))
        .await
        .unwrap();
    store
        .create_user(user("vito", "bugliano", Role::Viewer))
        .await
        .unwrap();
    store
        .create_user(user("olga", "altrove", Role::Admin))
        .await
        .unwrap();
}

#[tokio::test]
async fn tenants_are_created_once_listed_by_slug_edited_and_suspended() {
    on_every_backend(|backend, store| async move {
        assert!(store.tenants().await.unwrap().is_empty(), "{backend}");
        store
            .create_tenant(&tenant("zeta", "Comune di Zeta"))
            .await
            .unwrap();
        store
            .create_tenant(&tenant("alfa", "Comune di Alfa"))
            .await
            .unwrap();
        let again = store.create_tenant(&tenant("alfa", "Doppione")).await;
        assert!(matches!(again, Err(ConfigError::Conflict(_))), "{backend}");
        let slugs: Vec<String> = store
            .tenants()
            .await
            .unwrap()
            .iter()
            .map(|t| t.slug.to_string())
            .collect();
        assert_eq!(slugs, ["alfa", "zeta"], "{backend}");

        let mut edited = tenant("alfa", "Comune di Alfa Terme");
        edited.ipa_code = Some("c_a001".into());
        edited.site_url = Some("https://www.comune.alfa.it".into());
        edited.time_zone = "Europe/Berlin".into();
        edited.languages = vec!["it".into(), "de".into()];
        edited.retention_months = 6;
        assert!(store.update_tenant(&edited).await.unwrap(), "{backend}");
        assert_eq!(
            store.tenant(&slug("alfa")).await.unwrap(),
            Some(edited),
            "{backend}"
        );
        assert!(!store.update_tenant(&tenant("nessuno", "x")).await.unwrap());

        assert!(
            store
                .set_tenant_status(&slug("zeta"), TenantStatus::Suspended)
                .await
                .unwrap()
        );
        assert!(
            !store
                .set_tenant_status(&slug("nessuno"), TenantStatus::Suspended)
                .await
                .unwrap()
        );
        let zeta = store.tenant(&slug("zeta")).await.unwrap().unwrap();
        assert_eq!(zeta.status, TenantStatus::Suspended, "{backend}");
        // ensure_tenant creates a missing tenant with defaults and leaves one alone.
        store.ensure_tenant(&slug("zeta")).await.unwrap();
        store.ensure_tenant(&slug("nuovo")).await.unwrap();
        let zeta = store.tenant(&slug("zeta")).await.unwrap().unwrap();
        assert_eq!(zeta.name, "Comune di Zeta", "{backend}");
        let nuovo = store.tenant(&slug("nuovo")).await.unwrap().unwrap();
        assert_eq!(
            (nuovo.time_zone.as_str(), nuovo.status),
            ("Europe/Rome", TenantStatus::Active),
            "{backend}"
        );
    })
    .await;
}

#[tokio::test]
async fn users_hold_roles_per_tenant_and_suspension_locks_out_all_but_platform_admins() {
    on_every_backend(|backend, store| async move {
        two_tenants(store.as_ref()).await;
        assert_eq!(store.user_count().await.unwrap(), 3, "{backend}");
        let taken = store
            .create_user(user("anna", "altrove", Role::Viewer))
            .await;
        assert!(matches!(taken, Err(ConfigError::Conflict(_))), "{backend}");
        let nowhere = store
            .create_user(user("nessuno", "inesistente", Role::Viewer))
            .await;
        assert!(
            matches!(nowhere, Err(ConfigError::NotFound(_))),
            "{backend}"
        );
        assert!(store.username_taken("anna").await.unwrap());
        assert!(!store.username_taken("nessuno").await.unwrap());

        let vito = store.find_user("vito").await.unwrap().unwrap();
        assert_eq!(
            (vito.role, vito.tenant.as_str(), vito.platform_admin),
            (Role::Viewer, "bugliano", false),
            "{backend}"
        );
        store
            .grant("vito", &slug("altrove"), Role::Auditor)
            .await
            .unwrap();
        store
            .grant("vito", &slug("altrove"), Role::Editor)
            .await
            .unwrap();
        let granted = store
            .grant("vito", &slug("inesistente"), Role::Viewer)
            .await;
        assert!(
            matches!(granted, Err(ConfigError::NotFound(_))),
            "{backend}"
        );
        let names = |tenants: Vec<Tenant>| -> Vec<String> {
            tenants.into_iter().map(|t| t.slug.to_string()).collect()
        };
        assert_eq!(
            names(store.tenants_of("vito").await.unwrap()),
            ["altrove", "bugliano"],
            "{backend}: by name"
        );
        assert_eq!(
            store.users(&slug("altrove")).await.unwrap(),
            [
                Member {
                    username: "olga".into(),
                    role: Role::Admin,
                    has_password: true
                },
                Member {
                    username: "vito".into(),
                    role: Role::Editor,
                    has_password: true
                },
            ],
            "{backend}"
        );

        let mut root = user("root", "bugliano", Role::Admin);
        root.platform_admin = true;
        store.create_user(root).await.unwrap();
        store
            .create_tenant(&tenant("terzo", "Comune di Terzo"))
            .await
            .unwrap();
        assert_eq!(
            names(store.tenants_of("root").await.unwrap()),
            ["altrove", "bugliano", "terzo"],
            "{backend}: a platform administrator works in every tenant"
        );

        store
            .set_tenant_status(&slug("bugliano"), TenantStatus::Suspended)
            .await
            .unwrap();
        assert!(
            store.find_user("anna").await.unwrap().is_none(),
            "{backend}"
        );
        assert!(
            store.find_user("root").await.unwrap().is_some(),
            "{backend}"
        );
        assert_eq!(
            names(store.tenants_of("vito").await.unwrap()),
            ["altrove"],
            "{backend}"
        );
    })
    .await;
}

#[tokio::test]
async fn sessions_switch_tenant_expire_and_end_with_password_changes() {
    on_every_backend(|backend, store| async move {
        two_tenants(store.as_ref()).await;
        let session = |hash: &str, username: &str, expires_at: i64| NewSession {
            token_hash: hash.into(),
            username: username.into(),
            csrf_token: format!("csrf-{hash}"),
            expires_at,
        };
        store
            .create_session(session("s1", "vito", later()))
            .await
            .unwrap();
        store
            .create_session(session("s2", "vito", later()))
            .await
            .unwrap();
        store
            .create_session(session("old", "vito", 1))
            .await
            .unwrap();
        assert!(
            store.find_session("old").await.unwrap().is_none(),
            "{backend}"
        );
        assert!(store.find_session("nessuna").await.unwrap().is_none());
        let found = store.find_session("s1").await.unwrap().unwrap();
        assert_eq!(
            (found.user.username.as_str(), found.csrf_token.as_str()),
            ("vito", "csrf-s1"),
            "{backend}"
        );

        // Switching to a tenant without a role keeps the home tenant.
        store.switch_session("s1", &slug("altrove")).await.unwrap();
        let home = store.find_session("s1").await.unwrap().unwrap();
        assert_eq!(home.user.tenant.as_str(), "bugliano", "{backend}");
        store
            .grant("vito", &slug("altrove"), Role::Auditor)
            .await
            .unwrap();
        let switched = store.find_session("s1").await.unwrap().unwrap();
        assert_eq!(
            (switched.user.tenant.as_str(), switched.user.role),
            ("altrove", Role::Auditor),
            "{backend}"
        );

        store
            .change_password("vito", "new-hash", Some("s1"))
            .await
            .unwrap();
        assert!(
            store.find_session("s1").await.unwrap().is_some(),
            "{backend}"
        );
        assert!(
            store.find_session("s2").await.unwrap().is_none(),
            "{backend}"
        );
        let vito = store.find_user("vito").await.unwrap().unwrap();
        assert_eq!(vito.password_hash, "new-hash", "{backend}");
        store.delete_session("s1").await.unwrap();
        assert!(
            store.find_session("s1").await.unwrap().is_none(),
            "{backend}"
        );

        store
            .create_session(session("s3", "vito", later()))
            .await
            .unwrap();
        store
            .create_session(session("s4", "anna", later()))
            .await
            .unwrap();
        store.change_password("vito", "h", None).await.unwrap();
        assert!(
            store.find_session("s3").await.unwrap().is_none(),
            "{backend}"
        );
        store.delete_sessions("anna").await.unwrap();
        assert!(
            store.find_session("s4").await.unwrap().is_none(),
            "{backend}"
        );
    })
    .await;
}

#[tokio::test]
async fn an_invitation_sets_the_password_once_before_it_expires() {
    on_every_backend(|backend, store| async move {
        two_tenants(store.as_ref()).await;
        let mut nuovo = user("nuovo", "bugliano", Role::Viewer);
        nuovo.password_hash = String::new();
        store.create_user(nuovo).await.unwrap();
        store
            .create_invitation("nuovo", "old-link", 1)
            .await
            .unwrap();
        store
            .create_invitation("nuovo", "link", later())
            .await
            .unwrap();
        store
            .create_invitation("nuovo", "other-link", later())
            .await
            .unwrap();
        let members = store.users(&slug("bugliano")).await.unwrap();
        let pending = members.iter().find(|m| m.username == "nuovo").unwrap();
        assert!(!pending.has_password, "{backend}");
        assert!(
            store.invitation("old-link").await.unwrap().is_none(),
            "{backend}"
        );
        assert!(!store.accept_invitation("old-link", "h").await.unwrap());
        let invited = store.invitation("link").await.unwrap().unwrap();
        assert_eq!(invited.username, "nuovo", "{backend}");
        assert!(
            store.accept_invitation("link", "h1").await.unwrap(),
            "{backend}"
        );
        assert!(
            !store.accept_invitation("link", "h2").await.unwrap(),
            "{backend}"
        );
        // The user's other pending invitations end with it.
        assert!(!store.accept_invitation("other-link", "h3").await.unwrap());
        let set = store.find_user("nuovo").await.unwrap().unwrap();
        assert_eq!(set.password_hash, "h1", "{backend}");
    })
    .await;
}

#[tokio::test]
async fn entrypoints_are_read_and_changed_only_through_their_tenant() {
    on_every_backend(|backend, store| async move {
        two_tenants(store.as_ref()).await;
        let origin = Origin::parse("https://www.comune.bugliano.pi.it").unwrap();
        let mut first = new_entrypoint(
            slug("bugliano"),
            "Sito".into(),
            EntrypointKind::PaginaWeb,
            vec![origin.clone()],
            None,
        );
        first.created_at -= 10;
        store.create_entrypoint(&first).await.unwrap();
        let mut second = new_entrypoint(
            slug("bugliano"),
            "Servizi".into(),
            EntrypointKind::SchedaServizio,
            vec![],
            None,
        );
        second.service = Some("cie".into());
        store.create_entrypoint(&second).await.unwrap();
        assert_eq!(
            store
                .entrypoint(&slug("bugliano"), &second.id)
                .await
                .unwrap(),
            Some(second.clone()),
            "{backend}: the rated service is kept"
        );
        let cleared = store
            .update_entrypoint(
                &slug("bugliano"),
                &second.id,
                EntrypointChanges {
                    service: Some(None),
                    ..EntrypointChanges::default()
                },
            )
            .await
            .unwrap()
            .unwrap();
        assert_eq!(cleared.service, None, "{backend}");
        let theirs = new_entrypoint(
            slug("altrove"),
            "Altrove".into(),
            EntrypointKind::PaginaWeb,
            vec![],
            None,
        );
        store.create_entrypoint(&theirs).await.unwrap();
        let orphan = new_entrypoint(
            slug("inesistente"),
            "x".into(),
            EntrypointKind::PaginaWeb,
            vec![],
            None,
        );
        assert!(
            matches!(
                store.create_entrypoint(&orphan).await,
                Err(ConfigError::NotFound(_))
            ),
            "{backend}"
        );

        assert_eq!(
            store
                .entrypoint(&slug("bugliano"), &first.id)
                .await
                .unwrap(),
            Some(first.clone()),
            "{backend}"
        );
        assert_eq!(
            store.entrypoint(&slug("altrove"), &first.id).await.unwrap(),
            None,
            "{backend}: never by id alone"
        );
        let ids: Vec<_> = store
            .entrypoints(&slug("bugliano"))
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.id)
            .collect();
        assert_eq!(
            ids,
            [second.id.clone(), first.id.clone()],
            "{backend}: newest first"
        );

        let rename = || EntrypointChanges {
            name: Some("Rinominato".into()),
            ..EntrypointChanges::default()
        };
        assert_eq!(
            store
                .update_entrypoint(&slug("altrove"), &first.id, rename())
                .await
                .unwrap(),
            None,
            "{backend}"
        );
        let paused = store
            .update_entrypoint(
                &slug("bugliano"),
                &first.id,
                EntrypointChanges {
                    status: Some(EntrypointStatus::Paused),
                    ..rename()
                },
            )
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (
                paused.name.as_str(),
                paused.status,
                paused.allowed_origins.clone()
            ),
            ("Rinominato", EntrypointStatus::Paused, vec![origin]),
            "{backend}: unchanged fields stay"
        );
        assert_eq!(
            store
                .entrypoint(&slug("bugliano"), &first.id)
                .await
                .unwrap(),
            Some(paused),
            "{backend}"
        );

        let changes = store.subscribe();
        store
            .set_tenant_status(&slug("altrove"), TenantStatus::Suspended)
            .await
            .unwrap();
        assert!(changes.has_changed().unwrap(), "{backend}: intake reloads");
        let served: Vec<_> = store
            .intake_entrypoints()
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.id)
            .collect();
        assert_eq!(
            served,
            [second.id, first.id],
            "{backend}: suspended left out"
        );
    })
    .await;
}

#[tokio::test]
async fn tokens_work_for_their_tenant_until_revoked_expired_or_suspended() {
    on_every_backend(|backend, store| async move {
        two_tenants(store.as_ref()).await;
        let token = |id: &str, tenant: &str, expires_at: Option<i64>| ApiToken {
            id: id.into(),
            tenant: slug(tenant),
            name: format!("token {id}"),
            scopes: vec![Scope::Read, Scope::EventsWrite],
            created_at: 1_700_000_000,
            expires_at,
            last_used_at: None,
            revoked_at: None,
        };
        store
            .create_token(&token("aaa", "bugliano", None), "hash-a")
            .await
            .unwrap();
        store
            .create_token(&token("bbb", "bugliano", Some(1)), "hash-b")
            .await
            .unwrap();
        store
            .create_token(&token("ccc", "altrove", Some(later())), "hash-c")
            .await
            .unwrap();
        assert!(
            store
                .create_token(&token("ddd", "inesistente", None), "hash-d")
                .await
                .is_err(),
            "{backend}"
        );

        let used = store.use_token("hash-a").await.unwrap().unwrap();
        assert_eq!(
            (used.id.as_str(), used.scopes.clone()),
            ("aaa", vec![Scope::Read, Scope::EventsWrite]),
            "{backend}"
        );
        assert!(
            store.use_token("hash-b").await.unwrap().is_none(),
            "{backend}: expired"
        );
        assert!(store.use_token("nessuno").await.unwrap().is_none());
        let listed = store.tokens(&slug("bugliano")).await.unwrap();
        assert_eq!(listed.len(), 2, "{backend}");
        let a = listed.iter().find(|t| t.id == "aaa").unwrap();
        assert!(a.last_used_at.is_some(), "{backend}: last use recorded");

        assert!(!store.revoke_token(&slug("altrove"), "aaa").await.unwrap());
        assert!(store.revoke_token(&slug("bugliano"), "aaa").await.unwrap());
        assert!(!store.revoke_token(&slug("bugliano"), "aaa").await.unwrap());
        assert!(
            store.use_token("hash-a").await.unwrap().is_none(),
            "{backend}"
        );

        assert!(store.use_token("hash-c").await.unwrap().is_some());
        store
            .set_tenant_status(&slug("altrove"), TenantStatus::Suspended)
            .await
            .unwrap();
        assert!(
            store.use_token("hash-c").await.unwrap().is_none(),
            "{backend}"
        );
    })
    .await;
}

#[tokio::test]
async fn the_audit_log_lists_newest_first_per_tenant_and_settings_persist() {
    on_every_backend(|backend, store| async move {
        two_tenants(store.as_ref()).await;
        for (at_ms, tenant, action) in [
            (1, Some("bugliano"), "sign_in"),
            (2, Some("altrove"), "sign_in"),
            (3, None, "tenant_created"),
            (4, Some("bugliano"), "token_created"),
        ] {
            store
                .record(AuditEntry {
                    at_ms,
                    tenant: tenant.map(slug),
                    actor: "anna".into(),
                    action: action.into(),
                    target: Some("x".into()),
                })
                .await
                .unwrap();
        }
        let actions = |entries: Vec<AuditEntry>| -> Vec<String> {
            entries.into_iter().map(|e| e.action).collect()
        };
        assert_eq!(
            actions(store.audit_log(Some(&slug("bugliano")), 10).await.unwrap()),
            ["token_created", "sign_in"],
            "{backend}"
        );
        assert_eq!(
            actions(store.audit_log(None, 3).await.unwrap()),
            ["token_created", "tenant_created", "sign_in"],
            "{backend}"
        );

        assert_eq!(store.setting("demo").await.unwrap(), None, "{backend}");
        store.set_setting("demo", "uno").await.unwrap();
        store.set_setting("demo", "due").await.unwrap();
        assert_eq!(
            store.setting("demo").await.unwrap().as_deref(),
            Some("due"),
            "{backend}"
        );
    })
    .await;
}

#[tokio::test]
async fn compliance_runs_queue_once_go_to_one_runner_and_keep_their_reports() {
    on_every_backend(|backend, store| async move {
        two_tenants(&*store).await;
        let bugliano = slug("bugliano");
        let site = "https://www.comune.bugliano.pi.it/";
        let first = store
            .queue_compliance_run(&bugliano, site, Some("anna"), 1_000, None)
            .await
            .unwrap();
        assert!(first.is_some(), "{backend}");
        // Nothing more while one is queued: neither on demand nor from the schedule.
        assert_eq!(
            store
                .queue_compliance_run(&bugliano, site, Some("anna"), 1_001, None)
                .await
                .unwrap(),
            None,
            "{backend}"
        );
        let altrove = store
            .queue_compliance_run(
                &slug("altrove"),
                "https://altrove.example.it/",
                None,
                1_002,
                Some(0),
            )
            .await
            .unwrap();
        assert!(
            altrove.is_some(),
            "{backend}: another tenant queues its own"
        );

        // Runners take the oldest first, each run once.
        let claimed = store.claim_compliance_run(2_000, 0).await.unwrap().unwrap();
        assert_eq!(
            (claimed.id, claimed.status),
            (first.unwrap(), ComplianceStatus::Running)
        );
        assert_eq!(claimed.requested_by.as_deref(), Some("anna"));
        assert_eq!(claimed.started_ms, Some(2_000));
        let second = store.claim_compliance_run(2_001, 0).await.unwrap().unwrap();
        assert_eq!(second.id, altrove.unwrap(), "{backend}");
        assert_eq!(store.claim_compliance_run(2_002, 0).await.unwrap(), None);
        // A run whose runner stopped long ago is taken again.
        let stale = store
            .claim_compliance_run(9_000, 2_001)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stale.id, first.unwrap(), "{backend}");

        store
            .finish_compliance_run(first.unwrap(), 10_000, Ok(r#"{"site":"x"}"#.into()))
            .await
            .unwrap();
        store
            .finish_compliance_run(second.id, 10_001, Err("no Chromium".into()))
            .await
            .unwrap();
        // The weekly schedule queues again only once the last run is old enough.
        assert_eq!(
            store
                .queue_compliance_run(&bugliano, site, None, 20_000, Some(500))
                .await
                .unwrap(),
            None,
            "{backend}: queued at 1,000, after 500"
        );
        let weekly = store
            .queue_compliance_run(&bugliano, site, None, 20_000, Some(5_000))
            .await
            .unwrap();
        assert!(weekly.is_some(), "{backend}");

        let runs = store.compliance_runs(&bugliano, 10).await.unwrap();
        let summary: Vec<(ComplianceStatus, Option<&str>, Option<i64>)> = runs
            .iter()
            .map(|r| (r.status, r.report.as_deref(), r.finished_ms))
            .collect();
        assert_eq!(
            summary,
            [
                (ComplianceStatus::Queued, None, None),
                (
                    ComplianceStatus::Done,
                    Some(r#"{"site":"x"}"#),
                    Some(10_000)
                ),
            ],
            "{backend}"
        );
        let theirs = store.compliance_runs(&slug("altrove"), 10).await.unwrap();
        assert_eq!(theirs.len(), 1);
        assert_eq!(theirs[0].status, ComplianceStatus::Failed);
        assert_eq!(theirs[0].error.as_deref(), Some("no Chromium"));
    })
    .await;
}
