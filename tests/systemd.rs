//! systemd/applianced.service: `systemd-analyze verify` accepts it and `systemd-analyze security`
//! rates its exposure 2.0 or lower. Runs wherever systemd-analyze exists (Debian: the `systemd`
//! package; no running systemd needed); elsewhere it says loudly that it did not check.

use std::path::PathBuf;
use std::process::Command;

const UNIT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/systemd/applianced.service");
const BIN: &str = env!("CARGO_BIN_EXE_applianced");

fn analyze() -> Option<PathBuf> {
    let found =
        ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"].iter().map(PathBuf::from).find(|p| p.exists());
    if found.is_none() {
        eprintln!(
            "\n!!!!! tests/systemd.rs: systemd-analyze is not installed: the unit file was NOT checked.\n\
             !!!!! apt-get install systemd (no running systemd is needed) and run again.\n"
        );
    }
    found
}

/// The unit in a temp dir with `ExecStart=` and `ExecReload=` pointing at the test binary (verify
/// checks that the executable exists; the installed path /usr/local/bin/applianced does not
/// exist here).
fn unit_copy(tag: &str) -> (PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!("applianced-unit-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let text = std::fs::read_to_string(UNIT).expect("unit file");
    assert!(text.contains("ExecStart=/usr/local/bin/applianced "), "ExecStart moved?");
    assert!(text.contains("ExecReload=/usr/local/bin/applianced "), "ExecReload moved?");
    let text = text
        .replace("ExecStart=/usr/local/bin/applianced ", &format!("ExecStart={BIN} "))
        .replace("ExecReload=/usr/local/bin/applianced ", &format!("ExecReload={BIN} "));
    let path = dir.join("applianced.service");
    std::fs::write(&path, text).expect("write unit");
    (dir, path)
}

#[test]
fn unit_verifies() {
    let Some(analyze) = analyze() else { return };
    let (dir, unit) = unit_copy("verify");
    let o = Command::new(analyze).arg("verify").arg(&unit).current_dir(&dir).output().expect("run");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "systemd-analyze verify failed:\n{err}");
    assert!(!err.contains("applianced.service"), "systemd-analyze verify warns about the unit:\n{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn unit_exposure_is_at_most_2_0() {
    let Some(analyze) = analyze() else { return };
    let (dir, unit) = unit_copy("security");
    let o = Command::new(analyze)
        .args(["security", "--offline=true", "--no-pager"])
        .arg(&unit)
        .current_dir(&dir)
        .output()
        .expect("run");
    let out = String::from_utf8_lossy(&o.stdout);
    let err = String::from_utf8_lossy(&o.stderr);
    let score: f64 = out
        .lines()
        .chain(err.lines())
        .find_map(|l| l.split("Overall exposure level for applianced.service:").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no exposure level in:\n{out}\n{err}"));
    assert!(score <= 2.0, "exposure {score} > 2.0:\n{out}");
    let _ = std::fs::remove_dir_all(&dir);
}
