//! The TOML form of a mapping file (`systems/<system>/<interface>@<version>.toml`), as read.
//! [`crate::mapping`] checks it and compiles it.

use serde::Deserialize;
use toml::Spanned;

use crate::canonical::CanonicalKind;
use crate::charset::Charset;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MappingFile {
    pub mapping: Spanned<Header>,
    #[serde(default)]
    pub items: Vec<Spanned<ItemDef>>,
    #[serde(default)]
    pub examples: Vec<Spanned<ExampleDef>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Header {
    pub system: Spanned<String>,
    pub interface: Spanned<String>,
    pub version: Spanned<String>,
    pub title: String,
    pub effective_from: Spanned<toml::value::Datetime>,
    pub canonical: CanonicalKind,
    pub format: Format,
    pub charset: Charset,
    /// Fixed-length layouts: the record's length in bytes (the items must add up to it).
    #[serde(default)]
    pub record_length: Option<Spanned<usize>>,
    /// Fixed-length and CSV files: what ends a record.
    #[serde(default)]
    pub record_separator: Option<Separator>,
    /// CSV files: whether the first line names the items.
    #[serde(default)]
    pub header: bool,
    /// XML documents: the record element's path from the root (`/ShinseiData/Shinsei`).
    #[serde(default)]
    pub record_path: Option<Spanned<String>>,
    /// Where the shape comes from (基本データリスト …).
    #[serde(default)]
    pub source: Option<String>,
    /// How many records an application makes: one (default), one per subject, or one for the
    /// one subject the interface takes.
    #[serde(default)]
    pub records: Option<Spanned<Records>>,
}

/// How many records a document of an application mapping holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Records {
    /// One record for the application.
    #[default]
    One,
    /// One record per subject (the applicant alone when the application names none); each
    /// record sees the person it is for as `subject`.
    PerSubject,
    /// The interface takes one person per request: the subject (or the applicant when none is
    /// named) is `subject`, and an application naming more than one is refused, never reduced.
    OneSubject,
}

impl Records {
    pub fn as_str(self) -> &'static str {
        match self {
            Records::One => "one",
            Records::PerSubject => "per_subject",
            Records::OneSubject => "one_subject",
        }
    }
}

/// How records are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// One JSON object per record; item keys are dotted paths into it (`jusho.banchi`).
    Json,
    /// Fixed-length records: items in order, each `length` bytes in the charset.
    Fixed,
    /// CSV (RFC 4180), items in order.
    Csv,
    /// XML documents: one element per record at `record_path`; item keys are element paths
    /// below it (`Shinseisha/Shimei/Sei`, `@kubun`, `Jusho/@code`).
    Xml,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Fixed => "fixed",
            Format::Csv => "csv",
            Format::Xml => "xml",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Separator {
    Crlf,
    Lf,
    None,
}

impl Separator {
    pub fn bytes(self) -> &'static [u8] {
        match self {
            Separator::Crlf => b"\r\n",
            Separator::Lf => b"\n",
            Separator::None => b"",
        }
    }
}

/// One canonical path or several (joined with `separator`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub(crate) fn paths(&self) -> Vec<String> {
        match self {
            OneOrMany::One(p) => vec![p.clone()],
            OneOrMany::Many(v) => v.clone(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ItemDef {
    /// The standard-style item id (データ項目ID).
    pub id: String,
    /// The item's name (データ項目名).
    pub name: String,
    /// Where the item sits: a dotted JSON path, an XML element path below the record
    /// (`Shinseisha/Shimei`, `@kubun`), or a name for fixed and CSV items.
    pub key: String,
    #[serde(rename = "type")]
    pub ty: Spanned<ItemType>,
    /// Characters (JSON, CSV) or bytes in the charset (fixed).
    pub length: Spanned<usize>,
    #[serde(default)]
    pub canonical: Option<Spanned<OneOrMany>>,
    #[serde(default)]
    pub direction: Direction,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub code: Option<Spanned<String>>,
    /// Which side of the code table the system writes: `code` (default) or `label`.
    #[serde(default)]
    pub code_value: CodeValue,
    #[serde(default)]
    pub date: Option<Spanned<DateFormat>>,
    #[serde(default)]
    pub kana: Option<KanaWidth>,
    /// Joins several canonical paths (concat) or, with `part`, splits one (split).
    #[serde(default)]
    pub separator: Option<String>,
    #[serde(default)]
    pub part: Option<usize>,
    /// `report` (default): shrink to the charset and report it; `error`: refuse any loss.
    #[serde(default)]
    pub on_loss: OnLoss,
    /// Written for a character with no shrink candidate (e.g. 〓); without it such a character
    /// is an error.
    #[serde(default)]
    pub replacement: Option<String>,
    #[serde(default)]
    pub default: Option<Spanned<String>>,
    #[serde(default)]
    pub when: Option<Spanned<String>>,
    #[serde(default)]
    pub compute: Option<Spanned<String>>,
    #[serde(default)]
    pub note: Option<String>,
}

/// What an item holds, as the standard's data lists type them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemType {
    /// ASCII digits (zero-padded on the left in fixed layouts).
    Digits,
    /// ASCII letters, digits and symbols.
    Alnum,
    /// Any text: names, addresses (shrunk to the charset when it cannot carry a character).
    Text,
    /// Kana (フリガナ); width set by `kana`.
    Kana,
    /// A date written as `date` says.
    Date,
    /// A code from the `code` table.
    Code,
    /// A JSON array of text, or every occurrence of a repeated XML element.
    List,
}

impl ItemType {
    pub fn as_str(self) -> &'static str {
        match self {
            ItemType::Digits => "digits",
            ItemType::Alnum => "alnum",
            ItemType::Text => "text",
            ItemType::Kana => "kana",
            ItemType::Date => "date",
            ItemType::Code => "code",
            ItemType::List => "list",
        }
    }

    /// Whether the item holds free text that may need shrinking.
    pub fn is_text(self) -> bool {
        matches!(self, ItemType::Text | ItemType::Kana)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    #[default]
    Both,
    ToSystem,
    ToCanonical,
}

impl Direction {
    pub fn to_system(self) -> bool {
        self != Direction::ToCanonical
    }
    pub fn to_canonical(self) -> bool {
        self != Direction::ToSystem
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum CodeValue {
    #[default]
    Code,
    Label,
}

/// Date formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DateFormat {
    /// `19890108`
    Yyyymmdd,
    /// `1989-01-08`
    Iso,
    /// `平成元年1月8日`
    Wareki,
    /// Era code + YYMMDD: `4010108` (1 明治 … 5 令和).
    EraYymmdd,
}

impl DateFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            DateFormat::Yyyymmdd => "yyyymmdd",
            DateFormat::Iso => "iso",
            DateFormat::Wareki => "wareki",
            DateFormat::EraYymmdd => "era_yymmdd",
        }
    }

    pub fn is_digits(self) -> bool {
        matches!(self, DateFormat::Yyyymmdd | DateFormat::EraYymmdd)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum KanaWidth {
    Half,
    Full,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum OnLoss {
    #[default]
    Report,
    Error,
}

/// An example: a record on one side and what the mapping must make of it on the other.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ExampleDef {
    pub name: String,
    /// Canonical record (nested tables by path; `fields` keys are form-field names).
    #[serde(default)]
    pub canonical: Option<toml::Table>,
    /// System record: item key → value.
    #[serde(default)]
    pub system: Option<toml::Table>,
    /// The records a `records = "per_subject"` mapping must give, in subject order (instead of
    /// `system`; canonical → system only).
    #[serde(default)]
    pub records: Vec<toml::Table>,
    /// Which way to run: `both` (default), `to_system` or `to_canonical`.
    #[serde(default)]
    pub direction: Direction,
    /// Item keys whose value must be reported as shrunk (lossy).
    #[serde(default)]
    pub degenerated: Vec<String>,
    /// The run must fail with an error containing this text.
    #[serde(default)]
    pub error: Option<String>,
}
