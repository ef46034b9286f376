//! LIST (RFC 9051 §6.3.9) with LIST-EXTENDED (RFC 5258), SPECIAL-USE (RFC 6154), LIST-STATUS
//! (RFC 5819) and CHILDREN; LSUB (RFC 3501 §6.3.9).

use std::collections::{BTreeMap, BTreeSet};

use crate::imap::list_match::{Pattern, join};
use crate::imap::mailbox_status::{recent_count, write_status};
use crate::imap::outcome::{Code, Done, Error, Outcome};
use crate::imap::session::Session;
use crate::imap::shared::wire_name;
use crate::proto::command::{ListReturn, ListSelect, StatusAttribute};
use crate::store::{HIERARCHY_DELIMITER, MailboxRecord, SpecialUse};

/// RFC 9051 §7.1 `LIMIT`: the reference and patterns together may hold at most
/// `limits.max_list_pattern_length` bytes.
fn check_patterns(s: &Session, reference: &str, patterns: &[String]) -> Result<(), Error> {
    let max = s.ctx.config.limits.max_list_pattern_length;
    let len = reference.len() + patterns.iter().map(String::len).sum::<usize>();
    if len > max {
        return Err(Error::No(
            Some(Code::Limit),
            format!("LIST patterns are limited to {max} bytes; these have {len}"),
        ));
    }
    Ok(())
}

pub async fn list(
    s: &mut Session,
    select: &[ListSelect],
    reference: &str,
    patterns: &[String],
    returns: &[ListReturn],
    out: &mut Vec<u8>,
) -> Outcome {
    // RFC 9051 §6.3.9: an empty pattern asks for the delimiter and the root.
    if patterns.len() == 1 && patterns[0].is_empty() {
        out.extend_from_slice(b"* LIST (\\Noselect) \"/\" \"\"\r\n");
        return Ok(Done::text("LIST completed"));
    }
    check_patterns(s, reference, patterns)?;
    let account = s.account_id()?;
    let want_status: Option<Vec<StatusAttribute>> = returns.iter().find_map(|r| match r {
        ListReturn::Status(a) => Some(a.to_vec()),
        _ => None,
    });
    let only_subscribed = select.contains(&ListSelect::Subscribed);
    let only_special = select.contains(&ListSelect::SpecialUse);
    let recursive = select.contains(&ListSelect::RecursiveMatch);
    let show_subscribed = only_subscribed || returns.contains(&ListReturn::Subscribed);
    let full: Vec<Pattern> = patterns
        .iter()
        .map(|p| Pattern::new(&join(reference, p, HIERARCHY_DELIMITER), HIERARCHY_DELIMITER))
        .collect();
    let recent_needed = want_status.as_ref().is_some_and(|a| a.contains(&StatusAttribute::Recent));
    let utf8 = s.enabled.utf8();
    let claims = s.ctx.recent.clone();
    // Matching many names against long patterns is CPU work: it runs with the read, on the
    // store's threads, never on the executor that serves every other connection (issue 10).
    let lines = s
        .read(move |r| {
            let mut boxes: Vec<(u64, MailboxRecord, u32)> = Vec::new();
            for (id, rec) in r.mailboxes(account)? {
                boxes.push((id, rec, 0));
            }
            let mut out = Vec::new();
            // Names that exist, and intermediate levels that do not (listed as \NonExistent).
            let mut entries: BTreeMap<String, Option<usize>> = BTreeMap::new();
            for (i, (_, rec, _)) in boxes.iter().enumerate() {
                let mut prefix = String::new();
                for level in rec.name.split(HIERARCHY_DELIMITER) {
                    if !prefix.is_empty() {
                        prefix.push(HIERARCHY_DELIMITER);
                    }
                    prefix.push_str(level);
                    entries.entry(prefix.clone()).or_insert(None);
                }
                entries.insert(rec.name.clone(), Some(i));
            }
            let has_children = |name: &str| {
                let p = format!("{name}{HIERARCHY_DELIMITER}");
                entries.range(p.clone()..).next().is_some_and(|(k, _)| k.starts_with(&p))
            };
            // Subscriptions are kept by name and may outlive their mailboxes (RFC 9051 §6.3.7).
            let subscribed: BTreeSet<String> = r.subscriptions(account)?.into_iter().collect();
            let has_subscribed_child = |name: &str| {
                let p = format!("{name}{HIERARCHY_DELIMITER}");
                subscribed.range(p.clone()..).next().is_some_and(|k| k.starts_with(&p))
            };
            // What may be listed: the hierarchy, and with SUBSCRIBED also the subscribed names
            // whose mailboxes are gone (RFC 5258 §3.1: "\NonExistent" with "\Subscribed").
            let mut candidates: BTreeMap<&str, Option<usize>> =
                entries.iter().map(|(k, v)| (k.as_str(), *v)).collect();
            if only_subscribed {
                for name in &subscribed {
                    candidates.entry(name.as_str()).or_insert(None);
                }
            }
            for (name, idx) in candidates {
                if !full.iter().any(|p| p.matches(name)) {
                    continue;
                }
                let rec = idx.map(|i| &boxes[i]);
                let is_subscribed = subscribed.contains(name);
                // RFC 5258 §3 RECURSIVEMATCH with SUBSCRIBED: a mailbox (existing or not) with a
                // subscribed mailbox below it is returned with CHILDINFO ("SUBSCRIBED"), without
                // being listed as subscribed itself unless it is.
                let childinfo = recursive && only_subscribed && has_subscribed_child(name);
                if only_subscribed && !is_subscribed && !childinfo {
                    continue;
                }
                if only_special && rec.is_none_or(|(_, r, _)| r.special_use == SpecialUse::None) {
                    continue;
                }
                // RFC 6154 §2: the special use as an attribute, `\\` and its name.
                let use_attr = rec.and_then(|(_, r, _)| r.special_use.name()).map(|n| format!("\\{n}"));
                let mut attrs: Vec<&str> = Vec::new();
                if rec.is_none() {
                    attrs.push("\\NonExistent");
                }
                if show_subscribed && is_subscribed {
                    attrs.push("\\Subscribed");
                }
                if let Some(a) = &use_attr {
                    attrs.push(a);
                }
                attrs.push(if has_children(name) { "\\HasChildren" } else { "\\HasNoChildren" });
                out.extend_from_slice(format!("* LIST ({}) \"/\" ", attrs.join(" ")).as_bytes());
                out.extend_from_slice(&wire_name(name, utf8));
                if childinfo {
                    out.extend_from_slice(b" (\"CHILDINFO\" (\"SUBSCRIBED\"))");
                }
                out.extend_from_slice(b"\r\n");
                if let (Some(st), Some((id, rec, _))) = (&want_status, rec) {
                    // Only for the mailboxes listed: \Recent costs a read per mailbox.
                    let recent = if recent_needed { recent_count(r, *id, rec, &claims)? } else { 0 };
                    write_status(&mut out, rec, *id, st, utf8, recent);
                }
            }
            Ok(out)
        })
        .await?;
    out.extend_from_slice(&lines);
    Ok(Done::text("LIST completed"))
}

pub async fn lsub(s: &mut Session, reference: &str, pattern: &str, out: &mut Vec<u8>) -> Outcome {
    check_patterns(s, reference, std::slice::from_ref(&pattern.to_string()))?;
    let account = s.account_id()?;
    let full = Pattern::new(&join(reference, pattern, HIERARCHY_DELIMITER), HIERARCHY_DELIMITER);
    let utf8 = s.enabled.utf8();
    let lines = s
        .read(move |r| {
            let mut out = Vec::new();
            // Every subscribed name, whether its mailbox exists or not (RFC 3501 §6.3.9: LSUB
            // returns the names SUBSCRIBE added).
            let subscribed: BTreeSet<String> = r.subscriptions(account)?.into_iter().collect();
            // RFC 3501 §6.3.9: with `%`, a parent of a subscribed mailbox that is not subscribed
            // itself is returned with \Noselect (when the pattern stops at its level: no
            // subscribed mailbox below it matches); an unsubscribed mailbox never otherwise.
            let mut parents: BTreeSet<String> = BTreeSet::new();
            for name in &subscribed {
                let mut at = 0;
                while let Some(i) = name[at..].find(HIERARCHY_DELIMITER) {
                    let parent = &name[..at + i];
                    at += i + 1;
                    if subscribed.contains(parent) || !full.matches(parent) {
                        continue;
                    }
                    let p = format!("{parent}{HIERARCHY_DELIMITER}");
                    let below_matches = subscribed
                        .range(p.clone()..)
                        .take_while(|k| k.starts_with(&p))
                        .any(|k| full.matches(k));
                    if !below_matches {
                        parents.insert(parent.to_string());
                    }
                }
            }
            let mut all: Vec<(&str, bool)> = subscribed
                .iter()
                .filter(|n| full.matches(n))
                .map(|n| (n.as_str(), false))
                .chain(parents.iter().map(|n| (n.as_str(), true)))
                .collect();
            all.sort_unstable();
            for (name, noselect) in all {
                out.extend_from_slice(if noselect {
                    b"* LSUB (\\Noselect) \"/\" "
                } else {
                    b"* LSUB () \"/\" "
                });
                out.extend_from_slice(&wire_name(name, utf8));
                out.extend_from_slice(b"\r\n");
            }
            Ok(out)
        })
        .await?;
    out.extend_from_slice(&lines);
    Ok(Done::text("LSUB completed"))
}
