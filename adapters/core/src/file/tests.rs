//! Writing, reading and picking up record files.

use std::fs;
use std::path::Path;

use super::*;

pub(crate) use super::fixtures::{layout, people};

pub(crate) fn fixed_sjis() -> RecordFormat {
    RecordFormat::new(Format::Fixed, Charset::Cp932)
}

fn write(
    dir: &Path,
    name: &str,
    format: &RecordFormat,
    layout: &RecordLayout,
    rows: &[Vec<String>],
) -> Written {
    let mut w = RecordFileWriter::create(dir, name, format, layout).unwrap();
    for row in rows {
        w.write_record(row).unwrap();
    }
    w.finish().unwrap()
}

fn read_all(path: &Path, format: &RecordFormat, layout: &RecordLayout) -> Vec<Result<Record, RecordError>> {
    RecordReader::open(path, "f", format, layout, 0, 0).unwrap().map(|r| r.unwrap()).collect()
}

/// Collects everything a pick-up hands out, keeping progress in memory.
#[derive(Default)]
struct Collect {
    records: Vec<(String, Record)>,
    rejected: Vec<RecordError>,
    progress: std::collections::HashMap<String, Progress>,
    fail_after_batches: Option<usize>,
    batches: usize,
}

impl PickupSink for Collect {
    fn resume_point(&mut self, file: &FileKey) -> Result<Option<Progress>, pickup::SinkError> {
        Ok(self.progress.get(&file.name).cloned())
    }

    fn accept(&mut self, batch: Batch) -> Result<(), pickup::SinkError> {
        if self.fail_after_batches == Some(self.batches) {
            return Err("the store is unavailable".into());
        }
        self.batches += 1;
        let name = batch.progress.file.name.clone();
        self.records.extend(batch.records.into_iter().map(|r| (name.clone(), r)));
        self.rejected.extend(batch.rejected);
        self.progress.insert(name, batch.progress);
        Ok(())
    }
}

#[test]
fn shift_jis_fixed_length_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let rows = people(300);
    let written = write(dir.path(), "JUMIN_20250401.DAT", &fixed_sjis(), &layout(), &rows);
    assert_eq!(written.records, 300);
    // 122 bytes of fields + CRLF per record.
    assert_eq!(written.bytes, 300 * 124);
    let bytes = fs::read(&written.path).unwrap();
    assert_eq!(&bytes[..10], b"0001000000");
    // 山田 in Windows-31J, then U+3000 as 0x8140, padded to 24 bytes with ideographic spaces.
    assert_eq!(&bytes[10..20], b"\x8e\x52\x93\x63\x81\x40\x91\xbe\x98\x59");
    assert_eq!(&bytes[20..34], b"\x81\x40".repeat(7).as_slice());
    assert_eq!(&bytes[122..124], b"\r\n");
    assert_eq!(
        fs::read_to_string(dir.path().join("JUMIN_20250401.DAT.done")).unwrap(),
        format!("records=300\nbytes={}\n", 300 * 124)
    );

    let read: Vec<Vec<String>> =
        read_all(&written.path, &fixed_sjis(), &layout()).into_iter().map(|r| r.unwrap().fields).collect();
    assert_eq!(read, rows);
}

#[test]
fn utf8_csv_round_trip_with_quoting_and_header() {
    let dir = tempfile::tempdir().unwrap();
    let mut format = RecordFormat::new(Format::Csv, Charset::Utf8);
    format.header = true;
    let layout = RecordLayout::new(vec![
        FieldSpec { name: "id".into(), width: None, pad: Pad::Space },
        FieldSpec { name: "note".into(), width: None, pad: Pad::Space },
    ]);
    let rows = vec![
        vec!["1".to_owned(), "葛\u{E0100}西, \"通称\" あり".to_owned()],
        vec!["2".to_owned(), "line one\r\nline two".to_owned()],
        vec!["3".to_owned(), " leading space".to_owned()],
        vec!["4".to_owned(), String::new()],
    ];
    let written = write(dir.path(), "notes.csv", &format, &layout, &rows);
    let text = fs::read_to_string(&written.path).unwrap();
    assert!(text.starts_with("id,note\r\n1,\"葛\u{E0100}西, \"\"通称\"\" あり\"\r\n"), "{text}");
    let read: Vec<Vec<String>> =
        read_all(&written.path, &format, &layout).into_iter().map(|r| r.unwrap().fields).collect();
    assert_eq!(read, rows);

    // A header that does not match the layout refuses the file.
    let mut other = layout.clone();
    other.fields[1].name = "memo".into();
    let e = RecordReader::open(&written.path, "notes.csv", &format, &other, 0, 0).unwrap_err();
    assert_eq!(e.to_string(), "notes.csv: refused: header column 2 is \"note\", the layout says \"memo\"");
}

#[test]
fn strict_shift_jis_records_carry_jis_x0208_as_jis_maps_it() {
    let dir = tempfile::tempdir().unwrap();
    let format = RecordFormat::new(Format::Fixed, Charset::ShiftJis);
    let mut w = RecordFileWriter::create(dir.path(), "STRICT.DAT", &format, &layout()).unwrap();
    let mut rows = people(2);
    // 髙 is Windows-31J's; ～ U+FF5E would be read as 〜 U+301C by a strict decoder.
    rows[0][1] = "髙橋".into();
    let e = w.write_record(&rows[0]).unwrap_err();
    assert!(e.to_string().ends_with("character 1 of the value, U+9AD9, has no Shift_JIS code"), "{e}");
    rows[0][1] = "山田　～".into();
    let e = w.write_record(&rows[0]).unwrap_err();
    assert!(e.to_string().ends_with("character 4 of the value, U+FF5E, has no Shift_JIS code"), "{e}");
    rows[0][1] = "山田　〜−".into();
    w.write_record(&rows[0]).unwrap();
    w.write_record(&rows[1]).unwrap();
    let written = w.finish().unwrap();
    let bytes = fs::read(&written.path).unwrap();
    assert_eq!(&bytes[16..20], b"\x81\x60\x81\x7c", "〜 is 1-33, − is 1-61");
    let read = read_all(&written.path, &format, &layout());
    assert_eq!(read[0].as_ref().unwrap().fields[1], "山田　〜−");
    assert_eq!(read[1].as_ref().unwrap().fields, rows[1]);
    // Read as Windows-31J, the same bytes are other characters: the charset must be named exactly.
    let read = read_all(&written.path, &fixed_sjis(), &layout());
    assert_eq!(read[0].as_ref().unwrap().fields[1], "山田　～－");
}

#[test]
fn records_that_cannot_be_written_are_refused_whole_and_the_file_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = RecordFileWriter::create(dir.path(), "OUT.DAT", &fixed_sjis(), &layout()).unwrap();
    let mut rows = people(4);
    w.write_record(&rows[0]).unwrap();
    // An IVS has no Windows-31J code: the mapping must degrade it before the file edge.
    rows[1][1] = "葛\u{E0100}西　太郎".into();
    let e = w.write_record(&rows[1]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "OUT.DAT: record 2, field shimei: character 2 of the value, U+E0100, has no Windows-31J code"
    );
    rows[1][1] = "𠮷田　花子".into();
    assert!(w.write_record(&rows[1]).unwrap_err().to_string().contains("U+20BB7"));
    rows[1][1] = "葛西　太郎".into();
    rows[1][4] = "東京都千代田区霞が関一丁目一番一号　合同庁舎第一号館　地下一階".into();
    let e = w.write_record(&rows[1]).unwrap_err();
    assert_eq!(e.to_string(), "OUT.DAT: record 2, field jusho: 62 bytes in Windows-31J, the field holds 60");
    rows[1][4] = "東京都".into();
    rows[1][3] = "1989-01-08".into();
    let e = w.write_record(&rows[1]).unwrap_err();
    assert!(e.to_string().contains("field seinengappi: a zero-padded field takes ASCII digits only"), "{e}");
    let e = w.write_record(&rows[1][..3]).unwrap_err();
    assert!(e.to_string().contains("record 2: 3 values for a layout of 5 fields"), "{e}");
    // 髙 and ① are Windows-31J extensions.
    rows[2][1] = "髙橋　①".into();
    w.write_record(&rows[2]).unwrap();
    let written = w.finish().unwrap();
    assert_eq!(written.records, 2, "the refused record left nothing behind");
    let read = read_all(&written.path, &fixed_sjis(), &layout());
    assert_eq!(read.len(), 2);
    assert_eq!(read[1].as_ref().unwrap().fields[1], "髙橋　①");
}

#[test]
fn a_file_is_visible_under_its_name_only_when_complete() {
    let dir = tempfile::tempdir().unwrap();
    let pickup = Pickup::new(dir.path(), &fixed_sjis(), &layout(), 100).unwrap();
    let names = || {
        let mut n: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        n.sort();
        n
    };
    let rows = people(50);
    let mut w = RecordFileWriter::create(dir.path(), "A.DAT", &fixed_sjis(), &layout()).unwrap();
    for row in &rows[..25] {
        w.write_record(row).unwrap();
    }
    assert_eq!(names(), [".A.DAT.part"]);
    assert!(pickup.ready().unwrap().is_empty());
    for row in &rows[25..] {
        w.write_record(row).unwrap();
    }
    w.finish().unwrap();
    assert_eq!(names(), ["A.DAT", "A.DAT.done"]);
    assert_eq!(pickup.ready().unwrap().iter().map(|k| k.name.as_str()).collect::<Vec<_>>(), ["A.DAT"]);

    // Abandoned (dropped without finish): nothing is left, nothing is published.
    let mut w = RecordFileWriter::create(dir.path(), "B.DAT", &fixed_sjis(), &layout()).unwrap();
    w.write_record(&rows[0]).unwrap();
    drop(w);
    assert_eq!(names(), ["A.DAT", "A.DAT.done"]);

    // An existing file is never replaced.
    let mut w = RecordFileWriter::create(dir.path(), "A.DAT", &fixed_sjis(), &layout()).unwrap();
    w.write_record(&rows[0]).unwrap();
    assert!(matches!(w.finish(), Err(FileError::Io { operation: "publish", .. })));
    assert_eq!(fs::read(dir.path().join("A.DAT")).unwrap().len(), 50 * 124);
}

#[test]
fn pickup_reports_bad_records_by_field_and_keeps_the_rest_moving() {
    let dir = tempfile::tempdir().unwrap();
    let rows = people(6);
    let written = write(dir.path(), "IN.DAT", &fixed_sjis(), &layout(), &rows);
    let mut bytes = fs::read(&written.path).unwrap();
    // Record 2: a lead byte followed by a space inside shimei (bytes 10..34 of the record).
    bytes[124 + 12] = 0x82;
    bytes[124 + 13] = b' ';
    // Record 4: letters in the zero-padded birth date (bytes 54..62).
    bytes[3 * 124 + 54..3 * 124 + 56].copy_from_slice(b"AB");
    // Record 5 loses two bytes: a short line, then the framing resumes at its CRLF.
    bytes.drain(4 * 124 + 70..4 * 124 + 72);
    fs::write(&written.path, &bytes).unwrap();
    fs::write(dir.path().join("IN.DAT.done"), "records=6\n").unwrap();

    let pickup = Pickup::new(dir.path(), &fixed_sjis(), &layout(), 2).unwrap();
    let mut sink = Collect::default();
    let report = pickup.run(&mut sink).unwrap();
    let numbers: Vec<u64> = sink.records.iter().map(|(_, r)| r.number).collect();
    assert_eq!(numbers, [1, 3, 6]);
    assert_eq!(sink.records[2].1.fields, rows[5]);
    let rejected: Vec<String> = sink.rejected.iter().map(ToString::to_string).collect();
    assert_eq!(
        rejected,
        [
            "IN.DAT: record 2, field shimei: byte 3 of the field is not valid Windows-31J",
            "IN.DAT: record 4, field seinengappi: a zero-padded field holds ASCII digits only",
            "IN.DAT: record 5: 122 bytes with its terminator, the record length is 124",
        ]
    );
    assert_eq!(report.files[0].rejected.len(), 3);
    assert_eq!(report.files[0].announced_records, None);
    assert_eq!(
        fs::read_to_string(dir.path().join("IN.DAT.ack")).unwrap(),
        "status=accepted\nrecords=6\nrejected=3\n"
    );
    // Acknowledged files are not read again.
    assert!(pickup.run(&mut sink).unwrap().files.is_empty());
}

#[test]
fn truncated_files_are_reported_and_what_came_before_is_kept() {
    let root = tempfile::tempdir().unwrap();
    let [fixed_dir, csv_dir, refused_dir] = ["fixed", "csv", "refused"].map(|d| {
        let dir = root.path().join(d);
        fs::create_dir(&dir).unwrap();
        dir
    });
    let rows = people(5);
    // Fixed-length, no byte count announced: the last record is cut.
    let written = write(&fixed_dir, "T1.DAT", &fixed_sjis(), &layout(), &rows);
    let len = fs::metadata(&written.path).unwrap().len();
    fs::OpenOptions::new().write(true).open(&written.path).unwrap().set_len(len - 50).unwrap();
    fs::write(fixed_dir.join("T1.DAT.done"), "").unwrap();
    let mut sink = Collect::default();
    Pickup::new(&fixed_dir, &fixed_sjis(), &layout(), 100).unwrap().run(&mut sink).unwrap();
    assert_eq!(sink.records.len(), 4);
    assert_eq!(
        sink.rejected[0].to_string(),
        "T1.DAT: record 5: truncated: 74 of 124 bytes, the file ends inside this record"
    );

    // CSV whose last line lost its end.
    let csv = RecordFormat::new(Format::Csv, Charset::Cp932);
    let written = write(&csv_dir, "T2.CSV", &csv, &layout(), &rows);
    let len = fs::metadata(&written.path).unwrap().len();
    fs::OpenOptions::new().write(true).open(&written.path).unwrap().set_len(len - 7).unwrap();
    fs::write(csv_dir.join("T2.CSV.done"), "records=5\n").unwrap();
    let mut sink = Collect::default();
    let report = Pickup::new(&csv_dir, &csv, &layout(), 100).unwrap().run(&mut sink).unwrap();
    assert_eq!(sink.records.len(), 4);
    assert_eq!(sink.rejected[0].to_string(), "T2.CSV: record 5: truncated: the file ends inside this record");
    assert_eq!(report.files[0].name, "T2.CSV");

    // A completion file that announces more bytes than arrived refuses the file whole.
    let written = write(&refused_dir, "T3.DAT", &fixed_sjis(), &layout(), &rows);
    fs::OpenOptions::new().write(true).open(&written.path).unwrap().set_len(124 * 3).unwrap();
    let mut sink = Collect::default();
    let report = Pickup::new(&refused_dir, &fixed_sjis(), &layout(), 100).unwrap().run(&mut sink).unwrap();
    assert!(sink.records.is_empty());
    let refused = report.files[0].refused.as_deref().unwrap();
    assert_eq!(refused, "the completion file announces 620 bytes, the file has 372 (truncated?)");
    let ack = fs::read_to_string(refused_dir.join("T3.DAT.ack")).unwrap();
    assert!(ack.starts_with("status=refused\nrecords=0\nrejected=0\nreason=the completion file"), "{ack}");
}

#[test]
fn progress_file_resumes_after_a_failed_batch_without_losing_or_repeating() {
    let dir = tempfile::tempdir().unwrap();
    let rows = people(1000);
    write(dir.path(), "A.DAT", &fixed_sjis(), &layout(), &rows[..600]);
    write(dir.path(), "B.DAT", &fixed_sjis(), &layout(), &rows[600..]);
    let pickup = Pickup::new(dir.path(), &fixed_sjis(), &layout(), 64).unwrap();
    let progress_path = dir.path().join(".renkei-pickup.json");
    let mut seen: Vec<(String, u64)> = Vec::new();

    // The handler fails on its fourth batch: the run stops, three batches count.
    let mut calls = 0;
    let mut sink = WithProgressFile {
        progress: ProgressFile::open(&progress_path).unwrap(),
        handler: |batch: &Batch| {
            calls += 1;
            if calls == 4 {
                return Err("downstream unavailable".into());
            }
            seen.extend(batch.records.iter().map(|r| (batch.progress.file.name.clone(), r.number)));
            Ok(())
        },
    };
    let e = pickup.run(&mut sink).unwrap_err();
    assert_eq!(e.to_string(), "A.DAT: the sink failed: downstream unavailable");
    drop(sink);
    assert_eq!(seen.len(), 3 * 64);

    // A new process: the progress file is all it knows.
    let mut sink = WithProgressFile {
        progress: ProgressFile::open(&progress_path).unwrap(),
        handler: |batch: &Batch| {
            seen.extend(batch.records.iter().map(|r| (batch.progress.file.name.clone(), r.number)));
            Ok(())
        },
    };
    let report = pickup.run(&mut sink).unwrap();
    assert_eq!(report.files.iter().map(|f| f.records).collect::<Vec<_>>(), [600 - 3 * 64, 400]);
    let expected: Vec<(String, u64)> = (1..=600)
        .map(|n| ("A.DAT".to_owned(), n))
        .chain((1..=400).map(|n| ("B.DAT".to_owned(), n)))
        .collect();
    assert_eq!(seen, expected, "every record once, in order");
    // Acknowledged files leave the progress file.
    assert_eq!(fs::read_to_string(&progress_path).unwrap(), "{}");
}

#[test]
fn a_new_file_under_an_old_name_starts_from_the_beginning() {
    let dir = tempfile::tempdir().unwrap();
    let rows = people(20);
    let pickup = Pickup::new(dir.path(), &fixed_sjis(), &layout(), 5).unwrap();
    write(dir.path(), "DAILY.DAT", &fixed_sjis(), &layout(), &rows[..10]);
    let mut sink = Collect { fail_after_batches: Some(1), ..Collect::default() };
    assert!(pickup.run(&mut sink).is_err());
    assert_eq!(sink.records.len(), 5);
    // The system replaces the file (different size) before renkei comes back.
    for name in ["DAILY.DAT", "DAILY.DAT.done"] {
        fs::remove_file(dir.path().join(name)).unwrap();
    }
    write(dir.path(), "DAILY.DAT", &fixed_sjis(), &layout(), &rows[..12]);
    sink.fail_after_batches = None;
    sink.records.clear();
    pickup.run(&mut sink).unwrap();
    assert_eq!(sink.records.iter().map(|(_, r)| r.number).collect::<Vec<_>>(), (1..=12).collect::<Vec<_>>());
}

#[test]
fn xml_files_are_published_and_picked_up_resumably() {
    use crate::xml::{XmlElement, XmlRecordWriter};
    let dir = tempfile::tempdir().unwrap();
    let mut format = RecordFormat::new(Format::Xml, Charset::Cp932);
    format.record_path = Some("/Idou/Record".into());
    let layout = RecordLayout::new(
        ["@seq", "AtenaNo", "Shimei/Kanji", "Shimei/Kana"]
            .map(|name| FieldSpec { name: name.into(), width: None, pad: Pad::Space })
            .to_vec(),
    );
    let rows = people(25);
    let file = AtomicFile::create(dir.path(), "IDOU.xml").unwrap();
    let mut w = XmlRecordWriter::new(file, "IDOU.xml", "/Idou/Record", Charset::Cp932).unwrap();
    for (i, row) in rows.iter().enumerate() {
        let mut shimei = XmlElement { name: "Shimei".into(), ..XmlElement::default() };
        shimei.children.push(XmlElement::leaf("Kanji", row[1].as_str()));
        if i != 6 {
            shimei.children.push(XmlElement::leaf("Kana", row[2].as_str()));
        }
        let record = XmlElement {
            name: "Record".into(),
            attributes: vec![("seq".into(), (i + 1).to_string())],
            children: vec![XmlElement::leaf("AtenaNo", row[0].as_str()), shimei],
            ..XmlElement::default()
        };
        w.write_record(&record).unwrap();
    }
    let records = w.records();
    let written = w.finish().unwrap().publish(records).unwrap();
    assert_eq!(written.records, 25);
    assert!(Pickup::new(dir.path(), &format, &layout, 4).unwrap().ready().unwrap().len() == 1);

    // Stop after two batches, then resume: every record once, record 7 reported.
    let pickup = Pickup::new(dir.path(), &format, &layout, 4).unwrap();
    let mut sink = Collect { fail_after_batches: Some(2), ..Collect::default() };
    assert!(pickup.run(&mut sink).is_err());
    sink.fail_after_batches = None;
    pickup.run(&mut sink).unwrap();
    let numbers: Vec<u64> = sink.records.iter().map(|(_, r)| r.number).collect();
    assert_eq!(numbers, (1..=25).filter(|n| *n != 7).collect::<Vec<_>>());
    let (_, eighth) = &sink.records[6];
    assert_eq!(eighth.fields, ["8", rows[7][0].as_str(), rows[7][1].as_str(), rows[7][2].as_str()]);
    assert_eq!(
        sink.rejected.iter().map(ToString::to_string).collect::<Vec<_>>(),
        ["IDOU.xml: record 7, field Shimei/Kana: missing in the record that starts at line 9, column 1"]
    );
    assert_eq!(
        fs::read_to_string(dir.path().join("IDOU.xml.ack")).unwrap(),
        "status=accepted\nrecords=25\nrejected=1\n"
    );
}
