//! RFC 5256 §2.1 base subject extraction, for SORT (SUBJECT) and THREAD=ORDEREDSUBJECT.

use mail_parser::{HeaderValue, parsers::MessageStream};

/// Decodes RFC 2047 encoded-words of a raw (still folded) unstructured header value into
/// UTF-8, with mail-parser's charset tables. Undecodable bytes become U+FFFD.
pub(super) fn decode_unstructured(raw: &[u8]) -> String {
    // mail-parser reads a header value up to its terminating line break.
    let mut value = raw.to_vec();
    value.extend_from_slice(b"\r\n");
    match MessageStream::new(&value).parse_unstructured() {
        HeaderValue::Text(t) => t.into_owned(),
        _ => String::new(),
    }
}

/// The base subject of a raw Subject value, lowercased (the comparison is case-insensitive).
pub(super) fn base_subject(raw: &[u8]) -> String {
    base_subject_of(&decode_unstructured(raw))
}

/// RFC 5256 §2.1 steps (1) to (7) on already decoded text.
pub(super) fn base_subject_of(decoded: &str) -> String {
    // (1) Tabs and continuations become spaces, runs of spaces become one space. The
    // matching below is case-insensitive, so work on the lowercased text.
    let mut s = String::with_capacity(decoded.len());
    let mut last_space = false;
    for c in decoded.chars() {
        if matches!(c, ' ' | '\t' | '\r' | '\n') {
            if !last_space {
                s.push(' ');
            }
            last_space = true;
        } else {
            s.extend(c.to_lowercase());
            last_space = false;
        }
    }
    let mut s = s.as_str();
    loop {
        // (2) Remove trailing subj-trailer = "(fwd)" / WSP, repeatedly.
        loop {
            let t = s.trim_end_matches(' ');
            match t.strip_suffix("(fwd)") {
                Some(rest) => s = rest,
                None => {
                    s = t;
                    break;
                }
            }
        }
        // (3) to (5): remove subj-leader, then a subj-blob if text remains after it.
        loop {
            let before = s.len();
            loop {
                if let Some(rest) = s.strip_prefix(' ') {
                    s = rest;
                } else if let Some(n) = leader_len(s) {
                    s = &s[n..];
                } else {
                    break;
                }
            }
            if let Some(n) = blob_len(s) {
                let rest = &s[n..];
                if !rest.trim_matches(' ').is_empty() {
                    s = rest;
                }
            }
            if s.len() == before {
                break;
            }
        }
        // (6) subj-fwd = "[fwd:" subject "]": unwrap and start again from (2).
        match s.strip_prefix("[fwd:").and_then(|r| r.strip_suffix(']')) {
            Some(inner) => s = inner,
            None => break,
        }
    }
    s.to_string()
}

/// Length of `subj-blob = "[" *BLOBCHAR "]" *WSP` at the start of `s`.
fn blob_len(s: &str) -> Option<usize> {
    let rest = s.strip_prefix('[')?;
    let close = rest.find(['[', ']'])?;
    if !rest[close..].starts_with(']') {
        return None;
    }
    let after = &rest[close + 1..];
    let trimmed = after.trim_start_matches(' ');
    Some(s.len() - trimmed.len())
}

/// Length of `*subj-blob subj-refwd` at the start of `s`, where
/// `subj-refwd = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":"`.
fn leader_len(s: &str) -> Option<usize> {
    let mut rest = s;
    while let Some(n) = blob_len(rest) {
        rest = &rest[n..];
    }
    for prefix in ["re", "fwd", "fw"] {
        if let Some(mut r) = rest.strip_prefix(prefix) {
            r = r.trim_start_matches(' ');
            if let Some(n) = blob_len(r) {
                r = &r[n..];
            }
            if let Some(r) = r.strip_prefix(':') {
                return Some(s.len() - r.len());
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc5256_examples() {
        for (input, expected) in [
            ("Re: hello", "hello"),
            ("RE: Re: re: hello", "hello"),
            ("Fwd: hello (fwd)", "hello"),
            ("FW: hello (fwd) (FWD)", "hello"),
            ("[list] Re: hello", "hello"),
            ("Re[2]: hello", "hello"),
            ("Re [list]: [list] hello", "hello"),
            ("[Fwd: Re: hello]", "hello"),
            ("[fwd: [fwd: hello]]", "hello"),
            ("[only a blob]", "[only a blob]"),
            ("  Hello \t  World  ", "hello world"),
            ("Re:", ""),
            ("", ""),
            ("Reply: hello", "reply: hello"),
            ("re : x", "x"),
            ("Rex: y", "rex: y"),
        ] {
            assert_eq!(base_subject_of(input), expected, "for {input:?}");
        }
    }

    #[test]
    fn encoded_words_are_decoded() {
        assert_eq!(base_subject(b"Re: =?utf-8?q?Caf=C3=A9?=\r\n =?utf-8?q?_Noir?="), "café noir");
        assert_eq!(base_subject(b"=?ISO-8859-1?Q?Andr=E9?= Pirard"), "andré pirard");
    }
}
