//! Online applications: the application XML an online application service delivers (one element
//! per application, UTF-8 or Shift_JIS), read through a mapping of the mapping engine into
//! [`Application`]s with provenance `online`.
//!
//! The document is streamed (`renkei_adapter_core::xml`): one application's subtree is held at a
//! time, and a file or record over its limit is refused where it crosses it. Which elements an
//! application has, and what each one means, is the mapping's (`mappings/systems/online/`):
//! an element or attribute it does not name is refused with its line and column.
//!
//! What stops the file and what refuses one application:
//!
//! - malformed XML, bytes not valid in the charset, and a file or record over the limit stop the
//!   file — nothing after them can be trusted; the applications before them stand;
//! - an unknown element, a value that breaks an item's rule, or an application the canonical
//!   model or the procedure catalog refuses (a missing required field) refuses that application
//!   alone, and the rest of the file is read.
//!
//! Every refusal carries the file, the application's number in it, the line and column, the
//! element or field and the rule; never the value.

use std::fmt;
use std::io::{BufRead, BufReader, Read};
use std::sync::Arc;

use renkei_adapter_core::xml::{
    Position, ShiftJisToUtf8, XmlElement, XmlError, XmlErrorKind, XmlRecordReader,
};
use renkei_mappings::{Catalog, Charset, ItemPositions, Mapping, MappingSet, SystemRecord, XmlNode};
use renkei_model::{Application, Provenance};
use serde::{Deserialize, Serialize};

/// The mapping used when none is named: the default set's online application layout.
pub const DEFAULT_MAPPING: &str = "online/shinsei@1";

/// How large an online application file, and one application in it, may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OnlineLimits {
    /// Bytes of one application element (UTF-8, after any transcoding).
    pub max_record_bytes: u64,
    /// Bytes of the whole file (UTF-8, after any transcoding).
    pub max_file_bytes: u64,
}

impl Default for OnlineLimits {
    fn default() -> Self {
        // An application form is a few kilobytes; attachments are not carried inline.
        Self { max_record_bytes: 256 * 1024, max_file_bytes: 64 * 1024 * 1024 }
    }
}

/// Why an application (or the rest of a file) was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RefusalKind {
    /// Not well-formed XML (or truncated): the file stops here.
    Malformed,
    /// Bytes not valid in the mapping's charset, or a declaration naming another charset: the
    /// file stops here.
    Encoding,
    /// The file or one application is over its limit: the file stops here.
    TooLarge,
    /// An element or attribute the mapping does not name: this application is refused.
    UnknownElement,
    /// A value breaks an item's rule, or the application is incomplete: this application is
    /// refused.
    Invalid,
}

impl RefusalKind {
    /// Whether nothing after the refusal is read.
    pub fn stops_file(self) -> bool {
        matches!(self, RefusalKind::Malformed | RefusalKind::Encoding | RefusalKind::TooLarge)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RefusalKind::Malformed => "malformed",
            RefusalKind::Encoding => "encoding",
            RefusalKind::TooLarge => "too_large",
            RefusalKind::UnknownElement => "unknown_element",
            RefusalKind::Invalid => "invalid",
        }
    }
}

/// One refusal: where, which element or field, which rule. Never the value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
pub struct Refusal {
    pub kind: RefusalKind,
    /// The file's name.
    pub file: String,
    /// The application's number in the file (1-based), when one is to blame.
    pub record: Option<u64>,
    pub line: u64,
    pub column: u64,
    /// The element path or the mapping item, and the canonical field where one is known.
    pub field: Option<String>,
    pub rule: String,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file, self.line, self.column)?;
        if let Some(r) = self.record {
            write!(f, "application {r}: ")?;
        }
        if let Some(field) = &self.field {
            write!(f, "{field}: ")?;
        }
        f.write_str(&self.rule)
    }
}

/// An application read from the file, with where it was.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OnlineApplication {
    /// Its number in the file (1-based).
    pub record: u64,
    pub line: u64,
    pub column: u64,
    pub application: Application,
}

/// Everything read from one file.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct OnlineBatch {
    pub applications: Vec<OnlineApplication>,
    pub refused: Vec<Refusal>,
}

impl OnlineBatch {
    /// Whether the file was read to its end (no refusal stopped it).
    pub fn complete(&self) -> bool {
        !self.refused.iter().any(|r| r.kind.stops_file())
    }
}

/// Reads online application files through one mapping.
#[derive(Debug, Clone)]
pub struct OnlineIntake {
    mapping: Arc<Mapping>,
    catalog: Catalog,
    limits: OnlineLimits,
}

impl OnlineIntake {
    /// The intake for `mapping_id` (`online/shinsei@1`; [`DEFAULT_MAPPING`] when `None`) of
    /// `set`. The mapping must be an XML layout of applications.
    pub fn new(set: &MappingSet, mapping_id: Option<&str>, limits: OnlineLimits) -> Result<Self, String> {
        let id = mapping_id.unwrap_or(DEFAULT_MAPPING);
        let mapping = set.mapping_by_id(id).ok_or_else(|| format!("no mapping {id} in the mapping set"))?;
        if mapping.xml_layout().is_none() || mapping.kind != renkei_mappings::CanonicalKind::Application {
            return Err(format!("{id} is not an XML layout of applications"));
        }
        Ok(Self { mapping: mapping.clone(), catalog: set.catalog().clone(), limits })
    }

    pub fn mapping(&self) -> &Mapping {
        &self.mapping
    }

    pub fn limits(&self) -> OnlineLimits {
        self.limits
    }

    /// Read a whole file: every application it holds, and every refusal.
    pub fn read(&self, source: &str, input: impl Read) -> OnlineBatch {
        let mut batch = OnlineBatch::default();
        for item in self.records(source, input) {
            match item {
                Ok(app) => batch.applications.push(app),
                Err(refusals) => batch.refused.extend(refusals),
            }
        }
        batch
    }

    /// The file's applications one at a time, streaming. An item is an application or the
    /// refusals of one application (or of the rest of the file, which then ends).
    pub fn records<'a>(&'a self, source: &str, input: impl Read + 'a) -> OnlineRecords<'a> {
        let mut buffered = BufReader::new(input);
        let declared = match check_declaration(&mut buffered, self.mapping.charset) {
            Ok(()) => None,
            Err(rule) => Some(Refusal {
                kind: RefusalKind::Encoding,
                file: source.to_owned(),
                record: None,
                line: 1,
                column: 1,
                field: None,
                rule,
            }),
        };
        let input: Box<dyn BufRead + 'a> = match self.mapping.charset {
            charset @ (Charset::ShiftJis | Charset::Cp932) => {
                Box::new(ShiftJisToUtf8::new(buffered, charset))
            }
            _ => Box::new(buffered),
        };
        let layout = self.mapping.xml_layout().expect("checked in new");
        let reader = XmlRecordReader::new(input, source, layout.record_path()).map(|r| {
            r.with_max_record_bytes(self.limits.max_record_bytes)
                .with_max_document_bytes(self.limits.max_file_bytes)
        });
        let (reader, pending) = match (reader, declared) {
            (_, Some(refusal)) => (None, Some(refusal)),
            (Ok(r), None) => (Some(r), None),
            (Err(e), None) => (None, Some(from_xml(&e))),
        };
        OnlineRecords {
            intake: self,
            source: source.to_owned(),
            reader,
            pending,
            system: self.mapping.new_system(),
            canonical: self.mapping.new_canonical(),
            positions: Vec::new(),
        }
    }

    /// Map one record element into an application.
    fn application(
        &self,
        source: &str,
        number: u64,
        element: &XmlElement,
        system: &mut SystemRecord,
        canonical: &mut renkei_mappings::CanonicalRecord,
        positions: &mut ItemPositions,
    ) -> Result<Application, Vec<Refusal>> {
        let refusal = |kind, (line, column): (u64, u64), field: Option<String>, rule: String| Refusal {
            kind,
            file: source.to_owned(),
            record: Some(number),
            line,
            column,
            field,
            rule,
        };
        let at_record = (element.position.line, element.position.column);
        self.mapping.decode_xml(&Node(element), system, positions).map_err(|e| {
            let kind = if e.error.rule.starts_with("unknown") {
                RefusalKind::UnknownElement
            } else {
                RefusalKind::Invalid
            };
            vec![refusal(kind, (e.line, e.column), Some(e.error.item), e.error.rule)]
        })?;
        let items = &self.mapping.items;
        // Where the value of the item with this label, or mapped to this canonical path, was.
        let position_of = |positions: &[Option<(u64, u64)>],
                           matches: &dyn Fn(&renkei_mappings::Item) -> bool| {
            items.iter().position(matches).and_then(|i| positions[i]).unwrap_or(at_record)
        };
        self.mapping.to_canonical_taking(system, canonical).map_err(|e| {
            let at = position_of(positions, &|i| i.label() == e.item);
            vec![refusal(RefusalKind::Invalid, at, Some(e.item), e.rule)]
        })?;
        let invalid = |errors: renkei_model::ValidationErrors| -> Vec<Refusal> {
            errors
                .iter()
                .map(|e| {
                    let path = e.path.as_str();
                    let base = path.split('[').next().unwrap_or(path);
                    let item = items.iter().find(|i| i.canonical.iter().any(|c| c == base));
                    let at = position_of(positions, &|i| i.canonical.iter().any(|c| c == base));
                    let field = match item {
                        Some(item) => format!("{} ← {}", e.path, item.key),
                        None => e.path.to_string(),
                    };
                    refusal(RefusalKind::Invalid, at, Some(field), e.rule.to_string())
                })
                .collect()
        };
        let app = canonical.to_application(Provenance::Online).map_err(invalid)?;
        let Some(def) = self.catalog.get(&app.procedure) else {
            let at = position_of(positions, &|i| i.canonical.iter().any(|c| c == "procedure"));
            return Err(vec![refusal(
                RefusalKind::Invalid,
                at,
                Some("procedure".into()),
                "is not a procedure of the catalog".into(),
            )]);
        };
        app.validate(&def.required_fields(app.life_event)).map_err(invalid)?;
        Ok(app)
    }
}

/// The applications of one file, streaming ([`OnlineIntake::records`]).
pub struct OnlineRecords<'a> {
    intake: &'a OnlineIntake,
    source: String,
    reader: Option<XmlRecordReader<Box<dyn BufRead + 'a>>>,
    /// A refusal found before the first record (the declaration).
    pending: Option<Refusal>,
    system: SystemRecord,
    canonical: renkei_mappings::CanonicalRecord,
    positions: ItemPositions,
}

impl fmt::Debug for OnlineRecords<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OnlineRecords").field("source", &self.source).finish_non_exhaustive()
    }
}

impl Iterator for OnlineRecords<'_> {
    type Item = Result<OnlineApplication, Vec<Refusal>>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(refusal) = self.pending.take() {
            return Some(Err(vec![refusal]));
        }
        let record = match self.reader.as_mut()?.next()? {
            Ok(record) => record,
            Err(e) => {
                self.reader = None;
                return Some(Err(vec![from_xml(&e)]));
            }
        };
        let Position { line, column } = record.element.position;
        Some(
            self.intake
                .application(
                    &self.source,
                    record.number,
                    &record.element,
                    &mut self.system,
                    &mut self.canonical,
                    &mut self.positions,
                )
                .map(|application| OnlineApplication { record: record.number, line, column, application }),
        )
    }
}

fn from_xml(e: &XmlError) -> Refusal {
    Refusal {
        kind: match e.kind {
            XmlErrorKind::Encoding => RefusalKind::Encoding,
            XmlErrorKind::TooLarge => RefusalKind::TooLarge,
            _ => RefusalKind::Malformed,
        },
        file: e.source_name.clone(),
        record: e.record,
        line: e.position.line,
        column: e.position.column,
        field: e.field.clone(),
        rule: e.rule.clone(),
    }
}

/// A record element as the mapping engine walks it.
struct Node<'a>(&'a XmlElement);

impl XmlNode for Node<'_> {
    fn name(&self) -> &str {
        &self.0.name
    }

    fn text(&self) -> &str {
        &self.0.text
    }

    fn attributes(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.attributes.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    fn children(&self) -> impl Iterator<Item = Self> {
        self.0.children.iter().map(Node)
    }

    fn position(&self) -> (u64, u64) {
        (self.0.position.line, self.0.position.column)
    }
}

/// Refuse a file whose XML declaration names another charset than the mapping's: read as the
/// mapping says, a UTF-8 file would pass as Shift_JIS mojibake. A UTF-8 byte-order mark is
/// skipped.
fn check_declaration(input: &mut impl BufRead, charset: Charset) -> Result<(), String> {
    let head = input.fill_buf().map_err(|e| e.to_string())?;
    if charset == Charset::Utf8 && head.starts_with(b"\xEF\xBB\xBF") {
        input.consume(3);
        return Ok(());
    }
    let Some(decl) = head.strip_prefix(b"<?xml").and_then(|d| d.split(|b| *b == b'>').next()) else {
        return Ok(());
    };
    let text = String::from_utf8_lossy(decl);
    let Some(after) = text.split("encoding").nth(1) else { return Ok(()) };
    let declared: String = after
        .trim_start_matches([' ', '='])
        .trim_start_matches(['"', '\''])
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        .collect::<String>()
        .to_ascii_lowercase();
    let shift_jis = matches!(declared.as_str(), "shift_jis" | "shift-jis" | "sjis" | "x-sjis" | "ms_kanji");
    let same = match charset {
        Charset::Utf8 => matches!(declared.as_str(), "utf-8" | "utf8"),
        // A Windows-31J file read as strict Shift_JIS would have ～ read as 〜 and so on: refused.
        Charset::ShiftJis | Charset::JisX0208 => shift_jis,
        // Windows-31J files are often declared Shift_JIS; the mapping says how they are read.
        Charset::Cp932 => shift_jis || matches!(declared.as_str(), "windows-31j" | "cp932" | "ms932"),
    };
    if same {
        Ok(())
    } else {
        Err(format!("the declaration says encoding {declared:?}; this mapping reads {}", charset.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::Path;

    use renkei_model::{AtenaNumber, FieldValue, LifeEvent, MojiText};

    use super::*;

    /// Two applications: a 児童手当 claim for two children (IVS names) and a nursery application
    /// (`renkei intake online adapters/intake/testdata/shinsei.xml`).
    const GOOD: &str = include_str!("../testdata/shinsei.xml");

    fn intake(limits: OnlineLimits) -> OnlineIntake {
        OnlineIntake::new(&MappingSet::embedded().unwrap(), None, limits).unwrap()
    }

    fn read(doc: &[u8]) -> OnlineBatch {
        intake(OnlineLimits::default()).read("shinsei.xml", doc)
    }

    /// Line and column (in characters) where `needle` starts in `doc`.
    fn at(doc: &str, needle: &str) -> (u64, u64) {
        let offset = doc.find(needle).unwrap_or_else(|| panic!("{needle} not in the document"));
        let before = &doc[..offset];
        let line = before.matches('\n').count() as u64 + 1;
        let column = before.rsplit('\n').next().unwrap().chars().count() as u64 + 1;
        (line, column)
    }

    fn app(
        procedure: &str,
        applicant: &str,
        subjects: &[&str],
        event: Option<LifeEvent>,
        fields: &[(&str, &str)],
    ) -> Application {
        Application {
            procedure: procedure.parse().unwrap(),
            applicant: AtenaNumber::parse(applicant).unwrap(),
            subjects: subjects.iter().map(|s| AtenaNumber::parse(s).unwrap()).collect(),
            life_event: event,
            fields: fields
                .iter()
                .map(|(k, v)| {
                    (
                        (*k).to_owned(),
                        FieldValue { value: MojiText::new(*v).unwrap(), provenance: Provenance::Online },
                    )
                })
                .collect::<BTreeMap<_, _>>(),
        }
    }

    #[test]
    fn a_good_file_gives_exactly_its_applications() {
        let batch = read(GOOD.as_bytes());
        assert_eq!(batch.refused, []);
        assert!(batch.complete());
        let got: Vec<(u64, u64, u64)> =
            batch.applications.iter().map(|a| (a.record, a.line, a.column)).collect();
        assert_eq!(got, [(1, 3, 3), (2, 20, 3)]);
        let jidou = app(
            "jidou.teate",
            "0000000019",
            &["0000000027", "0000000035"],
            Some(LifeEvent::Birth),
            &[
                ("bank.account_number", "1234567"),
                ("bank.branch", "012"),
                ("bank.code", "1280"),
                ("bank.holder_kana", "カサイ　タロウ"),
                ("bank.name", "横浜信用金庫 鶴見支店"),
                ("children.count", "2"),
                ("children.names", "葛\u{E0100}西　一郎、葛\u{E0100}西　花子"),
                ("claimant.address", "神奈川県横浜市鶴見区鶴見中央三丁目20番1号"),
                ("claimant.birth_date", "1989-01-08"),
                ("claimant.name", "葛\u{E0100}西　太郎"),
                ("event_date", "2026-04-01"),
                ("online.receipt_number", "R0800000000123"),
                ("online.submitted_on", "2026-04-10"),
                ("pension", "厚生年金"),
            ],
        );
        let hoiku = app(
            "hoiku.moushikomi",
            "0000000043",
            &["0000000051"],
            None,
            &[
                ("child.birth_date", "2024-05-15"),
                ("child.name", "山田　さくら"),
                ("desired.facility_1", "鶴見中央保育園"),
                ("desired.facility_2", "豊岡保育園"),
                ("desired.start", "2026-10-01"),
                ("guardian.address", "神奈川県横浜市鶴見区豊岡町2番1号"),
                ("guardian.name", "山田　恵"),
                ("guardian.phone", "045-000-0000"),
                ("hoiku_reason", "就労"),
                ("household.members", "山田　恵（世帯主・34歳）、山田　さくら（子・1歳）"),
                ("nintei_kubun", "3号認定（3歳未満）"),
                ("online.receipt_number", "R0800000000124"),
                ("online.submitted_on", "2026-04-11"),
            ],
        );
        assert_eq!(batch.applications[0].application, jidou);
        assert_eq!(batch.applications[1].application, hoiku);
    }

    #[test]
    fn malformed_xml_stops_the_file_after_the_good_applications() {
        let doc = GOOD.replace("</HoikuJiyu>", "</HoikuJiyuu>");
        let batch = read(doc.as_bytes());
        assert_eq!(batch.applications.len(), 1);
        let [r] = &batch.refused[..] else { panic!("{:?}", batch.refused) };
        assert_eq!((r.kind, r.record), (RefusalKind::Malformed, Some(2)));
        assert_eq!((r.line, r.column), at(&doc, "</HoikuJiyuu>"), "{r}");
        assert!(!batch.complete());
        assert!(r.to_string().starts_with(&format!("shinsei.xml:{}:{}: application 2: ", r.line, r.column)));
    }

    #[test]
    fn an_unknown_element_refuses_its_application_and_the_rest_is_read() {
        let doc = GOOD.replace("<Nenkin>", "<Bikou>至急</Bikou><Nenkin>");
        let batch = read(doc.as_bytes());
        assert_eq!(batch.applications.iter().map(|a| a.record).collect::<Vec<_>>(), [2]);
        let [r] = &batch.refused[..] else { panic!("{:?}", batch.refused) };
        assert_eq!((r.kind, r.record), (RefusalKind::UnknownElement, Some(1)));
        assert_eq!((r.line, r.column), at(&doc, "<Bikou>"));
        assert_eq!(r.field.as_deref(), Some("ShinseiData/JidouTeate/Bikou"));
        assert!(!r.to_string().contains("至急"), "refusals never repeat values: {r}");
        assert!(batch.complete());
    }

    #[test]
    fn invalid_values_refuse_their_application_naming_field_and_position() {
        // A wrong check digit in the applicant's 宛名番号, and a required form field missing.
        let doc = GOOD
            .replacen("<AtenaBango>0000000019</AtenaBango>", "<AtenaBango>0000000018</AtenaBango>", 1)
            .replace("<HoikuJiyu>就労</HoikuJiyu>", "");
        let batch = read(doc.as_bytes());
        assert_eq!(batch.applications.len(), 0);
        let [check, missing] = &batch.refused[..] else { panic!("{:?}", batch.refused) };
        assert_eq!((check.kind, check.record), (RefusalKind::Invalid, Some(1)));
        assert_eq!((check.line, check.column), at(&doc, "<AtenaBango>0000000018"));
        assert_eq!(check.field.as_deref(), Some("applicant ← Shinseisha/AtenaBango"));
        assert_eq!(check.rule, "check digit does not match");
        assert_eq!((missing.kind, missing.record), (RefusalKind::Invalid, Some(2)));
        assert_eq!(missing.field.as_deref(), Some("fields.hoiku_reason ← Hoiku/HoikuJiyu"));
        assert_eq!(missing.rule, "is required");
        // The element is absent: the application's own position.
        assert_eq!((missing.line, missing.column), (20, 3));
    }

    #[test]
    fn oversize_applications_and_files_are_refused_where_they_cross_the_limit() {
        let small = OnlineLimits { max_record_bytes: 300, ..OnlineLimits::default() };
        let batch = intake(small).read("shinsei.xml", GOOD.as_bytes());
        let [r] = &batch.refused[..] else { panic!("{:?}", batch.refused) };
        assert_eq!((r.kind, r.record), (RefusalKind::TooLarge, Some(1)));
        assert!(r.rule.contains("longer than 300 bytes"), "{r}");
        assert!(r.line > 3 && r.line < 20, "inside the first application: {r}");
        assert!(batch.applications.is_empty());

        let second = GOOD.find("<Hoiku>").unwrap() as u64;
        let file = OnlineLimits { max_file_bytes: second, ..OnlineLimits::default() };
        let batch = intake(file).read("shinsei.xml", GOOD.as_bytes());
        assert_eq!(batch.applications.len(), 1);
        let [r] = &batch.refused[..] else { panic!("{:?}", batch.refused) };
        assert_eq!((r.kind, r.record), (RefusalKind::TooLarge, Some(2)));
        assert!(r.rule.contains(&format!("document is longer than {second} bytes")), "{r}");
        assert!(!batch.complete());
    }

    #[test]
    fn bytes_of_another_charset_are_refused_as_such() {
        // Shift_JIS bytes in a file the mapping reads as UTF-8.
        let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode(GOOD);
        let batch = read(&sjis);
        let r = &batch.refused[0];
        assert_eq!(r.kind, RefusalKind::Encoding, "{r}");
        assert!(batch.applications.is_empty());
        assert_eq!(batch.refused.len(), 1);
        // A declaration naming another charset is refused before anything is read.
        let declared = GOOD.replace("encoding=\"UTF-8\"", "encoding=\"Shift_JIS\"");
        let batch = read(declared.as_bytes());
        let [r] = &batch.refused[..] else { panic!("{:?}", batch.refused) };
        assert_eq!((r.kind, r.line, r.column), (RefusalKind::Encoding, 1, 1));
        assert!(r.rule.contains("\"shift_jis\"; this mapping reads utf-8"), "{r}");
        // A byte-order mark is not a problem.
        let batch = read(format!("\u{FEFF}{GOOD}").as_bytes());
        assert_eq!((batch.applications.len(), batch.refused.len()), (2, 0));
    }

    #[test]
    fn a_shift_jis_mapping_reads_shift_jis_files() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../mappings");
        let dir = tempfile::tempdir().unwrap();
        for rel in [
            "codes/online-procedure.toml",
            "codes/online-event.toml",
            "procedures/jidou.teate.toml",
            "procedures/hoiku.moushikomi.toml",
            "systems/online/shinsei@1.toml",
        ] {
            let text = std::fs::read_to_string(root.join(rel)).unwrap();
            // The online layout in Shift_JIS; the procedures without their core systems' mappings,
            // which this set does not carry.
            let text = text.replace("charset = \"utf-8\"", "charset = \"shift_jis\"");
            let text: String =
                text.lines().filter(|l| !l.starts_with("mapping = ")).map(|l| format!("{l}\n")).collect();
            std::fs::create_dir_all(dir.path().join(rel).parent().unwrap()).unwrap();
            std::fs::write(dir.path().join(rel), text).unwrap();
        }
        let set = MappingSet::load_dir(dir.path()).unwrap();
        let intake = OnlineIntake::new(&set, None, OnlineLimits::default()).unwrap();
        // The IVS selector has no Shift_JIS form: the Shift_JIS file carries plain 葛.
        let doc = GOOD.replace('\u{E0100}', "").replace("encoding=\"UTF-8\"", "encoding=\"Shift_JIS\"");
        let (sjis, _, unmappable) = encoding_rs::SHIFT_JIS.encode(&doc);
        assert!(!unmappable);
        let batch = intake.read("sjis.xml", &sjis[..]);
        assert_eq!(batch.refused, []);
        assert_eq!(batch.applications[0].application.fields["claimant.name"].value.as_str(), "葛西　太郎");
        // A byte that is not Shift_JIS stops the file with its position.
        let mut bad = sjis.into_owned();
        // The first double-byte character's trail byte replaced by '<': not Shift_JIS.
        let lead = bad.iter().position(|b| *b >= 0x81).unwrap();
        bad[lead + 1] = b'<';
        let batch = intake.read("sjis.xml", &bad[..]);
        let r = batch.refused.last().unwrap();
        assert_eq!(r.kind, RefusalKind::Encoding, "{r}");
        assert!(r.rule.contains("is not valid Shift_JIS"), "{r}");

        // A file declared Windows-31J is not read as strict Shift_JIS.
        let declared = doc.replace("encoding=\"Shift_JIS\"", "encoding=\"Windows-31J\"");
        let (cp932, _, _) = encoding_rs::SHIFT_JIS.encode(&declared);
        let batch = intake.read("cp932.xml", &cp932[..]);
        let [r] = &batch.refused[..] else { panic!("{:?}", batch.refused) };
        assert!(r.rule.contains("\"windows-31j\"; this mapping reads shift_jis"), "{r}");
    }

    #[test]
    fn the_mapping_must_be_an_xml_layout_of_applications() {
        let set = MappingSet::embedded().unwrap();
        let e = OnlineIntake::new(&set, Some("nhi/member@1"), OnlineLimits::default()).unwrap_err();
        assert_eq!(e, "nhi/member@1 is not an XML layout of applications");
        assert!(OnlineIntake::new(&set, Some("online/none@1"), OnlineLimits::default()).is_err());
    }
}
