//! CATENATE (RFC 4469 §5): the `cat-part` list of an APPEND, and the IMAP URLs (RFC 5092 §11)
//! its URL parts carry, parsed when they are used.

use std::num::{NonZeroU32, NonZeroU64};

use super::{PResult, Parser};
use crate::proto::command::{CatPart, ImapUrl, NonEmpty, Section, UrlError, UrlMailbox, UrlServer};

impl Parser<'_> {
    /// append-data =/ "CATENATE" SP "(" cat-part *(SP cat-part) ")" ; cat-part = text-literal / url ;
    /// text-literal = "TEXT" SP literal ; url = "URL" SP astring (RFC 4469 §5) ;
    /// cat-part =/ utf8-literal ; utf8-literal = "UTF8" SP "(" literal8 ")" (RFC 6855 §4)
    ///
    /// Called after "CATENATE". A TEXT part may also be a `literal8` (`~{n}`), as for a plain
    /// APPEND with BINARY (RFC 3516 §4.4): the NUL rule of the literal is what differs.
    pub(super) fn cat_parts(&mut self) -> PResult<NonEmpty<CatPart>> {
        self.sp()?;
        self.paren_list1(|p| {
            if p.eat_keyword("TEXT") {
                p.sp()?;
                let (range, binary) = p.literal(true)?;
                Ok(CatPart::Text { range, binary })
            } else if p.eat_keyword("URL") {
                p.sp()?;
                Ok(CatPart::Url(p.astring()?.into_owned()))
            } else if p.eat_keyword("UTF8") {
                Ok(CatPart::Text { range: p.utf8_literal()?, binary: true })
            } else {
                p.fail("expected TEXT or URL")
            }
        })
    }
}

/// Parses an IMAP URL of a message or a part of one (RFC 5092 §11), absolute or relative:
///
/// ```text
/// imapurl = "imap://" iserver ipath-query ; inetwork-path = "//" iserver ipath-query
/// iabsolute-path = "/" [ icommand ] ; icommand = imessagelist / imessagepart [iurlauth]
/// imessagepart = imailbox-ref iuid [isection] [ipartial] ; imailbox-ref = enc-mailbox [uidvalidity]
/// uidvalidity = ";UIDVALIDITY=" nz-number ; iuid = "/" iuid-only ; iuid-only = ";UID=" nz-number
/// isection = "/" isection-only ; isection-only = ";SECTION=" enc-section
/// ipartial = "/" ipartial-only ; ipartial-only = ";PARTIAL=" partial-range
/// partial-range = number ["." nz-number]
/// imsg-or-part = ( imailbox-ref "/" iuid-only ["/" isection-only] ["/" ipartial-only] ) /
///                ( iuid-only ["/" isection-only] ["/" ipartial-only] ) / ...
/// ```
///
/// A URL with `;EXPIRE=` or `;URLAUTH=` (RFC 4467), a message list (`?search`), or without a
/// UID is refused: CATENATE appends messages or parts of them, and URLAUTH is not offered.
/// Keywords (`UID`, `SECTION` ...) are case-insensitive, as ABNF strings are (RFC 5234 §2.3).
pub fn parse_imap_url(url: &[u8]) -> Result<ImapUrl, UrlError> {
    if !url.iter().all(|&b| b.is_ascii_graphic()) {
        // RFC 5092 §11: every other octet is %-encoded.
        return Err(UrlError("a URL is printable ASCII, other octets %-encoded"));
    }
    let (server, path) = split_server(url)?;
    if path.contains(&b'?') || path.contains(&b'#') {
        return Err(UrlError("not the URL of a message or part"));
    }
    // The mailbox is everything before the first ";" (enc-mailbox is 1*bchar, and bchar holds
    // "/", the hierarchy separator, but not ";"), less the "/" that starts `iuid`.
    let first_param = path.iter().position(|&b| b == b';').ok_or(UrlError("no ;UID= in the URL"))?;
    let (head, params) = path.split_at(first_param);
    let absolute = head.first() == Some(&b'/');
    let mut name = if absolute { &head[1..] } else { head };
    let slash_before_param = name.last() == Some(&b'/');
    if slash_before_param {
        name = &name[..name.len() - 1];
    }
    let mailbox = if name.is_empty() {
        if absolute || server.is_some() || slash_before_param {
            // iabsolute-path: enc-mailbox has at least one character.
            return Err(UrlError("no mailbox in the URL"));
        }
        // `iuid-only ...` relative: the base URL of the selected state names the mailbox
        // (RFC 4469 §3).
        UrlMailbox::Selected
    } else {
        let decoded = percent_decode(name)?;
        let name = String::from_utf8(decoded).map_err(|_| UrlError("the mailbox name is not UTF-8"))?;
        UrlMailbox::Named(name)
    };
    let mut params = Params { rest: params };
    let mut uidvalidity = None;
    if mailbox != UrlMailbox::Selected && !slash_before_param {
        params.key(b";UIDVALIDITY=")?;
        uidvalidity = Some(nz(params.value())?);
        if !params.rest.is_empty() {
            params.slash()?;
        }
    }
    let uid = match params.key(b";UID=") {
        Ok(()) => nz(params.value())?,
        Err(_) => return Err(UrlError("no ;UID= in the URL")),
    };
    let mut section = Section::Full;
    let mut partial = None;
    if params.slash_then(b";SECTION=") {
        let spec = percent_decode(params.value())?;
        section = super::parse_section_spec(&spec).ok_or(UrlError("invalid ;SECTION="))?;
    }
    if params.slash_then(b";PARTIAL=") {
        let value = params.value();
        let (offset, length) = match value.iter().position(|&b| b == b'.') {
            Some(dot) => (&value[..dot], Some(&value[dot + 1..])),
            None => (value, None),
        };
        let offset = number(offset)?;
        let length = match length {
            Some(l) => Some(NonZeroU64::from(nz(l)?)),
            None => None,
        };
        partial = Some((u64::from(offset), length));
    }
    if params.rest.starts_with_ignore_case(b";EXPIRE=") || params.rest.starts_with_ignore_case(b";URLAUTH=") {
        return Err(UrlError("URLAUTH is not supported"));
    }
    if !params.rest.is_empty() {
        return Err(UrlError("unexpected data in the URL"));
    }
    Ok(ImapUrl { server, mailbox, uidvalidity, uid, section, partial })
}

/// `"imap://" iserver` / `"//" iserver`, and the path after it. A URL with another scheme is
/// refused.
fn split_server(url: &[u8]) -> Result<(Option<UrlServer>, &[u8]), UrlError> {
    let rest = if url.starts_with_ignore_case(b"imap://") {
        &url[7..]
    } else if url.starts_with(b"//") {
        &url[2..]
    } else {
        if let Some(colon) = url.iter().position(|&b| b == b':')
            && url[..colon].iter().all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(b))
            && !url[..colon].is_empty()
        {
            // RFC 3986 §3.1: a scheme, and not imap.
            return Err(UrlError("not an imap URL"));
        }
        return Ok((None, url));
    };
    let end = rest.iter().position(|&b| b == b'/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    if path.is_empty() {
        return Err(UrlError("no message in the URL"));
    }
    let (userinfo, hostport) = match authority.iter().rposition(|&b| b == b'@') {
        Some(at) => (Some(&authority[..at]), &authority[at + 1..]),
        None => (None, authority),
    };
    let user = match userinfo {
        Some(info) => {
            // iuserinfo = enc-user [iauth] / [enc-user] iauth ; iauth = ";AUTH=" ( "*" / enc-auth-type )
            let user = match info.iter().position(|&b| b == b';') {
                Some(semi) if info[semi..].starts_with_ignore_case(b";AUTH=") => &info[..semi],
                Some(_) => return Err(UrlError("invalid user in the URL")),
                None => info,
            };
            if user.is_empty() {
                None
            } else {
                Some(
                    String::from_utf8(percent_decode(user)?)
                        .map_err(|_| UrlError("the user is not UTF-8"))?,
                )
            }
        }
        None => None,
    };
    let host = if hostport.starts_with(b"[") {
        // IP-literal (RFC 3986 §3.2.2).
        let close = hostport.iter().position(|&b| b == b']').ok_or(UrlError("invalid host"))?;
        &hostport[..=close]
    } else {
        hostport.split(|&b| b == b':').next().unwrap_or_default()
    };
    let port = &hostport[host.len()..];
    if host.is_empty() || !(port.is_empty() || (port[0] == b':' && port[1..].iter().all(u8::is_ascii_digit)))
    {
        return Err(UrlError("invalid host"));
    }
    let host = String::from_utf8(percent_decode(host)?).map_err(|_| UrlError("invalid host"))?;
    Ok((Some(UrlServer { user, host: host.to_ascii_lowercase() }), path))
}

/// The `;KEY=value` parameters after the mailbox.
struct Params<'a> {
    rest: &'a [u8],
}

impl<'a> Params<'a> {
    fn key(&mut self, key: &[u8]) -> Result<(), UrlError> {
        if self.rest.starts_with_ignore_case(key) {
            self.rest = &self.rest[key.len()..];
            Ok(())
        } else {
            Err(UrlError("unexpected data in the URL"))
        }
    }

    fn slash(&mut self) -> Result<(), UrlError> {
        self.key(b"/")
    }

    /// `"/" key`, if that comes next.
    fn slash_then(&mut self, key: &[u8]) -> bool {
        let Some(after) = self.rest.strip_prefix(b"/") else { return false };
        if after.starts_with_ignore_case(key) {
            self.rest = &after[key.len()..];
            true
        } else {
            false
        }
    }

    /// The value up to the next "/" or ";".
    fn value(&mut self) -> &'a [u8] {
        let end = self.rest.iter().position(|&b| b == b'/' || b == b';').unwrap_or(self.rest.len());
        let (v, rest) = self.rest.split_at(end);
        self.rest = rest;
        v
    }
}

trait StartsWithIgnoreCase {
    fn starts_with_ignore_case(&self, prefix: &[u8]) -> bool;
}

impl StartsWithIgnoreCase for [u8] {
    fn starts_with_ignore_case(&self, prefix: &[u8]) -> bool {
        self.len() >= prefix.len() && self[..prefix.len()].eq_ignore_ascii_case(prefix)
    }
}

/// `number`: a 32-bit unsigned decimal (RFC 9051 §9).
fn number(digits: &[u8]) -> Result<u32, UrlError> {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(UrlError("expected a number in the URL"));
    }
    std::str::from_utf8(digits)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or(UrlError("number too large in the URL"))
}

/// `nz-number`
fn nz(digits: &[u8]) -> Result<NonZeroU32, UrlError> {
    if digits.first() == Some(&b'0') {
        return Err(UrlError("expected a non-zero number in the URL"));
    }
    NonZeroU32::new(number(digits)?).ok_or(UrlError("expected a non-zero number in the URL"))
}

/// RFC 3986 §2.1: `%XX` is the octet XX; a "%" without two hex digits is an error.
fn percent_decode(s: &[u8]) -> Result<Vec<u8>, UrlError> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'%' {
            let hex = s.get(i + 1..i + 3).ok_or(UrlError("invalid %-encoding in the URL"))?;
            let v = std::str::from_utf8(hex)
                .ok()
                .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or(UrlError("invalid %-encoding in the URL"))?;
            out.push(v);
            i += 3;
        } else {
            out.push(s[i]);
            i += 1;
        }
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::proto::command::Part;

    fn url(s: &str) -> ImapUrl {
        parse_imap_url(s.as_bytes()).unwrap()
    }

    fn nzu(n: u32) -> NonZeroU32 {
        NonZeroU32::new(n).unwrap()
    }

    #[test]
    fn rfc5092_absolute() {
        let u = url(
            "imap://bob%40example.com;AUTH=*@Mail.Example.com:143/Archive%2F2024/x;UIDVALIDITY=7/;UID=20/;SECTION=1.2.MIME/;PARTIAL=10.5",
        );
        assert_eq!(
            u.server,
            Some(UrlServer { user: Some("bob@example.com".into()), host: "mail.example.com".into() })
        );
        assert_eq!(u.mailbox, UrlMailbox::Named("Archive/2024/x".into()));
        assert_eq!(u.uidvalidity, Some(nzu(7)));
        assert_eq!(u.uid, nzu(20));
        assert_eq!(u.section, Section::Mime(Part(NonEmpty::new(nzu(1)).tap_push(nzu(2)))));
        assert_eq!(u.partial, Some((10, NonZeroU64::new(5))));
        let anon = url("imap://host/INBOX/;UID=1");
        assert_eq!(anon.server.unwrap().user, None);
    }

    #[test]
    fn rfc5092_relative() {
        let u = url("/INBOX;UIDVALIDITY=785799047/;UID=113330/;section=1.5.9");
        assert_eq!((u.server, u.mailbox.clone()), (None, UrlMailbox::Named("INBOX".into())));
        assert_eq!(u.uidvalidity, Some(nzu(785_799_047)));
        let u = url("Sent/;UID=3/;SECTION=HEADER.FIELDS%20(FROM%20TO)");
        assert_eq!(u.mailbox, UrlMailbox::Named("Sent".into()));
        assert_eq!(u.uidvalidity, None);
        assert!(matches!(u.section, Section::HeaderFields(None, _)));
        let u = url(";UID=5/;PARTIAL=7");
        assert_eq!(u.mailbox, UrlMailbox::Selected);
        assert_eq!(u.partial, Some((7, None)));
        assert_eq!(url("/K%C3%A4se/;UID=1").mailbox, UrlMailbox::Named("Käse".into()));
    }

    #[test]
    fn rfc5092_refused() {
        for bad in [
            "http://host/INBOX/;UID=1",
            "mailto:a@b",
            "imap://host",
            "/INBOX",
            "/;UID=1",
            "/INBOX/;UID=0",
            "/INBOX/;UID=x",
            "/INBOX;UIDVALIDITY=1",
            "/INBOX/;SECTION=1",
            ";SECTION=1",
            "/INBOX?SUBJECT%20x",
            "/INBOX/;UID=1/;SECTION=1.X",
            "/INBOX/;UID=1/;PARTIAL=1.0",
            "/INBOX/;UID=1;EXPIRE=2030-01-01T00:00:00Z;URLAUTH=anonymous:internal:91354a47",
            "/INBOX/;UID=1;URLAUTH=submit+bob:internal:91354a47",
            "/IN%ZZBOX/;UID=1",
            "/INBOX/;UID=1 x",
            "/INBOX/;UID=1/junk",
        ] {
            assert!(parse_imap_url(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    trait TapPush<T> {
        fn tap_push(self, v: T) -> Self;
    }

    impl<T> TapPush<T> for NonEmpty<T> {
        fn tap_push(mut self, v: T) -> Self {
            self.push(v);
            self
        }
    }
}
