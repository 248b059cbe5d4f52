//! The interfaces the simulated systems take, as their vendors' specifications describe them:
//! item id, key (CSV header or JSON path), type and length, in the order of the record.
//!
//! These tables are the receiving side's own: written from the interface layouts (the
//! 基本データリスト shape the default mapping files follow), not read from renkei's mapping files,
//! so a mapping that drops, renames or reorders an item is seen as the system would see it.

use super::charset::WireCharset::{self, Cp932, ShiftJis, Utf8};
use super::{ItemSpec, Kind::*, Layout, WireFormat};

const fn req(id: &'static str, key: &'static str, kind: super::Kind, length: usize) -> ItemSpec {
    ItemSpec { id, key, kind, length, required: true }
}

const fn opt(id: &'static str, key: &'static str, kind: super::Kind, length: usize) -> ItemSpec {
    ItemSpec { id, key, kind, length, required: false }
}

const CSV: WireFormat = WireFormat::Csv { header: true };

/// Every layout a simulator takes or writes, by system and interface.
pub fn layout(system: &str, interface: &str) -> Option<&'static Layout> {
    LAYOUTS.iter().find(|l| l.system == system && l.interface == interface)
}

/// Every layout of `system`.
pub fn of_system(system: &str) -> impl Iterator<Item = &'static Layout> + '_ {
    LAYOUTS.iter().filter(move |l| l.system == system)
}

/// The charset each file-transfer system decodes its Shift_JIS files with.
const NHI_CHARSET: WireCharset = ShiftJis;
const WELFARE_CHARSET: WireCharset = Cp932;

pub static LAYOUTS: &[Layout] = &[
    Layout {
        system: "nhi",
        interface: "shikaku-shutoku",
        format: CSV,
        charset: NHI_CHARSET,
        per_subject: Some("K10-002"),
        items: &[
            req("K10-001", "todokede_atena_no", Digits, 15),
            req("K10-002", "shutoku_atena_no", Digits, 15),
            req("K10-003", "shutoku_date", Date, 8),
            req("K10-004", "shutoku_jiyu", Code, 2),
            opt("K10-005", "mae_hokensha", Text, 40),
            opt("K10-006", "mae_soshitsu_date", Date, 8),
            opt("K10-007", "tel", Alnum, 15),
        ],
    },
    Layout {
        system: "nhi",
        interface: "shikaku-soshitsu",
        format: CSV,
        charset: NHI_CHARSET,
        per_subject: Some("K11-002"),
        items: &[
            req("K11-001", "todokede_atena_no", Digits, 15),
            req("K11-002", "soshitsu_atena_no", Digits, 15),
            req("K11-003", "soshitsu_date", Date, 8),
            req("K11-004", "soshitsu_jiyu", Code, 2),
            opt("K11-005", "shin_hokensha", Text, 40),
            opt("K11-006", "hokensho_henkan", Alnum, 1),
        ],
    },
    Layout {
        system: "nhi",
        interface: "kisai-henko",
        format: CSV,
        charset: NHI_CHARSET,
        per_subject: None,
        items: &[
            req("K12-001", "todokede_atena_no", Digits, 15),
            req("K12-002", "henko_date", Date, 8),
            req("K12-003", "henko_jiyu", Code, 2),
            opt("K12-004", "shin_machiaza", Text, 40),
            opt("K12-005", "shin_banchi", Text, 30),
            opt("K12-006", "shin_katagaki", Text, 50),
            opt("K12-007", "shin_setainushi_atena_no", Digits, 15),
            opt("K12-008", "shin_shi", Text, 30),
        ],
    },
    Layout {
        system: "nhi",
        interface: "member",
        format: WireFormat::Fixed { record_length: 357 },
        charset: NHI_CHARSET,
        per_subject: None,
        items: &[
            opt("K01-001", "record_kind", Alnum, 1),
            req("K01-002", "atena_no", Digits, 10),
            req("K01-003", "setai_no", Digits, 10),
            req("K01-004", "shimei", Text, 40),
            opt("K01-005", "shi_kana", Kana, 30),
            opt("K01-006", "mei_kana", Kana, 30),
            opt("K01-007", "tsusho", Text, 40),
            req("K01-008", "seinengappi", Date, 7),
            req("K01-009", "seibetsu", Code, 1),
            req("K01-010", "zokugara_1", Code, 2),
            opt("K01-011", "zokugara_2", Code, 2),
            opt("K01-012", "zokugara_3", Code, 2),
            opt("K01-013", "zokugara_4", Code, 2),
            opt("K01-014", "todofuken_code", Code, 2),
            opt("K01-015", "dantai_code", Digits, 6),
            opt("K01-016", "shikuchoson", Text, 20),
            opt("K01-017", "machiaza", Text, 40),
            opt("K01-018", "banchi", Text, 30),
            opt("K01-019", "katagaki", Text, 50),
            opt("K01-020", "yubin_no", Digits, 7),
            req("K01-021", "jumin_shubetsu", Code, 1),
            opt("K01-022", "kokuseki", Code, 3),
            opt("K01-023", "zairyu_shikaku", Code, 2),
            req("K01-024", "jumin_jotai", Code, 1),
            opt("K01-025", "jumin_date", Date, 8),
            opt("K01-026", "idou_jiyu", Code, 2),
            opt("K01-027", "idou_date", Date, 8),
        ],
    },
    Layout {
        system: "tax",
        interface: "shoumei",
        format: WireFormat::Json,
        charset: Utf8,
        per_subject: None,
        items: &[
            req("Z10-001", "shomei_shubetsu", Code, 2),
            req("Z10-002", "nendo", Digits, 4),
            opt("Z10-003", "busu", Digits, 2),
            req("Z10-004", "shinseisha_atena_no", Digits, 15),
            req("Z10-005", "taisho_atena_no", Digits, 15),
            opt("Z10-006", "shito", Text, 40),
            req("Z10-007", "shinsei_date", Date, 8),
            opt("Z10-008", "bukken_shozai", Text, 100),
        ],
    },
    Layout {
        system: "welfare",
        interface: "fukushi-iryo",
        format: CSV,
        charset: WELFARE_CHARSET,
        per_subject: Some("F20-002"),
        items: &[
            req("F20-001", "shinseisha_atena_no", Digits, 15),
            req("F20-002", "taishosha_atena_no", Digits, 15),
            req("F20-003", "shinsei_date", Date, 8),
            req("F20-004", "josei_kubun", Code, 2),
            req("F20-005", "hokensha_bango", Digits, 8),
            opt("F20-006", "kigo", Text, 20),
            req("F20-007", "bango", Alnum, 20),
        ],
    },
    Layout {
        system: "welfare",
        interface: "hoiku-moushikomi",
        format: WireFormat::Json,
        charset: Utf8,
        per_subject: None,
        items: &[
            req("F40-001", "hogosha_atena_no", Digits, 15),
            req("F40-002", "jido_atena_no", List, 15),
            req("F40-003", "kibo_date", Date, 8),
            req("F40-004", "kibo_shisetsu_1", Text, 40),
            opt("F40-005", "kibo_shisetsu_2", Text, 40),
            opt("F40-006", "kibo_shisetsu_3", Text, 40),
            req("F40-007", "hitsuyo_jiyu", Text, 20),
            opt("F40-008", "hoiku_jikan", Digits, 1),
        ],
    },
    Layout {
        system: "welfare",
        interface: "jidou-teate",
        format: WireFormat::Json,
        charset: Utf8,
        per_subject: None,
        items: &[
            req("F10-001", "seikyusha_atena_no", Digits, 15),
            req("F10-002", "jido_atena_no", List, 15),
            req("F10-003", "seikyu_date", Date, 8),
            opt("F10-004", "haiguusha_atena_no", Digits, 15),
            req("F10-005", "koza.kinyu_kikan_code", Digits, 4),
            req("F10-006", "koza.shiten_code", Digits, 3),
            opt("F10-007", "koza.shumoku", Digits, 1),
            req("F10-008", "koza.bango", Digits, 7),
            req("F10-009", "koza.meigi_kana", Kana, 30),
        ],
    },
    Layout {
        system: "welfare",
        interface: "shougai-techo",
        format: WireFormat::Json,
        charset: Utf8,
        per_subject: None,
        items: &[
            req("F30-001", "shinseisha_atena_no", Digits, 15),
            req("F30-002", "techo_shubetsu", Code, 1),
            req("F30-003", "techo_bango", Alnum, 12),
            opt("F30-004", "tokyu", Alnum, 4),
            req("F30-005", "shinsei_date", Date, 8),
            opt("F30-006", "shindansho_date", Date, 10),
        ],
    },
    Layout {
        system: "resident-record",
        interface: "todoke",
        format: WireFormat::Json,
        charset: Utf8,
        per_subject: None,
        items: &[
            req("R10-001", "todoke_shubetsu", Text, 10),
            req("R10-002", "idou_date", Date, 8),
            req("R10-003", "todokede_atena_no", Digits, 15),
            opt("R10-004", "taisho_atena_no", List, 15),
            opt("R10-005", "shin_jusho.todofuken", Text, 10),
            opt("R10-006", "shin_jusho.shikuchoson", Text, 30),
            opt("R10-007", "shin_jusho.dantai_code", Digits, 6),
            opt("R10-008", "shin_jusho.machiaza", Text, 60),
            opt("R10-009", "shin_jusho.banchi", Text, 60),
            opt("R10-010", "shin_jusho.katagaki", Text, 100),
            opt("R10-011", "shin_jusho.yubin_no", Digits, 7),
            opt("R10-012", "biko", Text, 200),
        ],
    },
    // The resident record's differences, as the tax and welfare systems take them
    // (`POST /api/v1/atena-diff`, one JSON object per record in `records`).
    Layout {
        system: "*",
        interface: "atena-diff",
        format: WireFormat::Json,
        charset: Utf8,
        per_subject: Some("R01-001"),
        items: &[
            req("R02-001", "jiyu", Text, 10),
            req("R02-002", "idou_date", Date, 8),
            req("R01-001", "record.atena_no", Digits, 15),
            req("R01-002", "record.setai_no", Digits, 15),
            req("R01-003", "record.shi", Text, 100),
            opt("R01-004", "record.mei", Text, 100),
            opt("R01-005", "record.shi_kana", Kana, 100),
            opt("R01-006", "record.mei_kana", Kana, 100),
            opt("R01-007", "record.tsusho", Text, 100),
            opt("R01-008", "record.tsusho_kana", Kana, 100),
            opt("R01-009", "record.kyuuji", Text, 100),
            opt("R01-010", "record.kyuuji_kana", Kana, 100),
            req("R01-011", "record.seinengappi", Date, 8),
            req("R01-012", "record.seibetsu", Code, 1),
            req("R01-013", "record.zokugara", Text, 30),
            opt("R01-014", "record.jusho.todofuken", Text, 10),
            opt("R01-015", "record.jusho.shikuchoson", Text, 30),
            opt("R01-016", "record.jusho.dantai_code", Digits, 6),
            opt("R01-017", "record.jusho.machiaza", Text, 60),
            opt("R01-018", "record.jusho.banchi", Text, 60),
            opt("R01-019", "record.jusho.katagaki", Text, 100),
            opt("R01-020", "record.jusho.yubin_no", Digits, 7),
            req("R01-021", "record.jumin_shubetsu", Code, 1),
            opt("R01-022", "record.kokuseki", Alnum, 2),
            opt("R01-023", "record.zairyu_shikaku", Alnum, 3),
            req("R01-024", "record.jumin_jotai", Code, 1),
            opt("R01-025", "record.jumin_date", Date, 8),
        ],
    },
];
