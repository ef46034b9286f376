//! TLS material: the self-signed certificate `--init` makes. (Serving TLS lives in `server/`.)

use std::path::Path;

/// How long the self-signed certificate is valid, from the day it is made.
const VALID_YEARS: i64 = 3;

/// Writes a self-signed certificate for `hostname` and its private key as PEM: the host name is
/// the subject's CN and, with `localhost`, `127.0.0.1` and `::1`, a subject alternative name
/// (clients match SANs only, RFC 6125 §6.4.4; the README tells Thunderbird users to connect to
/// 127.0.0.1), valid from yesterday (clocks disagree) for [`VALID_YEARS`] years.
/// Both files are created with mode 0600 and their directory with 0700, whatever the umask.
pub fn write_self_signed(hostname: &str, cert_path: &Path, key_path: &Path) -> Result<(), String> {
    use std::io::Write;
    let ck = self_signed(hostname, std::time::SystemTime::now()).map_err(|e| format!("certificate: {e}"))?;
    for p in [cert_path, key_path] {
        if let Some(dir) = p.parent() {
            crate::files::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
    }
    crate::files::write(cert_path, ck.cert.pem().as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", cert_path.display()))?;
    let mut f = crate::files::create_new(key_path)
        .map_err(|e| format!("cannot write {}: {e}", key_path.display()))?;
    f.write_all(ck.signing_key.serialize_pem().as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", key_path.display()))?;
    for p in [cert_path, key_path] {
        crate::files::sync(p).map_err(|e| format!("cannot write {}: {e}", p.display()))?;
    }
    Ok(())
}

/// The certificate and key [`write_self_signed`] writes, made as of `now`.
fn self_signed(
    hostname: &str,
    now: std::time::SystemTime,
) -> Result<rcgen::CertifiedKey<rcgen::KeyPair>, rcgen::Error> {
    let signing_key = rcgen::KeyPair::generate()?;
    let cert = params(hostname, now)?.self_signed(&signing_key)?;
    Ok(rcgen::CertifiedKey { cert, signing_key })
}

/// What the self-signed certificate says: names, subject, validity.
fn params(hostname: &str, now: std::time::SystemTime) -> Result<rcgen::CertificateParams, rcgen::Error> {
    let mut names = vec![hostname.to_string()];
    for n in ["localhost", "127.0.0.1", "::1"] {
        if !names.iter().any(|have| have == n) {
            names.push(n.to_string());
        }
    }
    // Names that parse as IP addresses become iPAddress SANs, the rest dNSName.
    let mut params = rcgen::CertificateParams::new(names)?;
    let mut dn = rcgen::DistinguishedName::new();
    dn.push(rcgen::DnType::CommonName, hostname);
    dn.push(rcgen::DnType::OrganizationName, "applianced (self-signed by --init)");
    params.distinguished_name = dn;
    let days = now.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() / 86_400).unwrap_or(0) as i64;
    let date = |days: i64| {
        let (y, m, d) = crate::proto::command::civil_from_days(days);
        rcgen::date_time_ymd(y as i32, m as u8, d as u8)
    };
    params.not_before = date(days - 1);
    params.not_after = date(days + VALID_YEARS * 365);
    Ok(params)
}

#[cfg(test)]
mod tests {
    /// Issue 12 item 15: the host name as CN, the loopback addresses as SANs, a few years' validity.
    #[test]
    fn self_signed_names_and_validity() {
        let now = std::time::UNIX_EPOCH + std::time::Duration::from_secs(20_424 * 86_400); // 2025-12-02
        let params = super::params("mail.example", now).expect("params");
        let cn = params.distinguished_name.get(&rcgen::DnType::CommonName);
        assert_eq!(cn, Some(&rcgen::DnValue::Utf8String("mail.example".into())));
        let sans: Vec<String> = params.subject_alt_names.iter().map(|s| format!("{s:?}")).collect();
        for want in ["mail.example", "localhost", "127.0.0.1", "::1"] {
            assert!(sans.iter().any(|s| s.contains(want)), "{want} in {sans:?}");
        }
        assert_eq!(params.not_before.date(), rcgen::date_time_ymd(2025, 12, 1).date());
        assert_eq!(params.not_after.date(), rcgen::date_time_ymd(2028, 12, 1).date());
        let ck = super::self_signed("mail.example", now).expect("certificate");
        assert!(ck.cert.pem().starts_with("-----BEGIN CERTIFICATE-----"));
    }
}
