//! The documents renkei prints, as PDF: the procedure guide (手続案内書), filled application
//! forms (申請書) and the reception receipt (受付票) with its 2D code.
//!
//! Text is set in IPAmj明朝 so MJ characters and ideographic variation sequences print with the
//! right glyph (the font's cmap format 14 table), and extract back exactly (each glyph's text,
//! selector included, is in the ToUnicode map).
//!
//! ```no_run
//! use renkei_documents::{Font, Guide, GuideItem, render_guide};
//!
//! let font = Font::load(Font::DEFAULT_PATH.as_ref()).unwrap();
//! let guide = Guide {
//!     municipality: "横浜市中区".into(),
//!     resident_name: "葛\u{E0100}西\u{3000}太郎".into(),
//!     event: "転入".into(),
//!     date: "令和8年6月1日".into(),
//!     items: vec![GuideItem {
//!         name: "住民異動届".into(),
//!         window: "区役所1階 市民課 総合窓口".into(),
//!         handling: "総合窓口で受付・担当課で処理".into(),
//!         reason: "転入 → 住民異動届".into(),
//!         summary: String::new(),
//!         documents: vec!["本人確認書類".into()],
//!     }],
//!     receipt: Some("RENKEI|session=…".into()),
//! };
//! let pdf = render_guide(&font, &guide).unwrap().pdf;
//! ```

mod layout;
mod writer;

use std::path::Path;
use std::sync::Arc;

pub use layout::{render_form, render_guide, render_receipt};
pub use writer::clusters;

/// A font file read into memory once and shared by every document.
#[derive(Clone)]
pub struct Font {
    data: Arc<Vec<u8>>,
}

impl std::fmt::Debug for Font {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Font({} bytes)", self.data.len())
    }
}

impl Font {
    /// Where Debian's `fonts-ipamj-mincho` puts IPAmj明朝.
    pub const DEFAULT_PATH: &'static str = "/usr/share/fonts/truetype/ipamj/ipamjm.ttf";

    /// Read and check a TrueType/OpenType font file.
    pub fn load(path: &Path) -> Result<Font, DocumentError> {
        let data = std::fs::read(path).map_err(|e| {
            DocumentError::Font(format!(
                "{}: {e} (IPAmj明朝 comes with the Debian package fonts-ipamj-mincho)",
                path.display()
            ))
        })?;
        ttf_parser::Face::parse(&data, 0)
            .map_err(|e| DocumentError::Font(format!("{}: {e}", path.display())))?;
        Ok(Font { data: Arc::new(data) })
    }

    pub(crate) fn data(&self) -> &[u8] {
        &self.data
    }

    /// Whether the font draws `cluster` (a character, with its variation selector if any) with a
    /// glyph of its own, through the variation table when there is a selector.
    pub fn has_glyph(&self, cluster: &str) -> bool {
        let Ok(face) = ttf_parser::Face::parse(&self.data, 0) else {
            return false;
        };
        let mut chars = cluster.chars();
        match (chars.next(), chars.next()) {
            (Some(base), Some(vs)) => face.glyph_variation_index(base, vs).is_some(),
            (Some(base), None) => face.glyph_index(base).is_some(),
            _ => false,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    #[error("font: {0}")]
    Font(String),
    #[error("2D code: {0}")]
    Code(String),
}

/// A rendered document.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub pdf: Vec<u8>,
    /// Characters the font has no glyph for; drawn blank, still extracted as their code point.
    pub missing_glyphs: Vec<char>,
    /// Variation sequences (base + selector) the font's variation table does not list — e.g.
    /// Adobe-Japan1 sequences, where IPAmj明朝 carries the Moji_Joho collection: drawn with the
    /// base character's glyph, still extracted with their selector.
    pub plain_variants: Vec<String>,
}

/// The procedure guide (手続案内書) of one visit.
#[derive(Debug, Clone, Default)]
pub struct Guide {
    /// Printed in the heading (`横浜市中区`).
    pub municipality: String,
    /// As the resident record writes it.
    pub resident_name: String,
    /// The life event (`転入`).
    pub event: String,
    /// The day of the visit, as printed (`令和8年6月1日`).
    pub date: String,
    /// In the order the resident goes through them.
    pub items: Vec<GuideItem>,
    /// The reception 2D code's payload, printed at the top right.
    pub receipt: Option<String>,
}

/// One procedure in the guide.
#[derive(Debug, Clone, Default)]
pub struct GuideItem {
    pub name: String,
    /// Where to go.
    pub window: String,
    /// How it is handled (the pattern, in words).
    pub handling: String,
    pub reason: String,
    pub summary: String,
    pub documents: Vec<String>,
}

/// A filled application form.
#[derive(Debug, Clone, Default)]
pub struct FilledForm {
    /// The procedure's name (the form's title).
    pub title: String,
    pub department: String,
    pub date: String,
    pub lines: Vec<FormLine>,
    /// The reception 2D code's payload, printed at the top right.
    pub receipt: Option<String>,
}

/// One line of a form.
#[derive(Debug, Clone, Default)]
pub struct FormLine {
    pub label: String,
    /// Empty when still to be written.
    pub value: String,
    pub required: bool,
    /// Where the value came from, printed small beside it (`住民記録`, `カード`).
    pub source: String,
}

/// The reception receipt (受付票): a number to be called by, and the 2D code the next window reads.
#[derive(Debug, Clone, Default)]
pub struct Receipt {
    pub number: String,
    pub issued_at: String,
    pub procedures: Vec<String>,
    pub payload: String,
}

#[cfg(test)]
mod tests;
