//! The worker: picks up active tasks, expands them into a plan of files once, copies
//! (staged, so a file appears under its name only when complete) and saves progress.

use super::model::*;
use crate::paths;
use crate::service::Service;
use crate::staged::Staged;
use crate::store::now;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::PathBuf;

// ---------- the worker ----------

/// Runs forever: picks up active tasks (also those a restart interrupted) and runs them.
/// Each task runs on a thread of the blocking pool (its file system calls and copies
/// never hold an async worker, so requests are answered while files are copied), and
/// waits for the database there.
pub async fn worker(s: Service) {
    let rt = tokio::runtime::Handle::current();
    let running: std::sync::Arc<tokio::sync::Mutex<std::collections::HashSet<String>>> = Default::default();
    loop {
        for (id, t) in s.db.list::<Task>("task").await.unwrap_or_default() {
            if t.status != TaskStatus::Active || t.is_paused(&s) || running.lock().await.contains(&id) {
                continue;
            }
            running.lock().await.insert(id.clone());
            let (s2, r2, rt2) = (s.clone(), running.clone(), rt.clone());
            tokio::task::spawn_blocking(move || {
                rt2.block_on(async move {
                    if let Err(e) = run_task(&s2, &id).await {
                        tracing::warn!(task = id, "task failed: {e}");
                    }
                    // The plan stays with a finished task: its successful transfers
                    // are read from it.
                    {
                        let mut live = s2.live.lock().unwrap();
                        live.bytes.remove(&id);
                        live.canceled.remove(&id);
                        live.finishing.remove(&id);
                    }
                    r2.lock().await.remove(&id);
                })
            });
        }
        let _ = tokio::time::timeout(std::time::Duration::from_millis(500), s.wake.notified()).await;
    }
}

/// Saves progress unless the task was canceled meanwhile; false when it was. The label
/// and deadline belong to the owner (who may change them while the task runs), and an
/// endpoint manager's pause to them; they are kept as stored.
pub(super) async fn save(s: &Service, t: &Task) -> anyhow::Result<bool> {
    let _g = s.task_lock.lock().await;
    let cur: Option<Task> = s.db.get("task", &t.task_id).await?;
    if cur.as_ref().is_some_and(|c| c.canceled || c.status != TaskStatus::Active) {
        return Ok(false);
    }
    match cur {
        Some(c) => {
            let kept = Task { label: c.label, deadline: c.deadline, admin_paused: c.admin_paused, ..t.clone() };
            s.db.put("task", &t.task_id, &kept, None).await?
        }
        None => s.db.put("task", &t.task_id, t, None).await?,
    };
    Ok(true)
}

pub(super) async fn fail(s: &Service, t: &mut Task, code: &str, msg: &str) -> anyhow::Result<()> {
    t.status = TaskStatus::Failed;
    t.completion_time = Some(now());
    t.fatal_error = Some((code.into(), msg.into()));
    t.faults += 1;
    t.event(code, &code.to_lowercase(), msg, true);
    save(s, t).await.map(|_| ())
}

pub(super) async fn run_task(s: &Service, id: &str) -> anyhow::Result<()> {
    let Some(mut t) = s.db.get::<Task>("task", id).await? else { return Ok(()) };
    let c = caller_of(s, &t.owner).await;
    let src = s.endpoint_by_id(&t.source_endpoint);
    let dst = s.endpoint_by_id(&t.destination_endpoint);
    let (Some(src), Some(dst)) = (src, dst) else {
        return fail(s, &mut t, "ENDPOINT_ERROR", "endpoint no longer exists").await;
    };
    if t.kind == TaskKind::Delete {
        for it in t.items.clone() {
            let parts = paths::components(&it.source).unwrap_or_default();
            if s.permission(&c, &src, &parts).await != Some("rw") {
                return fail(s, &mut t, "PERMISSION_DENIED", &format!("No write permission on {}", it.source)).await;
            }
            // The entry itself is removed (a link, never what it points at), and the
            // rules must allow it where it really is.
            let entry = paths::resolve_entry(&src.root, &it.source);
            if let Ok((_, real)) = &entry
                && s.permission(&c, &src, real).await != Some("rw")
            {
                return fail(s, &mut t, "PERMISSION_DENIED", &format!("No write permission on {}", it.source)).await;
            }
            let is_link = |p: &PathBuf| std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_symlink());
            match entry.map(|(p, _)| p) {
                Ok(p) if is_link(&p) => std::fs::remove_file(&p)?,
                Ok(p) if p.is_dir() && it.recursive => std::fs::remove_dir_all(&p)?,
                Ok(p) if p.is_dir() => {
                    return fail(
                        s,
                        &mut t,
                        "DIRECTORY_NOT_EMPTY",
                        &format!("{} is a directory: use recursive", it.source),
                    )
                    .await;
                }
                Ok(p) => std::fs::remove_file(&p)?,
                Err(_) if t.ignore_missing => {}
                Err(_) => return fail(s, &mut t, "FILE_NOT_FOUND", &format!("{} not found", it.source)).await,
            }
            t.files_transferred += 1;
            if !save(s, &t).await? {
                return Ok(());
            }
        }
        t.status = TaskStatus::Succeeded;
        t.completion_time = Some(now());
        t.event("SUCCEEDED", "succeeded", "Task completed", false);
        save(s, &t).await?;
        return Ok(());
    }
    let plan: Vec<Planned> = if t.planned {
        // Resumed after a restart: a copy cut short may have left a named temporary file.
        let plan: Vec<Planned> = s.db.get("plan", id).await?.unwrap_or_default();
        let (mut seen, mut cache) = (std::collections::HashSet::new(), HashMap::new());
        for p in plan[t.next.min(plan.len())..].iter().filter(|p| !p.dir) {
            if let Some(dir) = place(&mut cache, true, &dst.root, &p.dst).and_then(|d| d.parent().map(PathBuf::from))
                && seen.insert(dir.clone())
            {
                Staged::remove_leftovers(&dir, &t.task_id[..8]);
            }
        }
        plan
    } else {
        let mut plan = vec![];
        for it in t.items.clone() {
            let sp = paths::components(&it.source).unwrap_or_default();
            if s.permission(&c, &src, &sp).await.is_none() {
                return fail(s, &mut t, "PERMISSION_DENIED", &format!("No read permission on {}", it.source)).await;
            }
            let real = match paths::resolve(&src.root, &it.source, false) {
                Ok(r) => r,
                Err(_) if t.skip_source_errors => {
                    let why = format!("{} not found on the source", it.source);
                    t.skipped_errors.push(SkippedError {
                        index: None,
                        source_path: it.source.clone(),
                        destination_path: it.destination.clone(),
                        is_directory: it.recursive,
                        error_code: "FILE_NOT_FOUND".into(),
                        error_details: why,
                        time: now(),
                    });
                    continue;
                }
                Err(_) => {
                    return fail(s, &mut t, "FILE_NOT_FOUND", &format!("{} not found on the source", it.source)).await;
                }
            };
            // The rules must allow reading where the path's links lead, too.
            let canonical = paths::canonical_parts(&src.root, &real).unwrap_or_default();
            if s.permission(&c, &src, &canonical).await.is_none() {
                return fail(s, &mut t, "PERMISSION_DENIED", &format!("No read permission on {}", it.source)).await;
            }
            let dp = paths::components(&it.destination).unwrap_or_default();
            if real.is_dir() {
                plan.push(Planned { src: sp.clone(), dst: dp.clone(), dir: true, size: 0 });
                walk(&real, &sp, &dp, &mut plan)?;
            } else {
                plan.push(Planned { src: sp, dst: dp, dir: false, size: std::fs::metadata(&real)?.len() });
            }
        }
        t.files = plan.iter().filter(|p| !p.dir).count() as u64;
        t.directories = plan.iter().filter(|p| p.dir).count() as u64;
        s.db.put("plan", id, &plan, None).await?;
        t.planned = true;
        if !save(s, &t).await? {
            return Ok(());
        }
        plan
    };
    let mut last_save = std::time::Instant::now();
    // Rules and resolved directories are looked up once per batch of files, not per file.
    let mut rules = s.rules(&dst.id).await;
    // A guest collection gives no more than its owner may still do on the host.
    let mut share_ok = s.guest_owner_may(&dst, "rw").await;
    let mut dirs: HashMap<(bool, Vec<String>), PathBuf> = HashMap::new();
    while t.next < plan.len() {
        if t.deadline.is_some_and(|d| now() > d) {
            return fail(s, &mut t, "DEADLINE_EXPIRED", "The task's deadline passed before it completed").await;
        }
        let p = &plan[t.next];
        if !share_ok || crate::transfer::caller::permission_with(&c, &dst, &p.dst, &rules) != Some("rw") {
            return fail(
                s,
                &mut t,
                "PERMISSION_DENIED",
                &format!("No write permission on {}", paths::display(&p.dst, p.dir)),
            )
            .await;
        }
        // The last component is never followed if it is a link: sources are opened with
        // O_NOFOLLOW, and a link at the destination is refused.
        let dst_path = place(&mut dirs, true, &dst.root, &p.dst)
            .filter(|d| !std::fs::symlink_metadata(d).is_ok_and(|m| m.file_type().is_symlink()));
        let Some(dst_path) = dst_path else {
            return fail(s, &mut t, "PERMISSION_DENIED", "destination outside the endpoint or its parent is missing")
                .await;
        };
        if p.dir {
            std::fs::create_dir_all(&dst_path)?;
        } else {
            let vanished = format!("{} vanished from the source", paths::display(&p.src, false));
            let Some(src_path) = place(&mut dirs, false, &src.root, &p.src) else {
                return fail(s, &mut t, "FILE_NOT_FOUND", &vanished).await;
            };
            let last = t.next + 1 == plan.len();
            match copy_one(s, &mut t, &src_path, &dst_path, last) {
                Ok(Copied::Done) => {}
                Ok(Copied::InSync) => t.sync_skipped.push(t.next as u32),
                Ok(Copied::Canceled) => return Ok(()),
                Ok(Copied::SourceGone) if t.skip_source_errors => {
                    t.skipped_errors.push(SkippedError {
                        index: Some(t.next as u32),
                        source_path: paths::display(&p.src, false),
                        destination_path: paths::display(&p.dst, false),
                        is_directory: false,
                        error_code: "FILE_NOT_FOUND".into(),
                        error_details: vanished,
                        time: now(),
                    });
                }
                Ok(Copied::SourceGone) => return fail(s, &mut t, "FILE_NOT_FOUND", &vanished).await,
                Err(e) => return fail(s, &mut t, "ENDPOINT_ERROR", &e.to_string()).await,
            }
        }
        t.next += 1;
        // Progress is saved a few times a second: after a crash at most the files since
        // the last save are copied again (each copy is atomic, so that is harmless).
        if last_save.elapsed() >= SAVE_EVERY {
            last_save = std::time::Instant::now();
            if !save(s, &t).await? {
                return Ok(());
            }
            // Paused by an endpoint manager: the worker takes the task up again once
            // nothing pauses it.
            if s.db.get::<Task>("task", id).await?.is_some_and(|cur| cur.is_paused(s)) {
                return Ok(());
            }
            rules = s.rules(&dst.id).await;
            share_ok = s.guest_owner_may(&dst, "rw").await;
            dirs.clear();
        }
    }
    if !save(s, &t).await? {
        return Ok(()); // canceled at the very end
    }
    t.status = TaskStatus::Succeeded;
    t.completion_time = Some(now());
    t.event("SUCCEEDED", "succeeded", "Task completed", false);
    save(s, &t).await?;
    Ok(())
}

/// The path of `parts` under `root`: its parent directory is resolved (and checked to
/// stay inside the root) once and cached; the last component is left to the caller.
pub(super) fn place(
    cache: &mut HashMap<(bool, Vec<String>), PathBuf>,
    is_dst: bool,
    root: &std::path::Path,
    parts: &[String],
) -> Option<PathBuf> {
    let Some((last, parent)) = parts.split_last() else { return root.canonicalize().ok() };
    let key = (is_dst, parent.to_vec());
    let dir = match cache.get(&key) {
        Some(d) => d.clone(),
        None => {
            // A destination's missing directories are made, as Globus does.
            let d = if is_dst {
                paths::ensure_dir(root, parent).ok()?
            } else {
                paths::resolve(root, &paths::display(parent, true), false).ok()?
            };
            cache.insert(key, d.clone());
            d
        }
    };
    Some(dir.join(last))
}

pub(super) fn walk(dir: &std::path::Path, sp: &[String], dp: &[String], out: &mut Vec<Planned>) -> anyhow::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name().to_string_lossy().into_owned();
        let meta = std::fs::symlink_metadata(e.path())?;
        let (mut s2, mut d2) = (sp.to_vec(), dp.to_vec());
        s2.push(name);
        d2.push(s2.last().unwrap().clone());
        if meta.file_type().is_symlink() {
            continue; // symbolic links are not followed
        }
        if meta.is_dir() {
            out.push(Planned { src: s2.clone(), dst: d2.clone(), dir: true, size: 0 });
            walk(&e.path(), &s2, &d2, out)?;
        } else if meta.is_file() {
            out.push(Planned { src: s2, dst: d2, dir: false, size: meta.len() });
        }
    }
    Ok(())
}

pub(super) fn sha_file(p: &std::path::Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(p)?;
    let mut h = Sha256::new();
    gantry_domain::chunks::each_chunk(&mut f, |b| h.update(b))?;
    Ok(hex::encode(h.finalize()))
}

pub(super) enum Copied {
    Done,
    /// Not copied: the destination is already in sync at the task's level.
    InSync,
    Canceled,
    SourceGone,
}

/// Opens a regular file without following a link in its last component.
pub(super) fn open_source(p: &std::path::Path) -> std::io::Result<Option<(std::fs::File, std::fs::Metadata)>> {
    use rustix::fs::{Mode, OFlags};
    match rustix::fs::open(p, OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC, Mode::empty()) {
        Ok(fd) => {
            let f = std::fs::File::from(fd);
            let m = f.metadata()?;
            Ok(m.is_file().then_some((f, m)))
        }
        Err(e) if [rustix::io::Errno::NOENT, rustix::io::Errno::LOOP, rustix::io::Errno::NOTDIR].contains(&e) => {
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

/// Copies one file (or skips it per sync_level); the destination appears under its name
/// only once complete (see [`Staged`]).
pub(super) fn copy_one(
    s: &Service,
    t: &mut Task,
    src: &std::path::Path,
    dst: &std::path::Path,
    last: bool,
) -> anyhow::Result<Copied> {
    let Some((mut r, sm)) = open_source(src)? else { return Ok(Copied::SourceGone) };
    if let (Some(level), Ok(dm)) = (t.sync_level, std::fs::metadata(dst)) {
        let skip = match level {
            0 => true,
            1 => dm.len() == sm.len(),
            2 => dm.len() == sm.len() && dm.modified()? >= sm.modified()?,
            _ => dm.len() == sm.len() && sha_file(src)? == sha_file(dst)?,
        };
        if skip {
            t.files_skipped += 1;
            return Ok(Copied::InSync);
        }
    }
    let mut w = Staged::create(dst, &t.task_id[..8])?;
    let mut h = t.verify_checksum.then(Sha256::new);
    let mut last_save = std::time::Instant::now();
    loop {
        // Without a checksum to compute, the kernel copies (copy_file_range) in big
        // pieces; with one, the bytes pass through the hasher.
        let n = match h.as_mut() {
            None => std::io::copy(&mut (&mut r).take(64 << 20), w.file())?,
            Some(h) => {
                let mut buf = vec![0u8; 1 << 20];
                let n = r.read(&mut buf)?;
                w.file().write_all(&buf[..n])?;
                h.update(&buf[..n]);
                n as u64
            }
        };
        if n == 0 {
            break;
        }
        t.bytes_transferred += n;
        if last_save.elapsed() >= SAVE_EVERY {
            // Within a file, progress is published in memory only: writing the task
            // document here would make the database sync the data being copied.
            last_save = std::time::Instant::now();
            let mut live = s.live.lock().unwrap();
            live.bytes.insert(t.task_id.clone(), t.bytes_transferred);
            if live.canceled.remove(&t.task_id) {
                return Ok(Copied::Canceled); // dropping `w` throws the partial file away
            }
        }
    }
    if let Some(h) = h {
        let want = hex::encode(h.finalize());
        t.bytes_checksummed += sm.len();
        let mut again = Sha256::new();
        w.read_back(|b| again.update(b))?;
        if hex::encode(again.finalize()) != want {
            anyhow::bail!("checksum mismatch after copying {}", src.display());
        }
    }
    if t.preserve_timestamp {
        w.file().set_modified(sm.modified()?)?;
    }
    {
        // A cancel and the publication of the last file never cross: the cancel comes
        // first (nothing is published) or finds the task complete.
        let mut live = s.live.lock().unwrap();
        if live.canceled.contains(&t.task_id) {
            return Ok(Copied::Canceled); // a canceled task publishes nothing more
        }
        w.publish()?;
        if last {
            live.finishing.insert(t.task_id.clone());
        }
    }
    t.files_transferred += 1;
    Ok(Copied::Done)
}
