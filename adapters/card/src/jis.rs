//! JIS X 0208 text as the driver's license stores it: two bytes per character, row and cell each
//! plus 0x20 (so adding 0x8080 gives EUC-JP), and codes for characters the set lacks.
//!
//! Characters outside JIS X 0208 (外字) are written on the chip as `FF F1`..`FF F7` (the n-th
//! 外字 drawn in the license's image area) and `FF FA` for a character left out (欠字), after the
//! 警察庁 運転免許証仕様書; public readers (e.g. TRETJapanNFCReader) decode them the same way.
//! They are kept as markers, never guessed: the staff see the printed card.

use std::fmt;

/// One run of a license text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JisPiece {
    Text(String),
    /// The n-th 外字 (1..=7).
    Gaiji(u8),
    /// 欠字: a character the issuer could not write.
    Missing,
}

/// Text decoded from JIS X 0208, with its 外字 markers where they stood.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JisText(Vec<JisPiece>);

/// What stands for a marker in plain text: 〓 (U+3013, GETA MARK), the conventional sign for a
/// character that cannot be shown.
pub const MARKER: char = '\u{3013}';

impl JisText {
    /// Decode `bytes`; the error says what is wrong at which byte.
    pub fn decode(bytes: &[u8]) -> Result<JisText, String> {
        if bytes.len() % 2 != 0 {
            return Err(format!("has an odd number of bytes ({}) for two-byte JIS X 0208", bytes.len()));
        }
        let mut pieces: Vec<JisPiece> = Vec::new();
        for (i, pair) in bytes.chunks_exact(2).enumerate() {
            let piece = match (pair[0], pair[1]) {
                (0xFF, n @ 0xF1..=0xF7) => JisPiece::Gaiji(n - 0xF0),
                (0xFF, 0xFA) => JisPiece::Missing,
                // Rows 1-8 and 16-84: JIS X 0208 proper, not the vendor extension rows an EUC-JP
                // decoder also knows.
                (hi @ (0x21..=0x28 | 0x30..=0x74), lo @ 0x21..=0x7E) => {
                    let euc = [hi | 0x80, lo | 0x80];
                    let text = encoding_rs::EUC_JP
                        .decode_without_bom_handling_and_without_replacement(&euc)
                        .filter(|t| !t.contains('\u{FFFD}'))
                        .ok_or_else(|| {
                            format!("at byte {}: code {hi:02X}{lo:02X} is not a JIS X 0208 character", i * 2)
                        })?;
                    JisPiece::Text(text.into_owned())
                }
                (hi, lo) => {
                    return Err(format!(
                        "at byte {}: code {hi:02X}{lo:02X} is not a JIS X 0208 character",
                        i * 2
                    ));
                }
            };
            match (pieces.last_mut(), piece) {
                (Some(JisPiece::Text(run)), JisPiece::Text(more)) => run.push_str(&more),
                (_, piece) => pieces.push(piece),
            }
        }
        Ok(JisText(pieces))
    }

    pub fn pieces(&self) -> &[JisPiece] {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether any 外字 or 欠字 marker is in the text.
    pub fn has_markers(&self) -> bool {
        self.0.iter().any(|p| !matches!(p, JisPiece::Text(_)))
    }

    /// Plain text with [`MARKER`] for each marker.
    pub fn to_plain(&self) -> String {
        self.0
            .iter()
            .map(|p| match p {
                JisPiece::Text(t) => t.as_str(),
                _ => "\u{3013}",
            })
            .collect()
    }
}

impl fmt::Display for JisText {
    /// Text with markers written out: `山(外字1)`, `(欠字)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for p in &self.0 {
            match p {
                JisPiece::Text(t) => f.write_str(t)?,
                JisPiece::Gaiji(n) => write!(f, "(外字{n})")?,
                JisPiece::Missing => f.write_str("(欠字)")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jis(s: &str) -> Vec<u8> {
        let (euc, _, bad) = encoding_rs::EUC_JP.encode(s);
        assert!(!bad);
        euc.iter().map(|b| b & 0x7F).collect()
    }

    #[test]
    fn decodes_text_and_keeps_markers() {
        let bytes = [jis("山"), vec![0xFF, 0xF1], jis("健二"), vec![0xFF, 0xFA]].concat();
        let t = JisText::decode(&bytes).unwrap();
        assert_eq!(t.to_string(), "山(外字1)健二(欠字)");
        assert_eq!(t.to_plain(), "山〓健二〓");
        assert!(t.has_markers());
        assert_eq!(t.pieces().len(), 4);
        let plain = JisText::decode(&jis("ヤマザキ　ケンジ")).unwrap();
        assert!(!plain.has_markers());
        assert_eq!(plain.to_plain(), "ヤマザキ　ケンジ");
    }

    #[test]
    fn refuses_what_is_not_jis_x_0208() {
        assert_eq!(
            JisText::decode(&[0x30]).unwrap_err(),
            "has an odd number of bytes (1) for two-byte JIS X 0208"
        );
        assert_eq!(
            JisText::decode(&[0x30, 0x21, 0x7F, 0x21]).unwrap_err(),
            "at byte 2: code 7F21 is not a JIS X 0208 character"
        );
        assert!(JisText::decode(&[0xFF, 0xF8]).is_err());
        // Row 89 (an IBM extension row EUC-JP decoders accept) is not JIS X 0208.
        assert!(JisText::decode(&[0x79, 0x75]).is_err());
    }
}
