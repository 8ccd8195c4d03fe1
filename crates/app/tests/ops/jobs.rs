//! Jobs shared by several Gantry processes on one database: each due job is claimed by
//! one of them, a held job is not taken, and a dead holder's job is taken over when its
//! lease runs out.

use crate::{Backend, open};
use gantry_domain::{ErrorKind, JobKind, time::now_unix};
use std::collections::HashSet;
use std::time::Duration;

async fn each_job_has_one_holder(b: Backend) {
    let a = open(b).await;
    let other = a.another().await;
    let now = now_unix();
    for i in 0..40 {
        a.store().create_job(JobKind::Transfer, &format!("t{i}"), now - 1, None, 0).await.unwrap();
    }
    let lease = Duration::from_secs(60);
    // Both processes claim at once, again and again.
    let (ja, jb) = (a.jobs.clone(), other.jobs.clone());
    let claim = |j: gantry_app::jobs::Jobs| async move {
        let mut got = vec![];
        for _ in 0..10 {
            got.extend(j.claim_due(JobKind::Transfer, 3, lease).await.unwrap().into_iter().map(|j| j.subject));
        }
        got
    };
    let (ga, gb) = tokio::join!(tokio::spawn(claim(ja)), tokio::spawn(claim(jb)));
    let (ga, gb) = (ga.unwrap(), gb.unwrap());
    let (sa, sb): (HashSet<_>, HashSet<_>) = (ga.iter().collect(), gb.iter().collect());
    assert_eq!(ga.len() + gb.len(), 40, "every job claimed once: {ga:?} {gb:?}");
    assert!(sa.is_disjoint(&sb), "no job claimed by both: {ga:?} {gb:?}");
    assert!(!ga.is_empty() && !gb.is_empty() || b == Backend::Sqlite, "both took work");
    // A held job is not taken; released, it is, when due.
    let t0 = ga.first().or(gb.first()).unwrap().clone();
    let (holder, taker) = if sa.contains(&t0) { (&a.app, &other) } else { (&other, &a.app) };
    assert!(taker.jobs.claim(JobKind::Transfer, &t0, lease).await.unwrap().is_none());
    let job = holder.jobs.claim(JobKind::Transfer, &t0, lease).await.unwrap().expect("the holder renews");
    assert!(!taker.store().finish_job(&job.id, taker.jobs.owner()).await.unwrap(), "only the holder finishes");
    holder.jobs.release(&job, now_unix() + 3600, 2).await.unwrap();
    assert!(taker.jobs.claim_due(JobKind::Transfer, 100, lease).await.unwrap().is_empty(), "not due yet");
    let again = taker.jobs.claim(JobKind::Transfer, &t0, lease).await.unwrap().expect("free now");
    assert_eq!(again.attempts, 2);
    // A holder that died: its lease runs out and the job is taken over.
    taker.jobs.release(&again, now_unix() - 1, 0).await.unwrap();
    let dead = holder.jobs.claim(JobKind::Transfer, &t0, Duration::from_secs(1)).await.unwrap().unwrap();
    assert!(taker.jobs.claim(JobKind::Transfer, &t0, lease).await.unwrap().is_none());
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let taken = taker.jobs.claim_due(JobKind::Transfer, 100, lease).await.unwrap();
    assert_eq!(taken.iter().map(|j| j.subject.as_str()).collect::<Vec<_>>(), [t0.as_str()]);
    assert_eq!(taken[0].lease_owner.as_deref(), Some(taker.jobs.owner()));
    assert!(!holder.store().release_job(&dead.id, holder.jobs.owner(), 0, 0).await.unwrap(), "no longer its own");
}

async fn one_gc_at_a_time(b: Backend) {
    let a = open(b).await;
    let other = a.another().await;
    // While one process collects, another is told so.
    a.store().create_job(JobKind::Gc, "all", 0, None, 0).await.unwrap();
    let held = a.jobs.claim(JobKind::Gc, "all", Duration::from_secs(60)).await.unwrap().unwrap();
    let e = other.gc.run(0).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Conflict, "{}", e.message);
    a.jobs.release(&held, now_unix(), 0).await.unwrap();
    other.gc.run(0).await.unwrap();
    a.gc.run(0).await.unwrap();
}

crate::both_backends!(each_job_has_one_holder, one_gc_at_a_time);
