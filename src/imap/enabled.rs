//! What a session has enabled: IMAP4rev2, CONDSTORE, QRESYNC and UTF8=ACCEPT (RFC 5161 ENABLE,
//! RFC 9051 §6.3.1), and CONDSTORE enabled by a command that uses it (RFC 7162 §3.1). One type,
//! changed only through [`Enabled::enable`], which knows what implies what.

/// An extension a session can turn on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Extension {
    Rev2,
    Condstore,
    Qresync,
    Utf8,
}

impl Extension {
    /// The extension an ENABLE argument names (case-insensitive), if the server offers it.
    pub fn from_name(name: &str) -> Option<Extension> {
        match name.to_ascii_uppercase().as_str() {
            "IMAP4REV2" => Some(Extension::Rev2),
            "CONDSTORE" => Some(Extension::Condstore),
            "QRESYNC" => Some(Extension::Qresync),
            "UTF8=ACCEPT" => Some(Extension::Utf8),
            _ => None,
        }
    }

    fn bit(self) -> u8 {
        match self {
            Extension::Rev2 => 1,
            Extension::Condstore => 2,
            Extension::Qresync => 4,
            Extension::Utf8 => 8,
        }
    }

    /// The extension with what it implies: IMAP4rev2 names mailboxes in UTF-8 (RFC 9051 §5.1);
    /// QRESYNC implies CONDSTORE (RFC 7162 §3.2.3).
    fn bits(self) -> u8 {
        match self {
            Extension::Rev2 => Extension::Rev2.bit() | Extension::Utf8.bit(),
            Extension::Qresync => Extension::Qresync.bit() | Extension::Condstore.bit(),
            e => e.bit(),
        }
    }
}

/// The extensions a session has enabled; none at first.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Enabled(u8);

impl Enabled {
    /// Enables `e` and what it implies; true when `e` itself was not enabled before.
    pub fn enable(&mut self, e: Extension) -> bool {
        let newly = !self.has(e);
        self.0 |= e.bits();
        newly
    }

    /// [`Enabled::enable`], and when this turns CONDSTORE on with a mailbox selected (`modseq`
    /// is its mod-sequence), a CONDSTORE-enabling command (RFC 7162 §3.1): the client is told
    /// `* OK [HIGHESTMODSEQ n]`, once per session since CONDSTORE stays on.
    pub fn enable_reporting(&mut self, e: Extension, modseq: Option<u64>, out: &mut Vec<u8>) -> bool {
        let had_condstore = self.condstore();
        let newly = self.enable(e);
        if let Some(modseq) = modseq.filter(|_| !had_condstore && self.condstore()) {
            crate::proto::code::Code::HighestModseq(modseq).untagged_ok(out, "highest");
        }
        newly
    }

    pub fn has(self, e: Extension) -> bool {
        self.0 & e.bit() != 0
    }

    /// RFC 9051 behaviour (`ENABLE IMAP4rev2`).
    pub fn rev2(self) -> bool {
        self.has(Extension::Rev2)
    }

    /// MODSEQs are reported (CONDSTORE, or QRESYNC which implies it).
    pub fn condstore(self) -> bool {
        self.has(Extension::Condstore)
    }

    pub fn qresync(self) -> bool {
        self.has(Extension::Qresync)
    }

    /// Mailbox names are UTF-8 on the wire (UTF8=ACCEPT or IMAP4rev2).
    pub fn utf8(self) -> bool {
        self.has(Extension::Utf8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn implications() {
        let mut e = Enabled::default();
        assert!(!e.condstore() && !e.utf8());
        assert!(e.enable(Extension::Qresync));
        assert!(e.qresync() && e.condstore());
        assert!(!e.enable(Extension::Qresync));
        assert!(!e.enable(Extension::Condstore), "implied already");
        assert!(e.enable(Extension::Rev2));
        assert!(e.utf8());
        assert!(!e.enable(Extension::Utf8));
        assert_eq!(Extension::from_name("utf8=accept"), Some(Extension::Utf8));
        assert_eq!(Extension::from_name("XFOO"), None);
    }
}
