//! Checking a mapping file and compiling it into a [`Mapping`]. Every problem found is reported
//! with its file and line; a file with any problem is not compiled.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use renkei_model::Date;
use toml::Spanned;

use crate::canonical::{CanonicalKind, Schema};
use crate::charset::Charset;
use crate::codes::CodeTable;
use crate::item::Item;
use crate::layout::Layout;
use crate::mapping::{
    CodeStep, Example, FormRead, InStep, InTarget, Join, Mapping, MappingId, OutSource, OutStep, ShrinkStep,
    check_value,
};
use crate::problem::{Problem, line_of};
use crate::record_expr::RecordExpr;
use crate::reference::{InterfaceRef, is_name, is_version};
use crate::source::SourceFile;
use crate::spec::{
    DateFormat, Direction, Format, ItemDef, ItemType, KanaWidth, MappingFile, Records, Separator,
};
use crate::value::{Value, ValueKind};

/// A file read and parsed, not yet compiled (the set first gathers every `fields.*` name).
#[derive(Debug)]
pub(crate) struct Parsed {
    pub file: SourceFile,
    pub def: MappingFile,
}

impl Parsed {
    pub(crate) fn parse(file: SourceFile) -> Result<Parsed, Vec<Problem>> {
        match file.parse_toml::<MappingFile>() {
            Ok(def) => Ok(Parsed { file, def }),
            Err(p) => Err(vec![p]),
        }
    }

    pub(crate) fn kind(&self) -> CanonicalKind {
        self.def.mapping.get_ref().canonical
    }

    /// The `fields.*` names the file uses, in canonical paths and in CEL expressions
    /// (`fields['new_address.banchi']`, `fields.remarks`).
    pub(crate) fn field_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .def
            .items
            .iter()
            .filter_map(|i| i.get_ref().canonical.as_ref())
            .flat_map(|c| c.get_ref().paths())
            .filter_map(|p| p.strip_prefix("fields.").map(str::to_owned))
            .collect();
        for item in &self.def.items {
            let item = item.get_ref();
            for expr in [&item.when, &item.compute].into_iter().flatten() {
                names.extend(fields_in_expression(expr.get_ref()));
            }
        }
        names
    }
}

/// Form-field names an expression reads: `fields['a.b']`, `fields["a.b"]` or `fields.name`.
fn fields_in_expression(expr: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = expr;
    while let Some(at) = rest.find("fields") {
        let after = &rest[at + "fields".len()..];
        let name = if let Some(q) = after.strip_prefix("['").or_else(|| after.strip_prefix("[\"")) {
            q.find(['\'', '"']).map(|end| &q[..end])
        } else if let Some(d) = after.strip_prefix('.') {
            let end = d.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(d.len());
            Some(&d[..end])
        } else {
            None
        };
        if let Some(n) = name.filter(|n| renkei_model::validate_field_name(n).is_ok()) {
            names.push(n.to_owned());
        }
        rest = after;
    }
    names
}

/// Whether an expression reduces the list of subjects to one element (`subjects[0]`,
/// `subjects.filter(s, …)[0]`): string literals aside, `subjects` followed by a chain of
/// `.name(…)` calls and an index.
fn reduces_subjects(expr: &str) -> bool {
    let code = without_string_literals(expr);
    let bytes = code.as_bytes();
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut from = 0;
    while let Some(at) = code[from..].find("subjects").map(|i| i + from) {
        let end = at + "subjects".len();
        from = end;
        if (at > 0 && (word(bytes[at - 1]) || bytes[at - 1] == b'.'))
            || bytes.get(end).is_some_and(|b| word(*b))
        {
            continue;
        }
        let mut i = end;
        loop {
            while bytes.get(i).is_some_and(u8::is_ascii_whitespace) {
                i += 1;
            }
            match bytes.get(i) {
                Some(b'[') => return true,
                Some(b'.') => {
                    i += 1;
                    while bytes.get(i).is_some_and(|b| word(*b)) {
                        i += 1;
                    }
                    if bytes.get(i) == Some(&b'(') {
                        let mut depth = 0;
                        while let Some(b) = bytes.get(i) {
                            match b {
                                b'(' => depth += 1,
                                b')' => depth -= 1,
                                _ => {}
                            }
                            i += 1;
                            if depth == 0 {
                                break;
                            }
                        }
                    }
                }
                _ => break,
            }
        }
    }
    false
}

/// `expr` with the contents of its string literals blanked, so that a word inside a string is
/// not taken for a variable.
fn without_string_literals(expr: &str) -> String {
    let mut out = String::with_capacity(expr.len());
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in expr.chars() {
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                    out.push(c);
                    continue;
                }
                out.push(' ');
            }
            None => {
                if c == '\'' || c == '"' {
                    quote = Some(c);
                }
                out.push(c);
            }
        }
    }
    out
}

struct Ctx<'a> {
    file: &'a SourceFile,
    problems: Vec<Problem>,
}

impl Ctx<'_> {
    fn at(&mut self, offset: usize, message: impl Into<String>) {
        self.problems.push(Problem {
            file: self.file.path.clone(),
            line: Some(line_of(&self.file.text, offset)),
            message: message.into(),
        });
    }

    fn whole(&mut self, message: impl Into<String>) {
        self.problems.push(Problem { file: self.file.path.clone(), line: None, message: message.into() });
    }
}

fn span_start<T>(s: &Spanned<T>) -> usize {
    s.span().start
}

/// The id the file's path says it has: `systems/<system>/<interface>@<version>.toml`.
fn id_from_path(path: &Path) -> Option<InterfaceRef> {
    let stem = path.file_stem()?.to_str()?;
    let system = path.parent()?.file_name()?.to_str()?;
    InterfaceRef::parse(&format!("{system}/{stem}")).ok().filter(|r| r.version.is_some())
}

pub(crate) fn compile(
    parsed: Parsed,
    schemas: &HashMap<CanonicalKind, Arc<Schema>>,
    codes: &BTreeMap<String, Arc<CodeTable>>,
) -> Result<Mapping, Vec<Problem>> {
    let Parsed { file, def } = parsed;
    let mut cx = Ctx { file: &file, problems: Vec::new() };
    let header = def.mapping.get_ref();
    let kind = header.canonical;
    let schema = schemas[&kind].clone();

    for (what, value) in
        [("system", &header.system), ("interface", &header.interface), ("version", &header.version)]
    {
        let ok = if what == "version" { is_version(value.get_ref()) } else { is_name(value.get_ref()) };
        if !ok {
            cx.at(
                span_start(value),
                format!("{what} {:?}: lowercase ASCII letters, digits, '-', '_' or '.'", value.get_ref()),
            );
        }
    }
    match id_from_path(&file.path) {
        Some(r)
            if r.system == *header.system.get_ref()
                && r.interface == *header.interface.get_ref()
                && r.version.as_ref() == Some(header.version.get_ref()) => {}
        _ => cx.at(
            span_start(&def.mapping),
            format!(
                "the file must be systems/{}/{}@{}.toml, as its [mapping] says",
                header.system.get_ref(),
                header.interface.get_ref(),
                header.version.get_ref()
            ),
        ),
    }
    let effective_from = match header.effective_from.get_ref().date {
        Some(d) if header.effective_from.get_ref().time.is_none() => {
            Date::from_ymd(i32::from(d.year), u32::from(d.month), u32::from(d.day)).ok()
        }
        _ => None,
    };
    if effective_from.is_none() {
        cx.at(span_start(&header.effective_from), "effective_from must be a date (2026-04-01)");
    }
    let format = header.format;
    let charset = header.charset;
    if format == Format::Json && charset != Charset::Utf8 {
        cx.at(span_start(&def.mapping), "JSON records are UTF-8 (charset = \"utf-8\")");
    }
    if format == Format::Xml && charset == Charset::JisX0208 {
        cx.at(span_start(&def.mapping), "XML documents are UTF-8, Shift_JIS or Windows-31J");
    }
    match (&header.record_path, format) {
        (None, Format::Xml) => cx.at(
            span_start(&def.mapping),
            "an XML layout names its record element: record_path = \"/Root/Record\"",
        ),
        (Some(p), f) if f != Format::Xml => cx.at(span_start(p), "record_path applies to XML layouts only"),
        _ => {}
    }
    let records = header.records.as_ref().map_or(Records::One, |r| *r.get_ref());
    if let Some(r) = &header.records {
        if records != Records::One && kind != CanonicalKind::Application {
            cx.at(span_start(r), "records applies to application mappings (canonical = \"application\")");
        }
        if records == Records::PerSubject && !matches!(format, Format::Csv | Format::Fixed) {
            cx.at(
                span_start(r),
                format!(
                    "records = \"per_subject\" needs a format that holds several records (csv or fixed), not {}; an interface that takes one person per request declares records = \"one_subject\"",
                    format.as_str()
                ),
            );
        }
    }
    let record_separator = header.record_separator.unwrap_or(match format {
        Format::Json => Separator::Lf,
        _ => Separator::Crlf,
    });

    // Paths a system-side CEL expression can read: the item keys.
    // XML keys read as dotted names there: `Shinseisha/Shimei` is `Shinseisha.Shimei`, `@kubun`
    // is `kubun`.
    let system_paths: Vec<(String, usize)> = def
        .items
        .iter()
        .enumerate()
        .map(|(i, item)| match format {
            Format::Xml => (item.get_ref().key.replace('/', ".").replace('@', ""), i),
            _ => (item.get_ref().key.clone(), i),
        })
        .collect();
    // Paths a canonical-side expression can read: every slot of the schema.
    let canonical_paths: Vec<(String, usize)> = (0..schema.len()).map(|s| (schema.path(s), s)).collect();

    // How many parts the layout splits each path into (a value with more is refused, not cut).
    let mut split_parts: HashMap<String, usize> = HashMap::new();
    for d in def.items.iter().map(Spanned::get_ref).filter(|d| d.direction.to_system()) {
        if let (Some(part), Some(c)) = (d.part, &d.canonical) {
            for path in c.get_ref().paths() {
                let n = split_parts.entry(path).or_default();
                *n = (*n).max(part + 1);
            }
        }
    }
    let mut form_reads = Vec::new();
    let mut items = Vec::new();
    let mut to_system = Vec::new();
    let mut to_canonical = Vec::new();
    let mut joins: Vec<Join> = Vec::new();
    let mut keys = HashSet::new();
    let mut ids = HashSet::new();
    let mut offset = 0;
    for (index, spanned) in def.items.iter().enumerate() {
        let start = span_start(spanned);
        let d: &ItemDef = spanned.get_ref();
        let label = format!("item {} {} ({})", d.id, d.name, d.key);
        if !keys.insert(d.key.clone()) {
            cx.at(start, format!("{label}: key {:?} is used by another item", d.key));
        }
        if !ids.insert(d.id.clone()) {
            cx.at(start, format!("{label}: id {:?} is used by another item", d.id));
        }
        // XML keys are element paths, checked when the element tree is built.
        if format != Format::Xml && (d.key.is_empty() || d.key.split('.').any(|s| !is_name(s))) {
            cx.at(start, format!("{label}: key must be lowercase ASCII words joined by '.'"));
        }
        let ty = *d.ty.get_ref();
        let length = *d.length.get_ref();
        if length == 0 {
            cx.at(span_start(&d.length), format!("{label}: length must be at least 1"));
        }
        let paths = d.canonical.as_ref().map(|c| c.get_ref().paths()).unwrap_or_default();
        let canonical_line = d.canonical.as_ref().map_or(start, span_start);
        let mut slots = Vec::new();
        for path in &paths {
            match Schema::check_path(kind, path) {
                Ok(vk) => slots.push((schema.slot(path).expect("checked path has a slot"), vk)),
                Err(_) => cx.at(
                    canonical_line,
                    format!(
                        "{label}: {path:?} is not a field of the canonical {} (see `renkei mappings paths`)",
                        kind.as_str()
                    ),
                ),
            }
        }
        let code = match &d.code {
            Some(name) => match codes.get(name.get_ref()) {
                Some(table) => Some(CodeStep { table: table.clone(), side: d.code_value }),
                None => {
                    cx.at(span_start(name), format!("{label}: no code table {:?} in codes/", name.get_ref()));
                    None
                }
            },
            None => None,
        };
        let date = d.date.as_ref().map(|f| *f.get_ref());
        let shrink = (ty.is_text() && !charset.is_universal()).then(|| ShrinkStep {
            charset,
            on_loss: d.on_loss,
            replacement: d.replacement.clone(),
        });
        let compile_expr = |cx: &mut Ctx<'_>,
                            src: &Option<Spanned<String>>,
                            paths: &[(String, usize)]|
         -> Option<RecordExpr> {
            let src = src.as_ref()?;
            match RecordExpr::compile(src.get_ref(), paths) {
                Ok(e) => Some(e),
                Err(e) => {
                    cx.at(span_start(src), format!("{label}: {e}"));
                    None
                }
            }
        };
        // Which side an expression reads: the canonical record going out, the system record coming in.
        let expr_paths = if d.direction == Direction::ToCanonical { &system_paths } else { &canonical_paths };
        let mut when = compile_expr(&mut cx, &d.when, expr_paths);
        let mut compute = compile_expr(&mut cx, &d.compute, expr_paths);
        let expressions = || [&d.when, &d.compute].into_iter().flatten();
        if kind == CanonicalKind::Application && d.direction.to_system() {
            for e in expressions().filter(|e| reduces_subjects(e.get_ref())) {
                cx.at(
                    span_start(e),
                    format!(
                        "{label}: reduces subjects to one element; declare records = \"per_subject\" (one record per subject) or \"one_subject\" in [mapping] and read `subject`"
                    ),
                );
            }
            let reads_subject = paths.iter().any(|p| p == "subject")
                || [&when, &compute].into_iter().flatten().any(|x| x.variables().any(|v| v == "subject"));
            if reads_subject && records == Records::One {
                cx.at(
                    start,
                    format!(
                        "{label}: reads subject, which only a mapping with records = \"per_subject\" or \"one_subject\" has"
                    ),
                );
            }
            let item_line = line_of(&file.text, start);
            let item_label = format!("{} {} ({})", d.id, d.name, d.key);
            for path in &paths {
                if let Some(name) = path.strip_prefix("fields.") {
                    form_reads.push(FormRead {
                        field: name.to_owned(),
                        item: item_label.clone(),
                        line: item_line,
                        required: d.required,
                    });
                }
            }
            for e in expressions() {
                for name in fields_in_expression(e.get_ref()) {
                    form_reads.push(FormRead {
                        field: name,
                        item: item_label.clone(),
                        line: line_of(&file.text, span_start(e)),
                        required: false,
                    });
                }
            }
        }

        // Wrong types: what the canonical side holds against what the item says it is.
        let (is_date_path, is_list_path) = (
            slots.iter().any(|(_, vk)| *vk == ValueKind::Date),
            slots.iter().any(|(_, vk)| *vk == ValueKind::List),
        );
        let fields_path = paths.iter().any(|p| p.starts_with("fields."));
        if ty == ItemType::Date && date.is_none() {
            cx.at(start, format!("{label}: a date item needs `date` (yyyymmdd, iso, wareki or era_yymmdd)"));
        }
        if let Some(f) = &d.date {
            if !is_date_path && !fields_path && !paths.is_empty() {
                cx.at(
                    span_start(f),
                    format!("wrong type: {label}: {} holds text, not a date", paths.join(", ")),
                );
            }
            if ty == ItemType::Digits && !f.get_ref().is_digits() {
                cx.at(
                    span_start(f),
                    format!("wrong type: {label}: {} dates are not digits", f.get_ref().as_str()),
                );
            }
        } else if is_date_path {
            cx.at(
                canonical_line,
                format!(
                    "wrong type: {label}: {} is a date; say how to write it with `date`",
                    paths.join(", ")
                ),
            );
        }
        // A list item may also map one text path, its entries joined by `separator` (the names
        // of the household members an online form lists one by one).
        let list_join = (ty == ItemType::List && !is_list_path && paths.len() == 1 && d.part.is_none())
            .then(|| d.separator.clone())
            .flatten();
        if !slots.is_empty() && is_list_path != (ty == ItemType::List) && list_join.is_none() {
            cx.at(
                start,
                format!(
                    "wrong type: {label}: only list items map list paths (subjects); a list item maps a text path with `separator`"
                ),
            );
        }
        if ty == ItemType::List && !matches!(format, Format::Json | Format::Xml) {
            cx.at(start, format!("wrong type: {label}: list items exist only in JSON and XML layouts"));
        }
        if ty == ItemType::Code && code.is_none() && d.code.is_none() {
            cx.at(start, format!("{label}: a code item needs `code` (a table in codes/)"));
        }
        if d.kana.is_some() && ty != ItemType::Kana {
            cx.at(start, format!("wrong type: {label}: `kana` applies to kana items"));
        }
        if d.kana == Some(KanaWidth::Half) && charset == Charset::JisX0208 {
            cx.at(start, format!("{label}: JIS X 0208 has no half-width kana"));
        }
        if format == Format::Fixed && charset == Charset::JisX0208 && ty.is_text() && length % 2 != 0 {
            cx.at(span_start(&d.length), format!("{label}: double-byte items take an even number of bytes"));
        }

        // Where the value comes from and goes to.
        let multiple = paths.len() > 1;
        if multiple && d.separator.is_none() {
            cx.at(
                canonical_line,
                format!("{label}: several canonical paths need a `separator` to join them"),
            );
        }
        if d.part.is_some() && (d.separator.is_none() || multiple) {
            cx.at(start, format!("{label}: `part` splits one canonical path by `separator`"));
        }
        if compute.is_some() && d.direction == Direction::Both {
            cx.at(start, format!("{label}: a computed item maps one way: set direction"));
        }
        if paths.is_empty() && d.compute.is_none() && d.default.is_none() {
            cx.at(start, format!("missing field: {label} has no canonical path, compute or default"));
        }
        if d.direction == Direction::ToCanonical && paths.len() != 1 && d.part.is_none() && !multiple {
            cx.at(
                start,
                format!("missing field: {label} reads into the canonical record but names no canonical path"),
            );
        }

        let item = Item {
            id: d.id.clone(),
            name: d.name.clone(),
            key: d.key.clone(),
            ty,
            length,
            direction: d.direction,
            required: d.required,
            canonical: paths.clone(),
            rule: describe(d),
            lossless: d.direction == Direction::Both && compute.is_none(),
            offset,
            line: line_of(&file.text, start),
            note: d.note.clone(),
        };
        offset += length;

        // Lengths that can never fit.
        let check = |cx: &mut Ctx<'_>, at: usize, what: &str, v: &str| {
            if let Err(rule) = check_value(format, charset, &item, &Value::Text(v.to_owned())) {
                cx.at(at, format!("length overflow: {label}: {what} {rule}"));
            }
        };
        if let Some(def_value) = &d.default {
            check(&mut cx, span_start(def_value), "default", def_value.get_ref());
        }
        if let Some(code) = &code {
            for entry in code.table.entries() {
                let v = match code.side {
                    crate::spec::CodeValue::Code => &entry.code,
                    crate::spec::CodeValue::Label => &entry.label,
                };
                if check_value(format, charset, &item, &Value::Text(v.clone())).is_err() {
                    cx.at(
                        d.code.as_ref().map_or(start, span_start),
                        format!(
                            "length overflow: {label}: code table {} has {v:?}, longer than the item",
                            code.table.id
                        ),
                    );
                    break;
                }
            }
        }
        if let Some(f) = date {
            let widest = match f {
                DateFormat::Yyyymmdd => "20191231",
                DateFormat::Iso => "2019-12-31",
                DateFormat::Wareki => "平成31年12月31日",
                DateFormat::EraYymmdd => "4311231",
            };
            check(&mut cx, span_start(&d.length), "dates", widest);
        }

        if d.direction.to_system() {
            // The expressions were compiled against the canonical record, which this direction reads.
            let source = if let Some(e) = compute.take() {
                OutSource::Compute(e)
            } else if multiple {
                OutSource::Concat(
                    slots.iter().map(|(s, _)| *s).collect(),
                    d.separator.clone().unwrap_or_default(),
                )
            } else if let (Some(part), Some((slot, _))) = (d.part, slots.first()) {
                OutSource::Part {
                    slot: *slot,
                    separator: d.separator.clone().unwrap_or_default(),
                    index: part,
                    parts: paths.first().and_then(|p| split_parts.get(p)).copied().unwrap_or(part + 1),
                }
            } else if let Some((slot, _)) = slots.first() {
                OutSource::Slot(*slot)
            } else {
                OutSource::Nothing
            };
            to_system.push(OutStep {
                item: index,
                source,
                list_split: list_join.clone(),
                when: when.take(),
                default: d.default.as_ref().map(|v| v.get_ref().clone()),
                date,
                code: code.as_ref().map(|c| CodeStep { table: c.table.clone(), side: c.side }),
                kana: d.kana,
                shrink,
            });
        }
        if d.direction.to_canonical() && !slots.is_empty() {
            let target = if multiple {
                InTarget::Split(
                    slots.iter().map(|(s, _)| *s).collect(),
                    d.separator.clone().unwrap_or_default(),
                )
            } else if let Some(part) = d.part {
                let slot = slots[0].0;
                let sep = d.separator.clone().unwrap_or_default();
                let join = match joins.iter().position(|j| j.slot == slot) {
                    Some(j) => j,
                    None => {
                        joins.push(Join { slot, separator: sep, parts: 0 });
                        joins.len() - 1
                    }
                };
                joins[join].parts = joins[join].parts.max(part + 1);
                InTarget::Part { join, index: part }
            } else {
                InTarget::Slot(slots[0].0)
            };
            to_canonical.push(InStep {
                item: index,
                target,
                list_join: list_join.clone(),
                target_kind: slots[0].1,
                // Still here only for an item read system → canonical alone: compiled against the
                // system record.
                when: when.take(),
                compute: compute.take(),
                default: d
                    .default
                    .as_ref()
                    .filter(|_| d.direction == Direction::ToCanonical)
                    .map(|v| v.get_ref().clone()),
                date,
                code: code.as_ref().map(|c| CodeStep { table: c.table.clone(), side: c.side }),
                kana: d.kana,
            });
        }
        items.push(item);
    }

    if format == Format::Fixed {
        match &header.record_length {
            Some(declared) if *declared.get_ref() != offset => cx.at(
                span_start(declared),
                format!(
                    "length overflow: the items take {offset} bytes; record_length is {}",
                    declared.get_ref()
                ),
            ),
            None => cx.at(
                span_start(&def.mapping),
                format!("a fixed-length layout declares record_length (the items take {offset} bytes)"),
            ),
            _ => {}
        }
    }
    let layout = match format {
        Format::Json => match Layout::json(&items) {
            Ok(l) => l,
            Err((i, message)) => {
                cx.at(span_start(&def.items[i]), message);
                Layout::Fixed
            }
        },
        Format::Fixed => Layout::Fixed,
        Format::Csv => Layout::Csv,
        Format::Xml => {
            let path = header.record_path.as_ref().map_or("", |p| p.get_ref().as_str());
            match crate::xml::XmlLayout::new(path, &items) {
                Ok(l) => Layout::Xml(l),
                Err((at, message)) => {
                    match at {
                        Some(i) => cx.at(span_start(&def.items[i]), message),
                        None => cx.at(header.record_path.as_ref().map_or(0, span_start), message),
                    }
                    Layout::Csv
                }
            }
        }
    };
    if def.examples.is_empty() {
        cx.whole("has no [[examples]]: every mapping shows at least one record through it");
    }
    if !cx.problems.is_empty() {
        return Err(cx.problems);
    }
    let reads_expressions = to_canonical.iter().any(|s| s.when.is_some() || s.compute.is_some());
    let mut mapping = Mapping {
        id: MappingId {
            system: header.system.get_ref().clone(),
            interface: header.interface.get_ref().clone(),
            version: header.version.get_ref().clone(),
        },
        title: header.title.clone(),
        source: header.source.clone(),
        effective_from: effective_from.expect("checked above"),
        kind,
        format,
        charset,
        record_separator,
        header: header.header,
        records,
        form_reads,
        file: file.path.clone(),
        items,
        schema,
        layout,
        to_system,
        to_canonical,
        reads_expressions,
        joins,
        examples: Vec::new(),
        text: String::new(),
    };
    let mut examples = Vec::new();
    for spanned in &def.examples {
        match Example::read(&mapping, spanned.get_ref()) {
            Ok(example) => examples.push(example.at_line(line_of(&file.text, span_start(spanned)))),
            Err(message) => {
                cx.at(span_start(spanned), format!("example {:?}: {message}", spanned.get_ref().name))
            }
        }
    }
    if !cx.problems.is_empty() {
        return Err(cx.problems);
    }
    mapping.examples = examples;
    mapping.text = file.text;
    Ok(mapping)
}

/// The rule of an item in words, for `try` and `diff`.
fn describe(d: &ItemDef) -> String {
    let mut parts = Vec::new();
    if let Some(c) = &d.canonical {
        let paths = c.get_ref().paths();
        match (&d.separator, d.part) {
            (Some(sep), Some(part)) => parts.push(format!("{} split by {sep:?} part {part}", paths.join(""))),
            (Some(sep), None) if paths.len() > 1 => {
                parts.push(format!("{} joined by {sep:?}", paths.join(" + ")))
            }
            _ => parts.push(paths.join("")),
        }
    }
    if let Some(c) = &d.compute {
        parts.push(format!("compute `{}`", c.get_ref()));
    }
    if let Some(w) = &d.when {
        parts.push(format!("when `{}`", w.get_ref()));
    }
    if let Some(v) = &d.default {
        parts.push(format!("default {:?}", v.get_ref()));
    }
    if let Some(f) = &d.date {
        parts.push(format!("date {}", f.get_ref().as_str()));
    }
    if let Some(c) = &d.code {
        parts.push(format!("code {}", c.get_ref()));
    }
    if let Some(k) = &d.kana {
        parts.push(format!("kana {}", if *k == KanaWidth::Half { "half" } else { "full" }));
    }
    match d.direction {
        Direction::Both => {}
        Direction::ToSystem => parts.push("(to system only)".to_owned()),
        Direction::ToCanonical => parts.push("(to canonical only)".to_owned()),
    }
    parts.join(" → ")
}
