//! `imap://` and `imaps://` server URLs (RFC 5092 §3 for `imap:`; `imaps:` is the same with
//! implicit TLS, RFC 8314 §3.3): `imaps://login@host[:port][/]`. The login is percent-decoded
//! (RFC 3986 §2.1), so `bob%40mail.test@host` logs in as `bob@mail.test`.

use super::ClientError;

/// How the connection is secured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Security {
    /// `imaps://`: TLS from the first byte (port 993).
    Tls,
    /// `imap://`: STARTTLS after the greeting (port 143), or plaintext with `--plain`.
    StartTls,
}

/// A parsed server URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerUrl {
    pub security: Security,
    pub login: Option<String>,
    /// Host name or IP address (IPv6 without its brackets).
    pub host: String,
    pub port: u16,
}

impl ServerUrl {
    pub fn parse(url: &str) -> Result<ServerUrl, ClientError> {
        let bad = |why: &str| ClientError::Usage(format!("{url}: {why}"));
        let (scheme, rest) = url.split_once("://").ok_or_else(|| bad("expected imap:// or imaps://"))?;
        let (security, default_port) = match scheme.to_ascii_lowercase().as_str() {
            "imaps" => (Security::Tls, 993),
            "imap" => (Security::StartTls, 143),
            _ => return Err(bad("expected imap:// or imaps://")),
        };
        // authority = [ userinfo "@" ] host [ ":" port ]; the path may only be empty or "/".
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        if !path.is_empty() {
            return Err(bad("a mailbox in the URL is not supported: name it with --folder"));
        }
        // The userinfo ends at the last "@": a raw "@" in the login is tolerated.
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let login = match userinfo {
            Some(u) => {
                // iuserinfo = enc-user [iauth] / [enc-user] iauth (RFC 5092 §3.2)
                if u.to_ascii_uppercase().contains(";AUTH=") {
                    return Err(bad(";AUTH= in the URL is not supported (LOGIN is used)"));
                }
                let login = percent_decode(u).ok_or_else(|| bad("bad percent-encoding in the login"))?;
                if login.is_empty() {
                    return Err(bad("empty login"));
                }
                Some(login)
            }
            None => None,
        };
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (h, after) = v6.split_once(']').ok_or_else(|| bad("unclosed [ in the host"))?;
            (h.to_string(), after.strip_prefix(':'))
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), Some(p)),
                None => (hostport.to_string(), None),
            }
        };
        if host.is_empty() || host.contains(['/', '?', '#', ' ']) {
            return Err(bad("missing or bad host"));
        }
        let port = match port {
            Some(p) => p.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| bad("bad port"))?,
            None => default_port,
        };
        Ok(ServerUrl { security, login, host, port })
    }

    /// The host is a loopback address (or `localhost`): only then is `--plain` allowed.
    pub fn is_loopback(&self) -> bool {
        self.host.eq_ignore_ascii_case("localhost")
            || self.host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
    }

    /// `imaps://host:port` with no login, for messages and file names.
    pub fn display_server(&self) -> String {
        let scheme = match self.security {
            Security::Tls => "imaps",
            Security::StartTls => "imap",
        };
        if self.host.contains(':') {
            format!("{scheme}://[{}]:{}", self.host, self.port)
        } else {
            format!("{scheme}://{}:{}", self.host, self.port)
        }
    }
}

/// `pct-encoded = "%" HEXDIG HEXDIG` (RFC 3986 §2.1); the result must be UTF-8.
pub fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = ServerUrl::parse("imaps://bob%40mail.test@127.0.0.1:1993").expect("url");
        assert_eq!(
            u,
            ServerUrl {
                security: Security::Tls,
                login: Some("bob@mail.test".into()),
                host: "127.0.0.1".into(),
                port: 1993
            }
        );
        assert!(u.is_loopback());
        let u = ServerUrl::parse("imap://mail.example.com/").expect("url");
        assert_eq!((u.security, u.login, u.port), (Security::StartTls, None, 143));
        assert!(!ServerUrl::parse("imap://mail.example.com").expect("url").is_loopback());
        let u = ServerUrl::parse("IMAPS://a@b@[::1]").expect("url");
        assert_eq!((u.login.as_deref(), u.host.as_str(), u.port), (Some("a@b"), "::1", 993));
        assert_eq!(u.display_server(), "imaps://[::1]:993");
        for bad in [
            "pop3://host",
            "host:993",
            "imaps://host:99999",
            "imaps://host:0",
            "imaps://@host",
            "imaps://a%4@host",
            "imaps://a%ff@host",
            "imaps://host/INBOX",
            "imaps://a;AUTH=*@host",
            "imaps://",
        ] {
            assert!(ServerUrl::parse(bad).is_err(), "{bad}");
        }
    }
}
