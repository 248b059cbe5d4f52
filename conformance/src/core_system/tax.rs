//! The tax system's certificates: the data of a 課税証明書, 納税証明書 or 固定資産評価証明書 for a
//! synthetic resident, with amounts worked out from the 宛名番号 so the same person always gets
//! the same certificate.

use renkei_mappings::{CanonicalRecord, Mapping, Report, Value};
use renkei_model::{Date, Resident};

use super::{Received, Shared};

/// The interface of certificate requests.
pub(super) const REQUEST_INTERFACE: &str = "shoumei";

/// The fixed-length records of the certificate `received` asks for.
pub(super) fn certificate(shared: &Shared, received: &Received) -> Result<Vec<u8>, String> {
    let item = |key: &str| received.records[0].get(key).unwrap_or_default().to_owned();
    let interface = match item("shomei_shubetsu").as_str() {
        "01" | "04" => "kazei-shomei",
        "02" => "nozei-shomei",
        "03" => "hyoka-shomei",
        _ => return Err("shomei_shubetsu: the tax system issues no such certificate".into()),
    };
    let subject = item("taisho_atena_no");
    let resident = shared.residents.get(&subject).ok_or("taisho_atena_no: no resident has this 宛名番号")?;
    let mapping = shared.mapping(interface).ok_or_else(|| format!("{interface}: no such interface"))?;
    let year = item("nendo");
    let seed: u64 = subject.parse().unwrap_or(1);
    let income = 1_800_000 + (seed * 7_919 % 60) * 100_000;
    let rows: Vec<Vec<(&str, String)>> = match interface {
        "kazei-shomei" => vec![vec![
            ("fields.name", format!("{}　{}", resident.name.family.as_str(), resident.name.given.as_str())),
            ("fields.address", address(resident)),
            ("fields.total_income", income.to_string()),
            ("fields.taxable_income", (income - 430_000).to_string()),
            ("fields.municipal_tax", ((income - 430_000) * 8 / 100).to_string()),
            ("fields.prefectural_tax", ((income - 430_000) * 2 / 100).to_string()),
            ("fields.dependents", (seed % 3).to_string()),
            ("fields.issue_date", Date::today().to_string()),
        ]],
        "nozei-shomei" => (1..=4)
            .map(|installment| {
                let amount = (income - 430_000) / 10 / 4;
                vec![
                    ("fields.tax_item", "市民税・県民税".to_owned()),
                    ("fields.installment", installment.to_string()),
                    ("fields.tax_amount", amount.to_string()),
                    ("fields.paid_amount", amount.to_string()),
                    ("fields.unpaid_amount", "0".to_owned()),
                    ("fields.paid_date", format!("{year}-{:02}-28", installment * 2 + 4)),
                ]
            })
            .collect(),
        _ => vec![vec![
            (
                "fields.location",
                format!("{}{}", resident.address.as_ref().map_or("", |a| a.town.as_str()), "一丁目"),
            ),
            ("fields.lot_number", format!("{}-{}", seed % 900 + 100, seed % 9 + 1)),
            ("fields.land_category", "宅地".to_owned()),
            ("fields.area", format!("{}.{:02}", seed % 200 + 80, seed % 100)),
            ("fields.assessed_value", (seed % 50 * 1_000_000 + 12_000_000).to_string()),
            ("fields.tax_base", (seed % 50 * 1_000_000 / 6 + 2_000_000).to_string()),
        ]],
    };
    let mut out = Vec::new();
    for row in rows {
        let mut canonical = mapping.new_canonical();
        set(&mut canonical, "subject", subject.clone())?;
        set(&mut canonical, "fields.fiscal_year", year.clone())?;
        for (path, value) in row {
            set(&mut canonical, path, value)?;
        }
        encode(mapping, &canonical, &mut out)?;
    }
    Ok(out)
}

fn address(resident: &Resident) -> String {
    resident.address.as_ref().map_or_else(String::new, |a| {
        format!("{}{}{}", a.municipality.as_str(), a.town.as_str(), a.banchi.as_str())
    })
}

fn set(record: &mut CanonicalRecord, path: &str, value: String) -> Result<(), String> {
    record.set(path, Value::Text(value)).map_err(|e| format!("{path}: {e:?}"))
}

fn encode(mapping: &Mapping, canonical: &CanonicalRecord, out: &mut Vec<u8>) -> Result<(), String> {
    let mut record = mapping.new_system();
    mapping.to_system(canonical, &mut record, &mut Report::default()).map_err(|e| e.to_string())?;
    mapping.encode(&record, out).map_err(|e| e.to_string())?;
    out.extend_from_slice(mapping.record_separator.bytes());
    Ok(())
}
