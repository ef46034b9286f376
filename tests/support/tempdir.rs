//! A directory removed on drop, for tests that open a store without a server
//! (`#[path = "support/tempdir.rs"] mod tempdir;`).

/// A directory removed on drop.
pub struct Dir(std::path::PathBuf);

impl Dir {
    pub fn new() -> Self {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let name = std::env::current_exe()
            .ok()
            .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()));
        let p = std::env::temp_dir().join(format!(
            "applianced-{}-{}-{n}",
            name.as_deref().unwrap_or("test"),
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("temp dir");
        Dir(p)
    }

    pub fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
