//! A connector's local replica of one account (issue 14): folders, message summaries and flags
//! in one redb file, kept by the merge rules of docs/mapi-extension.md §10, with the states that
//! resume each sync. A batch and its state are committed in one transaction (§7.4), so whatever
//! stops the client, at most one window is transferred twice.
//!
//! The file's layout is this client's own (not the server's store format): versioned records,
//! `FORMAT` in [`META`].

use std::path::Path;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use super::mapi::{FolderInfo, Summary};
use crate::codec::{Cursor, put_bytes, put_opt_string, put_u32, put_u64};

const FORMAT: u64 = 1;

/// `"format"`, `"hstate"` (the hierarchy state), `"epoch"`: strings (the format as decimal).
const META: TableDefinition<&str, &str> = TableDefinition::new("meta");
/// MAILBOXID → [`Folder`].
const FOLDERS: TableDefinition<&str, &[u8]> = TableDefinition::new("folders");
/// (MAILBOXID, UID) → [`Message`].
const MESSAGES: TableDefinition<(&str, u32), &[u8]> = TableDefinition::new("messages");
/// (MAILBOXID, UID) → MODSEQ of its expunge (§10 rule 1), until a state at or above it.
const TOMBSTONES: TableDefinition<(&str, u32), u64> = TableDefinition::new("tombstones");

/// A folder of the replica.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Folder {
    pub info: FolderInfo,
    /// The last XSYNC state received for it (empty: never synced).
    pub state: String,
    /// The state said COMPLETE.
    pub complete: bool,
}

/// A message of the replica: what its summary said.
pub type Message = Summary;

#[derive(Debug)]
pub struct ReplicaError(pub String);

impl std::fmt::Display for ReplicaError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ReplicaError {}

fn err(e: impl std::fmt::Display) -> ReplicaError {
    ReplicaError(e.to_string())
}

type Result<T> = std::result::Result<T, ReplicaError>;

/// The replica of one account.
pub struct Replica {
    db: Database,
}

impl Replica {
    /// Opens (or creates) the replica file at `path`.
    pub fn open(path: &Path) -> Result<Replica> {
        let db = Database::create(path).map_err(err)?;
        let txn = db.begin_write().map_err(err)?;
        {
            let mut meta = txn.open_table(META).map_err(err)?;
            let format = meta.get("format").map_err(err)?.map(|v| v.value().to_string());
            match format.as_deref() {
                None => {
                    meta.insert("format", FORMAT.to_string().as_str()).map_err(err)?;
                }
                Some(f) if f == FORMAT.to_string() => {}
                Some(f) => {
                    return Err(ReplicaError(format!(
                        "{}: replica format {f} is not {FORMAT}",
                        path.display()
                    )));
                }
            }
            txn.open_table(FOLDERS).map_err(err)?;
            txn.open_table(MESSAGES).map_err(err)?;
            txn.open_table(TOMBSTONES).map_err(err)?;
        }
        txn.commit().map_err(err)?;
        Ok(Replica { db })
    }

    pub fn meta(&self, key: &str) -> Result<Option<String>> {
        let txn = self.db.begin_read().map_err(err)?;
        let t = txn.open_table(META).map_err(err)?;
        Ok(t.get(key).map_err(err)?.map(|v| v.value().to_string()))
    }

    pub fn set_meta(&self, key: &str, value: &str) -> Result<()> {
        let txn = self.db.begin_write().map_err(err)?;
        txn.open_table(META).map_err(err)?.insert(key, value).map_err(err)?;
        txn.commit().map_err(err)
    }

    /// Every folder, by MAILBOXID.
    pub fn folders(&self) -> Result<Vec<(String, Folder)>> {
        let txn = self.db.begin_read().map_err(err)?;
        let t = txn.open_table(FOLDERS).map_err(err)?;
        let mut out = Vec::new();
        for e in t.iter().map_err(err)? {
            let (k, v) = e.map_err(err)?;
            out.push((
                k.value().to_string(),
                decode_folder(v.value()).ok_or_else(|| err("damaged folder record"))?,
            ));
        }
        Ok(out)
    }

    /// One folder by MAILBOXID, `None` when the replica does not have it.
    pub fn folder(&self, id: &str) -> Result<Option<Folder>> {
        let txn = self.db.begin_read().map_err(err)?;
        let t = txn.open_table(FOLDERS).map_err(err)?;
        match t.get(id).map_err(err)? {
            Some(v) => Ok(Some(decode_folder(v.value()).ok_or_else(|| err("damaged folder record"))?)),
            None => Ok(None),
        }
    }

    /// A folder's messages, by UID.
    pub fn messages(&self, folder: &str) -> Result<Vec<(u32, Message)>> {
        let txn = self.db.begin_read().map_err(err)?;
        let t = txn.open_table(MESSAGES).map_err(err)?;
        let mut out = Vec::new();
        for e in t.range((folder, 0)..=(folder, u32::MAX)).map_err(err)? {
            let (k, v) = e.map_err(err)?;
            out.push((k.value().1, decode_message(v.value()).ok_or_else(|| err("damaged message record"))?));
        }
        Ok(out)
    }

    /// Applies a hierarchy answer: `full` drops every folder not in `listed`; `deleted` folders go
    /// with their messages; listed folders keep their sync state. Stores `hstate` with it.
    pub fn apply_hierarchy(
        &self,
        full: bool,
        listed: &[(String, FolderInfo)],
        deleted: &[String],
        hstate: &str,
    ) -> Result<()> {
        let txn = self.db.begin_write().map_err(err)?;
        {
            let mut folders = txn.open_table(FOLDERS).map_err(err)?;
            let mut gone: Vec<String> = deleted.to_vec();
            if full {
                for e in folders.iter().map_err(err)? {
                    let k = e.map_err(err)?.0.value().to_string();
                    if !listed.iter().any(|(id, _)| *id == k) {
                        gone.push(k);
                    }
                }
            }
            for (id, info) in listed {
                let old = folders.get(id.as_str()).map_err(err)?.and_then(|v| decode_folder(v.value()));
                let f = Folder { info: info.clone(), ..old.unwrap_or_default() };
                folders.insert(id.as_str(), encode_folder(&f).as_slice()).map_err(err)?;
            }
            let mut messages = txn.open_table(MESSAGES).map_err(err)?;
            let mut tombstones = txn.open_table(TOMBSTONES).map_err(err)?;
            for id in &gone {
                folders.remove(id.as_str()).map_err(err)?;
                messages.retain_in((id.as_str(), 0)..=(id.as_str(), u32::MAX), |_, _| false).map_err(err)?;
                tombstones
                    .retain_in((id.as_str(), 0)..=(id.as_str(), u32::MAX), |_, _| false)
                    .map_err(err)?;
            }
            txn.open_table(META).map_err(err)?.insert("hstate", hstate).map_err(err)?;
        }
        txn.commit().map_err(err)
    }

    /// Forgets a folder's messages and state (`NO [XRESTART]`: sync it again from `""`).
    pub fn restart_folder(&self, id: &str) -> Result<()> {
        let txn = self.db.begin_write().map_err(err)?;
        {
            let mut folders = txn.open_table(FOLDERS).map_err(err)?;
            let old = folders.get(id).map_err(err)?.and_then(|v| decode_folder(v.value()));
            if let Some(f) = old {
                let f = Folder { state: String::new(), complete: false, ..f };
                folders.insert(id, encode_folder(&f).as_slice()).map_err(err)?;
            }
            drop_messages(&txn, id)?;
        }
        txn.commit().map_err(err)
    }

    /// Applies one XSYNC batch and its state in one transaction (§7.4, §10): a message is taken
    /// when its MODSEQ is above what is held (or it is new and the summary full); an expunge
    /// when above, remembered as a tombstone until a state reaches its MODSEQ.
    pub fn apply_batch(&self, folder: &str, batch: &Batch) -> Result<()> {
        let txn = self.db.begin_write().map_err(err)?;
        {
            let mut messages = txn.open_table(MESSAGES).map_err(err)?;
            let mut tombstones = txn.open_table(TOMBSTONES).map_err(err)?;
            merge(folder, &mut messages, &mut tombstones, &batch.messages, &batch.vanished)?;
            tombstones.retain_in((folder, 0)..=(folder, u32::MAX), |_, m| m > batch.modseq).map_err(err)?;
            let mut folders = txn.open_table(FOLDERS).map_err(err)?;
            let old = folders.get(folder).map_err(err)?.and_then(|v| decode_folder(v.value()));
            let f =
                Folder { state: batch.state.clone(), complete: batch.complete, ..old.unwrap_or_default() };
            folders.insert(folder, encode_folder(&f).as_slice()).map_err(err)?;
        }
        txn.commit().map_err(err)
    }

    /// Applies backchannel events of one folder (§10: the same rules as a batch), leaving its
    /// sync state alone.
    pub fn apply_events(
        &self,
        folder: &str,
        messages: &[(u32, Summary)],
        vanished: &[(u64, u32)],
    ) -> Result<()> {
        let txn = self.db.begin_write().map_err(err)?;
        {
            let mut m = txn.open_table(MESSAGES).map_err(err)?;
            let mut t = txn.open_table(TOMBSTONES).map_err(err)?;
            merge(folder, &mut m, &mut t, messages, vanished)?;
        }
        txn.commit().map_err(err)
    }

    /// A folder created, changed or deleted (an `XFOLDER` event): its record, or, deleted, its
    /// record and messages gone; the hierarchy state stays (the next XHIERARCHY reconciles).
    pub fn update_folder(&self, id: &str, info: Option<&FolderInfo>) -> Result<()> {
        let txn = self.db.begin_write().map_err(err)?;
        {
            let mut folders = txn.open_table(FOLDERS).map_err(err)?;
            match info {
                Some(info) => {
                    let old = folders.get(id).map_err(err)?.and_then(|v| decode_folder(v.value()));
                    let f = Folder { info: info.clone(), ..old.unwrap_or_default() };
                    folders.insert(id, encode_folder(&f).as_slice()).map_err(err)?;
                }
                None => {
                    folders.remove(id).map_err(err)?;
                    drop_messages(&txn, id)?;
                }
            }
        }
        txn.commit().map_err(err)
    }

    /// Forgets everything (the account's history changed: another EPOCH, §4.1).
    pub fn clear(&self) -> Result<()> {
        let txn = self.db.begin_write().map_err(err)?;
        {
            txn.open_table(FOLDERS).map_err(err)?.retain(|_, _| false).map_err(err)?;
            txn.open_table(MESSAGES).map_err(err)?.retain(|_, _| false).map_err(err)?;
            txn.open_table(TOMBSTONES).map_err(err)?.retain(|_, _| false).map_err(err)?;
            let mut meta = txn.open_table(META).map_err(err)?;
            for k in ["hstate", "epoch", "applied"] {
                meta.remove(k).map_err(err)?;
            }
        }
        txn.commit().map_err(err)
    }
}

/// A folder's messages and tombstones, gone.
fn drop_messages(txn: &redb::WriteTransaction, id: &str) -> Result<()> {
    txn.open_table(MESSAGES).map_err(err)?.retain_in((id, 0)..=(id, u32::MAX), |_, _| false).map_err(err)?;
    txn.open_table(TOMBSTONES)
        .map_err(err)?
        .retain_in((id, 0)..=(id, u32::MAX), |_, _| false)
        .map_err(err)?;
    Ok(())
}

type Messages<'t> = redb::Table<'t, (&'static str, u32), &'static [u8]>;
type Tombstones<'t> = redb::Table<'t, (&'static str, u32), u64>;

/// §10 rule 1 for `incoming` and `vanished` of `folder`: the higher MODSEQ wins; an expunge
/// leaves a tombstone. A partial summary for a UID never held is rule 2's damage: an error, and
/// the caller syncs the folder again from "".
fn merge(
    folder: &str,
    messages: &mut Messages<'_>,
    tombstones: &mut Tombstones<'_>,
    incoming: &[(u32, Summary)],
    vanished: &[(u64, u32)],
) -> Result<()> {
    for (uid, s) in incoming {
        let held = messages.get((folder, *uid)).map_err(err)?.and_then(|v| decode_message(v.value()));
        let dead = tombstones.get((folder, *uid)).map_err(err)?.is_some_and(|m| m.value() >= s.modseq);
        if dead {
            continue;
        }
        let next = match held {
            Some(h) if h.modseq >= s.modseq => continue,
            // A change of a held message: its flags and MODSEQ, the rest kept.
            Some(h) if !s.full => Message { flags: s.flags.clone(), modseq: s.modseq, ..h },
            Some(_) => s.clone(),
            None if s.full => s.clone(),
            None => return Err(ReplicaError(format!("{folder}: a change of UID {uid}, never held"))),
        };
        messages.insert((folder, *uid), encode_message(&next).as_slice()).map_err(err)?;
    }
    for (modseq, uid) in vanished {
        let held = messages.get((folder, *uid)).map_err(err)?.and_then(|v| decode_message(v.value()));
        if held.is_some_and(|h| h.modseq >= *modseq) {
            continue;
        }
        messages.remove((folder, *uid)).map_err(err)?;
        tombstones.insert((folder, *uid), *modseq).map_err(err)?;
    }
    Ok(())
}

/// One XSYNC batch as the client received it, up to and including its XSTATE.
#[derive(Clone, Debug, Default)]
pub struct Batch {
    pub messages: Vec<(u32, Summary)>,
    /// (MODSEQ, UID) of each expunged UID.
    pub vanished: Vec<(u64, u32)>,
    pub state: String,
    pub modseq: u64,
    pub complete: bool,
}

fn put_list(out: &mut Vec<u8>, l: &[String]) {
    put_u32(out, u32::try_from(l.len()).unwrap_or(u32::MAX));
    for s in l {
        put_bytes(out, s.as_bytes());
    }
}

fn get_list(c: &mut Cursor<'_>) -> Option<Vec<String>> {
    let n = c.u32()?;
    (0..n).map(|_| c.string()).collect()
}

fn encode_folder(f: &Folder) -> Vec<u8> {
    let mut out = vec![1];
    put_list(&mut out, &f.info.attrs);
    put_opt_string(&mut out, f.info.delimiter.map(String::from).as_deref());
    put_bytes(&mut out, &f.info.name);
    put_u32(&mut out, u32::try_from(f.info.counts.len()).unwrap_or(u32::MAX));
    for (k, v) in &f.info.counts {
        put_bytes(&mut out, k.as_bytes());
        put_u64(&mut out, *v);
    }
    put_bytes(&mut out, f.state.as_bytes());
    out.push(u8::from(f.complete));
    out
}

fn decode_folder(b: &[u8]) -> Option<Folder> {
    let mut c = Cursor::new(b);
    if c.u8()? != 1 {
        return None;
    }
    let attrs = get_list(&mut c)?;
    let delimiter = c.opt_string()?.and_then(|d| d.chars().next());
    let name = c.bytes()?.to_vec();
    let n = c.u32()?;
    let counts = (0..n).map(|_| Some((c.string()?, c.u64()?))).collect::<Option<_>>()?;
    let state = c.string()?;
    let complete = c.u8()? == 1;
    Some(Folder { info: FolderInfo { attrs, delimiter, name, counts }, state, complete })
}

fn encode_message(m: &Message) -> Vec<u8> {
    let mut out = vec![1];
    put_list(&mut out, &m.flags);
    put_u64(&mut out, m.modseq);
    put_opt_string(&mut out, m.internal_date.as_deref());
    put_u64(&mut out, m.size.unwrap_or(u64::MAX));
    put_opt_string(&mut out, m.email_id.as_deref());
    put_opt_string(&mut out, m.thread_id.as_deref());
    for a in [&m.from, &m.to] {
        match a {
            Some((name, addr)) => {
                out.push(1);
                put_opt_string(&mut out, name.as_deref());
                put_bytes(&mut out, addr.as_bytes());
            }
            None => out.push(0),
        }
    }
    put_opt_string(&mut out, m.subject.as_deref());
    out.push(match m.attachment {
        None => 2,
        Some(a) => u8::from(a),
    });
    out
}

fn decode_message(b: &[u8]) -> Option<Message> {
    let mut c = Cursor::new(b);
    if c.u8()? != 1 {
        return None;
    }
    let flags = get_list(&mut c)?;
    let modseq = c.u64()?;
    let internal_date = c.opt_string()?;
    let size = Some(c.u64()?).filter(|s| *s != u64::MAX);
    let email_id = c.opt_string()?;
    let thread_id = c.opt_string()?;
    let mut addr = || -> Option<Option<(Option<String>, String)>> {
        match c.u8()? {
            0 => Some(None),
            1 => {
                let name = c.opt_string()?;
                Some(Some((name, c.string()?)))
            }
            _ => None,
        }
    };
    let from = addr()?;
    let to = addr()?;
    let subject = c.opt_string()?;
    let attachment = match c.u8()? {
        0 => Some(false),
        1 => Some(true),
        _ => None,
    };
    Some(Message {
        flags,
        modseq,
        internal_date,
        size,
        email_id,
        thread_id,
        from,
        to,
        subject,
        attachment,
        full: true,
    })
}
