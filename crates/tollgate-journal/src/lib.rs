//! A local journal: records appended to segment files in checksummed frames, read back in order
//! by one reader (the usage writer) that releases segments once their records are stored
//! elsewhere. A record is written to the file before [`Journal::append`] returns, so a process
//! killed right after loses nothing; the data reaches the disk itself by [`Journal::sync`]
//! (called in groups, on an interval) or, under [`SyncMode::Always`], before
//! [`Journal::append_durable`] returns, concurrent callers sharing one sync.
//!
//! One process owns a directory (an exclusive lock on `LOCK`). A new process starts a new
//! segment and its reader begins at the oldest segment left, so whatever a crashed process
//! journaled is read again: readers must tolerate records they have seen (the usage writer
//! skips request ids already stored). A frame cut short by a power cut ends its segment's
//! records; damage is reported and the segment's rest skipped, never misread.

mod frame;

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

pub use frame::MAX_PAYLOAD;
use frame::{Decoded, HEADER};

/// First bytes of every segment: the format and its version.
const MAGIC: &[u8; 8] = b"TGJRNL01";
/// Segment file names end in this.
const SUFFIX: &str = ".journal";
/// Bytes read from a segment at a time.
const READ_CHUNK: u64 = 1024 * 1024;

/// When appended records reach the disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncMode {
    /// On [`Journal::sync`], which the owner calls on an interval.
    Interval,
    /// Before [`Journal::append_durable`] returns.
    Always,
}

/// How the journal is laid out.
#[derive(Clone, Debug)]
pub struct JournalConfig {
    /// Its directory (created if missing).
    pub dir: PathBuf,
    /// A segment is closed and a new one started past this size.
    pub segment_bytes: u64,
    /// When records reach the disk.
    pub sync: SyncMode,
}

/// Why the journal cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// The directory cannot be created or read.
    #[error("cannot use the journal directory {dir}: {source}; check usage.journal_dir and its permissions")]
    Dir {
        /// The directory.
        dir: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Another process holds the directory.
    #[error("the journal directory {dir} is in use by another Tollgate process; give each replica its own usage.journal_dir")]
    Locked {
        /// The directory.
        dir: PathBuf,
    },
    /// Writing or syncing failed (disk full, I/O error).
    #[error("cannot write the journal: {0}")]
    Write(std::io::Error),
    /// A record is larger than a frame may be.
    #[error("a journal record of {0} bytes is larger than the limit")]
    TooLarge(usize),
    /// An empty record (a frame of zeros is how unwritten space reads).
    #[error("a journal record must not be empty")]
    Empty,
}

/// A place in the journal: a segment and a byte offset in it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    /// The segment's number.
    pub segment: u64,
    /// Bytes from the segment's start.
    pub offset: u64,
}

/// The journal; clones share it.
#[derive(Clone)]
pub struct Journal {
    inner: Arc<Inner>,
}

struct Inner {
    dir: PathBuf,
    config: JournalConfig,
    _lock: File,
    active: Mutex<Active>,
    /// The end of the last record written (whole frames only).
    committed: Mutex<Position>,
    /// The end of what is known to be on disk.
    synced: Mutex<Position>,
    /// One sync at a time; callers that queue behind it find their record synced.
    sync_gate: tokio::sync::Mutex<()>,
    /// Wakes the reader.
    written: tokio::sync::Notify,
}

struct Active {
    segment: u64,
    file: Arc<File>,
    len: u64,
    /// A write failed part-way: the next append starts a new segment.
    broken: bool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Journal {
    /// Opens the journal in `config.dir`, taking it for this process, and starts a new
    /// segment. Returns the journal and a reader at its oldest record.
    pub fn open(config: JournalConfig) -> Result<(Journal, Reader), JournalError> {
        let dir = config.dir.clone();
        let dir_error = |source| JournalError::Dir {
            dir: dir.clone(),
            source,
        };
        std::fs::create_dir_all(&dir).map_err(dir_error)?;
        let lock_file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join("LOCK"))
            .map_err(dir_error)?;
        match lock_file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(JournalError::Locked { dir: dir.clone() })
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(dir_error(e)),
        }
        let existing = segments(&dir).map_err(dir_error)?;
        let first = existing.first().copied();
        let segment = existing.last().map_or(1, |last| last + 1);
        let file = create_segment(&dir, segment).map_err(JournalError::Write)?;
        let start = Position {
            segment,
            offset: MAGIC.len() as u64,
        };
        let inner = Arc::new(Inner {
            dir: dir.clone(),
            config,
            _lock: lock_file,
            active: Mutex::new(Active {
                segment,
                file: Arc::new(file),
                len: MAGIC.len() as u64,
                broken: false,
            }),
            committed: Mutex::new(start),
            synced: Mutex::new(start),
            sync_gate: tokio::sync::Mutex::new(()),
            written: tokio::sync::Notify::new(),
        });
        let journal = Journal { inner };
        let reader = Reader {
            journal: journal.clone(),
            at: Position {
                segment: first.unwrap_or(segment),
                offset: MAGIC.len() as u64,
            },
            file: None,
        };
        Ok((journal, reader))
    }

    /// Writes `payload` as the next record; it survives the process once this returns.
    pub fn append(&self, payload: &[u8]) -> Result<Position, JournalError> {
        if payload.len() > MAX_PAYLOAD {
            return Err(JournalError::TooLarge(payload.len()));
        }
        if payload.is_empty() {
            return Err(JournalError::Empty);
        }
        let mut bytes = Vec::with_capacity(HEADER + payload.len());
        frame::encode(payload, &mut bytes);
        let inner = &self.inner;
        let mut active = lock(&inner.active);
        let full = active.len + bytes.len() as u64 > inner.config.segment_bytes
            && active.len > MAGIC.len() as u64;
        if full || active.broken {
            self.rotate(&mut active)?;
        }
        if let Err(e) = (&*active.file).write_all(&bytes) {
            active.broken = true;
            return Err(JournalError::Write(e));
        }
        active.len += bytes.len() as u64;
        let at = Position {
            segment: active.segment,
            offset: active.len,
        };
        *lock(&inner.committed) = at;
        drop(active);
        inner.written.notify_one();
        Ok(at)
    }

    /// Under [`SyncMode::Always`], waits until everything up to `at` is on disk (concurrent
    /// callers share syncs); under [`SyncMode::Interval`], returns at once.
    pub async fn sync_through(&self, at: Position) -> Result<(), JournalError> {
        if self.inner.config.sync == SyncMode::Always {
            while *lock(&self.inner.synced) < at {
                self.sync().await?;
            }
        }
        Ok(())
    }

    /// [`Journal::append`], then [`Journal::sync_through`] the record.
    pub async fn append_durable(&self, payload: &[u8]) -> Result<Position, JournalError> {
        let at = self.append(payload)?;
        self.sync_through(at).await?;
        Ok(at)
    }

    /// Puts everything written so far on disk.
    pub async fn sync(&self) -> Result<(), JournalError> {
        let inner = &self.inner;
        let _gate = inner.sync_gate.lock().await;
        let target = *lock(&inner.committed);
        if target <= *lock(&inner.synced) {
            return Ok(());
        }
        let file = lock(&inner.active).file.clone();
        tokio::task::spawn_blocking(move || file.sync_data())
            .await
            .map_err(|e| JournalError::Write(std::io::Error::other(e)))?
            .map_err(JournalError::Write)?;
        let mut synced = lock(&inner.synced);
        *synced = (*synced).max(target);
        Ok(())
    }

    /// Deletes the segments wholly before `upto` (the reader's position once what it read is
    /// stored elsewhere); the segment being written stays.
    pub fn release(&self, upto: Position) {
        let active = lock(&self.inner.active).segment;
        let Ok(all) = segments(&self.inner.dir) else {
            return;
        };
        for segment in all.into_iter().filter(|s| *s < upto.segment && *s < active) {
            let path = segment_path(&self.inner.dir, segment);
            if let Err(e) = std::fs::remove_file(&path) {
                tracing::warn!(path = %path.display(), %e, "cannot delete a journal segment that was written out");
            }
        }
    }

    /// The end of the last record written.
    pub fn committed(&self) -> Position {
        *lock(&self.inner.committed)
    }

    /// Bytes written after `from`, in this segment and the ones since (an estimate across
    /// segments: each is counted as written up to the configured size).
    pub fn backlog(&self, from: Position) -> u64 {
        let end = self.committed();
        if from.segment == end.segment {
            return end.offset.saturating_sub(from.offset);
        }
        let segment = self.inner.config.segment_bytes;
        (end.segment - from.segment).saturating_sub(1) * segment
            + segment.saturating_sub(from.offset)
            + end.offset
    }

    fn rotate(&self, active: &mut Active) -> Result<(), JournalError> {
        // Everything in the closed segment reaches the disk before anything in the next, so
        // "synced up to a position" stays true across segments.
        if let Err(e) = active.file.sync_data() {
            active.broken = true;
            return Err(JournalError::Write(e));
        }
        // A number left taken by an earlier failure is passed over: readers go by what exists.
        let mut segment = active.segment + 1;
        let file = loop {
            match create_segment(&self.inner.dir, segment) {
                Ok(file) => break file,
                Err(e)
                    if e.kind() == std::io::ErrorKind::AlreadyExists
                        && segment < active.segment + 16 =>
                {
                    segment += 1;
                }
                Err(e) => return Err(JournalError::Write(e)),
            }
        };
        let closed_end = Position {
            segment: active.segment,
            offset: active.len,
        };
        {
            let mut synced = lock(&self.inner.synced);
            *synced = (*synced).max(closed_end);
        }
        *active = Active {
            segment,
            file: Arc::new(file),
            len: MAGIC.len() as u64,
            broken: false,
        };
        Ok(())
    }
}

/// How a read of frames ended.
enum Frames {
    /// Read what was asked or all there was.
    More,
    /// The segment ends in a frame cut short.
    Torn,
    /// A frame is damaged.
    Damaged,
}

/// Reads the journal's records in order (one reader per journal).
pub struct Reader {
    journal: Journal,
    at: Position,
    file: Option<(u64, File)>,
}

impl Reader {
    /// Where the next record starts.
    pub fn position(&self) -> Position {
        self.at
    }

    /// Up to `max` records after the position, oldest first, never past what is committed.
    /// Reading moves the position; a segment that ends in a cut or damaged frame is left
    /// for the next one, with a warning.
    pub fn read(&mut self, max: usize) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        while out.len() < max {
            let committed = self.journal.committed();
            if self.at >= committed {
                break;
            }
            let end = if self.at.segment == committed.segment {
                committed.offset
            } else {
                match self.segment_len() {
                    Ok(len) => len,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        self.skip_segment(committed);
                        continue;
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                        self.set_aside(&e.to_string());
                        self.skip_segment(committed);
                        continue;
                    }
                    Err(e) => {
                        tracing::warn!(segment = self.at.segment, %e, "cannot read the usage journal now; trying again later");
                        break;
                    }
                }
            };
            if self.at.offset >= end {
                self.skip_segment(committed);
                continue;
            }
            match self.read_frames(end, max - out.len(), &mut out) {
                Ok(Frames::More) => {}
                Ok(Frames::Torn) => {
                    tracing::warn!(segment = self.at.segment, offset = self.at.offset, "a journal segment ends in a record cut short (a crash while writing); reading on from the next segment");
                    self.skip_segment(committed);
                }
                Ok(Frames::Damaged) => {
                    self.set_aside(&format!("damaged record at offset {}", self.at.offset));
                    self.skip_segment(committed);
                }
                Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                    self.set_aside(&e.to_string());
                    self.skip_segment(committed);
                }
                Err(e) => {
                    // Passing trouble (too many open files, an I/O error): nothing is skipped,
                    // the next read tries again from the same place.
                    tracing::warn!(segment = self.at.segment, %e, "cannot read the usage journal now; trying again later");
                    break;
                }
            }
        }
        out
    }

    /// Waits until something is written or `timeout` passes.
    pub async fn wait(&self, timeout: Duration) {
        let _ = tokio::time::timeout(timeout, self.journal.inner.written.notified()).await;
    }

    /// Reads up to `max` whole frames from the position, none past `end`; on a damaged frame,
    /// or one cut before `end` (a torn tail), the position stops before it.
    fn read_frames(
        &mut self,
        end: u64,
        max: usize,
        out: &mut Vec<Vec<u8>>,
    ) -> std::io::Result<Frames> {
        let remaining = end - self.at.offset;
        let mut want = remaining.min(READ_CHUNK);
        loop {
            let buf = self.read_at(self.at.offset, want)?;
            let mut used = 0;
            let mut taken = 0;
            while taken < max {
                match frame::decode(&buf[used..]) {
                    Decoded::Frame(payload, size) => {
                        out.push(payload.to_vec());
                        used += size;
                        taken += 1;
                    }
                    Decoded::Partial if used == buf.len() => break,
                    // Everything up to `end` is here and the frame is still incomplete.
                    Decoded::Partial if want == remaining => {
                        self.at.offset += used as u64;
                        return Ok(Frames::Torn);
                    }
                    Decoded::Partial if used == 0 => {
                        // One frame larger than a chunk: read it whole.
                        let len = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]);
                        want = (HEADER as u64 + u64::from(len)).min(remaining);
                        break;
                    }
                    // A frame across the chunk's end: the next read starts at it.
                    Decoded::Partial => break,
                    // Zeros where a frame should be: space a crash left unwritten.
                    Decoded::Damaged if buf[used..].iter().all(|b| *b == 0) => {
                        self.at.offset += used as u64;
                        return Ok(Frames::Torn);
                    }
                    Decoded::Damaged => {
                        self.at.offset += used as u64;
                        return Ok(Frames::Damaged);
                    }
                }
            }
            if taken == 0 && used == 0 && max > 0 {
                continue;
            }
            self.at.offset += used as u64;
            return Ok(Frames::More);
        }
    }

    /// Renames a segment that cannot be read on (`.journal.damaged`), so it is kept for the
    /// operator instead of being released.
    fn set_aside(&mut self, why: &str) {
        let path = segment_path(&self.journal.inner.dir, self.at.segment);
        let aside = path.with_extension("journal.damaged");
        tracing::error!(path = %path.display(), aside = %aside.display(), why, "a journal segment cannot be read on; set aside, with the records after the damage");
        self.file = None;
        if self.at.segment < self.journal.committed().segment {
            let _ = std::fs::rename(&path, &aside);
        }
    }

    fn read_at(&mut self, offset: u64, len: u64) -> std::io::Result<Vec<u8>> {
        let mut buf = vec![0u8; usize::try_from(len).unwrap_or(usize::MAX)];
        self.open()?.read_exact_at(&mut buf, offset)?;
        Ok(buf)
    }

    fn open(&mut self) -> std::io::Result<&File> {
        let segment = self.at.segment;
        if self.file.as_ref().is_none_or(|(s, _)| *s != segment) {
            let path = segment_path(&self.journal.inner.dir, segment);
            let file = File::open(&path)?;
            let mut magic = [0u8; 8];
            file.read_exact_at(&mut magic, 0)
                .map_err(|e| match e.kind() {
                    // Shorter than its header: never a segment (a creation that failed).
                    std::io::ErrorKind::UnexpectedEof => std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("{} is too short to be a journal segment", path.display()),
                    ),
                    _ => e,
                })?;
            if &magic != MAGIC {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!(
                        "{} is not a journal segment of this version",
                        path.display()
                    ),
                ));
            }
            self.file = Some((segment, file));
        }
        match &self.file {
            Some((_, f)) => Ok(f),
            None => Err(std::io::Error::other("no segment open")),
        }
    }

    fn segment_len(&mut self) -> std::io::Result<u64> {
        Ok(self.open()?.metadata()?.len())
    }

    /// Leaves the current segment for the next one that exists; in the segment being written
    /// (which never holds damage this process wrote), jumps to its end.
    fn skip_segment(&mut self, committed: Position) {
        self.file = None;
        if self.at.segment >= committed.segment {
            self.at = committed;
            return;
        }
        let next = segments(&self.journal.inner.dir)
            .ok()
            .and_then(|all| all.into_iter().find(|s| *s > self.at.segment))
            .unwrap_or(committed.segment)
            .min(committed.segment);
        self.at = Position {
            segment: next,
            offset: MAGIC.len() as u64,
        };
    }
}

fn segment_path(dir: &Path, segment: u64) -> PathBuf {
    dir.join(format!("{segment:016x}{SUFFIX}"))
}

/// The segment numbers in `dir`, ascending.
fn segments(dir: &Path) -> std::io::Result<Vec<u64>> {
    let mut out: Vec<u64> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            u64::from_str_radix(name.strip_suffix(SUFFIX)?, 16).ok()
        })
        .collect();
    out.sort_unstable();
    Ok(out)
}

fn create_segment(dir: &Path, segment: u64) -> std::io::Result<File> {
    let path = segment_path(dir, segment);
    let mut file = OpenOptions::new()
        .create_new(true)
        .append(true)
        .open(&path)?;
    // The new name must survive a power cut too (the directory is synced).
    let ready = file
        .write_all(MAGIC)
        .and_then(|()| file.sync_data())
        .and_then(|()| File::open(dir)?.sync_all());
    if let Err(e) = ready {
        // A half-made segment would stand in the way of the next attempt.
        let _ = std::fs::remove_file(&path);
        return Err(e);
    }
    Ok(file)
}

#[cfg(test)]
mod tests;
