//! Known-answer tests for FetchData.
//!
//! Unless a comment says otherwise, every expected ENVELOPE / BODY / BODYSTRUCTURE string is
//! what Dovecot 2.3.19 answered for the same message (an IMAP server many clients are
//! tested against), and agrees with the RFC 3501 / RFC 9051 grammar and examples.

use super::*;

/// The test messages are written with `\n`; IMAP messages have CRLF line ends.
fn crlf(s: &str) -> Vec<u8> {
    s.replace('\n', "\r\n").into_bytes()
}

fn text(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).expect("test output is UTF-8")
}

fn get(raw: &[u8], (start, end): (u32, u32)) -> &str {
    text(&raw[start as usize..end as usize])
}

fn compute_ok(raw: &[u8]) -> FetchData {
    compute(raw).expect("a valid message")
}

/// The RFC 3501 §7.4.2 ENVELOPE example message.
const RFC3501: &str = "Date: Wed, 17 Jul 1996 02:23:25 -0700 (PDT)
From: Terry Gray <gray@cac.washington.edu>
Subject: IMAP4rev1 WG mtg summary and minutes
To: imap@cac.washington.edu
cc: minutes@CNRI.Reston.VA.US, John Klensin <KLENSIN@MIT.EDU>
Message-Id: <B27397-0100000@cac.washington.edu>
MIME-Version: 1.0
Content-Type: TEXT/PLAIN; CHARSET=US-ASCII

hello
world";

#[test]
fn plain_text_rfc3501_example() {
    let raw = crlf(RFC3501);
    let fd = compute_ok(&raw);
    // RFC 3501 §7.4.2 example, byte for byte.
    assert_eq!(
        text(&fd.envelope),
        r#"("Wed, 17 Jul 1996 02:23:25 -0700 (PDT)" "IMAP4rev1 WG mtg summary and minutes" (("Terry Gray" NIL "gray" "cac.washington.edu")) (("Terry Gray" NIL "gray" "cac.washington.edu")) (("Terry Gray" NIL "gray" "cac.washington.edu")) ((NIL NIL "imap" "cac.washington.edu")) ((NIL NIL "minutes" "CNRI.Reston.VA.US")("John Klensin" NIL "KLENSIN" "MIT.EDU")) NIL NIL "<B27397-0100000@cac.washington.edu>")"#
    );
    assert_eq!(
        text(&fd.bodystructure),
        r#"("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7bit" 12 1 NIL NIL NIL NIL)"#
    );
    // Dovecot happens to lowercase the BODY form of this one; case is not significant.
    assert_eq!(text(&fd.body), r#"("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7bit" 12 1)"#);

    let header_end = RFC3501.find("\n\n").expect("blank line") + 2;
    let header_len = crlf(&RFC3501[..header_end]).len();
    assert_eq!(fd.header_len as usize, header_len);
    assert_eq!(fd.date, Some(837_595_405));
    assert_eq!(fd.sort_subject, "imap4rev1 wg mtg summary and minutes");
    assert_eq!(fd.from_addr, "gray");
    assert_eq!(fd.to_addr, "imap");
    assert_eq!(fd.cc_addr, "minutes");

    // Sections: [] and [1] share the message header and text (RFC 9051 §6.4.5; Dovecot
    // answers BODY[1.MIME] of a single-part message with the message header).
    assert_eq!(fd.parts.len(), 2);
    let whole = fd.section(&[]).expect("[]");
    assert_eq!(whole.header, (0, header_len as u32));
    assert_eq!(get(&raw, whole.body), "hello\r\nworld");
    let one = fd.section(&[1]).expect("[1]");
    assert_eq!(one.header, whole.header);
    assert_eq!(one.body, whole.body);
    assert_eq!(one.binary_size, 12);
    assert_eq!(fd.header_range(&[]), Some(whole.header));
    assert_eq!(fd.text_range(&[]), Some(whole.body));
    assert_eq!(fd.mime_range(&[1]), Some(whole.header));
    assert_eq!(fd.mime_range(&[]), None);
    assert_eq!(fd.header_range(&[1]), None, "part 1 is not a message/rfc822");
    assert!(fd.section(&[2]).is_none());
    assert!(fd.section(&[1, 1]).is_none());
    assert!(fd.section(&[0]).is_none());
}

const ALTERNATIVE: &str = r#"From: "Alice Example" <alice@example.org>
To: Bob <bob@example.net>
Subject: Lunch?
Date: Tue, 02 Jan 2024 10:00:00 +0100
Message-ID: <alt-1@example.org>
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="=_alt"

This is a multi-part message in MIME format.
--=_alt
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

Caf=C3=A9 at noon?
--=_alt
Content-Type: text/html; charset=utf-8

<p>Caf&eacute; at noon?</p>
--=_alt--
"#;

#[test]
fn multipart_alternative() {
    let raw = crlf(ALTERNATIVE);
    let fd = compute_ok(&raw);
    assert_eq!(
        text(&fd.envelope),
        r#"("Tue, 02 Jan 2024 10:00:00 +0100" "Lunch?" (("Alice Example" NIL "alice" "example.org")) (("Alice Example" NIL "alice" "example.org")) (("Alice Example" NIL "alice" "example.org")) (("Bob" NIL "bob" "example.net")) NIL NIL NIL "<alt-1@example.org>")"#
    );
    assert_eq!(
        text(&fd.bodystructure),
        r#"(("text" "plain" ("charset" "utf-8") NIL NIL "quoted-printable" 18 0 NIL NIL NIL NIL)("text" "html" ("charset" "utf-8") NIL NIL "7bit" 27 0 NIL NIL NIL NIL) "alternative" ("boundary" "=_alt") NIL NIL NIL)"#
    );
    assert_eq!(
        text(&fd.body),
        r#"(("text" "plain" ("charset" "utf-8") NIL NIL "quoted-printable" 18 0)("text" "html" ("charset" "utf-8") NIL NIL "7bit" 27 0) "alternative")"#
    );
    assert_eq!(fd.date, Some(1_704_186_000));

    let whole = fd.section(&[]).expect("[]");
    assert!(whole.is_multipart);
    assert!(get(&raw, whole.body).starts_with("This is a multi-part message"));
    assert!(get(&raw, whole.body).ends_with("--=_alt--\r\n"));

    let p1 = fd.section(&[1]).expect("[1]");
    assert_eq!(
        get(&raw, p1.header),
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
    );
    // The CRLF before the boundary belongs to the boundary (RFC 2046 §5.1.1).
    assert_eq!(get(&raw, p1.body), "Caf=C3=A9 at noon?");
    assert_eq!(p1.content_transfer_encoding, Cte::QuotedPrintable);
    let decoded = decode_transfer(p1.content_transfer_encoding, get(&raw, p1.body).as_bytes());
    assert_eq!(decoded, "Café at noon?".as_bytes());
    assert_eq!(p1.binary_size as usize, decoded.len());

    let p2 = fd.section(&[2]).expect("[2]");
    assert_eq!(get(&raw, p2.header), "Content-Type: text/html; charset=utf-8\r\n\r\n");
    assert_eq!(get(&raw, p2.body), "<p>Caf&eacute; at noon?</p>");
    assert_eq!(p2.binary_size, 27);
    assert!(fd.section(&[3]).is_none());
    assert!(fd.section(&[2, 1]).is_none());
}

const MIXED: &str = r#"From: Carol <carol@example.com>
To: dave@example.com
Cc: Erin <erin@example.com>, frank@example.com
Subject: Report
Date: Wed, 3 Jan 2024 12:34:56 -0500
Message-ID: <mixed-1@example.com>
In-Reply-To: <prev@example.com>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=XYZ

--XYZ
Content-Type: text/plain

See attached.
--XYZ
Content-Type: application/octet-stream; name="data.bin"
Content-Disposition: attachment; filename="data.bin"
Content-Transfer-Encoding: base64

AAECAwQFBgcICQ==
--XYZ--
"#;

#[test]
fn multipart_mixed_with_base64_attachment() {
    let raw = crlf(MIXED);
    let fd = compute_ok(&raw);
    assert_eq!(
        text(&fd.envelope),
        r#"("Wed, 3 Jan 2024 12:34:56 -0500" "Report" (("Carol" NIL "carol" "example.com")) (("Carol" NIL "carol" "example.com")) (("Carol" NIL "carol" "example.com")) ((NIL NIL "dave" "example.com")) (("Erin" NIL "erin" "example.com")(NIL NIL "frank" "example.com")) NIL "<prev@example.com>" "<mixed-1@example.com>")"#
    );
    assert_eq!(
        text(&fd.bodystructure),
        r#"(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 13 0 NIL NIL NIL NIL)("application" "octet-stream" ("name" "data.bin") NIL NIL "base64" 16 NIL ("attachment" ("filename" "data.bin")) NIL NIL) "mixed" ("boundary" "XYZ") NIL NIL NIL)"#
    );
    assert_eq!(
        text(&fd.body),
        r#"(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 13 0)("application" "octet-stream" ("name" "data.bin") NIL NIL "base64" 16) "mixed")"#
    );
    assert_eq!((fd.from_addr.as_str(), fd.to_addr.as_str(), fd.cc_addr.as_str()), ("carol", "dave", "erin"));

    let p1 = fd.section(&[1]).expect("[1]");
    assert_eq!(get(&raw, p1.body), "See attached.");
    assert_eq!(p1.content_transfer_encoding, Cte::SevenBit);
    let p2 = fd.section(&[2]).expect("[2]");
    assert_eq!(p2.content_transfer_encoding, Cte::Base64);
    assert_eq!(get(&raw, p2.body), "AAECAwQFBgcICQ==");
    assert_eq!(decode_transfer(Cte::Base64, get(&raw, p2.body).as_bytes()), (0u8..10).collect::<Vec<_>>());
    assert_eq!(p2.binary_size, 10); // Dovecot: BINARY.SIZE[2] 10
    assert!(get(&raw, p2.header).starts_with("Content-Type: application/octet-stream;"));
    assert!(get(&raw, p2.header).ends_with("base64\r\n\r\n"));
}

const NESTED: &str = "From: gina@example.com
Subject: Fwd: Original
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=outer

--outer
Content-Type: text/plain

Forwarded below.
--outer
Content-Type: message/rfc822

From: Henry <henry@example.com>
To: gina@example.com
Subject: Original
Date: Thu, 4 Jan 2024 08:00:00 +0000

Original body.
--outer--
";

#[test]
fn nested_message_rfc822() {
    let raw = crlf(NESTED);
    let fd = compute_ok(&raw);
    assert_eq!(
        text(&fd.envelope),
        r#"(NIL "Fwd: Original" ((NIL NIL "gina" "example.com")) ((NIL NIL "gina" "example.com")) ((NIL NIL "gina" "example.com")) NIL NIL NIL NIL NIL)"#
    );
    assert_eq!(
        text(&fd.bodystructure),
        r#"(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 16 0 NIL NIL NIL NIL)("message" "rfc822" NIL NIL NIL "7bit" 128 ("Thu, 4 Jan 2024 08:00:00 +0000" "Original" (("Henry" NIL "henry" "example.com")) (("Henry" NIL "henry" "example.com")) (("Henry" NIL "henry" "example.com")) ((NIL NIL "gina" "example.com")) NIL NIL NIL NIL) ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 14 0 NIL NIL NIL NIL) 5 NIL NIL NIL NIL) "mixed" ("boundary" "outer") NIL NIL NIL)"#
    );
    assert_eq!(
        text(&fd.body),
        r#"(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 16 0)("message" "rfc822" NIL NIL NIL "7bit" 128 ("Thu, 4 Jan 2024 08:00:00 +0000" "Original" (("Henry" NIL "henry" "example.com")) (("Henry" NIL "henry" "example.com")) (("Henry" NIL "henry" "example.com")) ((NIL NIL "gina" "example.com")) NIL NIL NIL NIL) ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 14 0) 5) "mixed")"#
    );
    assert_eq!(fd.sort_subject, "original");
    assert_eq!(fd.date, None);

    let p2 = fd.section(&[2]).expect("[2]");
    assert!(p2.is_message_rfc822);
    assert_eq!(get(&raw, p2.header), "Content-Type: message/rfc822\r\n\r\n");
    let inner_header = "From: Henry <henry@example.com>\r\nTo: gina@example.com\r\nSubject: Original\r\nDate: Thu, 4 Jan 2024 08:00:00 +0000\r\n\r\n";
    assert_eq!(get(&raw, p2.body), format!("{inner_header}Original body."));
    assert_eq!(get(&raw, fd.header_range(&[2]).expect("2.HEADER")), inner_header);
    assert_eq!(get(&raw, fd.text_range(&[2]).expect("2.TEXT")), "Original body.");
    // The encapsulated message is not multipart: its body is part 2.1, whose MIME header is
    // the encapsulated message's header.
    let p21 = fd.section(&[2, 1]).expect("[2.1]");
    assert_eq!(get(&raw, p21.body), "Original body.");
    assert_eq!(get(&raw, p21.header), inner_header);
    assert!(fd.section(&[2, 2]).is_none());
    assert_eq!(
        fd.parts.iter().map(|p| p.section.clone()).collect::<Vec<_>>(),
        vec![vec![], vec![1], vec![2], vec![2, 1]]
    );
}

/// Kitchen sink: multipart/alternative inside multipart/mixed, a base64 attachment with
/// every extension field, and a message/rfc822 whose message is itself multipart.
const KITCHEN_SINK: &str = r#"From: a@b
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="outer"

preamble
--outer
Content-Type: multipart/alternative; boundary=inner

--inner
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: Quoted-Printable

caf=C3=A9
--inner
Content-Type: text/html

<p>x</p>
--inner--

--outer
Content-Type: application/pdf; name="a.pdf"
Content-Transfer-Encoding: BASE64
Content-Disposition: attachment; filename="a.pdf"
Content-ID: <cid@x>
Content-Description: A file
Content-Language: en, de
Content-Location: http://x/y
Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==

aGVsbG8g
d29ybGQ=
--outer
Content-Type: message/rfc822
Content-Disposition: inline

From: c@d
Subject: inner
Content-Type: multipart/mixed; boundary=x2

--x2

one
--x2
Content-Type: image/png
Content-Language: fr

PNG
--x2--
--outer--
epilogue
"#;

#[test]
fn kitchen_sink_structure_and_sections() {
    let raw = crlf(KITCHEN_SINK);
    let fd = compute_ok(&raw);
    assert_eq!(
        text(&fd.bodystructure),
        r#"((("text" "plain" ("charset" "utf-8") NIL NIL "Quoted-Printable" 9 0 NIL NIL NIL NIL)("text" "html" ("charset" "us-ascii") NIL NIL "7bit" 8 0 NIL NIL NIL NIL) "alternative" ("boundary" "inner") NIL NIL NIL)("application" "pdf" ("name" "a.pdf") "<cid@x>" "A file" "BASE64" 18 "Q2hlY2sgSW50ZWdyaXR5IQ==" ("attachment" ("filename" "a.pdf")) ("en" "de") "http://x/y")("message" "rfc822" NIL NIL NIL "7bit" 154 (NIL "inner" ((NIL NIL "c" "d")) ((NIL NIL "c" "d")) ((NIL NIL "c" "d")) NIL NIL NIL NIL NIL) (("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 3 0 NIL NIL NIL NIL)("image" "png" NIL NIL NIL "7bit" 3 NIL NIL ("fr") NIL) "mixed" ("boundary" "x2") NIL NIL NIL) 13 NIL ("inline" NIL) NIL NIL) "mixed" ("boundary" "outer") NIL NIL NIL)"#
    );
    assert_eq!(
        text(&fd.body),
        r#"((("text" "plain" ("charset" "utf-8") NIL NIL "Quoted-Printable" 9 0)("text" "html" ("charset" "us-ascii") NIL NIL "7bit" 8 0) "alternative")("application" "pdf" ("name" "a.pdf") "<cid@x>" "A file" "BASE64" 18)("message" "rfc822" NIL NIL NIL "7bit" 154 (NIL "inner" ((NIL NIL "c" "d")) ((NIL NIL "c" "d")) ((NIL NIL "c" "d")) NIL NIL NIL NIL NIL) (("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 3 0)("image" "png" NIL NIL NIL "7bit" 3) "mixed") 13) "mixed")"#
    );
    let sections: Vec<Vec<u32>> = fd.parts.iter().map(|p| p.section.clone()).collect();
    assert_eq!(
        sections,
        vec![vec![], vec![1], vec![1, 1], vec![1, 2], vec![2], vec![3], vec![3, 1], vec![3, 2]]
    );

    // The byte ranges below are what Dovecot returns for the same BODY[...] items.
    let p1 = fd.section(&[1]).expect("[1]");
    assert!(p1.is_multipart);
    assert_eq!(get(&raw, p1.header), "Content-Type: multipart/alternative; boundary=inner\r\n\r\n");
    assert_eq!(p1.body.1 - p1.body.0, 165);
    assert!(get(&raw, p1.body).starts_with("--inner\r\n") && get(&raw, p1.body).ends_with("--inner--\r\n"));
    assert_eq!(get(&raw, fd.section(&[1, 1]).expect("[1.1]").body), "caf=C3=A9");
    assert_eq!(fd.section(&[1, 1]).expect("[1.1]").binary_size, 5);
    assert_eq!(fd.section(&[2]).expect("[2]").binary_size, 11);
    assert_eq!(
        get(&raw, fd.header_range(&[3]).expect("3.HEADER")),
        "From: c@d\r\nSubject: inner\r\nContent-Type: multipart/mixed; boundary=x2\r\n\r\n"
    );
    // The line break after the inner close delimiter is the inner message's, since the
    // outer delimiter directly follows it (no room for a CRLF of its own).
    let t3 = get(&raw, fd.text_range(&[3]).expect("3.TEXT"));
    assert_eq!(t3.len(), 81);
    assert!(t3.starts_with("--x2\r\n") && t3.ends_with("--x2--\r\n"));
    assert_eq!(get(&raw, fd.section(&[3, 1]).expect("[3.1]").header), "\r\n");
    assert_eq!(get(&raw, fd.section(&[3, 1]).expect("[3.1]").body), "one");
    assert_eq!(
        get(&raw, fd.mime_range(&[3, 2]).expect("3.2.MIME")),
        "Content-Type: image/png\r\nContent-Language: fr\r\n\r\n"
    );
    assert_eq!(get(&raw, fd.section(&[3, 2]).expect("[3.2]").body), "PNG");
    let whole = fd.section(&[]).expect("[]");
    assert_eq!(whole.body.1 as usize, raw.len());
    assert!(get(&raw, whole.body).starts_with("preamble\r\n"));
    // The encapsulated multipart has no number of its own; 3.TEXT reaches it.
    assert!(fd.section(&[3, 3]).is_none());
    assert!(fd.section(&[3, 1, 1]).is_none());
}

#[test]
fn rfc2047_subject_stays_encoded() {
    let raw = crlf(
        "From: =?ISO-8859-1?Q?Keld_J=F8rn_Simonsen?= <keld@dkuug.dk>
To: =?US-ASCII?Q?Keith_Moore?= <moore@cs.utk.edu>
Subject: Re: =?ISO-8859-1?B?SWYgeW91IGNhbiByZWFkIHRoaXMgeW8=?=
 =?ISO-8859-2?B?dSB1bmRlcnN0YW5kIHRoZSBleGFtcGxlLg==?=

body
",
    );
    let fd = compute_ok(&raw);
    // Dovecot sends the same subject as a literal; the value is identical.
    assert_eq!(
        text(&fd.envelope),
        r#"(NIL "Re: =?ISO-8859-1?B?SWYgeW91IGNhbiByZWFkIHRoaXMgeW8=?= =?ISO-8859-2?B?dSB1bmRlcnN0YW5kIHRoZSBleGFtcGxlLg==?=" (("=?ISO-8859-1?Q?Keld_J=F8rn_Simonsen?=" NIL "keld" "dkuug.dk")) (("=?ISO-8859-1?Q?Keld_J=F8rn_Simonsen?=" NIL "keld" "dkuug.dk")) (("=?ISO-8859-1?Q?Keld_J=F8rn_Simonsen?=" NIL "keld" "dkuug.dk")) (("=?US-ASCII?Q?Keith_Moore?=" NIL "moore" "cs.utk.edu")) NIL NIL NIL NIL)"#
    );
    // SORT works on the decoded base subject (RFC 5256 §2.1 step 1).
    assert_eq!(fd.sort_subject, "if you can read this you understand the example.");
    assert_eq!(fd.from_addr, "keld");
}

#[test]
fn group_addresses() {
    // RFC 5322 Appendix A.1.3.
    let raw = crlf(
        "From: Pete <pete@silly.example>
To: A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;
Cc: Undisclosed recipients:;
Date: Thu, 13 Feb 1969 23:32:54 -0330
Message-ID: <testabcd.1234@silly.example>

Testing.
",
    );
    let fd = compute_ok(&raw);
    assert_eq!(
        text(&fd.envelope),
        r#"("Thu, 13 Feb 1969 23:32:54 -0330" NIL (("Pete" NIL "pete" "silly.example")) (("Pete" NIL "pete" "silly.example")) (("Pete" NIL "pete" "silly.example")) ((NIL NIL "A Group" NIL)("Ed Jones" NIL "c" "a.test")(NIL NIL "joe" "where.test")("John" NIL "jdoe" "one.test")(NIL NIL NIL NIL)) ((NIL NIL "Undisclosed recipients" NIL)(NIL NIL NIL NIL)) NIL NIL "<testabcd.1234@silly.example>")"#
    );
    assert_eq!(fd.date, Some(-27_723_426));
    // A group that comes first sorts by its name (RFC 5256 §3: the addr-mailbox of the first
    // address, which a group's start marker holds; issue 12 item 10), an empty group too.
    assert_eq!(fd.to_addr, "a group");
    assert_eq!(fd.cc_addr, "undisclosed recipients");
}

#[test]
fn missing_headers_are_nil() {
    let raw = crlf("X-Note: nothing else\n\nbody\n");
    let fd = compute_ok(&raw);
    assert_eq!(text(&fd.envelope), "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
    assert_eq!(
        text(&fd.bodystructure),
        r#"("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 6 1 NIL NIL NIL NIL)"#
    );
    assert_eq!(fd.date, None);
    assert_eq!(fd.sort_subject, "");
    assert_eq!((fd.from_addr.as_str(), fd.to_addr.as_str(), fd.cc_addr.as_str()), ("", "", ""));
}

#[test]
fn empty_fields_and_defaults() {
    let raw = crlf("From: x@y\nSender:\nReply-To: r@s\nSubject:\nBcc: \nMessage-ID:   <id@x>  \n\nb");
    let fd = compute_ok(&raw);
    // Empty Subject is "", empty Bcc is NIL, empty Sender falls back to From (Dovecot too);
    // trailing whitespace is trimmed (Dovecot keeps it in Message-ID).
    assert_eq!(
        text(&fd.envelope),
        r#"(NIL "" ((NIL NIL "x" "y")) ((NIL NIL "x" "y")) ((NIL NIL "r" "s")) NIL NIL NIL NIL "<id@x>")"#
    );
    // A last line without a line break is not counted (Dovecot counts LFs).
    assert_eq!(text(&fd.body), r#"("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 1 0)"#);
}

#[test]
fn eight_bit_headers_become_literals() {
    let raw = b"Subject: caf\xc3\xa9\r\nFrom: \"\xc3\xa9 x\" <a@b>\r\n\r\nbody\r\n\r\n".to_vec();
    let fd = compute_ok(&raw);
    assert_eq!(
        fd.envelope,
        "(NIL {5}\r\ncafé (({4}\r\né x NIL \"a\" \"b\")) (({4}\r\né x NIL \"a\" \"b\")) (({4}\r\né x NIL \"a\" \"b\")) NIL NIL NIL NIL NIL)"
            .as_bytes()
    );
    assert_eq!(fd.sort_subject, "café");
}

#[test]
fn folded_header_is_unfolded() {
    let raw = crlf("Subject: one\n two\n\tthree\nFrom: a@b\n\n");
    let fd = compute_ok(&raw);
    assert!(text(&fd.envelope).starts_with("(NIL \"one two\tthree\" "));
    assert_eq!(fd.sort_subject, "one two three");
}

#[test]
fn digest_parts_default_to_message_rfc822() {
    let raw = crlf(
        "Content-Type: multipart/digest; boundary=d

--d

From: x@y
Subject: d1

body1
--d
Content-Type: text/plain

t
--d--
",
    );
    let fd = compute_ok(&raw);
    assert_eq!(
        text(&fd.bodystructure),
        r#"(("message" "rfc822" NIL NIL NIL "7bit" 31 (NIL "d1" ((NIL NIL "x" "y")) ((NIL NIL "x" "y")) ((NIL NIL "x" "y")) NIL NIL NIL NIL NIL) ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 5 0 NIL NIL NIL NIL) 3 NIL NIL NIL NIL)("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 1 0 NIL NIL NIL NIL) "digest" ("boundary" "d") NIL NIL NIL)"#
    );
    assert_eq!(get(&raw, fd.section(&[1, 1]).expect("[1.1]").body), "body1");
    assert_eq!(get(&raw, fd.header_range(&[1]).expect("1.HEADER")), "From: x@y\r\nSubject: d1\r\n\r\n");
}

#[test]
fn top_level_message_rfc822() {
    let raw = crlf("Content-Type: message/rfc822\n\nSubject: in\n\ninner body\n");
    let fd = compute_ok(&raw);
    assert_eq!(
        text(&fd.bodystructure),
        r#"("message" "rfc822" NIL NIL NIL "7bit" 27 (NIL "in" NIL NIL NIL NIL NIL NIL NIL NIL) ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 12 1 NIL NIL NIL NIL) 3 NIL NIL NIL NIL)"#
    );
    // Dovecot: BODY[1] is the encapsulated message, BODY[1.MIME] the top header,
    // BODY[1.1] and BODY[1.TEXT] the inner text, BODY[1.1.MIME] = BODY[1.HEADER].
    assert_eq!(get(&raw, fd.section(&[1]).expect("[1]").body), "Subject: in\r\n\r\ninner body\r\n");
    assert_eq!(get(&raw, fd.mime_range(&[1]).expect("1.MIME")), "Content-Type: message/rfc822\r\n\r\n");
    assert_eq!(get(&raw, fd.header_range(&[1]).expect("1.HEADER")), "Subject: in\r\n\r\n");
    assert_eq!(get(&raw, fd.text_range(&[1]).expect("1.TEXT")), "inner body\r\n");
    assert_eq!(get(&raw, fd.section(&[1, 1]).expect("[1.1]").body), "inner body\r\n");
    assert_eq!(get(&raw, fd.mime_range(&[1, 1]).expect("1.1.MIME")), "Subject: in\r\n\r\n");
    assert_eq!(get(&raw, fd.header_range(&[]).expect("HEADER")), "Content-Type: message/rfc822\r\n\r\n");
}

#[test]
fn malformed_multiparts() {
    // No part at all: one empty text part is reported (Dovecot does the same).
    let fd = compute_ok(&crlf("Content-Type: multipart/mixed; boundary=b\n\nno parts here\n"));
    assert_eq!(
        text(&fd.bodystructure),
        r#"(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0 NIL NIL NIL NIL) "mixed" ("boundary" "b") NIL NIL NIL)"#
    );
    assert_eq!(fd.section(&[1]).map(|p| p.body.1 - p.body.0), Some(0));
    // No boundary parameter.
    let fd = compute_ok(&crlf("Content-Type: multipart/mixed\n\n--b\nhi\n--b--\n"));
    assert_eq!(
        text(&fd.bodystructure),
        r#"(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0 NIL NIL NIL NIL) "mixed" NIL NIL NIL NIL)"#
    );
    // A boundary that is a prefix of the inner one, and a part header cut by a boundary.
    let raw = crlf(
        "Content-Type: multipart/mixed; boundary=ab\n\n--ab\nContent-Type: multipart/mixed; boundary=abc\n\n--abc\n\nX\n--abc--\n--ab\nContent-Type: text/plain\n--ab--\n",
    );
    let fd = compute_ok(&raw);
    assert_eq!(
        text(&fd.bodystructure),
        r#"((("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 1 0 NIL NIL NIL NIL) "mixed" ("boundary" "abc") NIL NIL NIL)("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0 NIL NIL NIL NIL) "mixed" ("boundary" "ab") NIL NIL NIL)"#
    );
    assert_eq!(get(&raw, fd.mime_range(&[2]).expect("2.MIME")), "Content-Type: text/plain");
    // Unterminated multipart: the last part runs to the end.
    let raw = crlf("Content-Type: multipart/mixed; boundary=b\n\n--b\n\nabc\n");
    let fd = compute_ok(&raw);
    assert_eq!(get(&raw, fd.section(&[1]).expect("[1]").body), "abc\r\n");
}

#[test]
fn content_type_edge_cases() {
    // Invalid Content-Type: the default applies (RFC 2045 §5.2; Dovecot reports it as is).
    let fd = compute_ok(&crlf("Content-Type: garbage\n\nzz\n"));
    assert_eq!(text(&fd.body), r#"("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 4 1)"#);
    // Comments, case and a missing charset.
    let fd = compute_ok(&crlf("Content-Type: TEXT/plain (comment); charset = \"utf-8\" (c2) ; x=y\n\nzz\n"));
    assert_eq!(text(&fd.body), r#"("TEXT" "plain" ("charset" "utf-8" "x" "y") NIL NIL "7bit" 4 1)"#);
    let fd = compute_ok(&crlf("Content-Type: text/plain; format=flowed\n\nzz\n"));
    assert_eq!(
        text(&fd.body),
        r#"("text" "plain" ("format" "flowed" "charset" "us-ascii") NIL NIL "7bit" 4 1)"#
    );
    // Extension fields as written: empty Content-ID, upper-case disposition and language.
    let raw = crlf(
        "Content-Type: text/plain\nContent-Transfer-Encoding: quoted-printable (comment)\nContent-Disposition: ATTACHMENT\nContent-Language: EN\nContent-ID:\n\na=3Db=\nc =\n\n",
    );
    let fd = compute_ok(&raw);
    assert_eq!(
        text(&fd.bodystructure),
        r#"("text" "plain" ("charset" "us-ascii") "" NIL "quoted-printable" 15 3 NIL ("ATTACHMENT" NIL) ("EN") NIL)"#
    );
    assert_eq!(fd.section(&[1]).expect("[1]").binary_size, 7); // Dovecot: BINARY[1] "a=bc \r\n"
    // Unknown encoding: reported as written, BINARY must refuse it.
    let fd =
        compute_ok(&crlf("Content-Type: application/x-stuff\nContent-Transfer-Encoding: x-uuencode\n\nzz\n"));
    assert_eq!(text(&fd.body), r#"("application" "x-stuff" NIL NIL NIL "x-uuencode" 4)"#);
    assert_eq!(fd.section(&[1]).expect("[1]").content_transfer_encoding, Cte::Unknown);
    // message/global is a basic type for IMAP4rev1 clients (as in Dovecot 2.3).
    let fd = compute_ok(&crlf("Content-Type: message/global\n\nSubject: in\n\ninner body\n"));
    assert_eq!(text(&fd.body), r#"("message" "global" NIL NIL NIL "7bit" 27)"#);
    // RFC 2231 parameters are passed through unmerged.
    let fd = compute_ok(&crlf(
        "Content-Type: application/x-stuff;\n title*0*=us-ascii'en'This%20is;\n title*1=\" fun\"\n\nzz\n",
    ));
    assert_eq!(
        text(&fd.body),
        r#"("application" "x-stuff" ("title*0*" "us-ascii'en'This%20is" "title*1" " fun") NIL NIL "7bit" 4)"#
    );
}

#[test]
fn broken_header_lines_and_unterminated_delimiters() {
    // A line without a colon ends the field above it: its continuation is not appended to
    // the Content-Type (which would change the boundary).
    let raw = crlf("Content-Type: multipart/mixed; boundary=ab\n--a\n folded\n\n--ab\n\nx\n--ab--\n");
    let fd = compute_ok(&raw);
    assert_eq!(text(&fd.body), r#"(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 1 0) "mixed")"#);
    // A delimiter on a last line without a line break starts no part (Dovecot agrees).
    for tail in ["--a", "--ab", "--a--"] {
        let raw = [crlf("Content-Type: multipart/mixed; boundary=a\n\n--a\n\nx\n"), tail.as_bytes().to_vec()]
            .concat();
        let fd = compute_ok(&raw);
        assert_eq!(
            text(&fd.body),
            r#"(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 1 0) "mixed")"#,
            "{tail}"
        );
        assert_eq!(get(&raw, fd.section(&[1]).expect("[1]").body), "x");
        assert!(fd.section(&[2]).is_none());
    }
}

#[test]
fn header_only_message() {
    let raw = b"Subject: x\r\nFrom: a@b".to_vec();
    let fd = compute_ok(&raw);
    assert_eq!(fd.header_len as usize, raw.len());
    assert_eq!(fd.section(&[]).expect("[]").body, (raw.len() as u32, raw.len() as u32));
    assert_eq!(text(&fd.body), r#"("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0)"#);
}

#[test]
fn bare_lf_is_tolerated() {
    let raw = b"Subject: lf\nContent-Type: multipart/mixed; boundary=b\n\n--b\n\none\n--b--\n".to_vec();
    let fd = compute_ok(&raw);
    assert_eq!(get(&raw, fd.section(&[1]).expect("[1]").body), "one");
    assert_eq!(fd.header_len, 55);
}

#[test]
fn encode_decode_round_trip() {
    for msg in [RFC3501, ALTERNATIVE, MIXED, NESTED, KITCHEN_SINK] {
        let fd = compute_ok(&crlf(msg));
        let bytes = fd.encode();
        assert_eq!(bytes[0], FORMAT_VERSION);
        assert_eq!(FetchData::decode(&bytes), Some(fd.clone()));
        // Any truncation, any trailing byte, another version: refused, never a panic.
        for n in 0..bytes.len() {
            assert_eq!(FetchData::decode(&bytes[..n]), None, "truncated at {n}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(FetchData::decode(&longer), None);
        let mut v4 = bytes.clone();
        v4[0] = FORMAT_VERSION + 1;
        assert_eq!(FetchData::decode(&v4), None);
    }
}

/// Data stored by version 1 (before thread keys) is still read, with `thread: None`.
#[test]
fn version_1_data_is_read() {
    let mut fd = compute_ok(&crlf(RFC3501));
    assert!(fd.thread.as_ref().is_some_and(|k| k.message_id.is_some()), "{:?}", fd.thread);
    assert_eq!(fd.display, Some(("terry gray".into(), "imap@cac.washington.edu".into())));
    fd.thread = None;
    fd.display = None;
    fd.summary = None;
    let mut bytes = fd.encode();
    // Version 3 ends with the summary (no addresses, no subject, no attachment: 4 bytes),
    // version 2 with the thread keys (no Message-ID: 1 byte, no references: 4 bytes) and the
    // two display keys (empty: 4 bytes each).
    bytes.truncate(bytes.len() - 4);
    bytes[0] = 2;
    let mut v2 = fd.clone();
    v2.thread = Some(Default::default());
    v2.display = Some(Default::default());
    assert_eq!(FetchData::decode(&bytes), Some(v2), "version 2: no summary");
    bytes.truncate(bytes.len() - 13);
    bytes[0] = 1;
    assert_eq!(FetchData::decode(&bytes), Some(fd));
}

#[test]
fn validate_accepts_sloppy_mail() {
    for raw in [
        &b"X: y\r\n\r\n"[..],
        b"Subject: no body, no blank line",
        b"From: a@b\n\nbare LF",
        b"Subject : obsolete space before colon\r\n\r\n",
        b"X-Empty:\r\n\r\n",
        b"Subject: hi\r\n\r\nNUL in the body is fine \0\r\n",
        b"Subject: \xff 8-bit header\r\n\r\n",
    ] {
        assert_eq!(validate(raw), Ok(()), "{:?}", String::from_utf8_lossy(raw));
        assert!(compute(raw).is_ok());
    }
}

#[test]
fn validate_rejects_non_mail() {
    for (raw, why) in [
        (&b""[..], NotMail::Empty),
        (b" \r\n\t\r\n", NotMail::Empty),
        (b"\r\nSubject: starts with a blank line\r\n", NotMail::NoHeader),
        (b"hello world\r\n", NotMail::NoHeader),
        (b"From alice@example.com Mon Jan  1 00:00:00 2024\r\nSubject: mbox\r\n\r\n", NotMail::NoHeader),
        (b": no name\r\n\r\n", NotMail::NoHeader),
        (b" Subject: continuation first\r\n\r\n", NotMail::NoHeader),
        (b"Sub\x80ject: 8-bit name\r\n\r\n", NotMail::NoHeader),
        (b"Subject: a\0b\r\n\r\nbody", NotMail::NulInHeader),
        (b"Subject: a\r\nX: \0\r\n\r\nbody", NotMail::NulInHeader),
    ] {
        assert_eq!(validate(raw), Err(why), "{:?}", String::from_utf8_lossy(raw));
        assert_eq!(compute(raw).err(), Some(why));
    }
    assert_eq!(NotMail::NoHeader.to_string(), "message does not start with a header field");
}

#[test]
fn transfer_decoding() {
    assert_eq!(decode_transfer(Cte::Base64, b"aGVsbG8g\r\nd29ybGQ="), b"hello world");
    assert_eq!(decode_transfer(Cte::Base64, b"aGk"), b"hi"); // missing padding
    assert_eq!(decode_transfer(Cte::Base64, b"a G\x00k!="), b"hi"); // junk ignored
    assert_eq!(decode_transfer(Cte::Base64, b""), b"");
    assert_eq!(decode_transfer(Cte::QuotedPrintable, b"a=3Db=\r\nc =\r\n\r\n"), b"a=bc \r\n");
    assert_eq!(decode_transfer(Cte::QuotedPrintable, b"trailing   \r\nx=4"), b"trailing\r\nx=4");
    assert_eq!(decode_transfer(Cte::QuotedPrintable, b"=e9t=C3=A9=zz"), b"\xe9t\xc3\xa9=zz");
    assert_eq!(decode_transfer(Cte::QuotedPrintable, b"soft=\nbreak"), b"softbreak");
    assert_eq!(decode_transfer(Cte::SevenBit, b"as is=3D"), b"as is=3D");
    assert_eq!(decode_transfer(Cte::Unknown, b"begin 644"), b"begin 644");
}

#[test]
fn binary_size_is_counted_as_decoding_would() {
    let raw = crlf(
        "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Transfer-Encoding: base64\n\naGVsbG8g\nd29ybGQ=\n--b\nContent-Transfer-Encoding: quoted-printable\n\na=3Db=\nc =\n\ntrailing   \nx=4=zz\n--b--\n",
    );
    let fd = compute_ok(&raw);
    for p in &fd.parts[1..] {
        let body = &raw[p.body.0 as usize..p.body.1 as usize];
        assert_eq!(p.binary_size as usize, decode_transfer(p.content_transfer_encoding, body).len(), "{p:?}");
    }
    assert_eq!(fd.parts[1].binary_size, 11);
}

#[test]
fn only_the_first_of_the_known_fields_is_kept() {
    // A header of many fields nobody reads, and repeats, gives the same data as without them.
    let plain = crlf("From: a@b\nSubject: one\nTo: c@d\n\nbody\n");
    let mut noisy = b"X-Spam: 1\r\n".repeat(10_000);
    noisy.extend_from_slice(&crlf(
        "From: a@b\nX-Long: x\n folded\nSubject: one\nReceived: by x\nSubject: two\nTo: c@d\nFrom: e@f\n\nbody\n",
    ));
    let (a, b) = (compute_ok(&plain), compute_ok(&noisy));
    assert_eq!(a.envelope, b.envelope);
    assert_eq!((a.sort_subject, a.from_addr, a.to_addr), (b.sort_subject, b.from_addr, b.to_addr));
    let root = mime::parse(&noisy);
    assert_eq!(root.fields.0.len(), 3, "From, Subject, To once each");
}

#[test]
fn huge_header_fields_are_parsed_up_to_a_bound() {
    // One 2 MB Subject and a 2 MB To list: what is computed from them is bounded, the message
    // keeps them whole (BODY[HEADER] is a slice of it).
    let mut raw = b"From: a@b\r\nSubject: ".to_vec();
    raw.extend(std::iter::repeat_n(b'x', 2 << 20));
    raw.extend_from_slice(b"\r\nTo: ");
    for i in 0..100_000 {
        raw.extend_from_slice(format!("u{i}@example.com, ").as_bytes());
    }
    raw.extend_from_slice(b"\r\n\r\nbody\r\n");
    let fd = compute_ok(&raw);
    let encoded = fd.encode();
    assert!(encoded.len() < 4 * MAX_FIELD_VALUE, "{} bytes", encoded.len());
    assert!(fd.sort_subject.len() <= MAX_FIELD_VALUE && fd.sort_subject.starts_with("xxx"));
    assert!(text(&fd.envelope).contains("((NIL NIL \"u0\" \"example.com\")"));
    assert_eq!(fd.header_len as usize, raw.len() - 6);
}

#[test]
fn cte_tokens() {
    assert_eq!(Cte::from_token(b"BASE64"), Cte::Base64);
    assert_eq!(Cte::from_token(b"Quoted-Printable"), Cte::QuotedPrintable);
    assert_eq!(Cte::from_token(b""), Cte::SevenBit);
    assert_eq!(Cte::from_token(b"8bit"), Cte::EightBit);
    assert_eq!(Cte::from_token(b"x-uuencode"), Cte::Unknown);
    for v in 0..=5u8 {
        assert_eq!(Cte::from_u8(v).map(|c| c as u8), Some(v));
    }
    assert_eq!(Cte::from_u8(6), None);
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    /// Message-like input: a header line, then lines drawn from MIME-ish fragments, so the
    /// parser meets boundaries, nested types and broken headers, not only noise.
    fn messageish() -> impl Strategy<Value = Vec<u8>> {
        let line = prop_oneof![
            Just(b"Content-Type: multipart/mixed; boundary=a".to_vec()),
            Just(b"Content-Type: multipart/alternative; boundary=ab".to_vec()),
            Just(b"Content-Type: message/rfc822".to_vec()),
            Just(b"Content-Type: multipart/digest; boundary=\"a\"".to_vec()),
            Just(b"Content-Transfer-Encoding: base64".to_vec()),
            Just(b"Content-Transfer-Encoding: quoted-printable".to_vec()),
            Just(b"From: \"x\" <a@b>, g: c@d;".to_vec()),
            Just(b"--a".to_vec()),
            Just(b"--a--".to_vec()),
            Just(b"--ab".to_vec()),
            Just(b"--ab--".to_vec()),
            Just(Vec::new()),
            Just(b" folded".to_vec()),
            proptest::collection::vec(any::<u8>(), 0..12),
        ];
        proptest::collection::vec((line, prop_oneof![Just(&b"\r\n"[..]), Just(&b"\n"[..])]), 0..40).prop_map(
            |lines| {
                let mut raw = b"Subject: t\r\n".to_vec();
                for (l, eol) in lines {
                    raw.extend_from_slice(&l);
                    raw.extend_from_slice(eol);
                }
                raw
            },
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

        #[test]
        fn compute_is_total_and_ranges_are_sound(raw in messageish()) {
            let fd = match compute(&raw) {
                Ok(fd) => fd,
                Err(e) => {
                    // Only a NUL in a random header line can make it refuse this input.
                    prop_assert_eq!(e, NotMail::NulInHeader);
                    return Ok(());
                }
            };
            let len = raw.len() as u32;
            prop_assert_eq!(fd.parts[0].section.clone(), Vec::<u32>::new());
            prop_assert_eq!(fd.parts[0].body.1, len);
            for p in &fd.parts {
                prop_assert!(p.header.0 <= p.header.1 && p.header.1 <= p.body.0 && p.body.0 <= p.body.1 && p.body.1 <= len, "{:?}", p);
                if let Some((h, t)) = p.message {
                    prop_assert!(p.body.0 <= h.0 && h.1 <= t.0 && t.1 <= p.body.1 || p.section.is_empty(), "{:?}", p);
                }
                prop_assert!(fd.section(&p.section).is_some());
            }
            let mut sorted = fd.parts.iter().map(|p| p.section.clone()).collect::<Vec<_>>();
            sorted.sort();
            sorted.dedup();
            prop_assert_eq!(sorted.len(), fd.parts.len(), "sections are unique");
            prop_assert_eq!(FetchData::decode(&fd.encode()), Some(fd));
        }

        #[test]
        fn binary_size_matches_decoding(body in proptest::collection::vec(prop_oneof![
            Just(b'='), Just(b'\r'), Just(b'\n'), Just(b' '), Just(b'A'), Just(b'3'), Just(b'D'), any::<u8>()
        ], 0..200)) {
            for cte in ["base64", "quoted-printable"] {
                let mut raw = format!("Content-Transfer-Encoding: {cte}\r\n\r\n").into_bytes();
                let start = raw.len();
                raw.extend_from_slice(&body);
                let fd = compute_ok(&raw);
                let p = &fd.parts[0];
                prop_assert_eq!(p.binary_size as usize, decode_transfer(p.content_transfer_encoding, &raw[start..]).len());
            }
        }

        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = FetchData::decode(&bytes);
        }
    }
}

/// What a client APPENDs is described as given (RFC 9051 §6.3.12): a body without a header has
/// an empty header at offset 0 and a body spanning the whole message.
#[test]
fn compute_given_describes_a_headerless_message() {
    let raw = b"hello world\r\n";
    let d = compute_given(raw).expect("given");
    assert_eq!(d.header_len, 0);
    assert_eq!(d.parts[0].header, (0, 0));
    assert_eq!(d.parts[0].body, (0, raw.len() as u32));
    assert_eq!(d.parts[0].message, Some(((0, 0), (0, raw.len() as u32))));
    assert!(d.envelope.starts_with(b"(NIL NIL"), "{}", String::from_utf8_lossy(&d.envelope));
    // An empty first line is an empty header section; zero octets are still refused.
    let d = compute_given(b"\r\nbody\r\n").expect("blank first line");
    assert_eq!((d.header_len, d.parts[0].body), (2, (2, 8)));
    assert_eq!(compute_given(b""), Err(NotMail::Empty));
    assert_eq!(compute(b"hello world\r\n"), Err(NotMail::NoHeader), "deliveries keep their rule");
}

/// Issue 12 item 10: a list that starts with a group (RFC 5322 §3.4) sorts by the group's name
/// (RFC 5256 §3 CC / TO, RFC 5957 §3 DISPLAYTO), an empty group too; a group after a mailbox
/// leaves the mailbox first.
#[test]
fn groups_that_come_first_give_the_sort_keys() {
    let d = compute(b"From: a@x\r\nTo: Team: Bob <bob@y>, c@z;\r\nCc: Empty:;\r\nSubject: s\r\n\r\nb\r\n")
        .expect("mail");
    assert_eq!((d.to_addr.as_str(), d.cc_addr.as_str()), ("team", "empty"));
    assert_eq!(d.display.as_ref().map(|(_, to)| to.as_str()), Some("team"));
    let d = compute(b"From: a@x\r\nTo: first@x, Team: bob@y;\r\n\r\nb\r\n").expect("mail");
    assert_eq!(d.to_addr, "first");
    assert_eq!(d.display.as_ref().map(|(_, to)| to.as_str()), Some("first@x"));
}
