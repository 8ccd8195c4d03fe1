//! The transfer page as a file manager: the destination's files with sizes, the name
//! the image arrives under and a warning before replacing it, Globus bookmarks, and the
//! transfer options, which reach the Globus task as chosen.

use crate::harness::hidden;
use crate::transfers::{Setup, connected, setup, wait_done};
use gantry_domain::url::escape;
use reqwest::StatusCode;
use serde_json::Value;

/// The user's own Transfer token, as Gantry keeps it for them.
async fn transfer_token_of(s: &crate::harness::TestServer, user: &str) -> String {
    let u = s.state.store().user_by_name(user).await.unwrap().unwrap();
    let link = s.state.store().globus_link(u.id).await.unwrap().unwrap();
    let t = s.state.sealer().open::<Value>(u.id, &link.tokens).unwrap();
    std::iter::once(&t)
        .chain(t["other_tokens"].as_array().into_iter().flatten())
        .find(|t| t["resource_server"] == "transfer.api.globus.org")
        .and_then(|t| t["access_token"].as_str())
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_destination_is_shown_bookmarked_and_sent_to_with_options() {
    let Setup { s, g, .. } = setup(crate::harness::Backend::Sqlite, None).await;
    let cluster = g.config.endpoints[0].id.clone();
    let (mut b, token) = connected(&s, &g, "alice", "alice@uni.edu", "alice-pass").await;
    crate::api::push_sif(&crate::ocikit::Oci::as_user(&s.url, "alice", &token), "lab/tool", "1.0", b"sif bytes").await;
    let page_at = |path: &str| {
        format!("{}/transfer?ref={}&endpoint={}&path={}", s.url, escape("lab/tool:1.0"), escape(&cluster), escape(path))
    };
    let (st, page, _) = b.get(&page_at("/~/")).await;
    assert_eq!(st, StatusCode::OK, "{page}");
    assert!(page.contains("id=\"arriving\">/~/tool_1.0.sif<"), "{page}");
    assert!(!page.contains("id=\"overwrite\""), "nothing to replace yet: {page}");
    let csrf = hidden(&page, "csrf");

    // A bookmark, made at Globus, is offered on the page from then on.
    let mark = [
        ("csrf", csrf.as_str()),
        ("ref", "lab/tool:1.0"),
        ("endpoint", &cluster),
        ("path", "/~/"),
        ("name", "my home"),
    ];
    let forged = [("csrf", "forged"), mark[1], mark[2], mark[3], mark[4]];
    let (st, _, _) = b.post(&format!("{}/transfer/bookmark", s.url), &forged).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, _, loc) = b.post(&format!("{}/transfer/bookmark", s.url), &mark).await;
    assert_eq!(st, StatusCode::SEE_OTHER);
    let (_, page, _) = b.get(&format!("{}{}", s.url, loc.unwrap())).await;
    assert!(page.contains("Bookmarked as “my home”"), "{page}");
    let marks = page.split("id=\"bookmarks\"").nth(1).unwrap_or_else(|| panic!("{page}"));
    assert!(marks.split("</ul>").next().unwrap().contains(">my home</a>"), "{marks}");
    let unnamed = [mark[0], mark[1], mark[2], mark[3], ("name", "  ")];
    let (st, page, _) = b.post(&format!("{}/transfer/bookmark", s.url), &unnamed).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "an empty name: {page}");

    // The options reach Globus as chosen (checkboxes left out are off).
    let send = |sync: &'static str| {
        [
            ("csrf", csrf.as_str()),
            ("ref", "lab/tool:1.0"),
            ("endpoint_id", cluster.as_str()),
            ("path", "/~/"),
            ("sync", sync),
            ("preserve_timestamp", "true"),
        ]
    };
    let (st, page, _) = b.post(&format!("{}/transfer", s.url), &send("sometimes")).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{page}");
    let (st, _, loc) = b.post(&format!("{}/transfer", s.url), &send("checksum")).await;
    assert_eq!(st, StatusCode::SEE_OTHER);
    let id = loc.unwrap().rsplit('=').next().unwrap().to_string();
    let done = wait_done(&s, &token, &id).await;
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    let task_id = done["task_id"].as_str().unwrap();
    let task = crate::harness::json_of(
        &format!("{}/v0.10/task/{task_id}", g.url),
        Some(&transfer_token_of(&s, "alice").await),
    )
    .await;
    assert_eq!(task["sync_level"], 3, "{task}");
    assert_eq!(task["verify_checksum"], false, "{task}");
    assert_eq!(task["preserve_timestamp"], true, "{task}");

    // Now the folder holds the image, with its size, and the page warns before replacing it.
    let (_, page, _) = b.get(&page_at("/~/")).await;
    let listing = page.split("id=\"listing\"").nth(1).unwrap_or_else(|| panic!("{page}"));
    assert!(listing.contains("<td data-label=\"Name\">tool_1.0.sif</td><td data-label=\"Size\">9 B</td>"), "{listing}");
    assert!(page.contains("id=\"overwrite\""), "{page}");
}
