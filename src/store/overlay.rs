//! A read-only view of the database file, for when its file system refuses writes (mounted or
//! turned read-only after an error): redb cannot open a file it may not write, because opening
//! a file that was not closed cleanly (which a failed write leaves) rewrites its header. This
//! backend reads the file and keeps what redb writes in memory, so the open succeeds and every
//! read sees the file's last durable commit. The writer never writes through it: it reopens the
//! file for writing first (see `store/handle.rs`), once a probe shows the disk takes writes.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::Mutex;

use redb::StorageBackend;

/// Most bytes kept in memory: an open writes a header page or two; anything near this means the
/// backend is being used for real writes, which it refuses.
const MAX_OVERLAY: usize = 8 << 20;

#[derive(Debug)]
pub(super) struct ReadOnlyFile {
    file: File,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    /// The length redb sees (the file's, or what redb set).
    len: u64,
    /// Writes in the order they were made; a read applies those that overlap it, in order.
    writes: Vec<(u64, Vec<u8>)>,
    bytes: usize,
}

impl ReadOnlyFile {
    pub fn new(file: File) -> std::io::Result<ReadOnlyFile> {
        let len = file.metadata()?.len();
        Ok(ReadOnlyFile { file, state: Mutex::new(State { len, writes: Vec::new(), bytes: 0 }) })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl StorageBackend for ReadOnlyFile {
    fn len(&self) -> Result<u64, std::io::Error> {
        Ok(self.lock().len)
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), std::io::Error> {
        let state = self.lock();
        let end = offset.checked_add(out.len() as u64).filter(|e| *e <= state.len);
        let Some(end) = end else {
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "read past the end"));
        };
        // Bytes past the file's own end (after a set_len that grew it) read as zeros.
        let file_len = self.file.metadata()?.len();
        let from_file = usize::try_from(file_len.saturating_sub(offset)).unwrap_or(usize::MAX).min(out.len());
        self.file.read_exact_at(&mut out[..from_file], offset)?;
        out[from_file..].fill(0);
        for (at, data) in &state.writes {
            let w_end = at + data.len() as u64;
            if w_end <= offset || *at >= end {
                continue;
            }
            let start = (*at).max(offset);
            let stop = w_end.min(end);
            let (o, d) = ((start - offset) as usize, (start - at) as usize);
            let n = (stop - start) as usize;
            out[o..o + n].copy_from_slice(&data[d..d + n]);
        }
        Ok(())
    }

    fn set_len(&self, len: u64) -> Result<(), std::io::Error> {
        self.lock().len = len;
        Ok(())
    }

    fn sync_data(&self) -> Result<(), std::io::Error> {
        Ok(())
    }

    fn write(&self, offset: u64, data: &[u8]) -> Result<(), std::io::Error> {
        let mut state = self.lock();
        if state.bytes + data.len() > MAX_OVERLAY {
            return Err(std::io::Error::new(
                std::io::ErrorKind::ReadOnlyFilesystem,
                "the database is open read-only",
            ));
        }
        state.bytes += data.len();
        let end = offset + data.len() as u64;
        state.len = state.len.max(end);
        state.writes.push((offset, data.to_vec()));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_see_the_file_under_the_writes() {
        let dir = std::env::temp_dir().join(format!("applianced-overlay-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("f");
        std::fs::write(&path, b"0123456789").expect("write");
        let b = ReadOnlyFile::new(File::open(&path).expect("open")).expect("backend");
        b.write(2, b"ab").expect("overlay");
        b.write(3, b"XYZ").expect("overlay");
        let mut out = [0u8; 10];
        b.read(0, &mut out).expect("read");
        assert_eq!(&out, b"01aXYZ6789");
        b.set_len(12).expect("grow");
        let mut tail = [1u8; 4];
        b.read(8, &mut tail).expect("read");
        assert_eq!(&tail, b"89\0\0");
        assert!(b.read(10, &mut [0u8; 3]).is_err(), "past the end");
        assert_eq!(std::fs::read(&path).expect("read"), b"0123456789", "the file is untouched");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
