//! Denial of service: slow heads and bodies, stalled uploads, upload caps.

use super::*;

/// Point 1, slowloris: connections that never finish their request head are closed after
/// `header_read_secs`, idle keep-alive connections too, and while twice as many of them as
/// the server serves at once are open, an ordinary request is still answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_request_heads_are_cut_off_and_do_not_starve_others() {
    let s = Served::start(&[("GANTRY_LIMITS_HEADER_READ_SECS", "1"), ("GANTRY_LIMITS_MAX_CONNECTIONS", "16")]).await;
    let addr = s.url.trim_start_matches("http://").to_string();
    let mut stalled = vec![];
    for _ in 0..32 {
        let mut t = TcpStream::connect(&addr).await.unwrap();
        t.write_all(b"GET /v2/ HTTP/1.1\r\nHost: x\r\nX-Slow: ").await.unwrap();
        stalled.push(t);
    }
    let start = Instant::now();
    let r = timeout(Duration::from_secs(10), http().get(format!("{}/v2/", s.url)).send())
        .await
        .expect("an ordinary request is answered while the attack runs")
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(start.elapsed() < Duration::from_secs(8), "took {:?}", start.elapsed());
    for t in stalled.iter_mut().take(4) {
        assert!(until_closed(t, Duration::from_secs(5)).await.is_some(), "a stalled request head is closed");
    }
    // A keep-alive connection that asks nothing more is closed too.
    let mut idle = TcpStream::connect(&addr).await.unwrap();
    idle.write_all(b"GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let got = until_closed(&mut idle, Duration::from_secs(5)).await.expect("an idle keep-alive connection is closed");
    assert!(String::from_utf8_lossy(&got).starts_with("HTTP/1.1 401"), "it was answered first");
}

/// Point 2, slow bodies: an upload that stops sending is cut off after `body_idle_secs`;
/// what arrived is kept, and the session can be resumed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_upload_body_is_cut_off_and_keeps_what_came() {
    let s = Served::start(&[("GANTRY_LIMITS_BODY_IDLE_SECS", "1")]).await;
    let tok = s.user("alice").await;
    let c = http();
    let r = c.post(format!("{}/v2/alice/x/blobs/uploads/", s.url)).bearer_auth(&tok).send().await.unwrap();
    assert_eq!(r.status(), 202);
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    let path = loc.strip_prefix(&s.url).unwrap_or(&loc).to_string();
    let mut t = TcpStream::connect(s.url.trim_start_matches("http://")).await.unwrap();
    let head = format!(
        "PATCH {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {tok}\r\nContent-Type: application/octet-stream\r\nContent-Length: 100000000\r\n\r\n"
    );
    t.write_all(head.as_bytes()).await.unwrap();
    t.write_all(b"abc").await.unwrap();
    let start = Instant::now();
    let got = until_closed(&mut t, Duration::from_secs(8)).await.expect("the stalled upload ends");
    assert!(start.elapsed() < Duration::from_secs(6), "took {:?}", start.elapsed());
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 400"), "{text}");
    assert!(text.contains("3 bytes kept"), "{text}");
    let r = c.get(format!("{}{path}", s.url)).bearer_auth(&tok).send().await.unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(r.headers()["range"], "0-2", "the bytes that came are kept for a resume");
}

/// Point 2, many uploads: a user may hold `uploads_per_user` sessions; the next one is a
/// 429 that says the limit and how to free one, and cancelling one makes room.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_sessions_per_user_are_capped() {
    let s = Served::start(&[("GANTRY_LIMITS_UPLOADS_PER_USER", "3")]).await;
    let (alice, bob) = (s.user("alice").await, s.user("bob").await);
    let c = http();
    let start = |tok: String, repo: &'static str| {
        let c = c.clone();
        let url = format!("{}/v2/{repo}/x/blobs/uploads/", s.url);
        async move { c.post(url).bearer_auth(tok).send().await.unwrap() }
    };
    let mut open = vec![];
    for _ in 0..3 {
        let r = start(alice.clone(), "alice").await;
        assert_eq!(r.status(), 202);
        open.push(r.headers()["location"].to_str().unwrap().to_string());
    }
    let r = start(alice.clone(), "alice").await;
    assert_eq!(r.status(), 429);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["errors"][0]["code"], "TOOMANYREQUESTS", "{v}");
    let msg = v["errors"][0]["message"].as_str().unwrap();
    assert!(msg.contains("3 uploads") && msg.contains("DELETE"), "{msg}");
    assert_eq!(start(bob.clone(), "bob").await.status(), 202, "others are not affected");
    let url = if open[0].starts_with("http") { open[0].clone() } else { format!("{}{}", s.url, open[0]) };
    assert_eq!(c.delete(url).bearer_auth(&alice).send().await.unwrap().status(), 204);
    assert_eq!(start(alice.clone(), "alice").await.status(), 202, "a cancelled session makes room");
}

/// Point 2, starvation: uploads whose clients send nothing hold no thread of the blocking
/// pool, so with more of them than the pool has threads, blobs are still served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_uploads_do_not_hold_the_blocking_pool() {
    let s = Served::start(&[("GANTRY_BLOCKING_THREADS", "8"), ("GANTRY_LIMITS_BODY_IDLE_SECS", "120")]).await;
    let tok = s.user("alice").await;
    let c = http();
    let data = b"a blob that must stay reachable".to_vec();
    let digest = crate::harness::sha256(&data);
    let r = c
        .post(format!("{}/v2/alice/x/blobs/uploads/?digest={digest}", s.url))
        .bearer_auth(&tok)
        .header("content-type", "application/octet-stream")
        .body(data.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let addr = s.url.trim_start_matches("http://").to_string();
    let mut stalled = vec![];
    for _ in 0..16 {
        let r = c.post(format!("{}/v2/alice/x/blobs/uploads/", s.url)).bearer_auth(&tok).send().await.unwrap();
        let loc = r.headers()["location"].to_str().unwrap().to_string();
        let path = loc.strip_prefix(&s.url).unwrap_or(&loc).to_string();
        let mut t = TcpStream::connect(&addr).await.unwrap();
        let head = format!(
            "PATCH {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {tok}\r\nContent-Length: 100000000\r\n\r\nx"
        );
        t.write_all(head.as_bytes()).await.unwrap();
        stalled.push(t);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let get = c.get(format!("{}/v2/alice/x/blobs/{digest}", s.url)).bearer_auth(&tok).send();
    let r = timeout(Duration::from_secs(10), get).await.expect("the blob is served while uploads stall").unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap().as_ref(), data.as_slice());
    drop(stalled);
}

/// Point 1, one address filling the server: connections beyond `connections_per_address`
/// from one address are closed at once, so others are served without waiting for the
/// stalled ones to time out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_cannot_take_every_connection() {
    let s = Served::start(&[
        ("GANTRY_LIMITS_HEADER_READ_SECS", "30"),
        ("GANTRY_LIMITS_MAX_CONNECTIONS", "16"),
        ("GANTRY_LIMITS_CONNECTIONS_PER_ADDRESS", "8"),
    ])
    .await;
    let addr: std::net::SocketAddr = s.url.trim_start_matches("http://").parse().unwrap();
    let mut stalled = vec![];
    for _ in 0..24 {
        let sock = tokio::net::TcpSocket::new_v4().unwrap();
        sock.bind("127.0.0.2:0".parse().unwrap()).unwrap();
        let mut t = sock.connect(addr).await.unwrap();
        t.write_all(b"GET /v2/ HTTP/1.1\r\nHost: x\r\nX-Slow: ").await.unwrap();
        stalled.push(t);
    }
    let mut closed = 0;
    for t in stalled.iter_mut() {
        if until_closed(t, Duration::from_millis(300)).await.is_some() {
            closed += 1;
        }
    }
    assert_eq!(closed, 16, "all but 8 of one address's connections are closed at once");
    let other =
        reqwest::Client::builder().local_address("127.0.0.3".parse::<std::net::IpAddr>().unwrap()).build().unwrap();
    let r = timeout(Duration::from_secs(5), other.get(format!("{}/v2/", s.url)).send())
        .await
        .expect("another address is served at once")
        .unwrap();
    assert_eq!(r.status(), 401);
}
