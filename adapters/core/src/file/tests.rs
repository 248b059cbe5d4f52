//! Publishing data files and their marker files.

use std::fs;

use super::*;

fn names(dir: &std::path::Path) -> Vec<String> {
    let mut n: Vec<String> =
        fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    n.sort();
    n
}

#[test]
fn a_file_is_visible_under_its_name_only_when_complete() {
    let dir = tempfile::tempdir().unwrap();
    let mut file = AtomicFile::create(dir.path(), "A.DAT").unwrap();
    file.append(&[b'x'; 100]).unwrap();
    assert_eq!(names(dir.path()), [".A.DAT.part"]);
    file.append(&[b'y'; 24]).unwrap();
    let written = file.publish(2).unwrap();
    assert_eq!(written, Written { path: dir.path().join("A.DAT"), records: 2, bytes: 124 });
    assert_eq!(names(dir.path()), ["A.DAT", "A.DAT.done"]);
    let done = Marker::Done.read(dir.path(), "A.DAT").unwrap();
    assert_eq!(done, [("records".to_owned(), "2".to_owned()), ("bytes".to_owned(), "124".to_owned())]);

    // Abandoned (dropped without publishing): nothing is left, nothing is published.
    let mut file = AtomicFile::create(dir.path(), "B.DAT").unwrap();
    file.append(b"z").unwrap();
    drop(file);
    assert_eq!(names(dir.path()), ["A.DAT", "A.DAT.done"]);

    // An existing file is never replaced.
    let mut file = AtomicFile::create(dir.path(), "A.DAT").unwrap();
    file.append(b"z").unwrap();
    assert!(matches!(file.publish(1), Err(FileError::Io { operation: "publish", .. })));
    assert_eq!(fs::read(dir.path().join("A.DAT")).unwrap().len(), 124);
}

#[test]
fn hidden_and_path_like_names_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["", ".A.DAT", "in/A.DAT", "in\\A.DAT"] {
        assert!(matches!(AtomicFile::create(dir.path(), name), Err(FileError::Config(_))), "{name:?}");
    }
}

#[test]
fn a_marker_value_never_spans_lines() {
    let dir = tempfile::tempdir().unwrap();
    Marker::Ack
        .write(dir.path(), "A.DAT", &[("status", "refused".into()), ("reason", "bad\r\nrecord".into())])
        .unwrap();
    let ack = Marker::Ack.read(dir.path(), "A.DAT").unwrap();
    assert_eq!(
        ack,
        [("status".to_owned(), "refused".to_owned()), ("reason".to_owned(), "bad  record".to_owned())]
    );
}
