//! Credentials, tokens, sessions, password sign-in and device sign-in.

use crate::{Backend, open, user};
use gantry_app::identity::Credentials;
use gantry_app::identity::device::{Pending, Poll};
use gantry_domain::{Access, ErrorKind, TokenScope};

async fn tokens_and_credentials(b: Backend) {
    let app = open(b).await;
    let alice = user(&app, "alice", TokenScope::Write).await;
    for bad in ["", "   ", &"n".repeat(101)] {
        let e = app.tokens.issue(alice.user_id, bad, TokenScope::Read, None).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Invalid, "{bad:?}");
    }
    assert_eq!(
        app.tokens.issue(alice.user_id, "t", TokenScope::Read, Some(0)).await.unwrap_err().kind,
        ErrorKind::Invalid
    );
    let t = app.tokens.issue(alice.user_id, " laptop ", TokenScope::Read, Some(30)).await.unwrap();
    assert_eq!(t.row.name, "laptop");
    assert!(t.row.expires_at.is_some());
    // The token works as Bearer and as Basic with its user's name only.
    let p = app.auth.authenticate(&Credentials::Bearer(t.secret.clone())).await.unwrap().unwrap();
    assert_eq!((p.username.as_str(), p.scope), ("alice", TokenScope::Read));
    let basic = |u: &str| Credentials::Basic { username: u.into(), secret: t.secret.clone() };
    assert!(app.auth.authenticate(&basic("alice")).await.unwrap().is_some());
    assert_eq!(app.auth.authenticate(&basic("bob")).await.unwrap_err().kind, ErrorKind::Unauthorized);
    assert_eq!(app.auth.authenticate(&Credentials::None).await.unwrap(), None);
    // A registry token carries the scope and dies with its API token.
    let asked = gantry_domain::Grants::from_scopes(["repository:alice/x:pull repository:alice/y:pull,push"]);
    let r = app.auth.registry_token(&basic("alice"), &asked).await.unwrap();
    let rp = app.auth.authenticate(&Credentials::Bearer(r.token.clone())).await.unwrap().unwrap();
    assert_eq!(rp.scope, TokenScope::Read);
    // ...and only the repositories and actions it was asked for.
    assert_eq!(rp.grants.as_ref(), Some(&asked));
    assert_eq!((rp.granted("alice/x"), rp.granted("alice/y")), (Access::Read, Access::Write));
    assert_eq!(rp.granted("alice/z"), Access::None);
    app.tokens.revoke(alice.user_id, t.row.id).await.unwrap();
    assert_eq!(app.tokens.revoke(alice.user_id, t.row.id).await.unwrap_err().kind, ErrorKind::NotFound);
    for c in [Credentials::Bearer(t.secret.clone()), Credentials::Bearer(r.token)] {
        assert_eq!(app.auth.authenticate(&c).await.unwrap_err().kind, ErrorKind::Unauthorized);
    }
    // Unknown bearer tokens are refused when Gantry is no Globus resource server.
    let e = app.auth.authenticate(&Credentials::Bearer("Ag1234".into())).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unauthorized);
}

async fn sessions_and_passwords(b: Backend) {
    let app = open(b).await;
    app.users.create("dana", false, Some("dana's long password")).await.unwrap();
    assert_eq!(app.users.create("dana", false, None).await.unwrap_err().kind, ErrorKind::Conflict);
    assert_eq!(app.users.create("../x", false, None).await.unwrap_err().kind, ErrorKind::Invalid);
    let e = app.signin.password("dana", "wrong password", None).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unauthorized);
    assert_eq!(app.signin.password("nobody", "whatever-else", None).await.unwrap_err().kind, ErrorKind::Unauthorized);
    let s = app.signin.password(" dana ", "dana's long password", None).await.unwrap();
    let session = app.sessions.lookup(&s.session).await.unwrap().expect("a live session");
    assert_eq!(session.user().username, "dana");
    assert!(session.check_csrf(session.csrf()).is_ok());
    assert_eq!(session.check_csrf("forged").unwrap_err().kind, ErrorKind::Denied);
    assert!(app.sessions.lookup("not-a-session").await.unwrap().is_none());
    // Before sign-in, forms carry a token bound to the browser.
    let t = app.sessions.form_token("browser-1");
    assert!(app.sessions.check_form_token("browser-1", &t).is_ok());
    assert!(app.sessions.check_form_token("browser-2", &t).is_err());
    assert!(app.sessions.check_form_token("", &app.sessions.form_token("")).is_err());
    app.signin.sign_out(&session).await.unwrap();
    assert!(app.sessions.lookup(&s.session).await.unwrap().is_none());
    // Five failures hold the account back for that address, even for the right password.
    for _ in 0..5 {
        app.signin.password("dana", "wrong password", None).await.unwrap_err();
    }
    let e = app.signin.password("dana", "dana's long password", None).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::TooManyRequests);
}

async fn device_sign_in(b: Backend) {
    let app = open(b).await;
    let erin = user(&app, "erin", TokenScope::Write).await;
    let d = app.devices.authorize("laptop", None).await.unwrap();
    assert!(d.verification_uri_complete.ends_with(&d.user_code));
    assert_eq!(
        app.devices.poll(&d.device_code).await.unwrap(),
        Poll::Pending(Pending::AuthorizationPending, "waiting for approval in the browser")
    );
    assert!(matches!(app.devices.poll(&d.device_code).await.unwrap(), Poll::Pending(Pending::SlowDown, _)));
    assert_eq!(app.devices.client_name(&d.user_code.to_lowercase()).await.unwrap(), "laptop");
    // Approved for reading, for 30 days.
    let read_30 = Some((TokenScope::Read, Some(30)));
    let e = app.devices.decide(&d.user_code, erin.user_id, Some((TokenScope::Read, Some(0)))).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Invalid);
    assert!(app.devices.decide(&d.user_code, erin.user_id, read_30).await.unwrap());
    assert!(!app.devices.decide(&d.user_code, erin.user_id, read_30).await.unwrap(), "decided once");
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let Poll::Token(t) = app.devices.poll(&d.device_code).await.unwrap() else { panic!("approved") };
    assert_eq!((t.username.as_str(), t.scope), ("erin", TokenScope::Read));
    let p = app.auth.authenticate(&Credentials::Bearer(t.token)).await.unwrap().unwrap();
    assert_eq!((p.user_id, p.scope), (erin.user_id, TokenScope::Read));
    let issued = app.tokens.list(erin.user_id).await.unwrap();
    let laptop = issued.iter().find(|t| t.name == "laptop").unwrap();
    let days = (laptop.expires_at.unwrap() - gantry_domain::time::now_unix()) / 86_400;
    assert!((29..=30).contains(&days), "the token lives the 30 days chosen: {days}");
    assert!(matches!(app.devices.poll(&d.device_code).await.unwrap(), Poll::Pending(Pending::InvalidGrant, _)));
    assert!(matches!(app.devices.poll("unknown").await.unwrap(), Poll::Pending(Pending::InvalidGrant, _)));
}

crate::both_backends!(tokens_and_credentials, sessions_and_passwords, device_sign_in);
