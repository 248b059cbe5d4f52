//! A small PDF writer for text-and-rules documents: one embedded CID font (a subset of the
//! font file), glyphs chosen per character cluster (base + variation selector), a ToUnicode map
//! that gives back each cluster's exact text, and filled squares for 2D codes.

use std::collections::HashMap;

use pdf_writer::types::{CidFontType, FontFlags, SystemInfo, UnicodeCmap};
use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str};

use crate::{DocumentError, Font, Rendered};

pub(crate) const A4: (f32, f32) = (595.0, 842.0);
const FONT_NAME: &[u8] = b"F1";
const SYSTEM_INFO: SystemInfo =
    SystemInfo { registry: Str(b"Adobe"), ordering: Str(b"Identity"), supplement: 0 };

/// Standardized (U+FE00–FE0F) and ideographic (U+E0100–E01EF) variation selectors.
fn is_selector(c: char) -> bool {
    matches!(c, '\u{FE00}'..='\u{FE0F}' | '\u{E0100}'..='\u{E01EF}')
}

/// `text` split into what is drawn as one glyph: a character with the selector that follows it.
pub fn clusters(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        if is_selector(c) {
            continue;
        }
        if let Some(s) = start {
            out.push(&text[s..i]);
        }
        start = Some(i);
    }
    if let Some(s) = start {
        out.push(&text[s..]);
    }
    out
}

/// One glyph as used in the document: its id in the font file and its width (1/1000 em).
#[derive(Debug, Clone, Copy)]
struct Glyph {
    cid: u16,
    width: f32,
}

/// Pages being written, and every glyph they use.
pub(crate) struct Doc<'f> {
    font: &'f Font,
    face: ttf_parser::Face<'f>,
    page_size: (f32, f32),
    pages: Vec<Content>,
    /// By cluster text; CIDs count from 1 in order of first use (0 stays .notdef).
    glyphs: HashMap<String, Glyph>,
    /// Per CID: the font's glyph id, the cluster's text and the glyph's width.
    cids: Vec<(u16, String, f32)>,
    missing: Vec<char>,
    plain_variants: Vec<String>,
}

impl std::fmt::Debug for Doc<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Doc").field("pages", &self.pages.len()).field("glyphs", &self.cids.len()).finish()
    }
}

impl<'f> Doc<'f> {
    pub(crate) fn new(font: &'f Font, page_size: (f32, f32)) -> Result<Doc<'f>, DocumentError> {
        let face = ttf_parser::Face::parse(font.data(), 0).map_err(|e| DocumentError::Font(e.to_string()))?;
        Ok(Doc {
            font,
            face,
            page_size,
            pages: vec![Content::new()],
            glyphs: HashMap::new(),
            cids: vec![(0, String::new(), 1000.0)],
            missing: Vec::new(),
            plain_variants: Vec::new(),
        })
    }

    pub(crate) fn page_size(&self) -> (f32, f32) {
        self.page_size
    }

    pub(crate) fn new_page(&mut self) {
        self.pages.push(Content::new());
    }

    fn page(&mut self) -> &mut Content {
        self.pages.last_mut().expect("a document has a page")
    }

    fn glyph(&mut self, cluster: &str) -> Glyph {
        if let Some(g) = self.glyphs.get(cluster) {
            return *g;
        }
        let mut chars = cluster.chars();
        let base = chars.next().expect("clusters are not empty");
        let selector = chars.next();
        let variant = selector.and_then(|vs| self.face.glyph_variation_index(base, vs));
        if selector.is_some() && variant.is_none() && !self.plain_variants.iter().any(|v| v == cluster) {
            self.plain_variants.push(cluster.to_owned());
        }
        let id = variant.or_else(|| self.face.glyph_index(base));
        let id = match id {
            Some(id) => id,
            None => {
                if !self.missing.contains(&base) {
                    self.missing.push(base);
                }
                ttf_parser::GlyphId(0)
            }
        };
        let units = f32::from(self.face.units_per_em());
        let width = self.face.glyph_hor_advance(id).map_or(1000.0, |a| f32::from(a) * 1000.0 / units);
        let cid = u16::try_from(self.cids.len()).unwrap_or(u16::MAX);
        self.cids.push((id.0, cluster.to_owned(), width));
        let glyph = Glyph { cid, width };
        self.glyphs.insert(cluster.to_owned(), glyph);
        glyph
    }

    /// `text` broken into lines no wider than `width` (Japanese breaks between any two
    /// characters; a line never starts with a selector, which stays with its base).
    pub(crate) fn wrap(&mut self, text: &str, size: f32, width: f32) -> Vec<String> {
        let mut lines = Vec::new();
        let mut line = String::new();
        let mut used = 0.0;
        for cluster in clusters(text) {
            let w = self.glyph(cluster).width * size / 1000.0;
            if used + w > width && !line.is_empty() {
                lines.push(std::mem::take(&mut line));
                used = 0.0;
            }
            line.push_str(cluster);
            used += w;
        }
        if !line.is_empty() || lines.is_empty() {
            lines.push(line);
        }
        lines
    }

    /// Draw `text` with its baseline starting at (`x`, `y`), in points from the bottom left.
    pub(crate) fn text(&mut self, x: f32, y: f32, size: f32, text: &str) {
        let mut codes = Vec::with_capacity(text.len());
        for cluster in clusters(text) {
            codes.extend_from_slice(&self.glyph(cluster).cid.to_be_bytes());
        }
        let page = self.page();
        page.begin_text();
        page.set_font(Name(FONT_NAME), size);
        page.set_text_matrix([1.0, 0.0, 0.0, 1.0, x, y]);
        page.show(Str(&codes));
        page.end_text();
    }

    /// A rule from (x1, y1) to (x2, y2).
    pub(crate) fn line(&mut self, x1: f32, y1: f32, x2: f32, y2: f32, width: f32) {
        let page = self.page();
        page.set_line_width(width);
        page.move_to(x1, y1);
        page.line_to(x2, y2);
        page.stroke();
    }

    /// A 2D code (QR) with its bottom left at (x, y), `size` points square.
    pub(crate) fn qr(&mut self, x: f32, y: f32, size: f32, payload: &str) -> Result<(), DocumentError> {
        let code = qrcode::QrCode::with_error_correction_level(payload.as_bytes(), qrcode::EcLevel::M)
            .map_err(|e| DocumentError::Code(e.to_string()))?;
        let n = code.width();
        // Four modules of quiet zone on each side, as readers expect.
        let module = size / (n + 8) as f32;
        let colors = code.to_colors();
        let page = self.page();
        page.set_fill_gray(0.0);
        for (i, color) in colors.iter().enumerate() {
            if *color == qrcode::Color::Dark {
                let (col, row) = ((i % n) as f32, (i / n) as f32);
                page.rect(x + (col + 4.0) * module, y + size - (row + 5.0) * module, module, module);
            }
        }
        page.fill_nonzero();
        Ok(())
    }

    /// The PDF: pages, the subset font, its CID → glyph map and the ToUnicode map.
    pub(crate) fn finish(self, title: &str) -> Result<Rendered, DocumentError> {
        let mut remapper = subsetter::GlyphRemapper::new();
        let new_ids: Vec<u16> = self.cids.iter().map(|(gid, _, _)| remapper.remap(*gid)).collect();
        let subset = subsetter::subset(self.font.data(), 0, &remapper)
            .map_err(|e| DocumentError::Font(e.to_string()))?;

        let mut pdf = Pdf::new();
        let mut next = 1;
        let mut alloc = || {
            let r = Ref::new(next);
            next += 1;
            r
        };
        let (catalog, tree, info) = (alloc(), alloc(), alloc());
        let (type0, cid_font, descriptor, file, cid_map, to_unicode) =
            (alloc(), alloc(), alloc(), alloc(), alloc(), alloc());
        let page_refs: Vec<(Ref, Ref)> = self.pages.iter().map(|_| (alloc(), alloc())).collect();

        pdf.catalog(catalog).pages(tree);
        pdf.document_info(info).title(pdf_writer::TextStr(title)).producer(pdf_writer::TextStr("renkei"));
        pdf.pages(tree).kids(page_refs.iter().map(|(p, _)| *p)).count(page_refs.len() as i32);
        let (w, h) = self.page_size;
        for (content, (page_ref, content_ref)) in self.pages.into_iter().zip(&page_refs) {
            let mut page = pdf.page(*page_ref);
            page.media_box(Rect::new(0.0, 0.0, w, h));
            page.parent(tree);
            page.contents(*content_ref);
            page.resources().fonts().pair(Name(FONT_NAME), type0);
            page.finish();
            pdf.stream(*content_ref, &content.finish());
        }

        let base_font = Name(b"RNKEIA+IPAmjMincho");
        pdf.type0_font(type0)
            .base_font(base_font)
            .encoding_predefined(Name(b"Identity-H"))
            .descendant_font(cid_font)
            .to_unicode(to_unicode);
        let widths: Vec<f32> = self.cids.iter().map(|(_, _, w)| *w).collect();
        let mut cid = pdf.cid_font(cid_font);
        cid.subtype(CidFontType::Type2)
            .base_font(base_font)
            .system_info(SYSTEM_INFO)
            .font_descriptor(descriptor)
            .default_width(1000.0)
            .cid_to_gid_map_stream(cid_map);
        cid.widths().consecutive(0, widths);
        cid.finish();

        let units = f32::from(self.face.units_per_em());
        let scale = |v: i16| f32::from(v) * 1000.0 / units;
        let bbox = self.face.global_bounding_box();
        pdf.font_descriptor(descriptor)
            .name(base_font)
            .flags(FontFlags::SERIF | FontFlags::SYMBOLIC)
            .bbox(Rect::new(scale(bbox.x_min), scale(bbox.y_min), scale(bbox.x_max), scale(bbox.y_max)))
            .italic_angle(0.0)
            .ascent(scale(self.face.ascender()))
            .descent(scale(self.face.descender()))
            .cap_height(scale(self.face.capital_height().unwrap_or(self.face.ascender())))
            .stem_v(80.0)
            .font_file2(file);
        pdf.stream(file, &subset).pair(Name(b"Length1"), subset.len() as i32);

        let map: Vec<u8> = new_ids.iter().flat_map(|g| g.to_be_bytes()).collect();
        pdf.stream(cid_map, &map);

        let mut cmap = UnicodeCmap::new(Name(b"Renkei-UTF16"), SYSTEM_INFO);
        for (cid, (_, text, _)) in self.cids.iter().enumerate().skip(1) {
            cmap.pair_with_multiple(cid as u16, text.chars());
        }
        pdf.stream(to_unicode, &cmap.finish());
        Ok(Rendered { pdf: pdf.finish(), missing_glyphs: self.missing, plain_variants: self.plain_variants })
    }
}
