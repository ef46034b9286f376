//! The house's arrows (docs/ARCHITECTURE.md), checked on the source: rooms import downwards only.
//! A file's test module (from its `#[cfg(test)]` on) may reach anywhere and is not checked.

use std::path::{Path, PathBuf};

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read_dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every source file under `src/` (relative path, text before its test module).
fn files() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut paths = Vec::new();
    sources(&root, &mut paths);
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("source");
            let code = text.split("#[cfg(test)]").next().unwrap_or("").to_string();
            let rel = p.strip_prefix(&root).expect("under src").to_string_lossy().replace('\\', "/");
            (rel, code)
        })
        .collect()
}

/// Lines of `code` that are not comments.
fn code_lines(code: &str) -> impl Iterator<Item = &str> {
    code.lines().map(str::trim).filter(|l| !l.starts_with("//"))
}

#[test]
fn imap_handlers_are_leaves() {
    let mut wrong = Vec::new();
    for (path, code) in files() {
        let Some(rest) = path.strip_prefix("imap/") else { continue };
        for line in code_lines(&code) {
            let names_handler =
                line.contains("imap::cmd") || line.contains("super::cmd") || line.contains("cmd::");
            if let Some(handler) = rest.strip_prefix("cmd/") {
                // A handler imports nothing of its siblings (mod.rs only declares them).
                let sibling = line.contains("super::") || line.contains("imap::cmd::");
                if handler != "mod.rs" && sibling {
                    wrong.push(format!("{path}: {line}"));
                }
            } else if rest != "dispatch.rs" && rest != "mod.rs" && names_handler {
                wrong.push(format!("{path}: {line}"));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "only imap/dispatch.rs may call handlers, and handlers use no sibling:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn lower_rooms_do_not_import_the_server_or_the_cli() {
    let mut wrong = Vec::new();
    for (path, code) in files() {
        let upper = path.starts_with("server/") || path.starts_with("cli/") || path == "main.rs";
        if upper {
            continue;
        }
        for line in code_lines(&code) {
            // `admin.rs` executes requests on a store; only its docs name the control socket.
            if line.contains("crate::server") || line.contains("crate::cli") {
                wrong.push(format!("{path}: {line}"));
            }
        }
    }
    assert!(wrong.is_empty(), "a lower room reaches up into server/ or cli/:\n{}", wrong.join("\n"));
}

#[test]
fn migrate_does_not_import_admin() {
    let wrong: Vec<String> = files()
        .into_iter()
        .filter(|(path, _)| path.starts_with("migrate/"))
        .flat_map(|(path, code)| {
            code_lines(&code)
                .filter(|l| l.contains("crate::admin"))
                .map(|l| format!("{path}: {l}"))
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(
        wrong.is_empty(),
        "migrate/ imports admin.rs (the circle issue 11 removed):\n{}",
        wrong.join("\n")
    );
}

/// The MAPI room (docs/ARCHITECTURE.md): its command handlers (`mapi/x*.rs`, one per command)
/// are leaves like `imap/cmd/`, called only by `imap/dispatch.rs`; the rest of the room sits
/// below them beside IMAP's lower modules: it never imports the session, the dispatcher or a
/// handler, and what the session holds (the registry, the links, the responses) imports nothing
/// of `imap/` at all.
/// The parts of the MAPI room that `imap::session` holds.
const HELD_BY_THE_SESSION: [&str; 3] = ["registry.rs", "link.rs", "response.rs"];

#[test]
fn mapi_handlers_are_leaves_and_the_registry_is_below_imap() {
    let all = files();
    let handlers: Vec<String> = all
        .iter()
        .filter_map(|(p, _)| p.strip_prefix("mapi/x")?.strip_suffix(".rs").map(|n| format!("x{n}")))
        .collect();
    assert!(handlers.len() >= 2, "no MAPI handlers found: {handlers:?}");
    let handler_names = |line: &str| {
        handlers.iter().any(|h| {
            line.contains(&format!("mapi::{h}"))
                || line.contains(&format!("super::{h}"))
                || (line.contains("mapi::{") && line.contains(h.as_str()))
        })
    };
    let mut wrong = Vec::new();
    for (path, code) in all {
        let in_mapi = path.strip_prefix("mapi/");
        let is_handler = in_mapi.is_some_and(|f| f.starts_with('x'));
        for line in code_lines(&code) {
            let why = match in_mapi {
                Some(_) if is_handler && handler_names(line) => "a handler uses another",
                Some(f)
                    if !is_handler
                        && f != "mod.rs"
                        && (["crate::imap::session", "crate::imap::dispatch", "crate::imap::cmd"]
                            .iter()
                            .any(|m| line.contains(m))
                            || (HELD_BY_THE_SESSION.contains(&f) && line.contains("crate::imap"))
                            || handler_names(line)) =>
                {
                    "below the session, yet imports above it"
                }
                None if path != "imap/dispatch.rs" && handler_names(line) => {
                    "only imap/dispatch.rs calls MAPI handlers"
                }
                _ => continue,
            };
            wrong.push(format!("{path}: {why}: {line}"));
        }
    }
    assert!(wrong.is_empty(), "the MAPI room's arrows:\n{}", wrong.join("\n"));
}
