//! What a revision of a mapping changes: header fields, and items added, removed or changed
//! (matched by key).

use crate::item::Item;
use crate::mapping::Mapping;

/// One difference between two mappings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Difference {
    /// A header field (`effective_from`, `charset` …) changed.
    Header {
        field: &'static str,
        old: String,
        new: String,
    },
    Added {
        item: String,
    },
    Removed {
        item: String,
    },
    /// Item `item` changed in `field`.
    Changed {
        item: String,
        field: &'static str,
        old: String,
        new: String,
    },
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Difference::Header { field, old, new } => write!(f, "~ {field}: {old} → {new}"),
            Difference::Added { item } => write!(f, "+ {item}"),
            Difference::Removed { item } => write!(f, "- {item}"),
            Difference::Changed { item, field, old, new } => write!(f, "~ {item}: {field}: {old} → {new}"),
        }
    }
}

fn describe(i: &Item) -> String {
    format!("{} [{} {}] {}", i.label(), i.ty.as_str(), i.length, i.rule)
}

/// The differences from `old` to `new`, header first, then items in `new`'s order, then items
/// `new` no longer has.
pub fn diff(old: &Mapping, new: &Mapping) -> Vec<Difference> {
    let mut out = Vec::new();
    let header = |m: &Mapping| {
        [
            ("id", m.id.to_string()),
            ("title", m.title.clone()),
            ("effective_from", m.effective_from.to_string()),
            ("canonical", m.kind.as_str().to_owned()),
            ("format", m.format.as_str().to_owned()),
            ("charset", m.charset.as_str().to_owned()),
            ("record_length", m.record_length().map_or_else(|| "-".to_owned(), |l| l.to_string())),
        ]
    };
    for ((field, a), (_, b)) in header(old).into_iter().zip(header(new)) {
        if a != b {
            out.push(Difference::Header { field, old: a, new: b });
        }
    }
    for (position, item) in new.items.iter().enumerate() {
        let Some(before) = old.items.iter().position(|o| o.key == item.key) else {
            out.push(Difference::Added { item: describe(item) });
            continue;
        };
        let was = &old.items[before];
        let fields: [(&'static str, String, String); 8] = [
            ("id", was.id.clone(), item.id.clone()),
            ("name", was.name.clone(), item.name.clone()),
            ("type", was.ty.as_str().to_owned(), item.ty.as_str().to_owned()),
            ("length", was.length.to_string(), item.length.to_string()),
            ("rule", was.rule.clone(), item.rule.clone()),
            ("required", was.required.to_string(), item.required.to_string()),
            ("offset", was.offset.to_string(), item.offset.to_string()),
            ("position", (before + 1).to_string(), (position + 1).to_string()),
        ];
        for (field, a, b) in fields {
            // Offsets move with any change before them in a fixed layout; only report them there.
            if a != b && (field != "offset" || new.record_length().is_some()) {
                out.push(Difference::Changed { item: item.label(), field, old: a, new: b });
            }
        }
    }
    for item in &old.items {
        if !new.items.iter().any(|n| n.key == item.key) {
            out.push(Difference::Removed { item: describe(item) });
        }
    }
    out
}
