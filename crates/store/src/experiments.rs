//! The facility's experiments: which Gantry user is which facility user, experiments and
//! sessions as the user office last gave them (or as imported), members by facility
//! username, favourites, and each facility user's last sync.

use crate::{Store, db_err, get};
use gantry_domain::{Error, Result, time::now_unix};
use sqlx::any::AnyRow;

/// An experiment (a proposal) as synced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExperimentRow {
    pub proposal_id: String,
    pub subject: String,
    pub body: String,
    pub beam_line: String,
    pub uid: Option<i64>,
    pub gid: Option<i64>,
    pub synced_at: i64,
}

/// A beamtime session of an experiment; `data_set_path` is a JSON object of volumes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExperimentSessionRow {
    pub session_number: i64,
    pub subject: String,
    pub body: String,
    pub start_date: String,
    pub end_date: String,
    pub data_set_path: String,
}

/// An experiment with its sessions, as written by a sync or an import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExperimentRecord {
    pub experiment: ExperimentRow,
    pub sessions: Vec<ExperimentSessionRow>,
}

/// How a facility user's last sync went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncRow {
    pub attempted_at: i64,
    pub synced_at: Option<i64>,
    pub error: Option<String>,
}

/// Which experiments a listing shows.
#[derive(Debug, Clone, Default)]
pub struct ExperimentQuery<'a> {
    /// The facility user whose experiments these are; None: every experiment (admins).
    pub member: Option<&'a str>,
    /// The Gantry user, for favourites.
    pub user_id: i64,
    /// Lower-case text in the id, subject, body or beam line.
    pub search: &'a str,
    pub favorites_only: bool,
    /// `proposal_id`, `subject`, `beam_line` or `synced_at`, `-` first for descending.
    pub ordering: &'a str,
    pub offset: i64,
    pub limit: i64,
}

const EXP_COLS: &str = "e.proposal_id, e.subject, e.body, e.beam_line, e.uid, e.gid, e.synced_at";
const SESSION_COLS: &str = "session_number, subject, body, start_date, end_date, data_set_path";

impl ExperimentRow {
    fn from_row(r: &AnyRow) -> Result<ExperimentRow> {
        Ok(ExperimentRow {
            proposal_id: get(r, "proposal_id")?,
            subject: get(r, "subject")?,
            body: get(r, "body")?,
            beam_line: get(r, "beam_line")?,
            uid: get(r, "uid")?,
            gid: get(r, "gid")?,
            synced_at: get(r, "synced_at")?,
        })
    }
}

impl ExperimentSessionRow {
    fn from_row(r: &AnyRow) -> Result<ExperimentSessionRow> {
        Ok(ExperimentSessionRow {
            session_number: get(r, "session_number")?,
            subject: get(r, "subject")?,
            body: get(r, "body")?,
            start_date: get(r, "start_date")?,
            end_date: get(r, "end_date")?,
            data_set_path: get(r, "data_set_path")?,
        })
    }
}

/// The ORDER BY of a listing (only these columns, never text from the request).
fn order_of(ordering: &str) -> Result<&'static str> {
    Ok(match ordering {
        "" | "proposal_id" => "e.proposal_id",
        "-proposal_id" => "e.proposal_id DESC",
        "subject" => "e.subject, e.proposal_id",
        "-subject" => "e.subject DESC, e.proposal_id",
        "beam_line" => "e.beam_line, e.proposal_id",
        "-beam_line" => "e.beam_line DESC, e.proposal_id",
        "synced_at" => "e.synced_at, e.proposal_id",
        "-synced_at" => "e.synced_at DESC, e.proposal_id",
        o => {
            return Err(Error::invalid(format!(
                "unknown ordering {o:?}: use proposal_id, subject, beam_line or synced_at, with - for descending"
            )));
        }
    })
}

impl Store {
    // ---------- facility accounts ----------

    /// Binds a Gantry user to a facility username (replacing its previous one). A
    /// facility username already bound to another Gantry user is a conflict.
    pub async fn bind_facility_account(&self, user_id: i64, username: &str, via: &str) -> Result<()> {
        let other = sqlx::query("SELECT user_id FROM facility_accounts WHERE username = $1")
            .bind(username)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        if let Some(r) = other
            && get::<i64>(&r, "user_id")? != user_id
        {
            return Err(Error::conflict(format!(
                "the facility account {username:?} is linked to another Gantry user already"
            )));
        }
        sqlx::query(
            "INSERT INTO facility_accounts (user_id, username, via, bound_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (user_id) DO UPDATE SET username = excluded.username, via = excluded.via, \
             bound_at = excluded.bound_at",
        )
        .bind(user_id)
        .bind(username)
        .bind(via)
        .bind(now_unix())
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    /// The facility username of a Gantry user.
    pub async fn facility_account(&self, user_id: i64) -> Result<Option<String>> {
        let r = sqlx::query("SELECT username FROM facility_accounts WHERE user_id = $1")
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        r.map(|r| get(&r, "username")).transpose()
    }

    /// The Gantry user bound to a facility username.
    pub async fn user_of_facility_account(&self, username: &str) -> Result<Option<i64>> {
        let r = sqlx::query("SELECT user_id FROM facility_accounts WHERE username = $1")
            .bind(username)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        r.map(|r| get(&r, "user_id")).transpose()
    }

    /// Every bound facility username, for the periodic sync.
    pub async fn facility_usernames(&self) -> Result<Vec<String>> {
        let rows = sqlx::query("SELECT username FROM facility_accounts ORDER BY username")
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        rows.iter().map(|r| get(r, "username")).collect()
    }

    // ---------- writing experiments ----------

    /// Writes what the user office says of `username`'s experiments, in one transaction:
    /// the experiments and their sessions are upserted, and `username`'s office
    /// memberships become exactly these (imported memberships stay). Records the sync.
    pub async fn apply_office_sync(&self, username: &str, found: &[ExperimentRecord]) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        // A write first: SQLite then holds the write lock for the whole transaction
        // (a read that later writes could fail at once against another writer).
        let now = now_unix();
        sqlx::query(
            "INSERT INTO experiment_syncs (username, attempted_at, synced_at, error) VALUES ($1, $2, $2, NULL) \
             ON CONFLICT (username) DO UPDATE SET attempted_at = excluded.attempted_at, \
             synced_at = excluded.synced_at, error = NULL",
        )
        .bind(username)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        // What the user's experiments are now: those the office gives again unchanged are
        // not written again (a sync every few minutes mostly finds nothing new).
        let before = known_records(&mut tx, username).await?;
        let mut unchanged = vec![];
        for rec in found {
            let id = rec.experiment.proposal_id.as_str();
            if before.get(id).is_some_and(|b| same_record(b, rec)) {
                unchanged.push(id);
            } else {
                upsert_experiment(&mut tx, rec).await?;
            }
        }
        let synced_at = found.first().map_or(now, |r| r.experiment.synced_at);
        for chunk in unchanged.chunks(500) {
            let marks: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 2)).collect();
            let q = format!("UPDATE experiments SET synced_at = $1 WHERE proposal_id IN ({})", marks.join(", "));
            let mut q = sqlx::query(sqlx::AssertSqlSafe(q)).bind(synced_at);
            for id in chunk {
                q = q.bind(*id);
            }
            q.execute(&mut *tx).await.map_err(db_err)?;
        }
        let ids: std::collections::HashSet<&str> = found.iter().map(|r| r.experiment.proposal_id.as_str()).collect();
        let held = sqlx::query("SELECT proposal_id, source FROM experiment_members WHERE username = $1")
            .bind(username)
            .fetch_all(&mut *tx)
            .await
            .map_err(db_err)?;
        let mut member_of = std::collections::HashSet::new();
        for r in &held {
            let id: String = get(r, "proposal_id")?;
            let source: String = get(r, "source")?;
            if source == "office" && !ids.contains(id.as_str()) {
                sqlx::query(
                    "DELETE FROM experiment_members WHERE proposal_id = $1 AND username = $2 AND source = 'office'",
                )
                .bind(&id)
                .bind(username)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
            } else {
                member_of.insert(id);
            }
        }
        for id in ids.into_iter().filter(|id| !member_of.contains(*id)) {
            add_member(&mut tx, id, username, "office").await?;
        }
        tx.commit().await.map_err(db_err)
    }

    /// A sync that failed: said, and nothing synced before is touched.
    pub async fn record_sync_failure(&self, username: &str, error: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO experiment_syncs (username, attempted_at, synced_at, error) VALUES ($1, $2, NULL, $3) \
             ON CONFLICT (username) DO UPDATE SET attempted_at = excluded.attempted_at, error = excluded.error",
        )
        .bind(username)
        .bind(now_unix())
        .bind(error)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    pub async fn sync_state(&self, username: &str) -> Result<Option<SyncRow>> {
        let r = sqlx::query("SELECT attempted_at, synced_at, error FROM experiment_syncs WHERE username = $1")
            .bind(username)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        r.map(|r| {
            Ok(SyncRow {
                attempted_at: get(&r, "attempted_at")?,
                synced_at: get(&r, "synced_at")?,
                error: get(&r, "error")?,
            })
        })
        .transpose()
    }

    /// Experiments and members from an operator's import (`source = 'import'`), kept
    /// until imported again; in one transaction.
    pub async fn import_experiments(&self, found: &[(ExperimentRecord, Vec<String>)]) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        for (rec, members) in found {
            upsert_experiment(&mut tx, rec).await?;
            for m in members {
                add_member(&mut tx, &rec.experiment.proposal_id, m, "import").await?;
            }
        }
        tx.commit().await.map_err(db_err)
    }

    // ---------- reading ----------

    /// A page of experiments and how many there are in all; each with whether the user
    /// marked it a favourite.
    pub async fn list_experiments(&self, q: &ExperimentQuery<'_>) -> Result<(Vec<(ExperimentRow, bool)>, i64)> {
        let order = order_of(q.ordering)?;
        let pattern = format!("%{}%", q.search.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
        let cond = "($2 IS NULL OR EXISTS (SELECT 1 FROM experiment_members m WHERE m.proposal_id = e.proposal_id \
                      AND m.username = $2)) \
                    AND ($3 = 0 OR f.user_id IS NOT NULL) \
                    AND (LOWER(e.proposal_id) LIKE $4 ESCAPE '\\' OR LOWER(e.subject) LIKE $4 ESCAPE '\\' \
                      OR LOWER(e.body) LIKE $4 ESCAPE '\\' OR LOWER(e.beam_line) LIKE $4 ESCAPE '\\')";
        let from =
            "FROM experiments e LEFT JOIN experiment_favorites f ON f.proposal_id = e.proposal_id AND f.user_id = $1";
        let rows = sqlx::query(sql!(
            "SELECT {EXP_COLS}, f.user_id AS fav {from} WHERE {cond} ORDER BY {order} LIMIT $5 OFFSET $6"
        ))
        .bind(q.user_id)
        .bind(q.member)
        .bind(q.favorites_only as i64)
        .bind(&pattern)
        .bind(q.limit)
        .bind(q.offset)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        let count = sqlx::query(sql!("SELECT COUNT(*) AS n {from} WHERE {cond}"))
            .bind(q.user_id)
            .bind(q.member)
            .bind(q.favorites_only as i64)
            .bind(&pattern)
            .fetch_one(&self.pool)
            .await
            .map_err(db_err)?;
        let list = rows
            .iter()
            .map(|r| Ok((ExperimentRow::from_row(r)?, get::<Option<i64>>(r, "fav")?.is_some())))
            .collect::<Result<Vec<_>>>()?;
        Ok((list, get(&count, "n")?))
    }

    pub async fn experiment(&self, proposal_id: &str) -> Result<Option<ExperimentRow>> {
        let r = sqlx::query(sql!("SELECT {EXP_COLS} FROM experiments e WHERE e.proposal_id = $1"))
            .bind(proposal_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        r.as_ref().map(ExperimentRow::from_row).transpose()
    }

    pub async fn experiment_sessions(&self, proposal_id: &str) -> Result<Vec<ExperimentSessionRow>> {
        let rows = sqlx::query(sql!(
            "SELECT {SESSION_COLS} FROM experiment_sessions WHERE proposal_id = $1 ORDER BY session_number"
        ))
        .bind(proposal_id)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter().map(ExperimentSessionRow::from_row).collect()
    }

    pub async fn is_experiment_member(&self, proposal_id: &str, username: &str) -> Result<bool> {
        let r = sqlx::query("SELECT 1 AS one FROM experiment_members WHERE proposal_id = $1 AND username = $2")
            .bind(proposal_id)
            .bind(username)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(r.is_some())
    }

    pub async fn experiment_members(&self, proposal_id: &str) -> Result<Vec<(String, String)>> {
        let rows =
            sqlx::query("SELECT username, source FROM experiment_members WHERE proposal_id = $1 ORDER BY username")
                .bind(proposal_id)
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)?;
        rows.iter().map(|r| Ok((get(r, "username")?, get(r, "source")?))).collect()
    }

    pub async fn is_favorite(&self, user_id: i64, proposal_id: &str) -> Result<bool> {
        let r = sqlx::query("SELECT 1 AS one FROM experiment_favorites WHERE user_id = $1 AND proposal_id = $2")
            .bind(user_id)
            .bind(proposal_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(r.is_some())
    }

    pub async fn set_favorite(&self, user_id: i64, proposal_id: &str, on: bool) -> Result<()> {
        let q = if on {
            "INSERT INTO experiment_favorites (user_id, proposal_id) VALUES ($1, $2) ON CONFLICT DO NOTHING"
        } else {
            "DELETE FROM experiment_favorites WHERE user_id = $1 AND proposal_id = $2"
        };
        sqlx::query(q).bind(user_id).bind(proposal_id).execute(&self.pool).await.map_err(db_err)?;
        Ok(())
    }
}

/// The experiments `username` is a member of, with their sessions (by session number).
async fn known_records(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    username: &str,
) -> Result<std::collections::HashMap<String, ExperimentRecord>> {
    let rows = sqlx::query(sql!(
        "SELECT {EXP_COLS} FROM experiments e JOIN experiment_members m ON m.proposal_id = e.proposal_id \
         WHERE m.username = $1"
    ))
    .bind(username)
    .fetch_all(&mut **tx)
    .await
    .map_err(db_err)?;
    let mut out = std::collections::HashMap::new();
    for r in &rows {
        let e = ExperimentRow::from_row(r)?;
        out.insert(e.proposal_id.clone(), ExperimentRecord { experiment: e, sessions: vec![] });
    }
    let rows = sqlx::query(
        "SELECT s.proposal_id, s.session_number, s.subject, s.body, s.start_date, s.end_date, s.data_set_path \
         FROM experiment_sessions s JOIN experiment_members m ON m.proposal_id = s.proposal_id \
         WHERE m.username = $1 ORDER BY s.proposal_id, s.session_number",
    )
    .bind(username)
    .fetch_all(&mut **tx)
    .await
    .map_err(db_err)?;
    for r in &rows {
        let id: String = get(r, "proposal_id")?;
        if let Some(rec) = out.get_mut(&id) {
            rec.sessions.push(ExperimentSessionRow::from_row(r)?);
        }
    }
    Ok(out)
}

/// Whether `new` says what `old` does (when it was synced aside).
fn same_record(old: &ExperimentRecord, new: &ExperimentRecord) -> bool {
    let (a, b) = (&old.experiment, &new.experiment);
    let same =
        a.subject == b.subject && a.body == b.body && a.beam_line == b.beam_line && a.uid == b.uid && a.gid == b.gid;
    let mut sessions = new.sessions.clone();
    sessions.sort_by_key(|s| s.session_number);
    same && old.sessions == sessions
}

async fn upsert_experiment(tx: &mut sqlx::Transaction<'_, sqlx::Any>, rec: &ExperimentRecord) -> Result<()> {
    let e = &rec.experiment;
    sqlx::query(
        "INSERT INTO experiments (proposal_id, subject, body, beam_line, uid, gid, synced_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (proposal_id) DO UPDATE SET subject = excluded.subject, \
         body = excluded.body, beam_line = excluded.beam_line, uid = excluded.uid, gid = excluded.gid, \
         synced_at = excluded.synced_at",
    )
    .bind(&e.proposal_id)
    .bind(&e.subject)
    .bind(&e.body)
    .bind(&e.beam_line)
    .bind(e.uid)
    .bind(e.gid)
    .bind(e.synced_at)
    .execute(&mut **tx)
    .await
    .map_err(db_err)?;
    sqlx::query("DELETE FROM experiment_sessions WHERE proposal_id = $1")
        .bind(&e.proposal_id)
        .execute(&mut **tx)
        .await
        .map_err(db_err)?;
    for s in &rec.sessions {
        sqlx::query(sql!(
            "INSERT INTO experiment_sessions (proposal_id, {SESSION_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
        ))
        .bind(&e.proposal_id)
        .bind(s.session_number)
        .bind(&s.subject)
        .bind(&s.body)
        .bind(&s.start_date)
        .bind(&s.end_date)
        .bind(&s.data_set_path)
        .execute(&mut **tx)
        .await
        .map_err(db_err)?;
    }
    Ok(())
}

async fn add_member(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    proposal_id: &str,
    username: &str,
    source: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO experiment_members (proposal_id, username, source) VALUES ($1, $2, $3) \
         ON CONFLICT (proposal_id, username) DO NOTHING",
    )
    .bind(proposal_id)
    .bind(username)
    .bind(source)
    .execute(&mut **tx)
    .await
    .map_err(db_err)?;
    Ok(())
}
