//! Collections: creation rights, access, and the last-owner rule, the same for every caller.

use crate::{Backend, open, open_with, user};
use gantry_app::collections::NewCollection;
use gantry_domain::{Access, CollectionName, ErrorKind, Principal, Role, TokenScope, Visibility};

fn new(name: &str, owner: Option<i64>) -> NewCollection {
    NewCollection { name: CollectionName::parse(name).unwrap(), visibility: None, description: String::new(), owner }
}

async fn the_last_owner_stays(b: Backend) {
    let app = open(b).await;
    let alice = user(&app, "alice", TokenScope::Write).await;
    user(&app, "bob", TokenScope::Write).await;
    app.collections.create(&alice, new("lab", Some(alice.user_id))).await.unwrap();
    let lab = CollectionName::parse("lab").unwrap();
    // As alice (the API and the web), and as the operator (gantry admin): refused alike.
    let as_alice = app.collections.managed(Some(&alice), &lab).await.unwrap();
    let as_operator = app.collections.operate("lab").await.unwrap();
    for c in [&as_alice, &as_operator] {
        for role in [Role::Viewer, Role::Contributor] {
            let e = app.collections.set_user_role(c, "alice", role).await.unwrap_err();
            assert_eq!(e.kind, ErrorKind::Conflict, "{role:?}");
            assert!(e.message.contains("last owner"), "{}", e.message);
        }
        assert_eq!(app.collections.remove_user_role(c, "alice").await.unwrap_err().kind, ErrorKind::Conflict);
    }
    let members = app.collections.members(&as_operator).await.unwrap();
    assert_eq!(members.iter().map(|m| (m.username.as_str(), m.role)).collect::<Vec<_>>(), [("alice", Role::Owner)]);
    // With a second owner, either may step down, but not both.
    app.collections.set_user_role(&as_operator, "bob", Role::Owner).await.unwrap();
    app.collections.set_user_role(&as_alice, "alice", Role::Viewer).await.unwrap();
    assert_eq!(app.collections.remove_user_role(&as_operator, "bob").await.unwrap_err().kind, ErrorKind::Conflict);
    // Unknown users and non-members are told apart from the rule.
    assert_eq!(
        app.collections.set_user_role(&as_operator, "nobody", Role::Viewer).await.unwrap_err().kind,
        ErrorKind::NotFound
    );
    app.collections.remove_user_role(&as_operator, "alice").await.unwrap();
    assert_eq!(app.collections.remove_user_role(&as_operator, "alice").await.unwrap_err().kind, ErrorKind::NotFound);
}

async fn who_may_create_and_see(b: Backend) {
    let app = open_with(b, |c| c.allow_user_collections = false).await;
    let alice = user(&app, "alice", TokenScope::Write).await;
    let reader = user(&app, "rita", TokenScope::Read).await;
    let e = app.collections.create(&alice, new("mine", Some(alice.user_id))).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Denied);
    assert_eq!(app.collections.create(&reader, new("mine", None)).await.unwrap_err().kind, ErrorKind::Denied);
    // The operator may, and may give it to someone.
    app.collections.create(&Principal::operator(), new("lab", Some(alice.user_id))).await.unwrap();
    let lab = CollectionName::parse("lab").unwrap();
    let seen = app.collections.access(Some(&alice), &lab, Access::Manage).await.unwrap();
    assert_eq!((seen.role, seen.collection.visibility), (Some(Role::Owner), Visibility::Private));
    // Others learn nothing of a private collection; anonymous callers are asked to sign in.
    let bob = user(&app, "bob", TokenScope::Write).await;
    assert_eq!(app.collections.access(Some(&bob), &lab, Access::Read).await.unwrap_err().kind, ErrorKind::NameUnknown);
    assert_eq!(app.collections.access(None, &lab, Access::Read).await.unwrap_err().kind, ErrorKind::Unauthorized);
    assert!(app.collections.visible(Some(&bob)).await.unwrap().is_empty());
    // Made public, everyone reads it; only the owner manages it.
    let managed = app.collections.managed(Some(&alice), &lab).await.unwrap();
    let long = "x".repeat(4001);
    assert_eq!(app.collections.update(&managed, None, Some(&long)).await.unwrap_err().kind, ErrorKind::Invalid);
    let after = app.collections.update(&managed, Some(Visibility::Public), Some("  shared  ")).await.unwrap();
    assert_eq!(after.collection.description, "shared");
    assert_eq!(app.collections.access(None, &lab, Access::Read).await.unwrap().access, Access::Read);
    assert_eq!(app.collections.managed(Some(&bob), &lab).await.unwrap_err().kind, ErrorKind::Denied);
    // Group roles take normalised group ids.
    let g = app.collections.set_group_role(&managed, " ABC-123 ", Role::Viewer).await.unwrap();
    assert_eq!(g, "abc-123");
    assert_eq!(
        app.collections.set_group_role(&managed, "a b", Role::Viewer).await.unwrap_err().kind,
        ErrorKind::Invalid
    );
    app.collections.remove_group_role(&managed, "abc-123").await.unwrap();
    assert_eq!(app.collections.remove_group_role(&managed, "abc-123").await.unwrap_err().kind, ErrorKind::NotFound);
}

crate::both_backends!(the_last_owner_stays, who_may_create_and_see);
