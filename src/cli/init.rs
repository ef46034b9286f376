//! `applianced --init`: config, TLS certificate, database and the first account. Idempotent:
//! run again, it keeps everything that exists and says so.
//!
//! The system installation: run as root with neither `--data-dir` nor `--config` (the default
//! paths `/var/lib/applianced` and `/etc/applianced`), `--init` also prepares what
//! `systemd/applianced.service` needs: the `applianced` system user (created with
//! `useradd --system` if missing), the data directory owned by it, and the config directory
//! readable by its group. Any explicit path means a private installation (tests, a second
//! instance): then `--init` creates no user and changes no owner, as root or not.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{Args, fail};
use crate::admin::{check_address, exit};
use crate::config::{CONFIG_FILE, Config, Paths, default_listeners, running_as_root};
use crate::events::Hub;
use crate::store::{DEFAULT_MAILBOXES, Store, StoreError};
use crate::{auth, tls};

/// This machine's host name, or `localhost`.
fn system_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// Creates a directory (mode 0700, and its missing parents: see `files`) and checks that we can
/// write in it. The system installation then opens the config directory to the service group.
fn ensure_dir(dir: &Path) -> Result<(), String> {
    if !dir.exists() {
        crate::files::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    if !dir.is_dir() {
        return Err(format!("{} is not a directory", dir.display()));
    }
    let probe = dir.join(".applianced-write-test");
    std::fs::File::create(&probe)
        .and_then(|mut f| f.write_all(b"x"))
        .map_err(|e| format!("cannot write in {}: {e}", dir.display()))?;
    let _ = std::fs::remove_file(probe);
    Ok(())
}

pub fn run(args: &Args) -> u8 {
    match init(args) {
        Ok(()) => exit::OK,
        Err((code, msg)) => fail(code, msg),
    }
}

fn init(args: &Args) -> Result<(), (u8, String)> {
    let root = running_as_root();
    let system_install = root && args.data_dir.is_none() && args.config.is_none();
    let (data_dir, config_file) = match (&args.data_dir, &args.config) {
        (Some(d), c) => (d.clone(), c.clone().unwrap_or_else(|| d.join(CONFIG_FILE))),
        (None, c) if root => (
            PathBuf::from("/var/lib/applianced"),
            c.clone().unwrap_or_else(|| PathBuf::from("/etc/applianced").join(CONFIG_FILE)),
        ),
        (None, c) => {
            let d = PathBuf::from("applianced-data");
            let cf = c.clone().unwrap_or_else(|| d.join(CONFIG_FILE));
            (d, cf)
        }
    };
    ensure_dir(&data_dir).map_err(|e| (exit::CANTCREAT, e))?;
    if let Some(dir) = config_file.parent().filter(|p| !p.as_os_str().is_empty()) {
        ensure_dir(dir).map_err(|e| (exit::CANTCREAT, e))?;
    }

    // 1. The config.
    let config = if config_file.exists() {
        println!("config      {} exists, unchanged", config_file.display());
        Config::load(&config_file).map_err(|e| (exit::CONFIG, e.to_string()))?
    } else {
        let mut c =
            Config { hostname: args.hostname.clone().unwrap_or_else(system_hostname), ..Config::default() };
        let (imap, imaps) = default_listeners();
        c.imap.listen = if args.imap_listen.is_empty() { imap } else { args.imap_listen.clone() };
        c.imaps.listen = if args.imaps_listen.is_empty() { imaps } else { args.imaps_listen.clone() };
        c.lmtp.listen = args.lmtp_listen.clone();
        let config_dir = config_file.parent().unwrap_or(Path::new("."));
        if config_dir != data_dir {
            c.data_dir = Some(std::path::absolute(&data_dir).unwrap_or(data_dir.clone()));
        }
        c.check().map_err(|e| (exit::USAGE, e))?;
        crate::files::write(&config_file, c.to_documented_toml().as_bytes())
            .and_then(|()| crate::files::sync(&config_file))
            .map_err(|e| (exit::CANTCREAT, format!("cannot write {}: {e}", config_file.display())))?;
        println!("config      {} written", config_file.display());
        c
    };
    let paths = Paths::resolve(&config_file, args.data_dir.as_deref(), &config);

    // 2. The TLS certificate.
    let cert = paths.from_config(&config.tls.certificate);
    let key = paths.from_config(&config.tls.key);
    if cert.exists() && key.exists() {
        println!("certificate {} exists, unchanged", cert.display());
    } else if cert.exists() != key.exists() {
        return Err((
            exit::CONFIG,
            format!(
                "only one of {} and {} exists: remove it or add the other",
                cert.display(),
                key.display()
            ),
        ));
    } else {
        tls::write_self_signed(&config.hostname, &cert, &key).map_err(|e| (exit::CANTCREAT, e))?;
        println!("certificate {} written (self-signed for {})", cert.display(), config.hostname);
    }

    // 3. The database and 4. the first account.
    let db = paths.database();
    let existed = db.exists();
    let store = Store::open(&db, &config.store_options(), Arc::new(Hub::new())).map_err(|e| {
        let code = if matches!(e, StoreError::Storage(ref m) if m.contains("already open")) {
            exit::TEMPFAIL
        } else {
            exit::SOFTWARE
        };
        (code, format!("cannot open {}: {e}", db.display()))
    })?;
    println!("database    {} {}", db.display(), if existed { "exists, unchanged" } else { "created" });
    let admin =
        args.admin.clone().unwrap_or_else(|| format!("admin@{}", config.hostname)).to_ascii_lowercase();
    check_address(&admin).map_err(|e| (exit::USAGE, e))?;
    let exists = store.read().and_then(|r| r.account_id(&admin)).is_ok();
    let mut generated = None;
    if exists {
        println!("account     {admin} exists, unchanged");
    } else {
        let password = match &args.password_file {
            Some(f) => auth::read_password_file(f).map_err(|e| (exit::NOINPUT, e))?,
            None => {
                let p = auth::generate_password().map_err(|e| (exit::SOFTWARE, e))?;
                generated = Some(p.clone());
                p
            }
        };
        let hash = auth::hash_password(&password).map_err(|e| (exit::SOFTWARE, e))?;
        let name = admin.clone();
        store
            .write_blocking(move |t| t.create_account(&name, &hash, DEFAULT_MAILBOXES))
            .map_err(|e| (exit::SOFTWARE, format!("cannot create {admin}: {e}")))?;
        println!("account     {admin} created with INBOX, Drafts, Sent, Trash, Junk, Archive");
    }
    store.close();
    if let Some(p) = generated {
        println!("password    {p}   (shown once: note it now)");
    }
    if system_install {
        let (uid, gid) = ensure_service_user(&paths.data_dir).map_err(|e| (exit::CANTCREAT, e))?;
        hand_over(&paths, &cert, &key, uid, gid).map_err(|e| (exit::CANTCREAT, e))?;
        println!(
            "user        {SERVICE_USER} (uid {uid}) owns {}; group {SERVICE_USER} reads {}",
            paths.data_dir.display(),
            paths.config_dir().display()
        );
    }
    let dd = if args.data_dir.is_some() {
        format!(" --data-dir {}", paths.data_dir.display())
    } else {
        String::new()
    };
    println!();
    println!("Next:");
    if system_install {
        println!("  serve:          systemctl enable --now applianced   (unit: systemd/applianced.service)");
    } else {
        println!("  serve:          applianced{dd}");
    }
    println!(
        "  IMAP:           {} (STARTTLS), {} (TLS)",
        config.imap.listen.join(" "),
        config.imaps.listen.join(" ")
    );
    println!("  add a user:     applianced{dd} user add alice@{}", config.hostname);
    // The account that exists now: a hint to follow, not one that ends in "no such user" (exit 67).
    println!("  deliver mail:   applianced{dd} deliver {admin} < message.eml");
    Ok(())
}

/// The user `systemd/applianced.service` runs as.
const SERVICE_USER: &str = "applianced";

/// The uid and gid of `name` in a passwd(5) file.
fn passwd_entry(passwd: &str, name: &str) -> Option<(u32, u32)> {
    passwd.lines().find_map(|line| {
        let mut f = line.split(':');
        if f.next()? != name {
            return None;
        }
        let _password = f.next()?;
        Some((f.next()?.parse().ok()?, f.next()?.parse().ok()?))
    })
}

/// The service user's uid and gid, after creating it as a system user with its own group if it
/// does not exist yet.
fn ensure_service_user(home: &Path) -> Result<(u32, u32), String> {
    let lookup = || std::fs::read_to_string("/etc/passwd").ok().and_then(|p| passwd_entry(&p, SERVICE_USER));
    if let Some(ids) = lookup() {
        return Ok(ids);
    }
    let status = std::process::Command::new("useradd")
        .args(["--system", "--user-group", "--no-create-home", "--shell", "/usr/sbin/nologin"])
        .args(["--comment", "applianced mail server", "--home-dir"])
        .arg(home)
        .arg(SERVICE_USER)
        .status()
        .map_err(|e| format!("cannot run useradd to create the {SERVICE_USER} user: {e}"))?;
    if !status.success() {
        return Err(format!("useradd could not create the {SERVICE_USER} user ({status})"));
    }
    println!("user        {SERVICE_USER} created (system user)");
    lookup().ok_or_else(|| format!("useradd ran but {SERVICE_USER} is not in /etc/passwd"))
}

/// Gives the data directory (recursively) to the service user, and the config directory, config
/// file and TLS files to root with the service group allowed to read them (dirs 0750, files 0640).
fn hand_over(paths: &Paths, cert: &Path, key: &Path, uid: u32, gid: u32) -> Result<(), String> {
    chown_tree(&paths.data_dir, uid, gid)?;
    let readable = |p: &Path, mode: u32| -> Result<(), String> {
        if !p.exists() {
            return Ok(());
        }
        std::os::unix::fs::chown(p, Some(0), Some(gid))
            .and_then(|()| std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)))
            .map_err(|e| format!("cannot give {} to group {SERVICE_USER}: {e}", p.display()))
    };
    let config_dir = paths.config_dir();
    if config_dir != paths.data_dir {
        readable(&config_dir, 0o750)?;
        readable(&paths.config, 0o640)?;
    }
    for file in [cert, key] {
        if !file.starts_with(&paths.data_dir) {
            if let Some(dir) = file.parent().filter(|d| d.starts_with(&config_dir) && *d != config_dir) {
                readable(dir, 0o750)?;
            }
            readable(file, 0o640)?;
        }
    }
    Ok(())
}

/// `chown -R uid:gid dir`, without following symbolic links.
fn chown_tree(dir: &Path, uid: u32, gid: u32) -> Result<(), String> {
    let err = |p: &Path, e: std::io::Error| format!("cannot give {} to {SERVICE_USER}: {e}", p.display());
    std::os::unix::fs::lchown(dir, Some(uid), Some(gid)).map_err(|e| err(dir, e))?;
    if std::fs::symlink_metadata(dir).map_err(|e| err(dir, e))?.is_dir() {
        for entry in std::fs::read_dir(dir).map_err(|e| err(dir, e))? {
            chown_tree(&entry.map_err(|e| err(dir, e))?.path(), uid, gid)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::passwd_entry;

    #[test]
    fn passwd_lines_give_uid_and_gid() {
        let passwd = "root:x:0:0:root:/root:/bin/bash\napplianced:x:998:997:applianced mail server:/var/lib/applianced:/usr/sbin/nologin\n";
        assert_eq!(passwd_entry(passwd, "applianced"), Some((998, 997)));
        assert_eq!(passwd_entry(passwd, "root"), Some((0, 0)));
        assert_eq!(passwd_entry(passwd, "applianc"), None);
        assert_eq!(passwd_entry("applianced:x:nope:1:::\n", "applianced"), None);
    }
}
