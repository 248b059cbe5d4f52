//! PDF output checked with poppler: `pdftotext` must give back the exact text, selectors
//! included, and `pdftoppm` must draw a page with ink on it and a 2D code that decodes.

use std::path::Path;
use std::process::Command;

use super::*;

/// 葛 with the ideographic variation selector U+E0102 (a sequence of the Moji_Joho collection,
/// which IPAmj明朝 draws with a glyph of its own), as the resident record writes the name.
const IVS_NAME: &str = "葛\u{E0102}西\u{3000}太郎";
/// How `pdftotext` gives the name back: poppler turns the blank ideographic space between family
/// and given name into an ASCII space; every other code point, the selector included, is exact.
const IVS_NAME_EXTRACTED: &str = "葛\u{E0102}西 太郎";

fn font() -> Font {
    Font::load(Font::DEFAULT_PATH.as_ref()).unwrap_or_else(|e| {
        panic!("{e}: install it (apt-get install fonts-ipamj-mincho; .ci/run does) to run the PDF tests")
    })
}

fn tool(name: &str) -> Command {
    let probe = Command::new(name).arg("-v").output();
    assert!(probe.is_ok(), "{name} is missing: install poppler-utils (.ci/run does) to run the PDF tests");
    Command::new(name)
}

fn pdftotext(pdf: &Path) -> String {
    let out = tool("pdftotext").args(["-raw", "-enc", "UTF-8"]).arg(pdf).arg("-").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// The first page as a grey image: (width, height, pixels).
fn page_image(pdf: &Path, dir: &Path) -> (usize, usize, Vec<u8>) {
    let prefix = dir.join("page");
    let out = tool("pdftoppm")
        .args(["-gray", "-r", "100", "-f", "1", "-l", "1", "-singlefile"])
        .arg(pdf)
        .arg(&prefix)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let data = std::fs::read(prefix.with_extension("pgm")).unwrap();
    // Binary PGM: "P5\n<w> <h>\n<max>\n" then one byte per pixel.
    let mut fields = Vec::new();
    let mut at = 0;
    while fields.len() < 4 {
        while data[at].is_ascii_whitespace() {
            at += 1;
        }
        let start = at;
        while !data[at].is_ascii_whitespace() {
            at += 1;
        }
        fields.push(String::from_utf8(data[start..at].to_vec()).unwrap());
    }
    assert_eq!(fields[0], "P5");
    let (w, h): (usize, usize) = (fields[1].parse().unwrap(), fields[2].parse().unwrap());
    let pixels = data[at + 1..].to_vec();
    assert_eq!(pixels.len(), w * h);
    (w, h, pixels)
}

fn decode_code(w: usize, h: usize, pixels: &[u8]) -> Vec<String> {
    let mut img = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| pixels[y * w + x]);
    img.detect_grids().into_iter().filter_map(|g| g.decode().ok().map(|(_, text)| text)).collect()
}

fn write(dir: &Path, name: &str, rendered: &Rendered) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, &rendered.pdf).unwrap();
    path
}

fn guide() -> Guide {
    Guide {
        municipality: "横浜市中区".into(),
        resident_name: IVS_NAME.into(),
        event: "転入".into(),
        date: "令和8年6月1日".into(),
        items: (0..12)
            .map(|i| GuideItem {
                name: format!("国民健康保険 加入・脱退・記載事項変更届 その{}", i + 1),
                window: "区役所1階 市民課 総合窓口".into(),
                handling: "総合窓口で受付・事務センターで処理".into(),
                reason: format!("{IVS_NAME} 35歳・職場の健康保険なし → 国民健康保険に加入"),
                summary: "職場の健康保険に入っていない方は国民健康保険に加入します。".into(),
                documents: vec!["本人確認書類（マイナンバーカード、運転免許証など）".into()],
            })
            .collect(),
        receipt: Some("RENKEI1|S=0192f0c4-8a6e-7d1c|P=kokuho.idou".into()),
    }
}

#[test]
fn the_font_draws_the_variation_with_its_own_glyph() {
    let font = font();
    let face = ttf_parser::Face::parse(font.data(), 0).unwrap();
    let plain = face.glyph_index('葛').unwrap();
    let variant = face.glyph_variation_index('葛', '\u{E0102}').unwrap();
    assert_ne!(plain, variant, "IPAmj明朝 maps 葛 + U+E0102 to a glyph of its own");
    assert!(font.has_glyph("葛\u{E0102}"));
    // U+E0100 is a sequence of the Adobe-Japan1 collection, which IPAmj明朝 does not carry.
    assert!(!font.has_glyph("葛\u{E0100}"));
    assert_eq!(clusters(IVS_NAME), ["葛\u{E0102}", "西", "\u{3000}", "太", "郎"]);
}

#[test]
fn the_guide_extracts_exactly_draws_ink_and_carries_the_code() {
    let font = font();
    let dir = tempfile::tempdir().unwrap();
    let rendered = render_guide(&font, &guide()).unwrap();
    assert!(rendered.missing_glyphs.is_empty(), "{:?}", rendered.missing_glyphs);
    assert!(rendered.plain_variants.is_empty(), "{:?}", rendered.plain_variants);
    assert!(rendered.pdf.len() < 400_000, "the font is subset: {} bytes", rendered.pdf.len());
    let path = write(dir.path(), "guide.pdf", &rendered);

    let text = pdftotext(&path);
    assert!(text.contains(&format!("{IVS_NAME_EXTRACTED} 様")), "exact name with its selector in:\n{text}");
    assert!(text.contains("手続案内書") && text.contains("区役所1階 市民課 総合窓口"), "{text}");
    assert!(text.contains("その12"), "twelve items run onto a second page:\n{text}");
    assert_eq!(text.matches('\u{E0102}').count(), 1 + 12, "the name and each reason");
    assert!(text.contains('\u{c}'), "more than one page");

    let (w, h, pixels) = page_image(&path, dir.path());
    let ink = pixels.iter().filter(|p| **p < 128).count();
    assert!(ink > w * h / 200, "the page has text on it: {ink} dark pixels of {}", w * h);
    assert_eq!(decode_code(w, h, &pixels), ["RENKEI1|S=0192f0c4-8a6e-7d1c|P=kokuho.idou"]);
}

#[test]
fn a_form_for_a_resident_with_an_ivs_name() {
    let font = font();
    let dir = tempfile::tempdir().unwrap();
    let form = FilledForm {
        title: "国民健康保険 加入・脱退・記載事項変更届".into(),
        department: "保険年金課".into(),
        date: "令和8年6月1日".into(),
        lines: vec![
            FormLine {
                label: "異動区分".into(),
                value: "加入".into(),
                required: true,
                source: "職員".into(),
            },
            FormLine {
                label: "世帯主 氏名".into(),
                value: IVS_NAME.into(),
                required: true,
                source: "住民記録".into(),
            },
            FormLine {
                label: "住所".into(),
                value: "神奈川県横浜市中区山下町1番地　ハイツ髙﨑101".into(),
                required: true,
                source: "住民記録".into(),
            },
            FormLine {
                label: "連絡先電話番号".into(),
                value: String::new(),
                required: false,
                source: String::new(),
            },
        ],
        receipt: None,
    };
    let rendered = render_form(&font, &form).unwrap();
    let path = write(dir.path(), "form.pdf", &rendered);
    let text = pdftotext(&path);
    for expected in [IVS_NAME_EXTRACTED, "ハイツ髙﨑101", "※異動区分", "［住民記録］", "申請者 署名"]
    {
        assert!(text.contains(expected), "{expected:?} in:\n{text}");
    }
    let (w, h, pixels) = page_image(&path, dir.path());
    assert!(pixels.iter().filter(|p| **p < 128).count() > w * h / 400);
}

#[test]
fn characters_beyond_the_font_are_reported_and_still_extract() {
    let font = font();
    let dir = tempfile::tempdir().unwrap();
    let receipt = Receipt {
        number: "A-017".into(),
        issued_at: "令和8年6月1日 9:05".into(),
        procedures: vec!["\u{F0101}本 誠 様".into(), "葛\u{E0100}西 太郎 様".into()],
        payload: "RENKEI1|S=x".into(),
    };
    let rendered = render_receipt(&font, &receipt).unwrap();
    assert_eq!(rendered.missing_glyphs, ['\u{F0101}']);
    assert_eq!(rendered.plain_variants, ["葛\u{E0100}"], "drawn with the plain 葛");
    let path = write(dir.path(), "receipt.pdf", &rendered);
    let text = pdftotext(&path);
    assert!(text.contains("\u{F0101}本 誠") && text.contains("葛\u{E0100}西 太郎"), "{text:?}");
    let (w, h, pixels) = page_image(&path, dir.path());
    assert_eq!(decode_code(w, h, &pixels), ["RENKEI1|S=x"]);
}
