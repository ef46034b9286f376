//! TLS material: the self-signed certificate `--init` makes. (Serving TLS lives in `server/`.)

use std::path::Path;

/// Writes a self-signed certificate for `hostname` (and localhost) and its private key as PEM.
/// The key file is created with mode 0600.
pub fn write_self_signed(hostname: &str, cert_path: &Path, key_path: &Path) -> Result<(), String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut names = vec![hostname.to_string()];
    if hostname != "localhost" {
        names.push("localhost".into());
    }
    let ck = rcgen::generate_simple_self_signed(names).map_err(|e| format!("certificate: {e}"))?;
    for p in [cert_path, key_path] {
        if let Some(dir) = p.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
    }
    std::fs::write(cert_path, ck.cert.pem())
        .map_err(|e| format!("cannot write {}: {e}", cert_path.display()))?;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(key_path)
        .map_err(|e| format!("cannot write {}: {e}", key_path.display()))?;
    f.write_all(ck.signing_key.serialize_pem().as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", key_path.display()))?;
    Ok(())
}
