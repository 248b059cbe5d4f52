//! Synthetic 宛名 rows (no real person's data) for tests and benchmarks: 宛名番号, 氏名 with an
//! ideographic space, half-width kana, birth date, address, and their fixed-length layout.
//! The benchmarks include this file by path; the layout types come from the parent module in
//! both places.

use super::{FieldSpec, Pad, RecordLayout};

/// The layout of [`people`]' rows: 122 bytes in Windows-31J (髙 is one of its extensions).
pub fn layout() -> RecordLayout {
    RecordLayout::new(vec![
        FieldSpec::new("atena_no", 10, Pad::Zero),
        FieldSpec::new("shimei", 24, Pad::Ideographic),
        FieldSpec::new("kana", 20, Pad::Space),
        FieldSpec::new("seinengappi", 8, Pad::Zero),
        FieldSpec::new("jusho", 60, Pad::Ideographic),
    ])
}

/// `n` rows in the order atena_no, shimei, kana, seinengappi, jusho.
pub fn people(n: usize) -> Vec<Vec<String>> {
    const FAMILY: [&str; 8] = ["山田", "佐藤", "髙橋", "鈴木", "渡邊", "葛西", "小林", "中村"];
    const GIVEN: [&str; 8] = ["太郎", "花子", "一郎", "さくら", "健太", "美咲", "翔", "陽菜"];
    const KANA: [&str; 8] = ["ﾔﾏﾀﾞ", "ｻﾄｳ", "ﾀｶﾊｼ", "ｽｽﾞｷ", "ﾜﾀﾅﾍﾞ", "ｶｻｲ", "ｺﾊﾞﾔｼ", "ﾅｶﾑﾗ"];
    (0..n)
        .map(|i| {
            vec![
                format!("{:010}", 1_000_000 + i),
                format!("{}　{}", FAMILY[i % 8], GIVEN[(i / 8) % 8]),
                KANA[i % 8].to_owned(),
                format!("{}{:02}{:02}", 1940 + i % 80, 1 + i % 12, 1 + i % 28),
                format!("東京都千代田区霞が関{}丁目{}番{}号", 1 + i % 3, 1 + i % 20, 1 + i % 9),
            ]
        })
        .collect()
}
