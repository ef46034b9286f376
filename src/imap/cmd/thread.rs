//! THREAD and UID THREAD (RFC 5256 §4): ORDEREDSUBJECT and REFERENCES. Subjects, dates,
//! Message-IDs and references all come from the FETCH data computed at delivery (`ThreadKeys`);
//! only messages stored before format 2 of that data have their header read here.

use std::collections::HashMap;

use crate::imap::fetchdata::{FetchData, ThreadKeys};
use crate::imap::outcome::{Done, Error, Outcome};
use crate::imap::search_eval::{check_charset, find};
use crate::imap::session::Session;
use crate::proto::command::{SearchKey, ThreadAlgorithm};
use crate::store::StoreError;

/// What threading needs of one message.
struct Msg {
    /// Sequence number or UID, as the response wants.
    number: u32,
    date: i64,
    subject: String,
    message_id: Option<String>,
    /// References, oldest first (In-Reply-To when there are none).
    references: Vec<String>,
}

/// A node of the thread tree: a message, or a dummy standing for a referenced message we lack.
struct Node {
    msg: Option<usize>,
    parent: Option<usize>,
    children: Vec<usize>,
}

/// The earliest date in a subtree (for ordering siblings and threads, RFC 5256 §4 step 4).
fn subtree_date(nodes: &[Node], msgs: &[Msg], i: usize) -> i64 {
    let own = nodes[i].msg.map(|m| msgs[m].date);
    let kids = nodes[i].children.iter().map(|c| subtree_date(nodes, msgs, *c)).min();
    match (own, kids) {
        (Some(d), _) => d,
        (None, Some(k)) => k,
        (None, None) => i64::MAX,
    }
}

fn write_node(out: &mut String, nodes: &[Node], msgs: &[Msg], i: usize) {
    if let Some(m) = nodes[i].msg {
        out.push_str(&msgs[m].number.to_string());
    }
    match nodes[i].children.as_slice() {
        [] => {}
        [only] if nodes[i].msg.is_some() => {
            out.push(' ');
            write_node(out, nodes, msgs, *only);
        }
        kids => {
            if nodes[i].msg.is_some() {
                out.push(' ');
            }
            for k in kids {
                out.push('(');
                write_node(out, nodes, msgs, *k);
                out.push(')');
            }
        }
    }
}

/// RFC 5256 §4 REFERENCES: link by references, prune dummies, group roots by base subject, order
/// siblings by date.
fn references(msgs: &[Msg]) -> String {
    let mut nodes: Vec<Node> = Vec::new();
    let mut by_id: HashMap<String, usize> = HashMap::new();
    let mut node_for = |id: &str, nodes: &mut Vec<Node>| -> usize {
        *by_id.entry(id.to_string()).or_insert_with(|| {
            nodes.push(Node { msg: None, parent: None, children: Vec::new() });
            nodes.len() - 1
        })
    };
    let is_ancestor = |nodes: &[Node], anc: usize, mut n: usize| -> bool {
        loop {
            if n == anc {
                return true;
            }
            match nodes[n].parent {
                Some(p) => n = p,
                None => return false,
            }
        }
    };
    for (mi, m) in msgs.iter().enumerate() {
        // Step 1A: the message's container (a duplicate Message-ID gets a fresh one).
        let me = match &m.message_id {
            Some(id) => {
                let n = node_for(id, &mut nodes);
                if nodes[n].msg.is_some() {
                    nodes.push(Node { msg: None, parent: None, children: Vec::new() });
                    nodes.len() - 1
                } else {
                    n
                }
            }
            None => {
                nodes.push(Node { msg: None, parent: None, children: Vec::new() });
                nodes.len() - 1
            }
        };
        nodes[me].msg = Some(mi);
        // Step 1B: link the references in order, never making a loop.
        let chain: Vec<usize> = m.references.iter().map(|r| node_for(r, &mut nodes)).collect();
        for w in chain.windows(2) {
            let (p, c) = (w[0], w[1]);
            if nodes[c].parent.is_none() && !is_ancestor(&nodes, c, p) {
                nodes[c].parent = Some(p);
                nodes[p].children.push(c);
            }
        }
        // Step 1C: the last reference is the parent.
        if let Some(&p) = chain.last()
            && p != me
            && !is_ancestor(&nodes, me, p)
        {
            if let Some(old) = nodes[me].parent {
                nodes[old].children.retain(|x| *x != me);
            }
            nodes[me].parent = Some(p);
            nodes[p].children.push(me);
        }
    }
    // Step 2: the root set.
    let mut roots: Vec<usize> = (0..nodes.len()).filter(|i| nodes[*i].parent.is_none()).collect();
    // Step 3: prune dummies: childless ones go; a dummy's children move up (at the root only if
    // it has a single child).
    fn prune(nodes: &mut Vec<Node>, i: usize) {
        let kids = std::mem::take(&mut nodes[i].children);
        let mut kept = Vec::new();
        for k in kids {
            prune(nodes, k);
            if nodes[k].msg.is_none() {
                if nodes[k].children.is_empty() {
                    continue;
                }
                let grand = std::mem::take(&mut nodes[k].children);
                for g in &grand {
                    nodes[*g].parent = Some(i);
                }
                kept.extend(grand);
            } else {
                kept.push(k);
            }
        }
        nodes[i].children = kept;
    }
    let mut new_roots = Vec::new();
    for r in roots.drain(..) {
        prune(&mut nodes, r);
        if nodes[r].msg.is_none() {
            match nodes[r].children.len() {
                0 => continue,
                1 => {
                    let only = nodes[r].children[0];
                    nodes[only].parent = None;
                    new_roots.push(only);
                    continue;
                }
                _ => {}
            }
        }
        new_roots.push(r);
    }
    // Step 5 (simplified): roots with the same base subject are gathered under the first one.
    let subject_of = |nodes: &[Node], r: usize| -> Option<String> {
        let m = nodes[r].msg.or_else(|| nodes[r].children.first().and_then(|c| nodes[*c].msg))?;
        Some(msgs[m].subject.clone()).filter(|s| !s.is_empty())
    };
    let mut by_subject: HashMap<String, usize> = HashMap::new();
    let mut roots = Vec::new();
    for r in new_roots {
        match subject_of(&nodes, r) {
            Some(sub) => match by_subject.get(&sub) {
                Some(&first) => {
                    nodes[r].parent = Some(first);
                    nodes[first].children.push(r);
                }
                None => {
                    by_subject.insert(sub, r);
                    roots.push(r);
                }
            },
            None => roots.push(r),
        }
    }
    // Step 4 and 6: order siblings and threads by date (then by position).
    fn order(nodes: &mut Vec<Node>, msgs: &[Msg], i: usize) {
        let mut kids = std::mem::take(&mut nodes[i].children);
        for k in &kids {
            order(nodes, msgs, *k);
        }
        kids.sort_by_key(|k| (subtree_date(nodes, msgs, *k), *k));
        nodes[i].children = kids;
    }
    for r in &roots {
        order(&mut nodes, msgs, *r);
    }
    roots.sort_by_key(|r| (subtree_date(&nodes, msgs, *r), *r));
    let mut out = String::new();
    for r in roots {
        out.push('(');
        write_node(&mut out, &nodes, msgs, r);
        out.push(')');
    }
    out
}

/// RFC 5256 §4 ORDEREDSUBJECT: by base subject, each thread its first message with the others
/// as its children, threads ordered by their first message's date.
fn ordered_subject(msgs: &[Msg]) -> String {
    let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut order: Vec<usize> = (0..msgs.len()).collect();
    order.sort_by_key(|i| (msgs[*i].date, *i));
    for i in order {
        let sub = msgs[i].subject.as_str();
        match index.get(sub) {
            Some(&g) => groups[g].1.push(i),
            None => {
                index.insert(sub, groups.len());
                groups.push((sub.to_string(), vec![i]));
            }
        }
    }
    let mut out = String::new();
    for (_, members) in groups {
        out.push('(');
        out.push_str(&msgs[members[0]].number.to_string());
        match &members[1..] {
            [] => {}
            [one] => out.push_str(&format!(" {}", msgs[*one].number)),
            rest => {
                out.push(' ');
                for m in rest {
                    out.push_str(&format!("({})", msgs[*m].number));
                }
            }
        }
        out.push(')');
    }
    out
}

pub async fn run(
    s: &mut Session,
    uid: bool,
    algorithm: ThreadAlgorithm,
    charset: &str,
    search: &SearchKey,
    out: &mut Vec<u8>,
) -> Outcome {
    check_charset(Some(charset))?;
    let Some(sel) = s.selected.as_ref() else { return Err(Error::Bad("no mailbox selected".into())) };
    let mailbox = sel.mailbox;
    let (hits, _) = find(s, search).await?;
    let refs = algorithm == ThreadAlgorithm::References;
    // Threading is CPU work: it happens with the read, off the executor (issue 10).
    let text = s
        .read(move |r| {
            let mut v = Vec::with_capacity(hits.len());
            for (seq, u) in hits {
                let Some(m) = r.message(mailbox, u)? else { continue };
                let d = FetchData::decode(&r.blob(m.blob)?.fetch_data)
                    .ok_or_else(|| StoreError::Corrupt("FETCH data".into()))?;
                let (message_id, references) = if refs {
                    let keys = match d.thread {
                        Some(k) => k,
                        None => ThreadKeys::from_header(&r.blob_bytes(m.blob, 0, d.header_len as usize)?),
                    };
                    (keys.message_id, keys.references)
                } else {
                    (None, Vec::new())
                };
                v.push(Msg {
                    number: if uid { u } else { seq },
                    date: d.date.unwrap_or(m.internal_date),
                    subject: d.sort_subject,
                    message_id,
                    references,
                });
            }
            Ok(if refs { references(&v) } else { ordered_subject(&v) })
        })
        .await?;
    out.extend_from_slice(b"* THREAD ");
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(b"\r\n");
    Ok(Done::text("THREAD completed"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(number: u32, date: i64, subject: &str, id: &str, refs: &[&str]) -> Msg {
        Msg {
            number,
            date,
            subject: subject.into(),
            message_id: Some(id.into()),
            references: refs.iter().map(|r| r.to_string()).collect(),
        }
    }

    #[test]
    fn references_threads() {
        let msgs = vec![
            m(1, 10, "a", "1", &[]),
            m(2, 20, "b", "2", &[]),
            m(3, 30, "a", "3", &["1"]),
            m(4, 40, "a", "4", &["1", "3"]),
            m(5, 50, "a", "5", &["1"]),
            m(6, 60, "c", "6", &["missing"]),
        ];
        assert_eq!(references(&msgs), "(1 (3 4)(5))(2)(6)");
    }

    #[test]
    fn ordered_subject_threads() {
        let msgs = vec![
            m(1, 10, "a", "1", &[]),
            m(2, 20, "b", "2", &[]),
            m(3, 30, "a", "3", &[]),
            m(4, 40, "a", "4", &[]),
        ];
        assert_eq!(ordered_subject(&msgs), "(1 (3)(4))(2)");
        assert_eq!(ordered_subject(&msgs[..3]), "(1 3)(2)");
    }
}
