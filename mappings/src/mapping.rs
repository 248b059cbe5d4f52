//! A compiled mapping: one core-system interface, checked once and turned into a plan of steps
//! that read and write records by index.
//!
//! Applying a plan parses nothing of the mapping and looks nothing up by name: canonical paths
//! are slots, items are indexes, code tables and CEL programs are held by the step that uses
//! them. The order of the transforms is fixed:
//!
//! - canonical → system: source (path, concat of paths, part of a split path, or CEL `compute`)
//!   → `default` → `date` → `code` → `kana` → moji shrink → type and length check;
//! - system → canonical: the item (trimmed of its padding) → `kana` (back to full width) →
//!   `code` → `date` → split into paths, or joined with the other parts → the canonical slot.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use renkei_model::{Date, MojiText, Wareki};

use crate::canonical::{CanonicalKind, CanonicalRecord, Schema};
use crate::charset::{self, Charset, Degeneration};
use crate::codes::{CodeEntry, CodeTable};
use crate::item::{ApplyError, Item, SystemRecord};
use crate::layout::Layout;
use crate::record_expr::RecordExpr;
use crate::spec::{
    CodeValue, DateFormat, Direction, Format, ItemType, KanaWidth, OnLoss, Records, Separator,
};
use crate::value::{Value, ValueKind};

/// `resident-record/atena@1`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MappingId {
    pub system: String,
    pub interface: String,
    pub version: String,
}

impl fmt::Display for MappingId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}@{}", self.system, self.interface, self.version)
    }
}

/// A shrink made to one item of one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldDegeneration {
    pub item: usize,
    pub degeneration: Degeneration,
}

/// What applying reports besides the result: the lossy replacements made.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub degenerations: Vec<FieldDegeneration>,
}

impl Report {
    pub fn clear(&mut self) {
        self.degenerations.clear();
    }

    pub fn is_lossless(&self) -> bool {
        self.degenerations.is_empty()
    }

    /// Whether item `item` was shrunk.
    pub fn degenerated(&self, item: usize) -> bool {
        self.degenerations.iter().any(|d| d.item == item)
    }
}

#[derive(Debug)]
pub(crate) struct CodeStep {
    pub table: Arc<CodeTable>,
    pub side: CodeValue,
}

impl CodeStep {
    fn system_value<'a>(&self, e: &'a CodeEntry) -> &'a str {
        match self.side {
            CodeValue::Code => &e.code,
            CodeValue::Label => &e.label,
        }
    }

    fn to_system(&self, canonical: &str) -> Option<&str> {
        self.table.by_canonical(canonical).map(|e| self.system_value(e))
    }

    fn to_canonical(&self, system: &str) -> Option<&str> {
        match self.side {
            CodeValue::Code => self.table.by_code(system).map(|e| e.canonical.as_str()),
            CodeValue::Label => self.table.by_label(system).map(|e| e.canonical.as_str()),
        }
    }
}

#[derive(Debug)]
pub(crate) struct ShrinkStep {
    pub charset: Charset,
    pub on_loss: OnLoss,
    pub replacement: Option<String>,
}

/// Where a canonical → system step reads.
#[derive(Debug)]
pub(crate) enum OutSource {
    Slot(usize),
    Concat(Vec<usize>, String),
    /// Part `index` of `parts` the layout splits the path into.
    Part {
        slot: usize,
        separator: String,
        index: usize,
        parts: usize,
    },
    Compute(RecordExpr),
    Nothing,
}

#[derive(Debug)]
pub(crate) struct OutStep {
    pub item: usize,
    pub source: OutSource,
    /// A list item written from a text path: the text split by this separator.
    pub list_split: Option<String>,
    pub when: Option<RecordExpr>,
    pub default: Option<String>,
    pub date: Option<DateFormat>,
    pub code: Option<CodeStep>,
    pub kana: Option<KanaWidth>,
    pub shrink: Option<ShrinkStep>,
}

/// Where a system → canonical step writes.
#[derive(Debug)]
pub(crate) enum InTarget {
    Slot(usize),
    Split(Vec<usize>, String),
    Part { join: usize, index: usize },
}

#[derive(Debug)]
pub(crate) struct InStep {
    pub item: usize,
    pub target: InTarget,
    /// A list item read into a text path: its entries joined by this separator.
    pub list_join: Option<String>,
    /// What the canonical slot holds (a date format gives a date for date paths, text otherwise).
    pub target_kind: ValueKind,
    pub when: Option<RecordExpr>,
    pub compute: Option<RecordExpr>,
    pub default: Option<String>,
    pub date: Option<DateFormat>,
    pub code: Option<CodeStep>,
    pub kana: Option<KanaWidth>,
}

/// A split canonical path put back together from its parts.
#[derive(Debug)]
pub(crate) struct Join {
    pub slot: usize,
    pub separator: String,
    pub parts: usize,
}

/// The system record a read takes its values from.
enum Source<'a> {
    Borrowed(&'a [Option<Value>]),
    Owned(&'a mut [Option<Value>]),
}

impl Source<'_> {
    fn values(&self) -> &[Option<Value>] {
        match self {
            Source::Borrowed(v) => v,
            Source::Owned(v) => v,
        }
    }

    fn get(&mut self, item: usize) -> Option<Value> {
        match self {
            Source::Borrowed(v) => v[item].clone(),
            Source::Owned(v) => v[item].take(),
        }
    }
}

/// A form field a mapping reads going to the system: in an item's canonical paths, `compute` or
/// `when`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormRead {
    /// The form field's name (`new_address.banchi`).
    pub field: String,
    /// The item that reads it (`K12-004 新住所（町字） (shin_machiaza)`).
    pub item: String,
    /// The item's line in the mapping file.
    pub line: usize,
    /// Read as the canonical path of a required item: an application without it is refused.
    pub required: bool,
}

/// A checked, compiled mapping.
/// A compiled example.
#[derive(Debug, Clone)]
pub(crate) struct Example {
    pub(crate) name: String,
    pub(crate) line: usize,
    pub(crate) direction: Direction,
    pub(crate) canonical: Option<CanonicalRecord>,
    pub(crate) system: Option<SystemRecord>,
    /// The records of a per-subject mapping, in subject order.
    pub(crate) records: Vec<SystemRecord>,
    pub(crate) degenerated: Vec<usize>,
    pub(crate) error: Option<String>,
}

#[derive(Debug)]
pub struct Mapping {
    pub id: MappingId,
    pub title: String,
    /// Where the layout's shape comes from.
    pub source: Option<String>,
    pub effective_from: Date,
    pub kind: CanonicalKind,
    pub format: Format,
    pub charset: Charset,
    pub record_separator: Separator,
    pub header: bool,
    /// How many records an application makes in this layout.
    pub records: Records,
    /// Every form field the mapping reads going to the system.
    pub form_reads: Vec<FormRead>,
    /// The file, relative to the set's root.
    pub file: PathBuf,
    pub items: Vec<Item>,
    pub(crate) schema: Arc<Schema>,
    pub(crate) layout: Layout,
    pub(crate) to_system: Vec<OutStep>,
    pub(crate) to_canonical: Vec<InStep>,
    pub(crate) joins: Vec<Join>,
    /// Some system → canonical step evaluates CEL over the system record (so values cannot be
    /// moved out of it while reading).
    pub(crate) reads_expressions: bool,
    pub(crate) examples: Vec<Example>,
    /// The file's text, for `diff` and `try`.
    pub(crate) text: String,
}

fn err(item: &Item, rule: impl Into<String>) -> ApplyError {
    ApplyError { record: None, item: item.label(), rule: rule.into() }
}

impl Mapping {
    pub fn schema(&self) -> &Arc<Schema> {
        &self.schema
    }

    /// An empty canonical record of this mapping's kind.
    pub fn new_canonical(&self) -> CanonicalRecord {
        self.schema.record()
    }

    /// An empty system record.
    pub fn new_system(&self) -> SystemRecord {
        SystemRecord { values: vec![None; self.items.len()] }
    }

    pub fn item_index(&self, key: &str) -> Option<usize> {
        self.items.iter().position(|i| i.key == key)
    }

    /// Record length in bytes (fixed layouts), without the separator.
    pub fn record_length(&self) -> Option<usize> {
        (self.format == Format::Fixed).then(|| self.items.iter().map(|i| i.length).sum())
    }

    /// The file's text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The canonical records an application makes in this layout, each to be written with
    /// [`Mapping::to_system`]: the application itself (`records = "one"`), one per subject with
    /// `subject` set (`per_subject`; the applicant alone when it names none), or the one subject
    /// (`one_subject`; more than one is refused, never reduced to the first).
    pub fn application_records(
        &self,
        canonical: &CanonicalRecord,
    ) -> Result<Vec<CanonicalRecord>, ApplyError> {
        self.check_schema(canonical);
        if self.records == Records::One || self.kind != CanonicalKind::Application {
            return Ok(vec![canonical.clone()]);
        }
        let subjects = canonical.subjects_or_applicant();
        if subjects.is_empty() {
            return Err(ApplyError {
                record: None,
                item: "applicant".into(),
                rule: "is required: a record per subject needs the subjects or the applicant".into(),
            });
        }
        if self.records == Records::OneSubject && subjects.len() > 1 {
            return Err(ApplyError {
                record: None,
                item: "subjects".into(),
                rule: format!(
                    "{} takes one person per request (records = \"one_subject\") and the application names {}: submit one application per person",
                    self.id,
                    subjects.len()
                ),
            });
        }
        Ok(subjects.iter().map(|s| canonical.for_subject(s)).collect())
    }

    fn check_schema(&self, record: &CanonicalRecord) {
        assert!(
            Arc::ptr_eq(record.schema(), &self.schema) || **record.schema() == *self.schema,
            "a canonical record of another mapping set (or kind) was given to {}",
            self.id
        );
    }

    /// Canonical → system. `out` is overwritten; shrinks are appended to `report`.
    pub fn to_system(
        &self,
        canonical: &CanonicalRecord,
        out: &mut SystemRecord,
        report: &mut Report,
    ) -> Result<(), ApplyError> {
        self.check_schema(canonical);
        out.clear();
        let slots = &canonical.slots;
        for step in &self.to_system {
            let item = &self.items[step.item];
            if let Some(when) = &step.when
                && !when.test(slots).map_err(|e| err(item, e))?
            {
                continue;
            }
            let mut value: Option<Value> = match &step.source {
                OutSource::Slot(s) => slots[*s].clone(),
                OutSource::Concat(parts, sep) => {
                    let texts: Vec<String> = parts
                        .iter()
                        .filter_map(|s| slots[*s].as_ref())
                        .map(Value::to_text)
                        .filter(|t| !t.is_empty())
                        .collect();
                    (!texts.is_empty()).then(|| Value::Text(texts.join(sep)))
                }
                OutSource::Part { slot, separator, index, parts } => {
                    let text = slots[*slot].as_ref().and_then(Value::as_text);
                    // A term the layout has no item for would be dropped without a word.
                    if let Some(t) = text
                        && t.split(separator.as_str()).count() > *parts
                    {
                        return Err(err(
                            item,
                            format!(
                                "{} has more than {parts} parts joined by {separator:?}; the layout holds {parts} (never cut)",
                                item.canonical.join(", ")
                            ),
                        ));
                    }
                    text.and_then(|t| t.split(separator.as_str()).nth(*index))
                        .map(|p| Value::Text(p.to_owned()))
                }
                OutSource::Compute(e) => e.compute(slots).map_err(|e| err(item, e))?,
                OutSource::Nothing => None,
            };
            if value.as_ref().is_none_or(Value::is_empty) {
                value = step.default.clone().map(Value::Text);
            }
            let Some(mut value) = value else {
                if item.required {
                    return Err(err(item, format!("is required; {} is empty", item.canonical.join(", "))));
                }
                continue;
            };
            if let Some(format) = step.date {
                let date = match &value {
                    Value::Date(d) => *d,
                    Value::Text(t) => {
                        Date::parse_any(t).map_err(|e| err(item, format!("is not a date ({})", e.rule)))?
                    }
                    Value::List(_) => return Err(err(item, "a list is not a date")),
                };
                value = Value::Text(write_date(date, format).map_err(|e| err(item, e))?);
            }
            if let Some(code) = &step.code {
                let text = value.as_text().ok_or_else(|| err(item, "a code must be text"))?;
                let mapped = code.to_system(text).ok_or_else(|| {
                    err(item, format!("has no code in table {} for this value", code.table.id))
                })?;
                value = Value::Text(mapped.to_owned());
            }
            if let (Some(width), Value::Text(t)) = (step.kana, &value) {
                value = Value::Text(kana(t, width).map_err(|e| err(item, e))?);
            }
            if let (Some(shrink), Value::Text(t)) = (&step.shrink, &value) {
                let mut found = Vec::new();
                let fitted = charset::shrink(t, shrink.charset, shrink.replacement.as_deref(), &mut found)
                    .map_err(|u| {
                        err(
                            item,
                            format!(
                                "{} cannot be written in {} and has no shrink candidate",
                                u.code_points,
                                shrink.charset.as_str()
                            ),
                        )
                    })?;
                if !found.is_empty() && shrink.on_loss == OnLoss::Error {
                    let what: Vec<String> = found
                        .iter()
                        .map(|d| format!("U+{:04X}", d.from.chars().next().map_or(0, |c| c as u32)))
                        .collect();
                    return Err(err(
                        item,
                        format!(
                            "{} would be shrunk ({}), and this item forbids loss",
                            what.join(" "),
                            found[0].how
                        ),
                    ));
                }
                report.degenerations.extend(
                    found.into_iter().map(|degeneration| FieldDegeneration { item: step.item, degeneration }),
                );
                if let Some(fitted) = fitted {
                    value = Value::Text(fitted);
                }
            }
            if let (Some(sep), Value::Text(t)) = (&step.list_split, &value) {
                value = Value::List(t.split(sep.as_str()).map(str::to_owned).collect());
            }
            self.check_item_value(item, &value)?;
            out.values[step.item] = Some(value);
        }
        Ok(())
    }

    /// System → canonical. `out` is overwritten.
    pub fn to_canonical(&self, system: &SystemRecord, out: &mut CanonicalRecord) -> Result<(), ApplyError> {
        self.read_into(&mut Source::Borrowed(&system.values), out)
    }

    /// System → canonical, moving the values out of `system` instead of copying them (for a
    /// loop that decodes into the same record again next).
    pub fn to_canonical_taking(
        &self,
        system: &mut SystemRecord,
        out: &mut CanonicalRecord,
    ) -> Result<(), ApplyError> {
        if self.reads_expressions {
            return self.to_canonical(system, out);
        }
        self.read_into(&mut Source::Owned(&mut system.values), out)
    }

    fn read_into(&self, source: &mut Source<'_>, out: &mut CanonicalRecord) -> Result<(), ApplyError> {
        self.check_schema(out);
        out.clear();
        let mut parts: Vec<Vec<Option<String>>> = self.joins.iter().map(|j| vec![None; j.parts]).collect();
        for step in &self.to_canonical {
            let item = &self.items[step.item];
            if let Some(when) = &step.when
                && !when.test(source.values()).map_err(|e| err(item, e))?
            {
                continue;
            }
            let mut value = match &step.compute {
                Some(e) => e.compute(source.values()).map_err(|e| err(item, e))?,
                None => source.get(step.item),
            };
            if value.as_ref().is_none_or(Value::is_empty) {
                value = step.default.clone().map(Value::Text);
            }
            let Some(mut value) = value else {
                if item.required {
                    return Err(err(item, "is required"));
                }
                continue;
            };
            if step.compute.is_none() {
                self.check_item_value(item, &value)?;
            }
            if let (Some(sep), Value::List(list)) = (&step.list_join, &value) {
                value = Value::Text(list.join(sep));
            }
            if let (Some(KanaWidth::Half), Value::Text(t)) = (step.kana, &value) {
                value = Value::Text(kana(t, KanaWidth::Full).map_err(|e| err(item, e))?);
            }
            if let Some(code) = &step.code {
                let text = value.as_text().ok_or_else(|| err(item, "a code must be text"))?;
                let mapped = code
                    .to_canonical(text)
                    .ok_or_else(|| err(item, format!("is not a code of table {}", code.table.id)))?;
                value = Value::Text(mapped.to_owned());
            }
            if let Some(format) = step.date {
                let text = value.as_text().ok_or_else(|| err(item, "a date must be text"))?;
                let date = read_date(text, format).map_err(|e| err(item, e))?;
                value = match step.target_kind {
                    ValueKind::Date => Value::Date(date),
                    _ => Value::Text(date.to_string()),
                };
            }
            match &step.target {
                InTarget::Slot(slot) => out.slots[*slot] = Some(value),
                InTarget::Split(slots, sep) => {
                    let text = value.to_text();
                    let mut pieces = text.splitn(slots.len(), sep.as_str());
                    for slot in slots {
                        out.slots[*slot] =
                            pieces.next().filter(|p| !p.is_empty()).map(|p| Value::Text(p.to_owned()));
                    }
                }
                InTarget::Part { join, index } => parts[*join][*index] = Some(value.to_text()),
            }
        }
        for (join, parts) in self.joins.iter().zip(parts) {
            let present: Vec<String> = parts.into_iter().flatten().filter(|p| !p.is_empty()).collect();
            if !present.is_empty() {
                out.slots[join.slot] = Some(Value::Text(present.join(&join.separator)));
            }
        }
        Ok(())
    }

    fn check_item_value(&self, item: &Item, value: &Value) -> Result<(), ApplyError> {
        check_value(self.format, self.charset, item, value).map_err(|rule| err(item, rule))
    }
}

/// Whether a value has the item's type and fits its length (characters in JSON and CSV, bytes
/// of the charset in fixed layouts).
pub(crate) fn check_value(
    format: Format,
    charset: Charset,
    item: &Item,
    value: &Value,
) -> Result<(), String> {
    let text = match value {
        Value::Text(t) => t.as_str(),
        Value::List(l) => {
            if item.ty != ItemType::List {
                return Err("a list does not fit this item".into());
            }
            if l.iter().any(|t| t.chars().count() > item.length) {
                return Err(format!("an element is longer than {} characters", item.length));
            }
            return Ok(());
        }
        Value::Date(_) => return Err("a date needs a `date` format to be written".into()),
    };
    match item.ty {
        ItemType::Digits if !text.bytes().all(|b| b.is_ascii_digit()) => {
            return Err("must be digits (0-9)".into());
        }
        ItemType::Alnum if !text.bytes().all(|b| b.is_ascii_graphic() || b == b' ') => {
            return Err("must be ASCII letters, digits or symbols".into());
        }
        _ => {}
    }
    let (size, unit) = match format {
        Format::Fixed => (item_bytes(charset, item.ty, text), "bytes"),
        // Characters as a person counts them: a selector belongs to its base character.
        _ if text.is_ascii() => (text.len(), "characters"),
        _ => (text.chars().filter(|c| !renkei_model::is_variation_selector(*c)).count(), "characters"),
    };
    if size > item.length {
        let within =
            if format == Format::Fixed { format!(" in {}", charset.as_str()) } else { String::new() };
        return Err(format!("is {size} {unit}{within}; the item holds {} (never cut)", item.length));
    }
    Ok(())
}

/// Bytes `text` takes in a fixed-length item: in JIS X 0208 layouts text items are double-byte
/// and the others ASCII.
pub(crate) fn item_bytes(charset: Charset, ty: ItemType, text: &str) -> usize {
    match charset {
        Charset::JisX0208 if !ty.is_text() => text.len(),
        _ => charset::encoded_len(text, charset),
    }
}

fn write_date(date: Date, format: DateFormat) -> Result<String, String> {
    // Digits are written by hand: formatting machinery costs more than the rest of a field.
    fn digits(out: &mut String, value: u32, width: u32) {
        for p in (0..width).rev() {
            out.push(char::from(b'0' + (value / 10u32.pow(p) % 10) as u8));
        }
    }
    let mut out = String::with_capacity(10);
    match format {
        DateFormat::Yyyymmdd => {
            digits(&mut out, date.year().max(0) as u32, 4);
            digits(&mut out, date.month(), 2);
            digits(&mut out, date.day(), 2);
        }
        DateFormat::Iso => out = date.to_string(),
        DateFormat::Wareki => out = date.to_wareki_string().map_err(|e| e.rule.to_string())?,
        DateFormat::EraYymmdd => {
            let w = date.to_wareki().map_err(|e| e.rule.to_string())?;
            digits(&mut out, u32::from(w.era.code()), 1);
            digits(&mut out, w.year, 2);
            digits(&mut out, w.month, 2);
            digits(&mut out, w.day, 2);
        }
    }
    Ok(out)
}

fn read_date(text: &str, format: DateFormat) -> Result<Date, String> {
    let r = match format {
        DateFormat::Yyyymmdd => Date::parse_yyyymmdd(text),
        DateFormat::Iso => text.parse::<chrono_free::Iso>().map(|d| d.0),
        DateFormat::Wareki => text.parse::<Wareki>().and_then(Wareki::to_date),
        DateFormat::EraYymmdd => Wareki::parse_code_form(text).and_then(Wareki::to_date),
    };
    r.map_err(|e| format!("is not a date in {} form ({})", format.as_str(), e.rule))
}

/// `YYYY-MM-DD` only (Date::parse_any also reads other forms, which an ISO item must not hold).
mod chrono_free {
    use renkei_model::{Date, Rule, ValidationError};

    pub(super) struct Iso(pub Date);

    impl std::str::FromStr for Iso {
        type Err = ValidationError;
        fn from_str(s: &str) -> Result<Self, Self::Err> {
            let b = s.as_bytes();
            if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
                return Err(ValidationError::new(Rule::Date("expected YYYY-MM-DD")));
            }
            Date::parse_yyyymmdd(&format!("{}{}{}", &s[..4], &s[5..7], &s[8..])).map(Iso)
        }
    }
}

fn kana(text: &str, width: KanaWidth) -> Result<String, String> {
    let moji = MojiText::new(text).map_err(|e| e.rule.to_string())?;
    Ok(match width {
        KanaWidth::Half => moji.to_halfwidth_katakana().into_string(),
        // Full-width kana text spaces its words with the ideographic space (パク　ヨンホ), which
        // half-width layouts write as an ASCII space.
        KanaWidth::Full => moji.to_fullwidth_katakana().into_string().replace(' ', "\u{3000}"),
    })
}
