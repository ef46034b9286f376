//! Known-answer tests: the command examples of RFC 9051 §6 and of the extension RFCs, and bad
//! inputs that must fail with their tag.

use std::num::{NonZeroU32, NonZeroU64};

use super::*;
use crate::proto::command::*;
use crate::proto::framing::{Frame, Framer};

fn ok(s: &str) -> Command {
    ok_bytes(s.as_bytes())
}

fn ok_bytes(s: &[u8]) -> Command {
    match parse_command(s) {
        Ok(c) => c,
        Err(e) => panic!("{:?}: {e}", String::from_utf8_lossy(s)),
    }
}

fn body(s: &str) -> CommandBody {
    ok(s).body
}

fn err(s: &str) -> ParseError {
    match parse_command(s.as_bytes()) {
        Ok(c) => panic!("{s:?} parsed: {c:?}"),
        Err(e) => e,
    }
}

fn nz(v: u32) -> NonZeroU32 {
    NonZeroU32::new(v).unwrap()
}

fn mbx(s: &str) -> MailboxName {
    MailboxName::new(s).unwrap()
}

fn atom(s: &str) -> Atom {
    Atom::try_from(s).unwrap()
}

fn kw(s: &str) -> Flag {
    Flag::Keyword(atom(s))
}

fn date(y: u16, m: u8, d: u8) -> Date {
    Date::new(y, m, d).unwrap()
}

fn num(v: u32) -> SeqNumber {
    if v == 0 { SeqNumber::Last } else { SeqNumber::Number(nz(v)) }
}

/// A sequence set from `(start, end)` pairs, 0 standing for `*`.
fn set(ranges: &[(u32, u32)]) -> SequenceSet {
    SequenceSet::Ranges(
        NonEmpty::try_from(
            ranges.iter().map(|&(a, b)| SeqRange { start: num(a), end: num(b) }).collect::<Vec<_>>(),
        )
        .unwrap(),
    )
}

fn nset(ranges: &[(u32, u32)]) -> NumberSet {
    NumberSet::new(ranges.iter().map(|&(a, b)| (nz(a), nz(b))).collect()).unwrap()
}

fn ne<T>(v: Vec<T>) -> NonEmpty<T> {
    NonEmpty::try_from(v).unwrap()
}

fn and(v: Vec<SearchKey>) -> SearchKey {
    SearchKey::And(ne(v))
}

fn modseq(v: u64) -> ModSeq {
    ModSeq::new(v).unwrap()
}

fn search_of(s: &str) -> (bool, Option<Vec<SearchReturn>>, Option<String>, SearchKey) {
    match body(s) {
        CommandBody::Search { uid, returns, charset, criteria } => (uid, returns, charset, criteria),
        other => panic!("not a search: {other:?}"),
    }
}

fn fetch_of(s: &str) -> (bool, SequenceSet, Vec<FetchAttribute>, Vec<FetchModifier>) {
    match body(s) {
        CommandBody::Fetch { uid, set, attributes, modifiers } => {
            (uid, set, attributes.into_vec(), modifiers)
        }
        other => panic!("not a fetch: {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// RFC 9051 §6.1, §6.2: any state, not authenticated
// ---------------------------------------------------------------------------------------------

#[test]
fn rfc9051_any_state_commands() {
    let c = ok("abcd CAPABILITY\r\n");
    assert_eq!(c.tag.as_str(), "abcd");
    assert_eq!(c.body, CommandBody::Capability);
    assert_eq!(body("a002 NOOP\r\n"), CommandBody::Noop);
    assert_eq!(body("A023 LOGOUT\r\n"), CommandBody::Logout);
    assert_eq!(body("a002 starttls\r\n"), CommandBody::StartTls);
    // Bare LF and a missing line ending are accepted.
    assert_eq!(body("a NOOP\n"), CommandBody::Noop);
    assert_eq!(body("a NOOP"), CommandBody::Noop);
}

#[test]
fn rfc9051_login() {
    match body("a001 LOGIN SMITH SESAME\r\n") {
        CommandBody::Login { username, password } => {
            assert_eq!(username, "SMITH");
            assert_eq!(password.expose(), b"SESAME");
        }
        other => panic!("{other:?}"),
    }
    // Quoted with escapes, and literals (RFC 9051 §7.5 example).
    match body("a LOGIN \"fred \\\"x\\\\\" {7}\r\nfat man\r\n") {
        CommandBody::Login { username, password } => {
            assert_eq!(username, "fred \"x\\");
            assert_eq!(password.expose(), b"fat man");
        }
        other => panic!("{other:?}"),
    }
    // RFC 7888 LITERAL+ example.
    match body("A001 LOGIN {11+}\r\nFRED FOOBAR {7+}\r\nfat man\r\n") {
        CommandBody::Login { username, password } => {
            assert_eq!(username, "FRED FOOBAR");
            assert_eq!(password.expose(), b"fat man");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn rfc9051_authenticate_and_sasl_ir() {
    assert_eq!(
        body("A001 AUTHENTICATE GSSAPI\r\n"),
        CommandBody::Authenticate { mechanism: atom("GSSAPI"), initial_response: None }
    );
    // RFC 4959 §3 example.
    match body("a01 AUTHENTICATE PLAIN dGVzdAB0ZXN0AHRlc3Q=\r\n") {
        CommandBody::Authenticate { mechanism, initial_response: Some(r) } => {
            assert!(mechanism.is("plain"));
            assert_eq!(r.expose(), b"test\0test\0test");
        }
        other => panic!("{other:?}"),
    }
    match body("a01 AUTHENTICATE EXTERNAL =\r\n") {
        CommandBody::Authenticate { initial_response: Some(r), .. } => assert!(r.expose().is_empty()),
        other => panic!("{other:?}"),
    }
    assert!(err("a01 AUTHENTICATE PLAIN dGVzdA\r\n").message.contains("base64"));
    assert_eq!(err("a01 AUTHENTICATE PLAIN \r\n").tag, Some(Tag::try_from("a01").unwrap()));
    // Continuation lines.
    assert_eq!(
        parse_sasl_response(b"dGVzdAB0ZXN0AHRlc3Q=\r\n").unwrap(),
        SaslResponse::Data(Secret::new(b"test\0test\0test".to_vec()))
    );
    assert_eq!(parse_sasl_response(b"*\r\n").unwrap(), SaslResponse::Cancel);
    assert_eq!(parse_sasl_response(b"\r\n").unwrap(), SaslResponse::Data(Secret::new(Vec::new())));
    assert!(parse_sasl_response(b"dGVzd===\r\n").is_err());
    assert!(parse_sasl_response(b"dG=zdA==\r\n").is_err());
    assert!(parse_sasl_response(b"d GVz\r\n").is_err());
}

#[test]
fn base64_known_answers() {
    // RFC 4648 §10 test vectors.
    for (enc, dec) in [
        ("", ""),
        ("Zg==", "f"),
        ("Zm8=", "fo"),
        ("Zm9v", "foo"),
        ("Zm9vYg==", "foob"),
        ("Zm9vYmE=", "fooba"),
        ("Zm9vYmFy", "foobar"),
    ] {
        assert_eq!(decode_base64(enc.as_bytes()).unwrap(), dec.as_bytes(), "{enc}");
    }
}

#[test]
fn rfc2971_id() {
    match body(
        "a023 ID (\"name\" \"sodr\" \"version\" \"19.34\" \"vendor\" \"Pink Floyd Music Limited\")\r\n",
    ) {
        CommandBody::Id { parameters: Some(p) } => {
            assert_eq!(p.len(), 3);
            assert_eq!(p[2], ("vendor".to_string(), Some("Pink Floyd Music Limited".to_string())));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(body("a ID NIL\r\n"), CommandBody::Id { parameters: None });
    assert_eq!(
        body("a ID (\"name\" NIL)\r\n"),
        CommandBody::Id { parameters: Some(vec![("name".into(), None)]) }
    );
}

// ---------------------------------------------------------------------------------------------
// RFC 9051 §6.3: authenticated state
// ---------------------------------------------------------------------------------------------

#[test]
fn rfc9051_enable() {
    // RFC 9051 §6.3.1 / RFC 5161 §3.1.
    assert_eq!(
        body("t2 ENABLE CONDSTORE X-GOOD-IDEA\r\n"),
        CommandBody::Enable { capabilities: ne(vec![atom("CONDSTORE"), atom("X-GOOD-IDEA")]) }
    );
    assert_eq!(
        body("a1 ENABLE QRESYNC UTF8=ACCEPT IMAP4rev2\r\n"),
        CommandBody::Enable {
            capabilities: ne(vec![atom("QRESYNC"), atom("UTF8=ACCEPT"), atom("IMAP4rev2")])
        }
    );
    assert!(err("a ENABLE\r\n").tag.is_some());
}

#[test]
fn rfc9051_select_examine() {
    assert_eq!(
        body("A142 SELECT INBOX\r\n"),
        CommandBody::Select { mailbox: mbx("INBOX"), params: SelectParams::default() }
    );
    assert_eq!(
        body("A142 SELECT inbox\r\n"),
        CommandBody::Select { mailbox: mbx("INBOX"), params: SelectParams::default() }
    );
    assert_eq!(
        body("A932 EXAMINE blurdybloop\r\n"),
        CommandBody::Examine { mailbox: mbx("blurdybloop"), params: SelectParams::default() }
    );
}

#[test]
fn rfc7162_select_condstore_qresync() {
    assert_eq!(
        body("A160 SELECT INBOX (CONDSTORE)\r\n"),
        CommandBody::Select {
            mailbox: mbx("INBOX"),
            params: SelectParams { condstore: true, qresync: None }
        }
    );
    // RFC 7162 §3.2.5.2 examples.
    let q = |s: &str| match body(s) {
        CommandBody::Select { params: SelectParams { qresync: Some(q), .. }, .. } => q,
        other => panic!("{other:?}"),
    };
    let a = q("A02 SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541))\r\n");
    assert_eq!(a.uid_validity, nz(67_890_007));
    assert_eq!(a.mod_seq, modseq(20_050_715_194_045_000));
    assert_eq!(a.known_uids, Some(nset(&[(41, 41), (43, 211), (214, 541)])));
    assert_eq!(a.seq_match, None);
    let b = q("B04 SELECT INBOX (QRESYNC (67890007 90060115194045000 1:29997 (5000,7500,9000,9990:9999 \
               15000,22500,27000,29970,29973,29976:29999)))\r\n");
    assert_eq!(b.known_uids, Some(nset(&[(1, 29997)])));
    let (seqs, uids) = b.seq_match.unwrap();
    assert_eq!(seqs, nset(&[(5000, 5000), (7500, 7500), (9000, 9000), (9990, 9999)]));
    assert_eq!(uids.ranges().len(), 6);
    let c = q("C01 SELECT INBOX (QRESYNC (67890007 90060115194045000 (1:3 10:12)))\r\n");
    assert_eq!(c.known_uids, None);
    assert!(c.seq_match.is_some());
    let d = q("D01 SELECT INBOX (QRESYNC (1 1))\r\n");
    assert_eq!((d.known_uids, d.seq_match), (None, None));
    // "*" is not allowed in known-uids, mod-sequence-value is not zero.
    assert!(parse_command(b"a SELECT INBOX (QRESYNC (1 5 1:*))\r\n").is_err());
    assert!(parse_command(b"a SELECT INBOX (QRESYNC (1 0))\r\n").is_err());
    assert!(parse_command(b"a SELECT INBOX (FOO)\r\n").is_err());
    assert!(parse_command(b"a SELECT INBOX ()\r\n").is_err());
}

#[test]
fn rfc9051_create_delete_rename_subscribe() {
    assert_eq!(
        body("A003 CREATE owatagusiam/\r\n"),
        CommandBody::Create { mailbox: mbx("owatagusiam/"), special_use: vec![] }
    );
    assert_eq!(
        body("A004 CREATE owatagusiam/blurdybloop\r\n"),
        CommandBody::Create { mailbox: mbx("owatagusiam/blurdybloop"), special_use: vec![] }
    );
    // RFC 6154 §5.2 example.
    assert_eq!(
        body("t1 CREATE MySpecial (USE (\\Drafts \\Sent))\r\n"),
        CommandBody::Create {
            mailbox: mbx("MySpecial"),
            special_use: vec![SpecialUse(atom("Drafts")), SpecialUse(atom("Sent"))]
        }
    );
    assert_eq!(
        body("t1 CREATE x (USE (\\Foo))\r\n"),
        CommandBody::Create { mailbox: mbx("x"), special_use: vec![SpecialUse(atom("Foo"))] }
    );
    assert_eq!(body("A683 DELETE blurdybloop\r\n"), CommandBody::Delete { mailbox: mbx("blurdybloop") });
    assert_eq!(body("A685 DELETE foo/bar\r\n"), CommandBody::Delete { mailbox: mbx("foo/bar") });
    assert_eq!(
        body("A683 RENAME blurdybloop sarasoop\r\n"),
        CommandBody::Rename { from: mbx("blurdybloop"), to: mbx("sarasoop") }
    );
    assert_eq!(
        body("A002 SUBSCRIBE #news.comp.mail.mime\r\n"),
        CommandBody::Subscribe { mailbox: mbx("#news.comp.mail.mime") }
    );
    assert_eq!(
        body("A002 UNSUBSCRIBE #news.comp.mail.mime\r\n"),
        CommandBody::Unsubscribe { mailbox: mbx("#news.comp.mail.mime") }
    );
    assert_eq!(body("A001 NAMESPACE\r\n"), CommandBody::Namespace);
    // An empty name is no mailbox.
    assert!(err("a CREATE \"\"\r\n").message.contains("mailbox"));
}

#[test]
fn mailbox_names_modified_utf7_and_utf8() {
    // RFC 3501 §5.1.3 example.
    let name = "~peter/mail/\u{53f0}\u{5317}/\u{65e5}\u{672c}\u{8a9e}";
    assert_eq!(
        body("a SELECT ~peter/mail/&U,BTFw-/&ZeVnLIqe-\r\n"),
        CommandBody::Select { mailbox: mbx(name), params: SelectParams::default() }
    );
    // Not valid modified UTF-7 but a valid astring: parsed, the name kept as it is and marked
    // (the command answers NO, RFC 3501 §5.1.3); a pattern is kept as it is.
    match body("a SELECT \"Fish & Chips\"\r\n") {
        CommandBody::Select { mailbox, .. } => {
            assert!(mailbox.is_not_modified_utf7());
            assert_eq!(mailbox.as_str(), "Fish & Chips");
        }
        other => panic!("{other:?}"),
    }
    match body("a LIST \"\" &Jjo\r\n") {
        CommandBody::List { patterns, .. } => assert_eq!(patterns.into_vec(), ["&Jjo"]),
        other => panic!("{other:?}"),
    }
    assert!(err("a SELECT \"\x01\"\r\n").message.contains("mailbox"));
    // With UTF8=ACCEPT the bytes are the name.
    let utf8 = ParseOptions { utf8: true };
    let c = parse_command_with("a SELECT \"Fish & Chips/\u{53f0}\"\r\n".as_bytes(), utf8).unwrap();
    assert_eq!(
        c.body,
        CommandBody::Select { mailbox: mbx("Fish & Chips/\u{53f0}"), params: SelectParams::default() }
    );
    assert!(parse_command_with(b"a SELECT \"\xff\"\r\n", utf8).is_err());
    // Literal with raw UTF-8 (RFC 6855 style).
    let c = parse_command_with("a SELECT {6}\r\nEntwü\r\n".as_bytes(), utf8).unwrap();
    assert_eq!(c.body, CommandBody::Select { mailbox: mbx("Entwü"), params: SelectParams::default() });
}

#[test]
fn rfc9051_list_basic() {
    let list = |s: &str| match body(s) {
        CommandBody::List { select, reference, patterns, returns } => {
            (select, reference, patterns.into_vec(), returns)
        }
        other => panic!("{other:?}"),
    };
    assert_eq!(list("A101 LIST \"\" \"\"\r\n"), (vec![], String::new(), vec![String::new()], vec![]));
    assert_eq!(
        list("A102 LIST #news.comp.mail.misc \"\"\r\n"),
        (vec![], "#news.comp.mail.misc".into(), vec![String::new()], vec![])
    );
    assert_eq!(list("A202 LIST ~/Mail/ %\r\n"), (vec![], "~/Mail/".into(), vec!["%".into()], vec![]));
    assert_eq!(list("A682 LIST \"\" *\r\n"), (vec![], String::new(), vec!["*".into()], vec![]));
    assert_eq!(list("a LIST \"\" INBOX.*]\r\n").2, vec!["INBOX.*]".to_string()]);
}

#[test]
fn rfc5258_list_extended() {
    let list = |s: &str| match body(s) {
        CommandBody::List { select, reference, patterns, returns } => {
            (select, reference, patterns.into_vec(), returns)
        }
        other => panic!("{other:?}"),
    };
    assert_eq!(list("A02 LIST (SUBSCRIBED) \"\" \"*\"\r\n").0, vec![ListSelect::Subscribed]);
    let (sel, _, pat, ret) = list("A03 LIST () \"\" \"%\" RETURN (CHILDREN)\r\n");
    assert_eq!((sel, pat, ret), (vec![], vec!["%".to_string()], vec![ListReturn::Children]));
    let (sel, _, _, ret) = list("A04 LIST (REMOTE) \"\" \"%\" RETURN (CHILDREN)\r\n");
    assert_eq!((sel, ret), (vec![ListSelect::Remote], vec![ListReturn::Children]));
    assert_eq!(
        list("A05 LIST (REMOTE SUBSCRIBED) \"\" \"*\"\r\n").0,
        vec![ListSelect::Remote, ListSelect::Subscribed]
    );
    let (sel, _, _, ret) = list("C04 LIST (SUBSCRIBED RECURSIVEMATCH) \"\" \"%\" RETURN (CHILDREN)\r\n");
    assert_eq!(sel, vec![ListSelect::Subscribed, ListSelect::RecursiveMatch]);
    assert_eq!(ret, vec![ListReturn::Children]);
    // Multiple patterns.
    assert_eq!(
        list("A01 LIST \"\" (\"INBOX\" \"Drafts\" \"Sent/%\")\r\n").2,
        vec!["INBOX".to_string(), "Drafts".into(), "Sent/%".into()]
    );
    assert_eq!(list("A02 LIST \"\" \"%\" RETURN ()\r\n").3, vec![]);
    // RECURSIVEMATCH alone is a BAD (RFC 5258 §3).
    assert!(err("A04 LIST (RECURSIVEMATCH) \"\" \"%\"\r\n").message.contains("RECURSIVEMATCH"));
    assert!(parse_command(b"A04 LIST (FOO) \"\" \"%\"\r\n").is_err());
    // RFC 6154 §5.1 examples.
    assert_eq!(list("t1 LIST \"\" \"%\" RETURN (SPECIAL-USE)\r\n").3, vec![ListReturn::SpecialUse]);
    assert_eq!(list("t1 LIST (SPECIAL-USE) \"\" \"*\"\r\n").0, vec![ListSelect::SpecialUse]);
}

#[test]
fn rfc5819_list_status() {
    match body("A01 LIST \"\" % RETURN (STATUS (MESSAGES UNSEEN))\r\n") {
        CommandBody::List { returns, .. } => assert_eq!(
            returns,
            vec![ListReturn::Status(ne(vec![StatusAttribute::Messages, StatusAttribute::Unseen]))]
        ),
        other => panic!("{other:?}"),
    }
    match body("A02 LIST (SUBSCRIBED RECURSIVEMATCH) \"\" % RETURN (STATUS (MESSAGES))\r\n") {
        CommandBody::List { select, returns, .. } => {
            assert_eq!(select, vec![ListSelect::Subscribed, ListSelect::RecursiveMatch]);
            assert_eq!(returns, vec![ListReturn::Status(ne(vec![StatusAttribute::Messages]))]);
        }
        other => panic!("{other:?}"),
    }
    match body("A03 LIST \"\" * RETURN (SUBSCRIBED CHILDREN STATUS (HIGHESTMODSEQ SIZE))\r\n") {
        CommandBody::List { returns, .. } => assert_eq!(returns.len(), 3),
        other => panic!("{other:?}"),
    }
}

#[test]
fn rfc3501_lsub() {
    assert_eq!(
        body("A002 LSUB \"#news.\" \"comp.mail.*\"\r\n"),
        CommandBody::Lsub { reference: "#news.".into(), pattern: "comp.mail.*".into() }
    );
    assert_eq!(
        body("A003 LSUB \"#news.\" \"comp.%\"\r\n"),
        CommandBody::Lsub { reference: "#news.".into(), pattern: "comp.%".into() }
    );
}

#[test]
fn rfc9051_status() {
    assert_eq!(
        body("A042 STATUS blurdybloop (UIDNEXT MESSAGES)\r\n"),
        CommandBody::Status {
            mailbox: mbx("blurdybloop"),
            attributes: ne(vec![StatusAttribute::UidNext, StatusAttribute::Messages])
        }
    );
    match body(
        "a STATUS INBOX (MESSAGES UIDNEXT UIDVALIDITY UNSEEN DELETED SIZE RECENT HIGHESTMODSEQ MAILBOXID \
         APPENDLIMIT)\r\n",
    ) {
        CommandBody::Status { attributes, .. } => assert_eq!(attributes.len(), 10),
        other => panic!("{other:?}"),
    }
    assert!(parse_command(b"a STATUS INBOX ()\r\n").is_err());
    assert!(parse_command(b"a STATUS INBOX (FOO)\r\n").is_err());
}

const MESSAGE: &str = "Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)\r\n\
From: Fred Foobar <foobar@Blurdybloop.example>\r\n\
Subject: afternoon meeting\r\n\
To: mooch@owatagu.siam.edu.example\r\n\
Message-Id: <B27397-0100000@Blurdybloop.example>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n\
\r\n\
Hello Joe, do you think we can meet at 3:30 tomorrow?\r\n";

#[test]
fn rfc9051_append() {
    let cmd = format!("A003 APPEND saved-messages (\\Seen) {{{}}}\r\n{MESSAGE}\r\n", MESSAGE.len());
    let parsed = ok(&cmd);
    match &parsed.body {
        CommandBody::Append { mailbox, messages } => {
            assert_eq!(mailbox, &mbx("saved-messages"));
            assert_eq!(messages.len(), 1);
            let m = &messages[0];
            assert_eq!(m.flags, vec![Flag::Seen]);
            assert_eq!(m.date_time, None);
            assert!(matches!(m.data, AppendData::Literal { binary: false, utf8: false, .. }));
            assert_eq!(m.bytes(cmd.as_bytes()), MESSAGE.as_bytes());
        }
        other => panic!("{other:?}"),
    }
    // Date-time and LITERAL+ (RFC 7888 example form).
    let cmd = format!(
        "A004 APPEND INBOX (\\Seen $Forwarded) \" 7-Feb-1994 21:52:25 -0800\" {{{}+}}\r\n{MESSAGE}\r\n",
        MESSAGE.len()
    );
    match ok(&cmd).body {
        CommandBody::Append { messages, .. } => {
            let m = &messages[0];
            assert_eq!(m.flags, vec![Flag::Seen, kw("$Forwarded")]);
            let dt = m.date_time.unwrap();
            assert_eq!((dt.date(), dt.hour(), dt.zone_minutes()), (date(1994, 2, 7), 21, -480));
        }
        other => panic!("{other:?}"),
    }
    // No flags, two-digit day, empty flag list.
    assert!(matches!(
        body("a APPEND x \"17-Feb-1994 01:02:03 +0100\" {1}\r\nx\r\n"),
        CommandBody::Append { .. }
    ));
    assert!(matches!(body("a APPEND x () {1}\r\nx\r\n"), CommandBody::Append { .. }));
    // NUL only in literal8 (RFC 3516).
    assert!(err("a APPEND x {3}\r\na\0b\r\n").message.contains("NUL"));
    match body("a APPEND x ~{3}\r\na\0b\r\n") {
        CommandBody::Append { messages, .. } => {
            assert!(matches!(messages[0].data, AppendData::Literal { binary: true, .. }))
        }
        other => panic!("{other:?}"),
    }
    // UTF8 (RFC 6855).
    match body("a APPEND x UTF8 (~{2}\r\nhi)\r\n") {
        CommandBody::Append { messages, .. } => {
            assert!(matches!(messages[0].data, AppendData::Literal { binary: true, utf8: true, .. }))
        }
        other => panic!("{other:?}"),
    }
    // Bad date-times.
    assert!(parse_command(b"a APPEND x \"31-Feb-1994 01:02:03 +0100\" {1}\r\nx\r\n").is_err());
    assert!(parse_command(b"a APPEND x \"1-Feb-1994 25:02:03 +0100\" {1}\r\nx\r\n").is_err());
    assert!(parse_command(b"a APPEND x \"1-Feb-1994 01:02:03 0100\" {1}\r\nx\r\n").is_err());
    // Literal shorter than announced.
    assert!(err("a APPEND x {10}\r\nabc\r\n").message.contains("literal"));
    // No message at all.
    assert!(parse_command(b"a APPEND x\r\n").is_err());
    assert!(parse_command(b"a APPEND x (\\Seen)\r\n").is_err());
}

#[test]
fn rfc3502_multiappend() {
    let m2 = "Date: Mon, 7 Feb 1994 22:43:04 -0800 (PST)\r\nSubject: second\r\n\r\nbody\r\n";
    let cmd = format!(
        "A003 APPEND saved-messages (\\Seen) {{{}}}\r\n{MESSAGE} (\\Seen) \" 7-Feb-1994 22:43:04 -0800\" {{{}}}\r\n{m2}\r\n",
        MESSAGE.len(),
        m2.len()
    );
    match ok(&cmd).body {
        CommandBody::Append { messages, .. } => {
            assert_eq!(messages.len(), 2);
            assert_eq!(messages[0].bytes(cmd.as_bytes()), MESSAGE.as_bytes());
            assert_eq!(messages[1].bytes(cmd.as_bytes()), m2.as_bytes());
            assert_eq!(messages[1].date_time.map(|d| d.minute()), Some(43));
        }
        other => panic!("{other:?}"),
    }
}

/// RFC 4469 §5: `CATENATE (TEXT literal / URL astring ...)`, alone or beside plain messages
/// (MULTIAPPEND), with RFC 6855's `UTF8 (literal8)` part and a literal8 TEXT.
#[test]
fn rfc4469_catenate() {
    let cmd = "a APPEND Drafts (\\Seen) CATENATE (URL \"/INBOX;UIDVALIDITY=3/;UID=2/;SECTION=1\" TEXT {5}\r\nhello \
               URL ;UID=4 UTF8 (~{2}\r\nhi) TEXT ~{3}\r\na\0b) {1}\r\nx\r\n";
    match ok(cmd).body {
        CommandBody::Append { messages, .. } => {
            assert_eq!(messages.len(), 2);
            assert_eq!(messages[0].flags, vec![Flag::Seen]);
            let AppendData::Catenate(parts) = &messages[0].data else { panic!("{:?}", messages[0]) };
            assert_eq!(parts.len(), 5);
            assert_eq!(parts[0], CatPart::Url(b"/INBOX;UIDVALIDITY=3/;UID=2/;SECTION=1".to_vec()));
            let CatPart::Text { range, binary: false } = &parts[1] else { panic!("{parts:?}") };
            assert_eq!(&cmd.as_bytes()[range.clone()], b"hello");
            assert_eq!(parts[2], CatPart::Url(b";UID=4".to_vec()));
            assert!(matches!(parts[3], CatPart::Text { binary: true, .. }));
            let CatPart::Text { range, binary: true } = &parts[4] else { panic!("{parts:?}") };
            assert_eq!(&cmd.as_bytes()[range.clone()], b"a\0b");
            assert_eq!(messages[1].bytes(cmd.as_bytes()), b"x");
        }
        other => panic!("{other:?}"),
    }
    // At least one part; TEXT takes a literal, not a quoted string; NUL only in a literal8.
    assert!(parse_command(b"a APPEND x CATENATE ()\r\n").is_err());
    assert!(parse_command(b"a APPEND x CATENATE (TEXT \"abc\")\r\n").is_err());
    assert!(parse_command(b"a APPEND x CATENATE (TEXT {3}\r\na\0b)\r\n").is_err());
    assert!(parse_command(b"a APPEND x CATENATE (FOO {1}\r\nx)\r\n").is_err());
    assert!(parse_command(b"a APPEND x CATENATE (URL \"/INBOX/;UID=1\"\r\n").is_err());
    assert!(parse_command(b"a APPEND x CATENATE URL \"/INBOX/;UID=1\"\r\n").is_err());
}

#[test]
fn rfc9051_idle_and_done() {
    assert_eq!(body("A001 IDLE\r\n"), CommandBody::Idle);
    assert!(parse_done(b"DONE\r\n").is_ok());
    assert!(parse_done(b"done\n").is_ok());
    assert!(parse_done(b"DONE \r\n").is_err());
    assert!(parse_done(b"a NOOP\r\n").is_err());
}

// ---------------------------------------------------------------------------------------------
// RFC 9051 §6.4: selected state
// ---------------------------------------------------------------------------------------------

#[test]
fn rfc9051_selected_simple() {
    assert_eq!(body("FXXZ CHECK\r\n"), CommandBody::Check);
    assert_eq!(body("A341 CLOSE\r\n"), CommandBody::Close);
    assert_eq!(body("A342 UNSELECT\r\n"), CommandBody::Unselect);
    assert_eq!(body("A202 EXPUNGE\r\n"), CommandBody::Expunge);
    // RFC 4315 §2.1.
    assert_eq!(body("A003 UID EXPUNGE 3000:3002\r\n"), CommandBody::UidExpunge { set: set(&[(3000, 3002)]) });
}

#[test]
fn rfc9051_search() {
    let (uid, ret, cs, key) =
        search_of("A282 SEARCH RETURN (MIN COUNT) FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"\r\n");
    assert!(!uid);
    assert_eq!(ret, Some(vec![SearchReturn::Min, SearchReturn::Count]));
    assert_eq!(cs, None);
    assert_eq!(
        key,
        and(vec![
            SearchKey::Flagged,
            SearchKey::Since(date(1994, 2, 1)),
            SearchKey::Not(Box::new(SearchKey::From(b"Smith".to_vec()))),
        ])
    );
    // RFC 4731 §3.1: RETURN () is RETURN (ALL).
    let (_, ret, _, _) = search_of("A283 SEARCH RETURN () FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"\r\n");
    assert_eq!(ret, Some(vec![SearchReturn::All]));
    let (_, ret, _, key) = search_of("A284 SEARCH TEXT \"string not in mailbox\"\r\n");
    assert_eq!((ret, key), (None, SearchKey::Text(b"string not in mailbox".to_vec())));
    // CHARSET with a literal (RFC 9051 §6.4.4 example shape).
    let cyr = "\u{420}\u{435}\u{437}\u{44e}\u{43c}\u{435}".as_bytes(); // 12 bytes
    let mut cmd = b"A285 SEARCH CHARSET UTF-8 TEXT {12}\r\n".to_vec();
    cmd.extend_from_slice(cyr);
    cmd.extend_from_slice(b"\r\n");
    match ok_bytes(&cmd).body {
        CommandBody::Search { charset, criteria, .. } => {
            assert_eq!(charset.as_deref(), Some("UTF-8"));
            assert_eq!(criteria, SearchKey::Text(cyr.to_vec()));
        }
        other => panic!("{other:?}"),
    }
    let (_, _, cs, key) = search_of("A286 SEARCH CHARSET \"US-ASCII\" TEXT gewp\r\n");
    assert_eq!((cs.as_deref(), key), (Some("US-ASCII"), SearchKey::Text(b"gewp".to_vec())));
    // RFC 3501 §6.4.4 example.
    let (_, _, _, key) = search_of("A282 SEARCH FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"\r\n");
    assert!(matches!(key, SearchKey::And(k) if k.len() == 3));
    // UID SEARCH with a sequence set as key.
    let (uid, _, _, key) = search_of("A999 UID SEARCH 1:100 UID 443:557\r\n");
    assert!(uid);
    assert_eq!(key, and(vec![SearchKey::SequenceSet(set(&[(1, 100)])), SearchKey::Uid(set(&[(443, 557)]))]));
}

#[test]
fn search_every_key() {
    use SearchKey as K;
    let cases: Vec<(&str, K)> = vec![
        ("ALL", K::All),
        ("ANSWERED", K::Answered),
        ("BCC x", K::Bcc(b"x".to_vec())),
        ("BEFORE 1-Feb-2000", K::Before(date(2000, 2, 1))),
        ("BODY \"a b\"", K::Body(b"a b".to_vec())),
        ("CC x", K::Cc(b"x".to_vec())),
        ("DELETED", K::Deleted),
        ("DRAFT", K::Draft),
        ("FLAGGED", K::Flagged),
        ("FROM x", K::From(b"x".to_vec())),
        ("HEADER Message-ID \"<a@b>\"", K::Header("Message-ID".into(), b"<a@b>".to_vec())),
        ("HEADER X-Empty \"\"", K::Header("X-Empty".into(), Vec::new())),
        ("KEYWORD $Forwarded", K::Keyword(atom("$Forwarded"))),
        ("LARGER 10000000000", K::Larger(10_000_000_000)),
        ("NEW", K::New),
        ("NOT SEEN", K::Not(Box::new(K::Seen))),
        ("OLD", K::Old),
        ("ON \"3-Mar-2003\"", K::On(date(2003, 3, 3))),
        ("OR SEEN FLAGGED", K::Or(Box::new(K::Seen), Box::new(K::Flagged))),
        ("RECENT", K::Recent),
        ("SEEN", K::Seen),
        ("SENTBEFORE 1-Jan-2001", K::SentBefore(date(2001, 1, 1))),
        ("SENTON 29-Feb-2024", K::SentOn(date(2024, 2, 29))),
        ("SENTSINCE 1-dec-1999", K::SentSince(date(1999, 12, 1))),
        ("SINCE 1-Feb-1994", K::Since(date(1994, 2, 1))),
        ("SMALLER 4096", K::Smaller(4096)),
        ("SUBJECT {5}\r\nhello", K::Subject(b"hello".to_vec())),
        ("TEXT x", K::Text(b"x".to_vec())),
        ("TO x", K::To(b"x".to_vec())),
        ("UID 1:*", K::Uid(set(&[(1, 0)]))),
        ("UID $", K::Uid(SequenceSet::Saved)),
        ("UNANSWERED", K::Unanswered),
        ("UNDELETED", K::Undeleted),
        ("UNDRAFT", K::Undraft),
        ("UNFLAGGED", K::Unflagged),
        ("UNKEYWORD $Junk", K::Unkeyword(atom("$Junk"))),
        ("UNSEEN", K::Unseen),
        ("2,4:*", K::SequenceSet(set(&[(2, 2), (4, 0)]))),
        ("$", K::SequenceSet(SequenceSet::Saved)),
        ("(SEEN)", and(vec![K::Seen])),
        ("(SEEN (DRAFT UNFLAGGED))", and(vec![K::Seen, and(vec![K::Draft, K::Unflagged])])),
        ("MODSEQ 0", K::ModSeq { entry: None, mod_seq: 0 }),
        ("EMAILID M6d99ac3275bb4e", K::EmailId(ObjectId::try_from("M6d99ac3275bb4e").unwrap())),
        ("THREADID T64b478a75b7ea9", K::ThreadId(ObjectId::try_from("T64b478a75b7ea9").unwrap())),
        ("OLDER 3600", K::Older(nz(3600))),
        ("YOUNGER 60", K::Younger(nz(60))),
        ("seen", K::Seen),
    ];
    for (text, want) in cases {
        let (_, _, _, key) = search_of(&format!("a SEARCH {text}\r\n"));
        assert_eq!(key, want, "{text}");
    }
}

#[test]
fn search_errors_and_depth() {
    for bad in [
        "a SEARCH\r\n",
        "a SEARCH \r\n",
        "a SEARCH FOO\r\n",
        "a SEARCH BEFORE 30-Feb-2000\r\n",
        "a SEARCH BEFORE 1-Foo-2000\r\n",
        "a SEARCH BEFORE 1-Feb-20\r\n",
        "a SEARCH LARGER x\r\n",
        "a SEARCH OR SEEN\r\n",
        "a SEARCH (SEEN\r\n",
        "a SEARCH ()\r\n",
        "a SEARCH SEEN  DRAFT\r\n",
        "a SEARCH SEEN \r\n",
        "a SEARCH 0\r\n",
        "a SEARCH 1,$\r\n",
        "a SEARCH 4294967296\r\n",
        "a SEARCH HEADER \"a:b\" x\r\n",
        "a SEARCH KEYWORD \\Seen\r\n",
        "a SEARCH EMAILID a.b\r\n",
        // RFC 8514's keys: SAVEDATE is not advertised.
        "a SEARCH SAVEDBEFORE 1-Mar-2019\r\n",
        "a SEARCH SAVEDON 1-Mar-2019\r\n",
        "a SEARCH SAVEDSINCE 1-Mar-2019\r\n",
        "a SEARCH SAVEDATESUPPORTED\r\n",
        "a SEARCH RETURN (PARTIAL 1:10 ALL) SEEN\r\n",
        "a SEARCH RETURN (FOO) SEEN\r\n",
        "a SEARCH CHARSET SEEN\r\n",
    ] {
        let e = err(bad);
        assert_eq!(e.tag, Some(Tag::try_from("a").unwrap()), "{bad}");
        assert!(!e.message.is_empty());
    }
    // Nesting: 63 NOTs are fine, a thousand are refused without overflowing the stack.
    let fine = format!("a SEARCH {}SEEN\r\n", "NOT ".repeat(MAX_DEPTH - 1));
    assert!(parse_command(fine.as_bytes()).is_ok());
    let deep = format!("a SEARCH {}SEEN\r\n", "NOT ".repeat(MAX_DEPTH));
    assert!(err(&deep).message.contains("nested"));
    let parens = format!("a SEARCH {}SEEN{}\r\n", "(".repeat(100_000), ")".repeat(100_000));
    assert!(err(&parens).message.contains("nested"));
    let ors = format!("a SEARCH {}SEEN{}\r\n", "OR SEEN ".repeat(10_000), "");
    assert!(err(&ors).message.contains("nested"));
    // A long flat list is no problem.
    let flat = format!("a SEARCH {}SEEN\r\n", "SEEN ".repeat(10_000));
    assert!(parse_command(flat.as_bytes()).is_ok());
}

#[test]
fn rfc7162_search_modseq() {
    // RFC 7162 §3.1.5 example.
    let (_, _, _, key) = search_of("a SEARCH MODSEQ \"/flags/\\\\draft\" all 620162338\r\n");
    assert_eq!(key, SearchKey::ModSeq { entry: Some((Flag::Draft, EntryType::All)), mod_seq: 620_162_338 });
    let (_, _, _, key) = search_of("a SEARCH MODSEQ \"/flags/$Junk\" priv 5 UNSEEN\r\n");
    assert_eq!(
        key,
        and(vec![
            SearchKey::ModSeq { entry: Some((kw("$Junk"), EntryType::Private)), mod_seq: 5 },
            SearchKey::Unseen
        ])
    );
    assert!(parse_command(b"a SEARCH MODSEQ \"/other/x\" all 5\r\n").is_err());
    assert!(parse_command(b"a SEARCH MODSEQ \"/flags/x\" mine 5\r\n").is_err());
}

#[test]
fn rfc5182_searchres() {
    let (_, ret, _, _) =
        search_of("A282 SEARCH RETURN (SAVE) FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"\r\n");
    assert_eq!(ret, Some(vec![SearchReturn::Save]));
    let (_, ret, _, _) = search_of("A283 SEARCH RETURN (SAVE MIN) UNSEEN\r\n");
    assert_eq!(ret, Some(vec![SearchReturn::Save, SearchReturn::Min]));
    let (uid, set, atts, _) = fetch_of("A283 FETCH $ (UID INTERNALDATE FLAGS RFC822.SIZE)\r\n");
    assert!(!uid);
    assert_eq!(set, SequenceSet::Saved);
    assert_eq!(atts.len(), 4);
    let (_, _, _, key) = search_of("A301 UID SEARCH UID $ SMALLER 4096\r\n");
    assert_eq!(key, and(vec![SearchKey::Uid(SequenceSet::Saved), SearchKey::Smaller(4096)]));
    assert_eq!(
        body("A304 UID COPY $ Other\r\n"),
        CommandBody::Copy { uid: true, set: SequenceSet::Saved, mailbox: mbx("Other") }
    );
}

#[test]
fn rfc4731_esearch() {
    let (uid, ret, _, key) = search_of("A285 UID SEARCH RETURN (MIN MAX) 1:5000\r\n");
    assert!(uid);
    assert_eq!(ret, Some(vec![SearchReturn::Min, SearchReturn::Max]));
    assert_eq!(key, SearchKey::SequenceSet(set(&[(1, 5000)])));
    let (_, ret, _, _) = search_of("A286 SEARCH RETURN (ALL COUNT) DELETED KEYWORD $Junk\r\n");
    assert_eq!(ret, Some(vec![SearchReturn::All, SearchReturn::Count]));
}

#[test]
fn rfc9394_partial() {
    let (uid, ret, _, key) = search_of("A01 UID SEARCH RETURN (PARTIAL 1:500) UNDELETED\r\n");
    assert!(uid);
    assert_eq!(ret, Some(vec![SearchReturn::Partial(PartialRange::First { from: nz(1), to: nz(500) })]));
    assert_eq!(key, SearchKey::Undeleted);
    let (_, ret, _, key) = search_of("A04 UID SEARCH RETURN (PARTIAL -1:-100) UNDELETED UNKEYWORD $Junk\r\n");
    assert_eq!(ret, Some(vec![SearchReturn::Partial(PartialRange::Last { from: nz(1), to: nz(100) })]));
    assert_eq!(key, and(vec![SearchKey::Undeleted, SearchKey::Unkeyword(atom("$Junk"))]));
    // 500:400 is 400:500.
    let (_, ret, _, _) = search_of("A02 UID SEARCH RETURN (PARTIAL 500:400 COUNT) ALL\r\n");
    assert_eq!(
        ret,
        Some(vec![
            SearchReturn::Partial(PartialRange::First { from: nz(400), to: nz(500) }),
            SearchReturn::Count
        ])
    );
    let (uid, set_, atts, mods) = fetch_of("10 UID FETCH 25900:26600 (UID FLAGS) (PARTIAL -1:-3)\r\n");
    assert!(uid);
    assert_eq!(set_, set(&[(25900, 26600)]));
    assert_eq!(atts, vec![FetchAttribute::Uid, FetchAttribute::Flags]);
    assert_eq!(mods, vec![FetchModifier::Partial(PartialRange::Last { from: nz(1), to: nz(3) })]);
    let (_, _, _, mods) = fetch_of("a UID FETCH 1:* (FLAGS) (CHANGEDSINCE 5 PARTIAL 1:50)\r\n");
    assert_eq!(mods.len(), 2);
    for bad in [
        "a UID SEARCH RETURN (PARTIAL -1:100) ALL\r\n",
        "a UID SEARCH RETURN (PARTIAL 0:10) ALL\r\n",
        "a UID SEARCH RETURN (PARTIAL 1:*) ALL\r\n",
        "a UID SEARCH RETURN (PARTIAL) ALL\r\n",
    ] {
        assert!(parse_command(bad.as_bytes()).is_err(), "{bad}");
    }
}

#[test]
fn rfc9051_fetch() {
    let (uid, s, atts, mods) = fetch_of("A654 FETCH 2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)])\r\n");
    assert!(!uid && mods.is_empty());
    assert_eq!(s, set(&[(2, 4)]));
    assert_eq!(
        atts,
        vec![
            FetchAttribute::Flags,
            FetchAttribute::BodySection {
                peek: false,
                section: Section::HeaderFields(None, ne(vec!["DATE".into(), "FROM".into()])),
                partial: None
            }
        ]
    );
    let (uid, s, atts, _) = fetch_of("A999 UID FETCH 4827313:4828442 FLAGS\r\n");
    assert!(uid);
    assert_eq!(s, set(&[(4_827_313, 4_828_442)]));
    assert_eq!(atts, vec![FetchAttribute::Flags]);
    use FetchAttribute as F;
    assert_eq!(fetch_of("a FETCH 1 ALL\r\n").2, vec![F::Flags, F::InternalDate, F::Rfc822Size, F::Envelope]);
    assert_eq!(fetch_of("a FETCH 1 fast\r\n").2, vec![F::Flags, F::InternalDate, F::Rfc822Size]);
    assert_eq!(
        fetch_of("a FETCH 1 FULL\r\n").2,
        vec![F::Flags, F::InternalDate, F::Rfc822Size, F::Envelope, F::Body]
    );
    assert_eq!(fetch_of("a FETCH * BODY\r\n").2, vec![F::Body]);
    assert_eq!(fetch_of("a FETCH 1:* (BODY)\r\n").2, vec![F::Body]);
}

#[test]
fn fetch_every_item() {
    use FetchAttribute as F;
    let part = |v: &[u32]| Part(ne(v.iter().map(|&n| nz(n)).collect()));
    let p = |o: u64, l: u64| Some(Partial { offset: o, length: NonZeroU64::new(l).unwrap() });
    let cases: Vec<(&str, F)> = vec![
        ("BODY[]", F::BodySection { peek: false, section: Section::Full, partial: None }),
        ("BODY.PEEK[]<0.2048>", F::BodySection { peek: true, section: Section::Full, partial: p(0, 2048) }),
        (
            "BODY[1.2.3]",
            F::BodySection { peek: false, section: Section::Part(part(&[1, 2, 3])), partial: None },
        ),
        ("BODY[HEADER]", F::BodySection { peek: false, section: Section::Header(None), partial: None }),
        (
            "BODY[2.HEADER]",
            F::BodySection { peek: false, section: Section::Header(Some(part(&[2]))), partial: None },
        ),
        ("body.peek[text]", F::BodySection { peek: true, section: Section::Text(None), partial: None }),
        (
            "BODY[4.2.TEXT]",
            F::BodySection { peek: false, section: Section::Text(Some(part(&[4, 2]))), partial: None },
        ),
        (
            "BODY[3.MIME]<10.20>",
            F::BodySection { peek: false, section: Section::Mime(part(&[3])), partial: p(10, 20) },
        ),
        (
            "BODY.PEEK[HEADER.FIELDS.NOT (Received \"X-Spam\")]",
            F::BodySection {
                peek: true,
                section: Section::HeaderFieldsNot(None, ne(vec!["Received".into(), "X-Spam".into()])),
                partial: None,
            },
        ),
        (
            "BODY[1.HEADER.FIELDS (Subject)]",
            F::BodySection {
                peek: false,
                section: Section::HeaderFields(Some(part(&[1])), ne(vec!["Subject".into()])),
                partial: None,
            },
        ),
        ("BINARY[1]", F::Binary { peek: false, part: vec![nz(1)], partial: None }),
        ("BINARY.PEEK[1.2]<0.1024>", F::Binary { peek: true, part: vec![nz(1), nz(2)], partial: p(0, 1024) }),
        ("BINARY[]", F::Binary { peek: false, part: vec![], partial: None }),
        ("BINARY.SIZE[1]", F::BinarySize { part: vec![nz(1)] }),
        ("BODYSTRUCTURE", F::BodyStructure),
        ("ENVELOPE", F::Envelope),
        ("FLAGS", F::Flags),
        ("INTERNALDATE", F::InternalDate),
        ("RFC822", F::Rfc822),
        ("RFC822.HEADER", F::Rfc822Header),
        ("RFC822.SIZE", F::Rfc822Size),
        ("RFC822.TEXT", F::Rfc822Text),
        ("UID", F::Uid),
        ("MODSEQ", F::ModSeq),
        ("EMAILID", F::EmailId),
        ("THREADID", F::ThreadId),
        ("SAVEDATE", F::SaveDate),
        ("PREVIEW", F::Preview { lazy: false }),
        ("PREVIEW (LAZY)", F::Preview { lazy: true }),
    ];
    for (text, want) in cases {
        assert_eq!(fetch_of(&format!("a FETCH 1 {text}\r\n")).2, vec![want.clone()], "{text}");
        assert_eq!(fetch_of(&format!("a FETCH 1 (UID {text})\r\n")).2, vec![F::Uid, want], "({text})");
    }
    // PREVIEW followed by modifiers rather than (LAZY).
    let (_, _, atts, mods) = fetch_of("a FETCH 1 PREVIEW (CHANGEDSINCE 4)\r\n");
    assert_eq!(atts, vec![F::Preview { lazy: false }]);
    assert_eq!(mods, vec![FetchModifier::ChangedSince(modseq(4))]);
}

#[test]
fn fetch_errors() {
    for bad in [
        "a FETCH 1\r\n",
        "a FETCH 1 ()\r\n",
        "a FETCH 1 (FLAGS\r\n",
        "a FETCH 1 FOO\r\n",
        "a FETCH 1 BODY.PEEK\r\n",
        "a FETCH 1 BODY[MIME]\r\n",
        "a FETCH 1 BODY[0]\r\n",
        "a FETCH 1 BODY[1.]\r\n",
        "a FETCH 1 BODY[HEADER.FIELDS ()]\r\n",
        "a FETCH 1 BODY[HEADER.FIELDS (a:b)]\r\n",
        "a FETCH 1 BODY[]<0.0>\r\n",
        "a FETCH 1 BODY[]<5>\r\n",
        "a FETCH 1 BINARY.SIZE[1]<0.5>\r\n",
        "a FETCH 1 BINARY[TEXT]\r\n",
        "a FETCH 1 FLAGS (CHANGEDSINCE 0)\r\n",
        "a FETCH 1 FLAGS (FOO)\r\n",
        "a FETCH 1 FLAGS ()\r\n",
        "a FETCH 1,,2 FLAGS\r\n",
        "a FETCH 1: FLAGS\r\n",
        "a FETCH -1 FLAGS\r\n",
        "a FETCH 1 FLAGS extra\r\n",
        "a FETCH 1 FLAGS \r\n",
    ] {
        assert_eq!(err(bad).tag, Some(Tag::try_from("a").unwrap()), "{bad}");
    }
}

#[test]
fn rfc7162_fetch_modifiers() {
    let (uid, _, atts, mods) = fetch_of("s100 UID FETCH 1:* (FLAGS) (CHANGEDSINCE 12345)\r\n");
    assert!(uid);
    assert_eq!(atts, vec![FetchAttribute::Flags]);
    assert_eq!(mods, vec![FetchModifier::ChangedSince(modseq(12345))]);
    let (_, _, _, mods) = fetch_of("s100 UID FETCH 300:500 (FLAGS) (CHANGEDSINCE 12345 VANISHED)\r\n");
    assert_eq!(mods, vec![FetchModifier::ChangedSince(modseq(12345)), FetchModifier::Vanished]);
    let (_, _, atts, _) = fetch_of("a FETCH 1:* (UID MODSEQ FLAGS)\r\n");
    assert_eq!(atts, vec![FetchAttribute::Uid, FetchAttribute::ModSeq, FetchAttribute::Flags]);
}

#[test]
fn rfc9051_store() {
    assert_eq!(
        body("A003 STORE 2:4 +FLAGS (\\Deleted)\r\n"),
        CommandBody::Store {
            uid: false,
            set: set(&[(2, 4)]),
            action: StoreAction { mode: StoreMode::Add, silent: false, flags: vec![Flag::Deleted] },
            modifiers: vec![]
        }
    );
    assert_eq!(
        body("a STORE 1 FLAGS.SILENT \\Seen $Forwarded\r\n"),
        CommandBody::Store {
            uid: false,
            set: set(&[(1, 1)]),
            action: StoreAction {
                mode: StoreMode::Replace,
                silent: true,
                flags: vec![Flag::Seen, kw("$Forwarded")]
            },
            modifiers: vec![]
        }
    );
    match body("a UID STORE 1:* -flags.silent ()\r\n") {
        CommandBody::Store { uid: true, action, .. } => {
            assert_eq!(action, StoreAction { mode: StoreMode::Remove, silent: true, flags: vec![] })
        }
        other => panic!("{other:?}"),
    }
    // RFC 7162 §3.1.3 examples.
    match body("a103 UID STORE 6,4,8 (UNCHANGEDSINCE 12121230045) +FLAGS.SILENT (\\Deleted)\r\n") {
        CommandBody::Store { uid, set: s, action, modifiers } => {
            assert!(uid);
            assert_eq!(s, set(&[(6, 6), (4, 4), (8, 8)]));
            assert_eq!(
                action,
                StoreAction { mode: StoreMode::Add, silent: true, flags: vec![Flag::Deleted] }
            );
            assert_eq!(modifiers, vec![StoreModifier::UnchangedSince(12_121_230_045)]);
        }
        other => panic!("{other:?}"),
    }
    match body("a104 STORE * (UNCHANGEDSINCE 0) +FLAGS ($NoJunk)\r\n") {
        CommandBody::Store { modifiers, .. } => assert_eq!(modifiers, vec![StoreModifier::UnchangedSince(0)]),
        other => panic!("{other:?}"),
    }
    for bad in [
        "a STORE 1 FLAGS\r\n",
        "a STORE 1 +FLAGZ (\\Seen)\r\n",
        "a STORE 1 FLAGS (\\Seen\r\n",
        "a STORE 1 FLAGS (\\)\r\n",
        "a STORE 1 FLAGS (\\*)\r\n",
        "a STORE 1 (FOO 1) FLAGS (\\Seen)\r\n",
    ] {
        assert!(err(bad).tag.is_some(), "{bad}");
    }
}

#[test]
fn rfc9051_copy_move() {
    assert_eq!(
        body("A003 COPY 2:4 MEETING\r\n"),
        CommandBody::Copy { uid: false, set: set(&[(2, 4)]), mailbox: mbx("MEETING") }
    );
    // RFC 6851 §4.1, §4.2 examples.
    assert_eq!(
        body("a UID MOVE 42:69 foo\r\n"),
        CommandBody::Move { uid: true, set: set(&[(42, 69)]), mailbox: mbx("foo") }
    );
    assert_eq!(
        body("a MOVE 1:* \"Deleted Items\"\r\n"),
        CommandBody::Move { uid: false, set: set(&[(1, 0)]), mailbox: mbx("Deleted Items") }
    );
    assert!(parse_command(b"a MOVE 1\r\n").is_err());
}

// ---------------------------------------------------------------------------------------------
// SORT, THREAD (RFC 5256), NOTIFY (RFC 5465), COMPRESS, QUOTA
// ---------------------------------------------------------------------------------------------

#[test]
fn rfc5256_sort_and_thread() {
    let sort = |s: &str| match body(s) {
        CommandBody::Sort { uid, returns, criteria, charset, search } => {
            (uid, returns, criteria.into_vec(), charset, search)
        }
        other => panic!("{other:?}"),
    };
    let c = |reverse, key| SortCriterion { reverse, key };
    let (uid, ret, cr, cs, key) = sort("A282 SORT (SUBJECT) UTF-8 SINCE 1-Feb-1994\r\n");
    assert_eq!(
        (uid, ret, cr, cs, key),
        (false, None, vec![c(false, SortKey::Subject)], "UTF-8".into(), SearchKey::Since(date(1994, 2, 1)))
    );
    let (_, _, cr, _, key) = sort("A283 SORT (SUBJECT REVERSE DATE) UTF-8 ALL\r\n");
    assert_eq!(cr, vec![c(false, SortKey::Subject), c(true, SortKey::Date)]);
    assert_eq!(key, SearchKey::All);
    let (_, _, _, cs, key) = sort("A284 SORT (SUBJECT) US-ASCII TEXT \"not in mailbox\"\r\n");
    assert_eq!((cs.as_str(), key), ("US-ASCII", SearchKey::Text(b"not in mailbox".to_vec())));
    let (uid, _, cr, _, _) =
        sort("a UID SORT (DISPLAYFROM REVERSE DISPLAYTO ARRIVAL CC FROM SIZE TO) UTF-8 ALL\r\n");
    assert!(uid);
    assert_eq!(cr.len(), 7);
    // RFC 5267 ESORT.
    let (_, ret, _, _, _) = sort("A282 SORT RETURN (MIN) (DATE) UTF-8 SINCE 1-Feb-1994\r\n");
    assert_eq!(ret, Some(vec![SearchReturn::Min]));
    assert!(parse_command(b"a SORT (SUBJECT) ALL\r\n").is_err());
    assert!(parse_command(b"a SORT () UTF-8 ALL\r\n").is_err());
    assert!(parse_command(b"a SORT (REVERSE) UTF-8 ALL\r\n").is_err());

    assert_eq!(
        body("A283 THREAD ORDEREDSUBJECT UTF-8 SINCE 5-MAR-2000\r\n"),
        CommandBody::Thread {
            uid: false,
            algorithm: ThreadAlgorithm::OrderedSubject,
            charset: "UTF-8".into(),
            search: SearchKey::Since(date(2000, 3, 5))
        }
    );
    assert_eq!(
        body("A284 UID THREAD REFERENCES US-ASCII TEXT \"gewp\"\r\n"),
        CommandBody::Thread {
            uid: true,
            algorithm: ThreadAlgorithm::References,
            charset: "US-ASCII".into(),
            search: SearchKey::Text(b"gewp".to_vec())
        }
    );
    assert!(parse_command(b"a THREAD REFS UTF-8 ALL\r\n").is_err());
}

#[test]
fn rfc5465_notify() {
    assert_eq!(body("c NOTIFY NONE\r\n"), CommandBody::Notify { set: None });
    // The grammar's form.
    let set_of = |s: &str| match body(s) {
        CommandBody::Notify { set: Some(set) } => set,
        other => panic!("{other:?}"),
    };
    let s = set_of(
        "b NOTIFY SET STATUS (selected (MessageNew (uid body.peek[header.fields (from to subject)]) MessageExpunge)) \
         (subtree Lists (MessageNew MessageExpunge)) (mailboxes (INBOX Drafts) NONE)\r\n",
    );
    assert!(s.status);
    assert_eq!(s.groups.len(), 3);
    assert_eq!(s.groups[0].filter, MailboxFilter::Selected);
    match &s.groups[0].events[..] {
        [NotifyEvent::MessageNew(atts), NotifyEvent::MessageExpunge] => {
            assert_eq!(atts.len(), 2);
            assert_eq!(atts[0], FetchAttribute::Uid);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(s.groups[1].filter, MailboxFilter::Subtree(ne(vec![mbx("Lists")])));
    assert_eq!(s.groups[2].filter, MailboxFilter::Mailboxes(ne(vec![mbx("INBOX"), mbx("Drafts")])));
    assert!(s.groups[2].events.is_empty());
    // The examples of RFC 5465 §5 (events not parenthesised).
    let s = set_of(
        "a notify set status (selected MessageNew (uid body.peek[header.fields (from to subject)]) MessageExpunge) \
         (subtree Lists MessageNew)\r\n",
    );
    assert_eq!(s.groups.len(), 2);
    assert_eq!(s.groups[1].events, vec![NotifyEvent::MessageNew(vec![])]);
    let s = set_of(
        "a notify set (mailboxes INBOX (Messagenew messageExpunge)) (personal (MailboxName SubscriptionChange \
                    MailboxMetadataChange ServerMetadataChange QuotaChange FlagChange AnnotationChange X-Other))\r\n",
    );
    assert!(!s.status);
    assert_eq!(s.groups[1].events.len(), 8);
    assert_eq!(s.groups[1].events[7], NotifyEvent::Other(atom("X-Other")));
    for f in ["selected-delayed", "inboxes", "subscribed", "personal"] {
        set_of(&format!("a NOTIFY SET ({f} (MessageNew))\r\n"));
    }
    for bad in [
        "a NOTIFY\r\n",
        "a NOTIFY SET\r\n",
        "a NOTIFY SET (selected)\r\n",
        "a NOTIFY SET (nowhere (MessageNew))\r\n",
        "a NOTIFY SET (selected (MessageNew)) \r\n",
        "a NOTIFY SET (subtree (MessageNew))\r\n",
        "a NOTIFY SET (selected (MessageNew (FOO)))\r\n",
    ] {
        assert!(err(bad).tag.is_some(), "{bad}");
    }
}

#[test]
fn rfc4978_compress_and_rfc9208_quota() {
    assert_eq!(
        body("a COMPRESS DEFLATE\r\n"),
        CommandBody::Compress { algorithm: CompressionAlgorithm::Deflate }
    );
    assert!(parse_command(b"a COMPRESS LZMA\r\n").is_err());
    assert_eq!(
        body("G0001 GETQUOTA \"!partition/sda4\"\r\n"),
        CommandBody::GetQuota { root: "!partition/sda4".into() }
    );
    assert_eq!(body("A003 GETQUOTAROOT INBOX\r\n"), CommandBody::GetQuotaRoot { mailbox: mbx("INBOX") });
    assert_eq!(
        body("S0000 SETQUOTA \"#user/alice\" (STORAGE 510)\r\n"),
        CommandBody::SetQuota { root: "#user/alice".into(), limits: vec![(QuotaResource::Storage, 510)] }
    );
    assert_eq!(
        body("S0001 SETQUOTA \"\" (message 100 MAILBOX 5 X-FOO 1)\r\n"),
        CommandBody::SetQuota {
            root: String::new(),
            limits: vec![
                (QuotaResource::Message, 100),
                (QuotaResource::Mailbox, 5),
                (QuotaResource::Other(atom("X-FOO")), 1)
            ]
        }
    );
    assert_eq!(body("S0002 SETQUOTA x ()\r\n"), CommandBody::SetQuota { root: "x".into(), limits: vec![] });
}

// ---------------------------------------------------------------------------------------------
// Errors, tags
// ---------------------------------------------------------------------------------------------

#[test]
fn errors_carry_the_tag() {
    let e = err("x1 FROBNICATE\r\n");
    assert_eq!(e.tag, Some(Tag::try_from("x1").unwrap()));
    assert!(e.message.contains("unknown command FROBNICATE"), "{}", e.message);
    let e = err("x2 UID FROB 1\r\n");
    assert_eq!(e.tag, Some(Tag::try_from("x2").unwrap()));
    assert!(err("x3 NOOP extra\r\n").tag.is_some());
    assert!(err("x3 NOOP \r\n").tag.is_some());
    assert!(err("x4\r\n").tag.is_some());
    assert!(err("x4 \r\n").tag.is_some());
    assert!(err("x5 SELECT\r\n").tag.is_some());
    assert!(err("x6 LOGIN a\r\n").tag.is_some());
    assert!(err("x7 LOGIN a \"b\r\n").tag.is_some());
    assert!(err("x8 LOGIN a \"b\\x\"\r\n").message.contains("escape"));
    assert!(err("x9 LOGIN a ~{1}\r\nb\r\n").message.contains("literal8"));
    assert!(err("x9 LOGIN a {1}\r\n").message.contains("literal"));
    // No tag: nothing to echo.
    assert_eq!(err("\r\n").tag, None);
    assert_eq!(err(" NOOP\r\n").tag, None);
    assert_eq!(err("a+b NOOP\r\n").tag, None);
    assert_eq!(err("+ NOOP\r\n").tag, None);
    // Messages are printable ASCII whatever the input.
    let e = parse_command(b"a \xff\x01\x1b[31m\r\n").unwrap_err();
    assert!(e.message.bytes().all(|b| (b' '..=b'~').contains(&b)), "{}", e.message);
    let e = parse_command(b"a SEARCH \xc3\xa9\r\n").unwrap_err();
    assert!(e.message.bytes().all(|b| (b' '..=b'~').contains(&b)), "{}", e.message);
}

#[test]
fn framer_then_parser() {
    // A session's view: frames in, commands out.
    let mut f = Framer::new(1000, 10_000);
    f.push(b"a1 LOGIN {5}\r\n");
    assert!(matches!(f.next(), Some(Frame::ContinuationNeeded { size: 5, .. })));
    f.push(b"alice {6+}\r\nsecret\r\na2 SELECT INBOX (CONDSTORE)\r\na3 IDLE\r\nDONE\r\n");
    let mut commands = Vec::new();
    while let Some(frame) = f.next() {
        match frame {
            Frame::Command(bytes) => {
                let c = parse_command(&bytes).unwrap();
                if c.body == CommandBody::Idle {
                    f.expect_raw_line();
                    match f.next() {
                        Some(Frame::Command(line)) => parse_done(&line).unwrap(),
                        other => panic!("{other:?}"),
                    }
                }
                commands.push(c.body.name());
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(commands, vec!["LOGIN", "SELECT", "IDLE"]);
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    fn fragments() -> impl Strategy<Value = Vec<u8>> {
        let piece = prop_oneof![
            Just(&b"a "[..]),
            Just(&b"UID "[..]),
            Just(&b"FETCH "[..]),
            Just(&b"SEARCH "[..]),
            Just(&b"STORE "[..]),
            Just(&b"APPEND x "[..]),
            Just(&b"SELECT "[..]),
            Just(&b"LIST "[..]),
            Just(&b"NOTIFY SET "[..]),
            Just(&b"BODY.PEEK["[..]),
            Just(&b"HEADER.FIELDS ("[..]),
            Just(&b"OR "[..]),
            Just(&b"NOT "[..]),
            Just(&b"("[..]),
            Just(&b")"[..]),
            Just(&b"]"[..]),
            Just(&b"<0.5>"[..]),
            Just(&b"1:*"[..]),
            Just(&b"$"[..]),
            Just(&b","[..]),
            Just(&b" "[..]),
            Just(&b"\""[..]),
            Just(&b"\\"[..]),
            Just(&b"{3}\r\nabc"[..]),
            Just(&b"~{2}\r\n\0\0"[..]),
            Just(&b"{99}\r\n"[..]),
            Just(&b"\"1-Feb-2000 01:02:03 +0000\""[..]),
            Just(&b"MODSEQ \"/flags/\\\\seen\" all 5"[..]),
            Just(&b"(QRESYNC (1 2 1:3 (1 2)))"[..]),
            Just(&b"RETURN (PARTIAL -1:-5)"[..]),
            Just(&b"&U,BTFw-"[..]),
            Just(&b"CATENATE (TEXT {1}\r\nx URL \"/INBOX;UIDVALIDITY=1/;UID=2/;SECTION=1.MIME\")"[..]),
            Just(
                &b"imap://u%40h@host:1/a%2Fb;UIDVALIDITY=1/;UID=2/;SECTION=HEADER.FIELDS%20(A)/;PARTIAL=1.2"
                    [..]
            ),
            Just(&b";UID=1/;PARTIAL=0"[..]),
            Just(&b"\r\n"[..]),
        ];
        proptest::collection::vec(piece, 0..40).prop_map(|v| v.concat())
    }

    proptest! {
        /// Arbitrary bytes never make the parser panic.
        #[test]
        fn parser_total_on_bytes(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse_command(&data);
            let _ = parse_command_with(&data, ParseOptions { utf8: true });
            let _ = parse_sasl_response(&data);
            let _ = parse_done(&data);
            let _ = parse_imap_url(&data);
        }

        /// Grammar-shaped input never makes the parser panic, and errors after a tag carry it.
        #[test]
        fn parser_total_on_fragments(data in fragments()) {
            let _ = parse_imap_url(&data);
            match parse_command(&data) {
                Ok(c) => prop_assert!(!c.tag.as_str().is_empty()),
                Err(e) => {
                    prop_assert!(e.message.bytes().all(|b| (b' '..=b'~').contains(&b)));
                    if data.starts_with(b"a ") {
                        prop_assert_eq!(e.tag.map(|t| t.as_str().to_string()), Some("a".to_string()));
                    }
                }
            }
        }

        /// Every appended message range lies inside the command.
        #[test]
        fn append_ranges_in_bounds(n in 0usize..50, flags in proptest::bool::ANY) {
            let msg = "x".repeat(n);
            let cmd = format!("a APPEND b {}{{{n}}}\r\n{msg}\r\n", if flags { "(\\Seen) " } else { "" });
            let c = parse_command(cmd.as_bytes()).unwrap();
            match c.body {
                CommandBody::Append { messages, .. } => prop_assert_eq!(messages[0].bytes(cmd.as_bytes()), msg.as_bytes()),
                _ => prop_assert!(false),
            }
        }
    }
}

#[test]
fn rfc7162_and_rfc8474_status_and_ids() {
    // RFC 7162 §3.1.2.3 and RFC 8474 §4.1 / §5.1 examples.
    assert_eq!(
        body("a STATUS blurdybloop (UIDNEXT MESSAGES HIGHESTMODSEQ)\r\n"),
        CommandBody::Status {
            mailbox: mbx("blurdybloop"),
            attributes: ne(vec![
                StatusAttribute::UidNext,
                StatusAttribute::Messages,
                StatusAttribute::HighestModSeq
            ])
        }
    );
    assert_eq!(
        body("27 STATUS foo (MAILBOXID)\r\n"),
        CommandBody::Status { mailbox: mbx("foo"), attributes: ne(vec![StatusAttribute::MailboxId]) }
    );
    assert_eq!(
        fetch_of("28 FETCH 1:* (EMAILID THREADID)\r\n").2,
        vec![FetchAttribute::EmailId, FetchAttribute::ThreadId]
    );
    let (_, _, _, key) = search_of("29 SEARCH EMAILID M6d99ac3275bb4e\r\n");
    assert_eq!(key, SearchKey::EmailId(ObjectId::try_from("M6d99ac3275bb4e").unwrap()));
    assert_eq!(
        body("a1 ENABLE CONDSTORE\r\n"),
        CommandBody::Enable { capabilities: ne(vec![atom("CONDSTORE")]) }
    );
    // CHANGEDSINCE with a 63-bit value, and one past it.
    let (_, _, _, mods) = fetch_of("a FETCH 1 FLAGS (CHANGEDSINCE 9223372036854775807)\r\n");
    assert_eq!(mods, vec![FetchModifier::ChangedSince(modseq(ModSeq::MAX))]);
    assert!(parse_command(b"a FETCH 1 FLAGS (CHANGEDSINCE 9223372036854775808)\r\n").is_err());
}

#[test]
fn sequence_set_forms() {
    let seq = |s: &str| fetch_of(&format!("a FETCH {s} FLAGS\r\n")).1;
    assert_eq!(seq("1"), set(&[(1, 1)]));
    assert_eq!(seq("*"), set(&[(0, 0)]));
    assert_eq!(seq("*:4"), set(&[(0, 4)]));
    assert_eq!(seq("2,4:7,9,12:*"), set(&[(2, 2), (4, 7), (9, 9), (12, 0)]));
    assert_eq!(seq("4294967295"), set(&[(u32::MAX, u32::MAX)]));
    assert_eq!(seq("$"), SequenceSet::Saved);
    for bad in ["0", "1:0", "4294967296", "$,1", "1,$", "1:", ",1", "1,", "a"] {
        assert!(parse_command(format!("a FETCH {bad} FLAGS\r\n").as_bytes()).is_err(), "{bad}");
    }
}

/// RFC 5267: CONTEXT and UPDATE return options (§4.2, §4.3), CANCELUPDATE (§4.3.5, the §4.3
/// examples).
#[test]
fn rfc5267_contexts() {
    let (uid, ret, _, _) = search_of("B01 UID SEARCH RETURN (UPDATE COUNT) DELETED KEYWORD $Junk\r\n");
    assert!(uid);
    assert_eq!(ret, Some(vec![SearchReturn::Update, SearchReturn::Count]));
    let (_, ret, _, _) = search_of("A01 SEARCH RETURN (CONTEXT COUNT) UNDELETED UNKEYWORD $Junk\r\n");
    assert_eq!(ret, Some(vec![SearchReturn::Context, SearchReturn::Count]));
    assert_eq!(
        body("B04 CANCELUPDATE \"B01\"\r\n"),
        CommandBody::CancelUpdate { tags: NonEmpty::new("B01".to_string()) }
    );
    let mut two = NonEmpty::new("B01".to_string());
    two.push("B02".to_string());
    assert_eq!(body("B05 CANCELUPDATE \"B01\" \"B02\"\r\n"), CommandBody::CancelUpdate { tags: two });
    err("B06 CANCELUPDATE\r\n");
    err("B07 CANCELUPDATE B01\r\n");
}

/// docs/mapi-extension.md §4.2, §15: `xjoin`, with any atom as the token.
#[test]
fn mapi_xjoin() {
    let tok = "S7QqmmQ1sj2CExmqizSZa0rL7r-ROUcM5FJxegxCI_77FGCO1Tc";
    assert_eq!(
        body(&format!("b1 XJOIN alice@example.com {tok}\r\n")),
        CommandBody::XJoin {
            username: "alice@example.com".into(),
            token: Token::new(tok.into()),
            replace: None
        }
    );
    assert_eq!(
        body("b1 xjoin \"alice@example.com\" not-a-token replace 2\r\n"),
        CommandBody::XJoin {
            username: "alice@example.com".into(),
            token: Token::new("not-a-token".into()),
            replace: Some(nz(2)),
        }
    );
    for bad in [
        "b1 XJOIN alice\r\n",
        "b1 XJOIN alice \"quoted\"\r\n",
        "b1 XJOIN alice tok REPLACE 0\r\n",
        "b1 XJOIN alice tok REPLACE\r\n",
        "b1 XJOIN alice tok KEEP 2\r\n",
        "b1 XJOIN alice tok extra\r\n",
    ] {
        assert_eq!(err(bad).tag.map(|t| t.to_string()), Some("b1".into()), "{bad}");
    }
    // The token never shows in a debug print (logs).
    assert_eq!(format!("{:?}", Token::new(tok.into())), "Token(<51 bytes>)");
}

/// docs/mapi-extension.md §4.1, §4.4, §4.5: `xsession`.
#[test]
fn mapi_xsession() {
    assert_eq!(body("a4 XSESSION\r\n"), CommandBody::XSession { op: XSessionOp::Create });
    assert_eq!(body("a4 XSESSION status\r\n"), CommandBody::XSession { op: XSessionOp::Status });
    assert_eq!(body("a4 XSESSION END\r\n"), CommandBody::XSession { op: XSessionOp::End });
    for bad in ["a4 XSESSION STOP\r\n", "a4 XSESSION \r\n", "a4 XSESSION END END\r\n"] {
        assert!(err(bad).tag.is_some(), "{bad}");
    }
}

/// docs/mapi-extension.md §5.1, §6, §15: `xbackchannel` and `xack`.
#[test]
fn mapi_xbackchannel_and_xack() {
    use crate::proto::command::{SummaryField, XBackchannelArgs};
    assert_eq!(
        body("c1 XBACKCHANNEL FROM 4500 EPOCH mW6QOYsW5Y4 HEARTBEAT 120\r\n"),
        CommandBody::XBackchannel(XBackchannelArgs {
            from: 4500,
            epoch: "mW6QOYsW5Y4".into(),
            heartbeat: nz(120),
            fields: None,
        })
    );
    assert_eq!(
        body("c1 xbackchannel from 0 epoch e-_1 heartbeat 1 fields (XSUBJECT EMAILID)\r\n"),
        CommandBody::XBackchannel(XBackchannelArgs {
            from: 0,
            epoch: "e-_1".into(),
            heartbeat: nz(1),
            fields: Some(vec![SummaryField::XSubject, SummaryField::EmailId]),
        })
    );
    assert_eq!(
        body("c1 XBACKCHANNEL FROM 9223372036854775807 EPOCH x HEARTBEAT 30 FIELDS ()\r\n"),
        CommandBody::XBackchannel(XBackchannelArgs {
            from: i64::MAX as u64,
            epoch: "x".into(),
            heartbeat: nz(30),
            fields: Some(vec![]),
        })
    );
    assert_eq!(body("d1 XACK 3 4610\r\n"), CommandBody::XAck { heartbeat: 3, applied: 4610 });
    assert_eq!(body("d1 xack 0 0\r\n"), CommandBody::XAck { heartbeat: 0, applied: 0 });
    for bad in [
        "c1 XBACKCHANNEL\r\n",
        "c1 XBACKCHANNEL FROM 1 EPOCH e\r\n",
        "c1 XBACKCHANNEL FROM 1 EPOCH e HEARTBEAT 0\r\n",
        "c1 XBACKCHANNEL FROM -1 EPOCH e HEARTBEAT 30\r\n",
        "c1 XBACKCHANNEL EPOCH e FROM 1 HEARTBEAT 30\r\n",
        "c1 XBACKCHANNEL FROM 1 EPOCH \"e\" HEARTBEAT 30\r\n",
        "c1 XBACKCHANNEL FROM 1 EPOCH e HEARTBEAT 30 FIELDS (NOPE)\r\n",
        "c1 XBACKCHANNEL FROM 1 EPOCH e HEARTBEAT 30 WINDOW 3\r\n",
        "d1 XACK 1\r\n",
        "d1 XACK 1 2 3\r\n",
        "d1 XACK a 2\r\n",
    ] {
        assert_eq!(err(bad).tag.map(|t| t.to_string()), Some(bad[..2].to_string()), "{bad}");
    }
}
