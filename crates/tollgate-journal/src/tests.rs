use std::io::Write;

use proptest::prelude::*;

use super::*;

fn config(dir: &Path, segment_bytes: u64, sync: SyncMode) -> JournalConfig {
    JournalConfig {
        dir: dir.to_path_buf(),
        segment_bytes,
        sync,
    }
}

fn record(i: usize) -> Vec<u8> {
    format!("record number {i} {}", "x".repeat(i % 37)).into_bytes()
}

fn read_all(reader: &mut Reader) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let batch = reader.read(7);
        if batch.is_empty() {
            return out;
        }
        out.extend(batch);
    }
}

fn segment_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.contains(".journal"))
        .collect();
    names.sort();
    names
}

#[test]
fn records_come_back_in_order_across_segments_and_released_segments_go() {
    let dir = tempfile::tempdir().unwrap();
    let (journal, mut reader) = Journal::open(config(dir.path(), 300, SyncMode::Interval)).unwrap();
    let written: Vec<Vec<u8>> = (0..60).map(record).collect();
    for r in &written {
        journal.append(r).unwrap();
    }
    assert!(segment_files(dir.path()).len() > 3, "small segments rotate");
    assert_eq!(read_all(&mut reader), written);
    assert_eq!(reader.position(), journal.committed());
    journal.release(reader.position());
    assert_eq!(
        segment_files(dir.path()).len(),
        1,
        "only the segment being written stays"
    );
    assert_eq!(journal.backlog(reader.position()), 0);
    journal.append(b"after").unwrap();
    assert_eq!(reader.read(10), vec![b"after".to_vec()]);
}

#[test]
fn a_new_process_reads_what_the_last_one_left() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (journal, mut reader) =
            Journal::open(config(dir.path(), 1 << 20, SyncMode::Interval)).unwrap();
        for i in 0..10 {
            journal.append(&record(i)).unwrap();
        }
        // Half of it was stored elsewhere; then the process dies without releasing.
        assert_eq!(reader.read(5).len(), 5);
    }
    let (journal, mut reader) =
        Journal::open(config(dir.path(), 1 << 20, SyncMode::Interval)).unwrap();
    journal.append(b"new").unwrap();
    let all = read_all(&mut reader);
    assert_eq!(
        all.len(),
        11,
        "everything left is read again, then the new records"
    );
    assert_eq!(all[0], record(0));
    assert_eq!(all[10], b"new".to_vec());
}

#[test]
fn one_process_per_directory() {
    let dir = tempfile::tempdir().unwrap();
    let (_journal, _reader) =
        Journal::open(config(dir.path(), 1 << 20, SyncMode::Interval)).unwrap();
    let err = Journal::open(config(dir.path(), 1 << 20, SyncMode::Interval))
        .err()
        .unwrap();
    assert!(matches!(err, JournalError::Locked { .. }), "{err}");
    assert!(err.to_string().contains("usage.journal_dir"));
}

#[test]
fn a_record_cut_by_a_crash_ends_its_segment_and_nothing_is_misread() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (journal, _) = Journal::open(config(dir.path(), 1 << 20, SyncMode::Interval)).unwrap();
        for i in 0..5 {
            journal.append(&record(i)).unwrap();
        }
    }
    // A power cut in the middle of the last write.
    let path = dir.path().join(&segment_files(dir.path())[0]);
    let len = std::fs::metadata(&path).unwrap().len();
    OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(len - 5)
        .unwrap();

    let (journal, mut reader) =
        Journal::open(config(dir.path(), 1 << 20, SyncMode::Interval)).unwrap();
    journal.append(b"next").unwrap();
    let all = read_all(&mut reader);
    assert_eq!(
        all,
        vec![record(0), record(1), record(2), record(3), b"next".to_vec()]
    );
}

#[test]
fn a_damaged_segment_is_set_aside_with_what_follows_the_damage() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (journal, _) = Journal::open(config(dir.path(), 1 << 20, SyncMode::Interval)).unwrap();
        for i in 0..6 {
            journal.append(&record(i)).unwrap();
        }
    }
    let path = dir.path().join(&segment_files(dir.path())[0]);
    let mut bytes = std::fs::read(&path).unwrap();
    // Inside the third record's payload.
    let third = MAGIC.len() + record(0).len() + record(1).len() + 2 * HEADER + HEADER + 3;
    bytes[third] ^= 0x40;
    std::fs::File::create(&path)
        .unwrap()
        .write_all(&bytes)
        .unwrap();

    let (journal, mut reader) =
        Journal::open(config(dir.path(), 1 << 20, SyncMode::Interval)).unwrap();
    journal.append(b"next").unwrap();
    let all = read_all(&mut reader);
    assert_eq!(all, vec![record(0), record(1), b"next".to_vec()]);
    journal.release(reader.position());
    let left = segment_files(dir.path());
    assert!(
        left.iter().any(|n| n.ends_with(".journal.damaged")),
        "{left:?}"
    );
}

#[test]
fn zeros_left_by_a_power_cut_end_the_segment_quietly() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (journal, _) = Journal::open(config(dir.path(), 1 << 20, SyncMode::Interval)).unwrap();
        for i in 0..3 {
            journal.append(&record(i)).unwrap();
        }
    }
    // The file grew (its size was updated) but the last blocks never reached the disk.
    let path = dir.path().join(&segment_files(dir.path())[0]);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.extend_from_slice(&[0u8; 4096]);
    std::fs::write(&path, &bytes).unwrap();
    let (journal, mut reader) =
        Journal::open(config(dir.path(), 1 << 20, SyncMode::Interval)).unwrap();
    journal.append(b"next").unwrap();
    assert_eq!(
        read_all(&mut reader),
        vec![record(0), record(1), record(2), b"next".to_vec()]
    );
    journal.release(reader.position());
    assert!(
        !segment_files(dir.path())
            .iter()
            .any(|n| n.ends_with(".damaged")),
        "no damage, just a cut"
    );
    assert!(matches!(journal.append(b""), Err(JournalError::Empty)));
}

#[test]
fn a_segment_number_left_taken_is_passed_over() {
    let dir = tempfile::tempdir().unwrap();
    let (journal, mut reader) = Journal::open(config(dir.path(), 200, SyncMode::Interval)).unwrap();
    // As if an earlier rotation had failed half-way and left the next file behind.
    let next = dir
        .path()
        .join(format!("{:016x}.journal", journal.committed().segment + 1));
    std::fs::write(&next, b"").unwrap();
    let written: Vec<Vec<u8>> = (0..20).map(record).collect();
    for r in &written {
        journal.append(r).unwrap();
    }
    assert_eq!(
        read_all(&mut reader),
        written,
        "the empty file is no segment to read"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn durable_appends_share_syncs_and_all_end_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let (journal, mut reader) = Journal::open(config(dir.path(), 4096, SyncMode::Always)).unwrap();
    let tasks: Vec<_> = (0..64)
        .map(|i| {
            let j = journal.clone();
            tokio::spawn(async move { j.append_durable(&record(i)).await.unwrap() })
        })
        .collect();
    let mut positions = Vec::new();
    for t in tasks {
        positions.push(t.await.unwrap());
    }
    let synced = *lock(&journal.inner.synced);
    assert!(positions.iter().all(|p| *p <= synced));
    assert_eq!(read_all(&mut reader).len(), 64);
    // Interval mode: appends return at once, a sync covers them.
    let dir = tempfile::tempdir().unwrap();
    let (journal, _) = Journal::open(config(dir.path(), 4096, SyncMode::Interval)).unwrap();
    let at = journal.append_durable(b"x").await.unwrap();
    assert!(*lock(&journal.inner.synced) < at);
    journal.sync().await.unwrap();
    assert_eq!(*lock(&journal.inner.synced), at);
}

#[test]
fn a_record_larger_than_a_read_chunk_is_read_whole() {
    let dir = tempfile::tempdir().unwrap();
    let (journal, mut reader) =
        Journal::open(config(dir.path(), 8 << 20, SyncMode::Interval)).unwrap();
    let big = vec![7u8; (READ_CHUNK as usize) + 1000];
    journal.append(b"small").unwrap();
    journal.append(&big).unwrap();
    journal.append(b"after").unwrap();
    assert_eq!(
        read_all(&mut reader),
        vec![b"small".to_vec(), big, b"after".to_vec()]
    );
    assert!(matches!(
        journal.append(&vec![0; MAX_PAYLOAD + 1]),
        Err(JournalError::TooLarge(_))
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]
    /// Whatever the record sizes, segment size and batch sizes, the reader returns exactly
    /// what was appended, in order, while appends and reads interleave.
    #[test]
    fn reads_interleaved_with_appends_return_everything_once(
        sizes in proptest::collection::vec(1usize..400, 1..80),
        segment in 64u64..2000,
        batches in proptest::collection::vec(1usize..9, 1..20),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let (journal, mut reader) = Journal::open(config(dir.path(), segment, SyncMode::Interval)).unwrap();
        let mut read = Vec::new();
        let written: Vec<Vec<u8>> = sizes.iter().enumerate().map(|(i, n)| vec![(i % 251) as u8; *n]).collect();
        for (i, r) in written.iter().enumerate() {
            journal.append(r).unwrap();
            read.extend(reader.read(batches[i % batches.len()]));
            if i % 5 == 0 {
                journal.release(reader.position());
            }
        }
        read.extend(read_all(&mut reader));
        prop_assert_eq!(read, written);
    }
}
