//! Reading and writing a mapping's XML records along its element tree ([`XmlLayout`]).

use crate::item::{ApplyError, SystemRecord};
use crate::mapping::Mapping;
use crate::spec::ItemType;
use crate::value::Value;
use crate::xml::{ItemPositions, XmlLayout, XmlNode, XmlRecordError};

fn refuse<E: XmlNode>(el: &E, item: impl Into<String>, rule: impl Into<String>) -> XmlRecordError {
    let (line, column) = el.position();
    XmlRecordError { line, column, error: ApplyError { record: None, item: item.into(), rule: rule.into() } }
}

/// XML text as a value: surrounding XML white space (not the ideographic space) is layout.
fn trimmed(text: &str) -> &str {
    text.trim_matches([' ', '\t', '\r', '\n'])
}

impl Mapping {
    /// The element tree of an XML mapping.
    pub fn xml_layout(&self) -> Option<&XmlLayout> {
        match &self.layout {
            crate::layout::Layout::Xml(layout) => Some(layout),
            _ => None,
        }
    }

    /// Read one XML record element into `out`. `positions` gets, per item, where its first value
    /// was (for messages about the values later). Whatever the mapping does not name is refused.
    pub fn decode_xml<E: XmlNode>(
        &self,
        record: &E,
        out: &mut SystemRecord,
        positions: &mut ItemPositions,
    ) -> Result<(), XmlRecordError> {
        let Some(layout) = self.xml_layout() else {
            return Err(refuse(record, "(record)", format!("{} is not an XML mapping", self.id)));
        };
        out.clear();
        positions.clear();
        positions.resize(self.items.len(), None);
        if record.name() != layout.nodes[0].name {
            return Err(refuse(
                record,
                "(record)",
                format!("is <{}>; the mapping's records are <{}>", record.name(), layout.nodes[0].name),
            ));
        }
        let mut seen = vec![0u32; layout.nodes.len()];
        self.walk(layout, 0, record, out, positions, &mut seen)
    }

    fn walk<E: XmlNode>(
        &self,
        layout: &XmlLayout,
        at: usize,
        el: &E,
        out: &mut SystemRecord,
        positions: &mut [Option<(u64, u64)>],
        seen: &mut [u32],
    ) -> Result<(), XmlRecordError> {
        let node = &layout.nodes[at];
        for (name, value) in el.attributes() {
            // Namespace declarations are not data.
            if name == "xmlns" || name.starts_with("xmlns:") {
                continue;
            }
            match node.attributes.iter().find(|(a, _)| a == name) {
                Some((_, item)) => self.put(*item, value, el, out, positions),
                None => {
                    return Err(refuse(
                        el,
                        format!("{}/@{name}", node.path),
                        "unknown attribute: the mapping has no item for it",
                    ));
                }
            }
        }
        match node.item {
            Some(item) => self.put(item, el.text(), el, out, positions),
            None if !trimmed(el.text()).is_empty() => {
                return Err(refuse(el, node.path.as_str(), "has text, and the mapping reads none here"));
            }
            None => {}
        }
        for child in el.children() {
            let Some(&id) = node.children.iter().find(|c| layout.nodes[**c].name == child.name()) else {
                return Err(refuse(
                    &child,
                    format!("{}/{}", node.path, child.name()),
                    "unknown element: the mapping has no item there",
                ));
            };
            seen[id] += 1;
            if seen[id] > 1 && !layout.nodes[id].repeats {
                return Err(refuse(
                    &child,
                    layout.nodes[id].path.as_str(),
                    "occurs more than once; the mapping reads one",
                ));
            }
            self.walk(layout, id, &child, out, positions, seen)?;
        }
        Ok(())
    }

    fn put<E: XmlNode>(
        &self,
        item: usize,
        text: &str,
        el: &E,
        out: &mut SystemRecord,
        positions: &mut [Option<(u64, u64)>],
    ) {
        positions[item].get_or_insert_with(|| el.position());
        let text = trimmed(text);
        if self.items[item].ty == ItemType::List {
            match &mut out.values[item] {
                Some(Value::List(list)) => list.push(text.to_owned()),
                slot => *slot = Some(Value::List(vec![text.to_owned()])),
            }
        } else if !text.is_empty() {
            out.values[item] = Some(Value::Text(text.to_owned()));
        }
    }

    /// Write one record as an XML element (no declaration, no enclosing elements), in the
    /// layout's order; a list item repeats its elements.
    pub(crate) fn encode_xml(&self, layout: &XmlLayout, record: &SystemRecord, out: &mut String) {
        self.write_node(layout, 0, record, None, out);
    }

    /// Write node `at`; `occurrence` picks the n-th value of list items below a repeated node.
    fn write_node(
        &self,
        layout: &XmlLayout,
        at: usize,
        record: &SystemRecord,
        occurrence: Option<usize>,
        out: &mut String,
    ) {
        let node = &layout.nodes[at];
        let value = |item: usize| -> Option<String> {
            match (&record.values[item], occurrence) {
                (Some(Value::List(list)), Some(n)) => list.get(n).cloned(),
                (Some(Value::List(_)), None) => None,
                (Some(v), _) => Some(v.to_text()),
                (None, _) => None,
            }
        };
        out.push('<');
        out.push_str(&node.name);
        for (name, item) in &node.attributes {
            if let Some(v) = value(*item) {
                out.push_str(&format!(" {name}=\""));
                escape(&v, out);
                out.push('"');
            }
        }
        out.push('>');
        if let Some(item) = node.item
            && let Some(v) = value(item)
        {
            escape(&v, out);
        }
        for &child in &node.children {
            let child_node = &layout.nodes[child];
            if child_node.repeats && occurrence.is_none() {
                for n in 0..self.occurrences(layout, child, record) {
                    self.write_node(layout, child, record, Some(n), out);
                }
            } else if self.has_values(layout, child, record, occurrence) {
                self.write_node(layout, child, record, occurrence, out);
            }
        }
        out.push_str("</");
        out.push_str(&node.name);
        out.push('>');
    }

    /// How many times a repeated node occurs: the longest list below it.
    fn occurrences(&self, layout: &XmlLayout, at: usize, record: &SystemRecord) -> usize {
        let node = &layout.nodes[at];
        let own = node.item.iter().chain(node.attributes.iter().map(|(_, i)| i)).map(|i| {
            match &record.values[*i] {
                Some(Value::List(l)) => l.len(),
                _ => 0,
            }
        });
        own.chain(node.children.iter().map(|c| self.occurrences(layout, *c, record))).max().unwrap_or(0)
    }

    fn has_values(
        &self,
        layout: &XmlLayout,
        at: usize,
        record: &SystemRecord,
        occurrence: Option<usize>,
    ) -> bool {
        let node = &layout.nodes[at];
        node.item.iter().chain(node.attributes.iter().map(|(_, i)| i)).any(|i| {
            match (&record.values[*i], occurrence) {
                (Some(Value::List(l)), Some(n)) => n < l.len(),
                (Some(Value::List(l)), None) => !l.is_empty(),
                (Some(_), _) => true,
                (None, _) => false,
            }
        }) || node.children.iter().any(|c| self.has_values(layout, *c, record, occurrence))
    }
}

fn escape(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{MappingSet, Report};

    /// A small XML layout: attributes, nested elements, a repeated element read as a list of
    /// subjects, and one joined into a text field.
    const LAYOUT: &str = r#"[mapping]
system = "online"
interface = "test"
version = "1"
title = "test layout"
effective_from = 2026-04-01
canonical = "application"
format = "xml"
charset = "utf-8"
record_path = "/List/App"

[[items]]
id = "X-1"
name = "手続"
key = "@proc"
type = "alnum"
length = 20
canonical = "procedure"
required = true

[[items]]
id = "X-2"
name = "申請者"
key = "Shinseisha/AtenaBango"
type = "digits"
length = 15
canonical = "applicant"
required = true

[[items]]
id = "X-3"
name = "氏名"
key = "Shinseisha/Shimei"
type = "text"
length = 10
canonical = "fields.claimant.name"

[[items]]
id = "X-4"
name = "子"
key = "Ko/AtenaBango"
type = "list"
length = 15
canonical = "subjects"

[[items]]
id = "X-5"
name = "子の氏名"
key = "Ko/Shimei"
type = "list"
length = 10
canonical = "fields.children.names"
separator = "、"

[[examples]]
name = "two children"
[examples.system]
"@proc" = "jidou.teate"
"Shinseisha/AtenaBango" = "0000000019"
"Ko/AtenaBango" = ["0000000027", "0000000035"]
"Ko/Shimei" = ["一郎", "花子"]
[examples.canonical]
procedure = "jidou.teate"
applicant = "0000000019"
subjects = ["0000000027", "0000000035"]
fields = { "children.names" = "一郎、花子" }
"#;

    fn load(text: &str) -> Result<MappingSet, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("systems/online/test@1.toml");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
        MappingSet::load_dir(dir.path()).map_err(|p| p.to_string())
    }

    /// A record tree as a reader would hand it over, positions by hand.
    #[derive(Debug, Clone)]
    struct El {
        name: &'static str,
        text: &'static str,
        attributes: Vec<(&'static str, &'static str)>,
        children: Vec<El>,
        at: (u64, u64),
    }

    fn el(name: &'static str, at: (u64, u64), text: &'static str, children: Vec<El>) -> El {
        El { name, text, attributes: Vec::new(), children, at }
    }

    impl XmlNode for &El {
        fn name(&self) -> &str {
            self.name
        }
        fn text(&self) -> &str {
            self.text
        }
        fn attributes(&self) -> impl Iterator<Item = (&str, &str)> {
            self.attributes.iter().map(|(k, v)| (*k, *v))
        }
        fn children(&self) -> impl Iterator<Item = Self> {
            self.children.iter()
        }
        fn position(&self) -> (u64, u64) {
            self.at
        }
    }

    fn record() -> El {
        let mut app = el(
            "App",
            (2, 3),
            "",
            vec![
                el(
                    "Shinseisha",
                    (3, 5),
                    "",
                    vec![
                        el("AtenaBango", (4, 7), "0000000019", vec![]),
                        el("Shimei", (5, 7), " 山田　太郎\n", vec![]),
                    ],
                ),
                el(
                    "Ko",
                    (7, 5),
                    "",
                    vec![
                        el("AtenaBango", (7, 9), "0000000027", vec![]),
                        el("Shimei", (7, 40), "一郎", vec![]),
                    ],
                ),
                el(
                    "Ko",
                    (8, 5),
                    "",
                    vec![
                        el("AtenaBango", (8, 9), "0000000035", vec![]),
                        el("Shimei", (8, 40), "花子", vec![]),
                    ],
                ),
            ],
        );
        app.attributes.push(("proc", "jidou.teate"));
        app.attributes.push(("xmlns", "urn:example"));
        app
    }

    fn decode(set: &MappingSet, record: &El) -> Result<(SystemRecord, ItemPositions), XmlRecordError> {
        let m = set.mapping_by_id("online/test@1").unwrap();
        let mut out = m.new_system();
        let mut positions = Vec::new();
        m.decode_xml(&record, &mut out, &mut positions).map(|()| (out, positions))
    }

    #[test]
    fn paths_attributes_and_repeated_elements_are_read_into_items() {
        let set = load(LAYOUT).unwrap();
        let m = set.mapping_by_id("online/test@1").unwrap();
        assert!(m.run_examples().iter().all(|r| r.failures.is_empty()), "{:?}", m.run_examples());
        assert_eq!(m.xml_layout().unwrap().record_path(), "/List/App");
        let (system, positions) = decode(&set, &record()).unwrap();
        let text = |s: &str| Some(Value::Text(s.into()));
        assert_eq!(system.get(0), text("jidou.teate").as_ref());
        assert_eq!(system.get(1), text("0000000019").as_ref());
        // XML white space around a value is layout; the ideographic space inside is not.
        assert_eq!(system.get(2), text("山田　太郎").as_ref());
        assert_eq!(system.get(3), Some(&Value::List(vec!["0000000027".into(), "0000000035".into()])));
        assert_eq!(positions[1], Some((4, 7)));
        assert_eq!(positions[4], Some((7, 40)), "a list item's position is its first element's");

        let mut canonical = m.new_canonical();
        m.to_canonical(&system, &mut canonical).unwrap();
        assert_eq!(canonical.get("fields.children.names"), Some(&Value::Text("一郎、花子".into())));
        let app = canonical.to_application(renkei_model::Provenance::Online).unwrap();
        assert_eq!(app.subjects.len(), 2);
        assert_eq!(app.fields["claimant.name"].value.as_str(), "山田　太郎");
    }

    #[test]
    fn what_the_mapping_does_not_name_is_refused_where_it_is() {
        let set = load(LAYOUT).unwrap();
        let cases: Vec<(El, (u64, u64), &str, &str)> = vec![
            {
                let mut r = record();
                r.children[0].children.push(el("Denwa", (6, 7), "045", vec![]));
                (r, (6, 7), "App/Shinseisha/Denwa", "unknown element")
            },
            {
                let mut r = record();
                r.children[1].attributes.push(("order", "1"));
                (r, (7, 5), "App/Ko/@order", "unknown attribute")
            },
            {
                let mut r = record();
                r.children.push(el("Shinseisha", (9, 5), "", vec![]));
                (r, (9, 5), "App/Shinseisha", "occurs more than once")
            },
            {
                let mut r = record();
                r.children[0].text = "stray";
                (r, (3, 5), "App/Shinseisha", "has text")
            },
            {
                let mut r = record();
                r.name = "Other";
                (r, (2, 3), "(record)", "the mapping's records are <App>")
            },
        ];
        for (record, at, item, rule) in cases {
            let e = decode(&set, &record).unwrap_err();
            assert_eq!((e.line, e.column), at, "{e}");
            assert_eq!(e.error.item, item, "{e}");
            assert!(e.error.rule.contains(rule), "{e}");
        }
    }

    #[test]
    fn a_record_is_written_back_as_the_layout_says() {
        let set = load(LAYOUT).unwrap();
        let m = set.mapping_by_id("online/test@1").unwrap();
        let (system, _) = decode(&set, &record()).unwrap();
        let mut canonical = m.new_canonical();
        m.to_canonical(&system, &mut canonical).unwrap();
        let mut out = m.new_system();
        m.to_system(&canonical, &mut out, &mut Report::default()).unwrap();
        let mut bytes = Vec::new();
        m.encode(&out, &mut bytes).unwrap();
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            "<App proc=\"jidou.teate\"><Shinseisha><AtenaBango>0000000019</AtenaBango><Shimei>山田　太郎</Shimei></Shinseisha>\
             <Ko><AtenaBango>0000000027</AtenaBango><Shimei>一郎</Shimei></Ko>\
             <Ko><AtenaBango>0000000035</AtenaBango><Shimei>花子</Shimei></Ko></App>"
        );
    }

    #[test]
    fn xml_layouts_are_checked_with_file_and_line() {
        let line = |text: &str, needle: &str| text.lines().position(|l| l.contains(needle)).unwrap() + 1;
        // (from, to, the line the problem is on, message)
        let cases = [
            ("record_path = \"/List/App\"\n", "", "[mapping]", "an XML layout names its record element"),
            (
                "record_path = \"/List/App\"",
                "record_path = \"List\"",
                "record_path",
                "element names from the root",
            ),
            (
                "key = \"Shinseisha/Shimei\"",
                "key = \"Shinseisha//Shimei\"",
                "X-3",
                "element names joined by '/'",
            ),
            (
                "key = \"Shinseisha/Shimei\"",
                "key = \"Ko/AtenaBango/@x\"",
                "X-4",
                "every item at or below App/Ko/AtenaBango must be a list",
            ),
            (
                "key = \"Shinseisha/Shimei\"",
                "key = \"Shinseisha/AtenaBango\"",
                "X-3",
                "is used by another item",
            ),
        ];
        for (from, to, anchor, message) in cases {
            let text = LAYOUT.replacen(from, to, 1);
            let problems = load(&text).unwrap_err();
            assert!(problems.contains(message), "{from} → {to}: {problems}");
            // An item's problem is reported at the line its [[items]] table starts.
            let at = line(&text, anchor) - usize::from(anchor.starts_with("X-"));
            let expected = format!("systems/online/test@1.toml:{at}:");
            assert!(problems.starts_with(&expected), "{from} → {to}: {problems}");
        }
        let csv = LAYOUT
            .replace("format = \"xml\"", "format = \"csv\"")
            .replace("record_path = \"/List/App\"\n", "");
        assert!(load(&csv).unwrap_err().contains("list items exist only in JSON and XML layouts"));
    }
}
