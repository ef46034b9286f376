//! What more than one handler needs, below them: sequence sets resolved against the selected
//! mailbox, PARTIAL windows (RFC 9394), flags from a command, new mailbox names checked, names
//! and dates as sent.

use super::outcome::{Code, Error};
use super::selected::Selected;
use crate::proto::command::SequenceSet;
use crate::store::{HIERARCHY_DELIMITER, flag};

/// Resolves a sequence set against the selected mailbox into (sequence number, UID) pairs in
/// ascending order. Sequence numbers outside 1..=EXISTS are an error (RFC 9051 §6.4.5); UIDs
/// that do not exist are skipped silently. `$` takes the saved SEARCHRES result.
pub fn resolve(
    sel: &Selected,
    set: &SequenceSet,
    uid: bool,
    saved: Option<&[u32]>,
) -> Result<Vec<(u32, u32)>, Error> {
    let ranges = match set {
        SequenceSet::Saved => {
            let saved = saved.unwrap_or(&[]);
            return Ok(saved.iter().filter_map(|u| sel.seq_of(*u).map(|s| (s, *u))).collect());
        }
        SequenceSet::Ranges(r) => r,
    };
    let mut out = Vec::new();
    if uid {
        let max = sel.max_uid();
        for r in ranges.iter() {
            let (lo, hi) = r.resolve(max);
            out.extend(sel.uids.uid_range(lo, hi));
        }
    } else {
        let max = sel.exists();
        for r in ranges.iter() {
            let (lo, hi) = r.resolve(max);
            if lo == 0 || hi > max {
                return Err(Error::Bad("invalid message sequence number".into()));
            }
            for seq in lo..=hi {
                if let Some(u) = sel.uid_of(seq) {
                    out.push((seq, u));
                }
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// The part of `items` (ascending) that a PARTIAL range names (RFC 9394 §3): `First` counts from
/// the first item (1-based), `Last` from the last (`-1` is the last item). Out-of-range positions
/// are simply absent.
pub fn partial_window<T: Clone>(items: &[T], range: crate::proto::command::PartialRange) -> Vec<T> {
    items.get(partial_positions(items.len(), range)).map(<[T]>::to_vec).unwrap_or_default()
}

/// The 0-based positions, within `n` results, that a PARTIAL range names (RFC 9394 §3.1).
pub fn partial_positions(n: usize, range: crate::proto::command::PartialRange) -> std::ops::Range<usize> {
    use crate::proto::command::PartialRange;
    let (from, to) = match range {
        PartialRange::First { from, to } => (from.get() as usize - 1, to.get() as usize),
        // `-from:-to` (from <= to) counts back from the end: the items n-to .. n-from, inclusive.
        PartialRange::Last { from, to } => {
            (n.saturating_sub(to.get() as usize), n + 1 - (from.get() as usize).min(n + 1))
        }
    };
    from.min(n)..to.min(n).max(from.min(n))
}

/// Writes ` PARTIAL (range numbers-or-NIL)` of an ESEARCH response (RFC 9394 §3.1): the window
/// of `items` that `range` names, as a compact set (SEARCH) or a list in the given order (ESORT).
pub fn write_partial_result(
    out: &mut Vec<u8>,
    items: &[u32],
    range: crate::proto::command::PartialRange,
    as_set: bool,
) {
    write_partial_window(out, &partial_window(items, range), range, as_set);
}

/// Writes ` PARTIAL (range numbers-or-NIL)` for a window already cut out of the results.
pub fn write_partial_window(
    out: &mut Vec<u8>,
    window: &[u32],
    range: crate::proto::command::PartialRange,
    as_set: bool,
) {
    use crate::proto::command::PartialRange;
    let text = match range {
        PartialRange::First { from, to } => format!("{from}:{to}"),
        PartialRange::Last { from, to } => format!("-{from}:-{to}"),
    };
    out.extend_from_slice(format!(" PARTIAL ({text} ").as_bytes());
    if window.is_empty() {
        out.extend_from_slice(b"NIL");
    } else if as_set {
        crate::imap::response::number_set(out, window);
    } else {
        let list: Vec<String> = window.iter().map(u32::to_string).collect();
        out.extend_from_slice(list.join(",").as_bytes());
    }
    out.push(b')');
}

/// Flags of a STORE or APPEND as store bits and keywords; `\Recent` and other `\` extensions
/// cannot be set (RFC 9051 §2.3.2) and are refused.
pub fn flag_bits(flags: &[crate::proto::command::Flag]) -> Result<(u8, Vec<String>), Error> {
    use crate::proto::command::Flag;
    let mut bits = 0;
    let mut keywords = Vec::new();
    for f in flags {
        match f {
            Flag::Seen => bits |= flag::SEEN,
            Flag::Answered => bits |= flag::ANSWERED,
            Flag::Flagged => bits |= flag::FLAGGED,
            Flag::Deleted => bits |= flag::DELETED,
            Flag::Draft => bits |= flag::DRAFT,
            Flag::Keyword(k) => keywords.push(k.as_str().to_string()),
            Flag::Extension(e) => return Err(Error::Bad(format!("\\{} cannot be stored", e.as_str()))),
        }
    }
    Ok((bits, keywords))
}

/// Checks a mailbox name a client wants to create: UTF-8, not empty, no empty hierarchy levels,
/// no wildcard characters, at most `max_len` bytes (`limits.max_mailbox_name_length`; longer is
/// `NO [LIMIT]`, RFC 9051 §7.1).
pub fn check_new_name(name: &str, max_len: usize) -> Result<(), Error> {
    if name.len() > max_len {
        return Err(Error::No(
            Some(Code::Limit),
            format!("mailbox names are limited to {max_len} bytes; this one has {}", name.len()),
        ));
    }
    let bad = name.is_empty()
        || name.contains(['*', '%'])
        || name.chars().any(char::is_control)
        || name.split(HIERARCHY_DELIMITER).any(str::is_empty);
    if bad {
        return Err(Error::No(Some(Code::Cannot), format!("{name:?} is not a valid mailbox name")));
    }
    Ok(())
}

/// The name of a mailbox as sent to the client: UTF-8 when enabled, modified UTF-7 otherwise.
pub fn wire_name(name: &str, utf8: bool) -> Vec<u8> {
    let mut out = Vec::new();
    if utf8 {
        crate::proto::string::write_astring_utf8(&mut out, name);
    } else {
        let encoded = crate::proto::command::encode_modified_utf7(name);
        crate::proto::string::write_astring(&mut out, encoded.as_bytes());
    }
    out
}

/// `date-time` of INTERNALDATE: `"17-Jul-1996 02:44:25 -0700"` (RFC 9051 §9).
pub fn format_internal_date(unix: i64, tz_minutes: i16) -> String {
    const MONTHS: [&str; 12] =
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let local = unix + i64::from(tz_minutes) * 60;
    let secs = local.rem_euclid(86_400);
    let (year, month, day) = crate::proto::command::civil_from_days(local.div_euclid(86_400));
    let sign = if tz_minutes < 0 { '-' } else { '+' };
    let tz = i32::from(tz_minutes).abs();
    format!(
        "{day:02}-{}-{year:04} {:02}:{:02}:{:02} {sign}{:02}{:02}",
        MONTHS[(month - 1) as usize],
        secs / 3600,
        secs % 3600 / 60,
        secs % 60,
        tz / 60,
        tz % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_dates() {
        assert_eq!(format_internal_date(0, 0), "01-Jan-1970 00:00:00 +0000");
        assert_eq!(format_internal_date(837_596_665, -420), "17-Jul-1996 02:44:25 -0700");
        assert_eq!(format_internal_date(1_709_210_096, 60), "29-Feb-2024 13:34:56 +0100");
    }

    #[test]
    fn partial_windows() {
        use crate::proto::command::PartialRange;
        use std::num::NonZeroU32;
        let nz = |n| NonZeroU32::new(n).expect("non-zero");
        let items: Vec<u32> = (1..=10).collect();
        assert_eq!(partial_window(&items, PartialRange::First { from: nz(1), to: nz(3) }), [1, 2, 3]);
        assert_eq!(partial_window(&items, PartialRange::First { from: nz(9), to: nz(20) }), [9, 10]);
        assert_eq!(partial_window(&items, PartialRange::Last { from: nz(1), to: nz(3) }), [8, 9, 10]);
        assert_eq!(partial_window(&items, PartialRange::Last { from: nz(9), to: nz(20) }), [1, 2]);
        assert!(partial_window(&items, PartialRange::First { from: nz(11), to: nz(20) }).is_empty());
    }

    #[test]
    fn names() {
        assert!(check_new_name("Work/2024", 255).is_ok());
        for bad in ["", "a//b", "/a", "a/", "x*", "a%", "a\u{1}"] {
            assert!(matches!(check_new_name(bad, 255), Err(Error::No(Some(Code::Cannot), _))), "{bad:?}");
        }
        assert!(check_new_name(&"é".repeat(127), 255).is_ok());
        assert!(matches!(check_new_name(&"é".repeat(128), 255), Err(Error::No(Some(Code::Limit), _))));
    }
}
