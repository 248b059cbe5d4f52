//! Where things go on the page: the guide, the form and the receipt.

use crate::writer::{A4, Doc};
use crate::{DocumentError, FilledForm, Font, Guide, Receipt, Rendered};

const MARGIN: f32 = 48.0;
const CODE_SIZE: f32 = 84.0;

/// Writes lines top-down, starting a new page when the bottom margin is reached.
struct Cursor<'d, 'f> {
    doc: &'d mut Doc<'f>,
    y: f32,
}

impl Cursor<'_, '_> {
    fn room(&mut self, height: f32) {
        if self.y - height < MARGIN {
            self.doc.new_page();
            self.y = self.doc.page_size().1 - MARGIN;
        }
    }

    /// `text` at `size`, indented by `indent`, wrapped to the page width.
    fn para(&mut self, indent: f32, size: f32, text: &str) {
        let width = self.doc.page_size().0 - 2.0 * MARGIN - indent;
        for line in self.doc.wrap(text, size, width) {
            self.room(size * 1.5);
            self.y -= size * 1.5;
            self.doc.text(MARGIN + indent, self.y, size, &line);
        }
    }

    fn gap(&mut self, points: f32) {
        self.y -= points;
    }

    fn rule(&mut self) {
        self.room(6.0);
        self.y -= 6.0;
        let right = self.doc.page_size().0 - MARGIN;
        self.doc.line(MARGIN, self.y, right, self.y, 0.5);
    }
}

/// The guide: heading, who and what, then each procedure with where, why and what to bring.
pub fn render_guide(font: &Font, guide: &Guide) -> Result<Rendered, DocumentError> {
    let mut doc = Doc::new(font, A4)?;
    let (w, h) = A4;
    if let Some(payload) = &guide.receipt {
        doc.qr(w - MARGIN - CODE_SIZE, h - MARGIN - CODE_SIZE, CODE_SIZE, payload)?;
    }
    let mut c = Cursor { doc: &mut doc, y: h - MARGIN };
    c.para(0.0, 20.0, "手続案内書");
    c.gap(4.0);
    c.para(0.0, 11.0, &format!("{}　{}", guide.municipality, guide.date));
    c.para(0.0, 14.0, &format!("{}　様", guide.resident_name));
    c.para(0.0, 11.0, &format!("届出：{}", guide.event));
    c.para(0.0, 9.0, "次の順に手続をしてください。窓口でこの案内書を見せてください。");
    if c.y > h - MARGIN - CODE_SIZE - 8.0 {
        c.y = h - MARGIN - CODE_SIZE - 8.0;
    }
    for (i, item) in guide.items.iter().enumerate() {
        c.rule();
        c.room(60.0);
        c.para(0.0, 13.0, &format!("{}．{}", i + 1, item.name));
        c.para(14.0, 10.0, &format!("窓口：{}", item.window));
        c.para(14.0, 10.0, &format!("取扱い：{}", item.handling));
        c.para(14.0, 10.0, &format!("理由：{}", item.reason));
        if !item.summary.is_empty() {
            c.para(14.0, 9.0, &item.summary);
        }
        if !item.documents.is_empty() {
            c.para(14.0, 10.0, "お持ちいただくもの：");
            for d in &item.documents {
                c.para(28.0, 10.0, &format!("・{d}"));
            }
        }
    }
    c.rule();
    doc.finish("手続案内書")
}

/// A form: title, then one ruled row per field with its label, value and where the value came
/// from; required fields are marked ※; a line to sign at the end.
pub fn render_form(font: &Font, form: &FilledForm) -> Result<Rendered, DocumentError> {
    let mut doc = Doc::new(font, A4)?;
    let (w, h) = A4;
    if let Some(payload) = &form.receipt {
        doc.qr(w - MARGIN - CODE_SIZE, h - MARGIN - CODE_SIZE, CODE_SIZE, payload)?;
    }
    let mut c = Cursor { doc: &mut doc, y: h - MARGIN };
    c.para(0.0, 16.0, &form.title);
    c.para(0.0, 10.0, &format!("{}　{}", form.department, form.date));
    c.para(0.0, 8.0, "※は必ず記入する欄です。［ ］内は記入済みの内容の出典です。");
    if c.y > h - MARGIN - CODE_SIZE - 8.0 {
        c.y = h - MARGIN - CODE_SIZE - 8.0;
    }
    let label_width = 170.0;
    for line in &form.lines {
        c.rule();
        let label = format!("{}{}", if line.required { "※" } else { "　" }, line.label);
        let label_lines = c.doc.wrap(&label, 9.0, label_width - 6.0);
        let value_width = w - 2.0 * MARGIN - label_width;
        let mut value = line.value.clone();
        if !line.source.is_empty() {
            value.push_str(&format!("　［{}］", line.source));
        }
        let value_lines = c.doc.wrap(&value, 11.0, value_width);
        let rows = label_lines.len().max(value_lines.len()).max(1) as f32;
        c.room(rows * 16.0 + 4.0);
        let mut y = c.y;
        for (i, l) in label_lines.iter().enumerate() {
            c.doc.text(MARGIN, y - 14.0 - i as f32 * 16.0, 9.0, l);
        }
        for (i, l) in value_lines.iter().enumerate() {
            c.doc.text(MARGIN + label_width, y - 14.0 - i as f32 * 16.0, 11.0, l);
        }
        y -= rows * 16.0 + 4.0;
        c.y = y;
    }
    c.rule();
    c.gap(24.0);
    c.para(0.0, 11.0, &format!("上記のとおり申請します。　{}", form.date));
    c.gap(18.0);
    c.para(200.0, 11.0, "申請者 署名　＿＿＿＿＿＿＿＿＿＿＿＿＿＿");
    doc.finish(&form.title)
}

/// The receipt: 80 mm wide, as receipt printers print it.
pub fn render_receipt(font: &Font, receipt: &Receipt) -> Result<Rendered, DocumentError> {
    let width = 226.0;
    let height = 200.0 + 14.0 * receipt.procedures.len() as f32;
    let mut doc = Doc::new(font, (width, height))?;
    let margin = 14.0;
    let mut y = height - margin - 16.0;
    doc.text(margin, y, 14.0, "受付票");
    y -= 22.0;
    doc.text(margin, y, 20.0, &receipt.number);
    y -= 16.0;
    doc.text(margin, y, 9.0, &receipt.issued_at);
    for p in &receipt.procedures {
        y -= 14.0;
        doc.text(margin, y, 9.0, &format!("・{p}"));
    }
    doc.qr(width - margin - 100.0, margin, 100.0, &receipt.payload)?;
    doc.finish("受付票")
}
