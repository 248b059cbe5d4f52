//! How a mapping's records are laid out: a JSON object's key tree, fixed-length offsets, CSV
//! columns or an XML element tree. Reading and writing records by the layout is in
//! `crate::codec` and `crate::xml_codec`.

use crate::item::Item;
use crate::xml::XmlLayout;

/// A JSON object's keys, in the layout's order, each to an item or a nested object.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    Item(usize),
    Object(Vec<(String, Node)>),
}

#[derive(Debug)]
pub(crate) enum Layout {
    Json(Vec<(String, Node)>),
    /// Offsets are in [`Item::offset`].
    Fixed,
    Csv,
    Xml(XmlLayout),
}

impl Layout {
    pub(crate) fn json(items: &[Item]) -> Result<Layout, (usize, String)> {
        let mut root: Vec<(String, Node)> = Vec::new();
        for (index, item) in items.iter().enumerate() {
            let segs: Vec<&str> = item.key.split('.').collect();
            let mut level = &mut root;
            for (depth, seg) in segs.iter().enumerate() {
                let last = depth + 1 == segs.len();
                let pos = match level.iter().position(|(k, _)| k == seg) {
                    Some(pos) => pos,
                    None => {
                        let node = if last { Node::Item(index) } else { Node::Object(Vec::new()) };
                        level.push(((*seg).to_owned(), node));
                        if last {
                            break;
                        }
                        level.len() - 1
                    }
                };
                match &mut level[pos].1 {
                    Node::Object(children) if !last => level = children,
                    _ => return Err((index, format!("key {:?} clashes with another item's key", item.key))),
                }
            }
        }
        Ok(Layout::Json(root))
    }
}
