//! XML layouts: a record is one element at the mapping's `record_path`, and each item is an
//! element path below it (`Shinseisha/Shimei/Sei`), an attribute (`@kubun`, `Jusho/@code`), or —
//! for a `list` item — every occurrence of a repeated element (`Taishosha/AtenaNo`).
//!
//! The element tree a mapping accepts is worked out once, when the mapping is compiled: a node
//! per element path, with its children, its attributes and the item it holds. Reading a record
//! walks the record's elements alongside that tree, so anything the mapping does not name — an
//! element, an attribute, text where no item is, a second occurrence of an element that holds
//! one value — is refused with its line and column.
//!
//! The streaming reader itself (quick-xml, Shift_JIS, size limits) is the XML transport's
//! (`renkei_adapter_core::xml`); it hands each record over as a tree that implements
//! [`XmlNode`].

use crate::item::{ApplyError, Item};
use crate::spec::ItemType;

/// An element of a record as an XML reader hands it over.
pub trait XmlNode: Sized {
    fn name(&self) -> &str;
    /// The element's own text (empty for an element with children only).
    fn text(&self) -> &str;
    fn attributes(&self) -> impl Iterator<Item = (&str, &str)>;
    fn children(&self) -> impl Iterator<Item = Self>;
    /// Where the element starts: 1-based line and column.
    fn position(&self) -> (u64, u64);
}

/// A record that does not fit the mapping's element tree, with where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{line}:{column}: {error}")]
pub struct XmlRecordError {
    pub line: u64,
    pub column: u64,
    pub error: ApplyError,
}

/// Per item of a mapping, where its first value was in the record (line, column).
pub type ItemPositions = Vec<Option<(u64, u64)>>;

/// One element path of the layout.
#[derive(Debug)]
pub(crate) struct Node {
    pub(crate) name: String,
    /// `Shinsei/Shinseisha/Shimei`: how messages name it.
    pub(crate) path: String,
    pub(crate) children: Vec<usize>,
    pub(crate) attributes: Vec<(String, usize)>,
    pub(crate) item: Option<usize>,
    /// Every item at or below the node is a list: the element may occur any number of times.
    pub(crate) repeats: bool,
}

/// The element tree of an XML mapping. Node 0 is the record element.
#[derive(Debug)]
pub struct XmlLayout {
    pub(crate) record_path: String,
    pub(crate) nodes: Vec<Node>,
}

/// Whether `s` can be an XML element or attribute name (without a namespace prefix check:
/// `ns:Name` is one name to the layout).
fn is_xml_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ':'))
}

impl XmlLayout {
    /// The layout of `items` under the record element at `record_path` (`/Root/Record`).
    /// Errors are (item index or none for the record path, message).
    pub(crate) fn new(record_path: &str, items: &[Item]) -> Result<XmlLayout, (Option<usize>, String)> {
        let steps: Vec<&str> = record_path.split('/').filter(|s| !s.is_empty()).collect();
        if !record_path.starts_with('/') || steps.is_empty() || !steps.iter().all(|s| is_xml_name(s)) {
            return Err((
                None,
                format!("record_path {record_path:?}: element names from the root, as /Root/Record"),
            ));
        }
        let record = steps[steps.len() - 1];
        let mut nodes = vec![Node {
            name: record.to_owned(),
            path: record.to_owned(),
            children: Vec::new(),
            attributes: Vec::new(),
            item: None,
            repeats: false,
        }];
        for (index, item) in items.iter().enumerate() {
            let bad = |why: &str| Err((Some(index), format!("key {:?}: {why}", item.key)));
            let segs: Vec<&str> = item.key.split('/').collect();
            let (elements, attribute) = match segs.split_last() {
                Some((last, rest)) if last.starts_with('@') => (rest, Some(&last[1..])),
                _ => (&segs[..], None),
            };
            if elements.iter().chain(&attribute).any(|s| !is_xml_name(s)) {
                return bad("element names joined by '/', optionally ending in @attribute");
            }
            let mut at = 0;
            for name in elements {
                at = match nodes[at].children.iter().find(|c| nodes[**c].name == *name) {
                    Some(child) => *child,
                    None => {
                        let path = format!("{}/{name}", nodes[at].path);
                        nodes.push(Node {
                            name: (*name).to_owned(),
                            path,
                            children: Vec::new(),
                            attributes: Vec::new(),
                            item: None,
                            repeats: false,
                        });
                        let id = nodes.len() - 1;
                        nodes[at].children.push(id);
                        id
                    }
                };
            }
            let node = &mut nodes[at];
            match attribute {
                Some(a) if node.attributes.iter().any(|(n, _)| n == a) => {
                    return bad("another item reads this attribute");
                }
                Some(a) => node.attributes.push((a.to_owned(), index)),
                None if at == 0 => return bad("names the record element itself; name an element below it"),
                None if node.item.is_some() => return bad("another item reads this element"),
                None => node.item = Some(index),
            }
        }
        // A node repeats when everything read at or below it is a list.
        fn all_lists(nodes: &[Node], items: &[Item], at: usize) -> bool {
            let node = &nodes[at];
            node.item
                .iter()
                .chain(node.attributes.iter().map(|(_, i)| i))
                .all(|i| items[*i].ty == ItemType::List)
                && node.children.iter().all(|c| all_lists(nodes, items, *c))
        }
        for at in 1..nodes.len() {
            nodes[at].repeats = all_lists(&nodes, items, at);
        }
        for node in &nodes[1..] {
            let read = node.item.iter().chain(node.attributes.iter().map(|(_, i)| i));
            if let Some(index) =
                read.copied().find(|i| items[*i].ty == ItemType::List).filter(|_| !node.repeats)
            {
                return Err((
                    Some(index),
                    format!(
                        "key {:?}: a list item's element repeats, so every item at or below {} must be a list",
                        items[index].key, node.path
                    ),
                ));
            }
        }
        Ok(XmlLayout { record_path: record_path.to_owned(), nodes })
    }

    /// The record element's path from the root (`/ShinseiData/Shinsei`).
    pub fn record_path(&self) -> &str {
        &self.record_path
    }
}
