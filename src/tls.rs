//! TLS material: the self-signed certificate `--init` makes. (Serving TLS lives in `server/`.)

use std::path::Path;

/// Writes a self-signed certificate for `hostname` (and localhost) and its private key as PEM.
/// Both files are created with mode 0600 and their directory with 0700, whatever the umask.
pub fn write_self_signed(hostname: &str, cert_path: &Path, key_path: &Path) -> Result<(), String> {
    use std::io::Write;
    let mut names = vec![hostname.to_string()];
    if hostname != "localhost" {
        names.push("localhost".into());
    }
    let ck = rcgen::generate_simple_self_signed(names).map_err(|e| format!("certificate: {e}"))?;
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
