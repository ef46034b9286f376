//! SELECT and EXAMINE (RFC 9051 §6.3.2, §6.3.3; RFC 3501 §6.3.1), with CONDSTORE (RFC 7162 §3.1.8)
//! and QRESYNC (RFC 7162 §3.2.5): a resync costs in proportion to the changes, not the mailbox.

use crate::imap::enabled::Extension;
use std::collections::BTreeSet;

use crate::imap::outcome::{Code, Done, Error, Outcome};
use crate::imap::recent::Recent;
use crate::imap::selected::Selected;
use crate::imap::seqmap::SeqMap;
use crate::imap::session::{Session, State};
use crate::imap::shared::wire_name;
use crate::proto::command::{MailboxName, SelectParams};

/// The most message records SELECT reads to find the first unseen message: a few milliseconds.
const UNSEEN_BUDGET: usize = 20_000;

pub async fn run(
    s: &mut Session,
    mailbox: &MailboxName,
    params: &SelectParams,
    examine: bool,
    out: &mut Vec<u8>,
) -> Outcome {
    if params.qresync.is_some() && !s.enabled.qresync() {
        // RFC 7162 §3.2.5: the client must ENABLE QRESYNC first.
        return Err(Error::Bad("ENABLE QRESYNC first".into()));
    }
    if s.selected.take().is_some() {
        // RFC 7162 §3.2.11, RFC 9051 §6.3.2: the previous mailbox is closed.
        Code::Closed.untagged_ok(out, "previous mailbox closed");
        s.state = State::Authenticated;
    }
    if mailbox.is_not_modified_utf7() {
        // RFC 3501 §5.1.3: no mailbox has a name that is not valid modified UTF-7.
        return Err(Error::not_modified_utf7(false));
    }
    if params.condstore {
        s.enabled.enable(Extension::Condstore);
    }
    let account = s.account_id()?;
    let name = mailbox.as_str().to_string();
    let id = s.read(move |r| r.mailbox_id(account, &name)).await?;
    // A read-write select takes the messages nobody took yet as \Recent (RFC 3501 §2.3.2; see
    // `imap::recent`); EXAMINE sees them without taking them. Only a write (and its fsync) when
    // messages arrived that no session took.
    let claims = s.ctx.recent.clone();
    let for_read = claims.clone();
    let pending =
        s.read(move |r| r.mailbox(id).map(|m| for_read.first(id, m.first_recent_uid) < m.uidnext)).await?;
    let first_recent = match (examine, pending) {
        (true, _) => None,
        (false, true) => match s.ctx.store.write(move |t| t.claim_recent(id)).await {
            Ok(first) => Some(first),
            // A full or failing disk takes writes away, not reads: the mailbox opens, with no
            // message \Recent (claiming them without recording the claim would show them as
            // \Recent to the next session too, against RFC 3501 §2.3.2).
            Err(e) if e.is_temporary() => {
                log::warn!("SELECT: \\Recent not claimed: {e}");
                Some(u32::MAX)
            }
            Err(e) => return Err(e.into()),
        },
        (false, false) => Some(u32::MAX),
    };
    let rev1 = !s.enabled.rev2();
    let (rec, uids, first_unseen) = s
        .read(move |r| {
            // A few runs, however large the mailbox (format 2's UID_RUNS): SELECT stays flat.
            let map = SeqMap::from_runs(r.uid_runs(id)?);
            let rec = r.mailbox(id)?;
            // RFC 3501 §6.3.1 (IMAP4rev1; RFC 9051 dropped it): `OK [UNSEEN n]`, the first
            // unseen message. Found within a bounded read (see `first_unseen`); past the
            // bound it is left out, which §6.3.1 lets a client cope with by a SEARCH UNSEEN.
            let first_unseen = if rev1 { r.first_unseen(id, rec.unseen, UNSEEN_BUDGET)? } else { None };
            Ok((rec, map, first_unseen))
        })
        .await?;
    let recent = if s.enabled.rev2() {
        // IMAP4rev2 has no \Recent (RFC 9051 Appendix E).
        Recent::default()
    } else if examine {
        Recent::range(claims.first(id, rec.first_recent_uid), rec.uidnext)
    } else {
        match first_recent {
            Some(u32::MAX) | None => Recent::default(),
            // What the store's record gave this SELECT, less what sessions took since.
            Some(stored) => Recent::range(claims.claim(id, stored, rec.uidnext), rec.uidnext),
        }
    };
    let recent_count = recent.count(&uids);
    // The system flags; keywords are announced as responses first show them (RFC 9051 §7.3.5).
    let mut keywords = crate::imap::response::Keywords::default();
    keywords.write_flags(out);
    keywords.write_permanent(out, examine);
    out.extend_from_slice(format!("* {} EXISTS\r\n", uids.len()).as_bytes());
    if !s.enabled.rev2() {
        out.extend_from_slice(format!("* {recent_count} RECENT\r\n").as_bytes());
    }
    if let Some(seq) = first_unseen.and_then(|u| uids.seq_of(u)) {
        Code::Unseen(seq).untagged_ok(out, "first unseen");
    }
    Code::UidValidity(rec.uidvalidity).untagged_ok(out, "UIDs valid");
    Code::UidNext(rec.uidnext).untagged_ok(out, "predicted next UID");
    // RFC 7162 §3.1.2.1: HIGHESTMODSEQ once CONDSTORE is enabled. Not NOMODSEQ otherwise: that
    // code (§3.1.2.2) says the mailbox keeps no mod-sequences, which every mailbox here does.
    if s.enabled.condstore() {
        Code::HighestModseq(rec.highest_modseq).untagged_ok(out, "highest");
    }
    if s.enabled.rev2() {
        out.extend_from_slice(b"* LIST () \"/\" ");
        out.extend_from_slice(&wire_name(&rec.name, s.enabled.utf8()));
        out.extend_from_slice(b"\r\n");
    }
    // RFC 7162 §3.2.5.1: with a matching UIDVALIDITY, report what vanished and what changed
    // since the client's MODSEQ, from the tombstones and the MODSEQ index only.
    if let Some(q) = params.qresync.as_ref().filter(|q| q.uid_validity.get() == rec.uidvalidity) {
        let since = q.mod_seq.get();
        let known = q.known_uids.clone();
        let in_known = move |u: u32| known.as_ref().is_none_or(|k| k.contains(u));
        let (vanished, changed) = s
            .read(move |r| {
                let vanished: Vec<u32> =
                    r.vanished_since(id, since)?.into_iter().filter(|u| in_known(*u)).collect();
                let mut changed = Vec::new();
                for (u, _) in r.changed_since(id, since)? {
                    if let Some(m) = r.message(id, u)? {
                        changed.push((u, m));
                    }
                }
                changed.sort_by_key(|(u, _)| *u);
                Ok((vanished, changed))
            })
            .await?;
        crate::imap::response::vanished(out, &vanished, true);
        for (u, m) in changed {
            let Some(seq) = uids.seq_of(u) else { continue };
            keywords.announce(&m.keywords, examine, out);
            out.extend_from_slice(format!("* {seq} FETCH (UID {u} FLAGS ").as_bytes());
            crate::imap::response::flags(out, m.flags, &m.keywords, recent.contains(u));
            out.extend_from_slice(format!(" MODSEQ ({}))\r\n", m.modseq).as_bytes());
        }
    }
    s.selected = Some(Selected {
        mailbox: id,
        name: rec.name,
        uidvalidity: rec.uidvalidity,
        read_only: examine,
        uids,
        modseq: rec.highest_modseq,
        recent,
        pending_expunge: BTreeSet::new(),
        own_modseqs: BTreeSet::new(),
        contexts: Vec::new(),
        keywords,
        claims: (!s.enabled.rev2()).then_some(claims),
    });
    s.state = State::Selected;
    let verb = if examine { "EXAMINE" } else { "SELECT" };
    Ok(Done::with_code(if examine { Code::ReadOnly } else { Code::ReadWrite }, format!("{verb} completed")))
}
