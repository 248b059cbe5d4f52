//! What the binary's integration tests share.

use std::path::Path;
use std::process::{Child, Command, Stdio};

use renkei_proto::v1 as pb;

/// A loopback port free at the moment.
#[allow(dead_code)] // not every test binary listens on a port it chose
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `renkei users add USER` into the data directory `data` (or `database_url`), a counter clerk
/// with `passphrase`, given on standard input as an operator types it.
#[allow(dead_code)] // not every test binary logs in
pub(crate) fn add_user(data: &Path, database_url: Option<&str>, user: &str, passphrase: &str) {
    use std::io::Write;
    let mut add = Command::new(env!("CARGO_BIN_EXE_renkei"));
    add.args(["--log", "error", "users", "--data-dir"]).arg(data);
    if let Some(url) = database_url {
        add.args(["--database-url", url]);
    }
    let mut add = add
        .args(["add", user, "--name", "試験 職員", "--group", "窓口職員"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(add.stdin.take().unwrap(), "{passphrase}").unwrap();
    assert!(add.wait().unwrap().success(), "renkei users add");
}

/// `renkei serve --config CONFIG`, its log appended to `log`.
pub(crate) fn spawn(config: &Path, log: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_renkei"))
        .args(["serve", "--config"])
        .arg(config)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(std::fs::File::options().create(true).append(true).open(log).unwrap())
        .spawn()
        .unwrap()
}

/// A 住民異動届 (転居) of `atena` within the ward, as a counter submits it.
#[allow(dead_code)] // not every test binary submits
pub(crate) fn moving(atena: &str) -> pb::ApplicationDraft {
    let value = |v: &str| pb::FieldValue { value: v.into(), provenance: pb::Provenance::Staff as i32 };
    let fields = [
        ("event_date", "2026-11-20"),
        ("new_address.prefecture", "神奈川県"),
        ("new_address.municipality", "横浜市鶴見区"),
        ("new_address.local_government_code", "141011"),
        ("new_address.town", "桜町二丁目"),
        ("new_address.banchi", "4番1号"),
    ];
    pb::ApplicationDraft {
        procedure_id: "jumin.idou".into(),
        applicant_atena_number: atena.into(),
        subject_atena_numbers: vec![atena.into()],
        life_event: pb::LifeEvent::MoveWithin as i32,
        fields: fields.iter().map(|(k, v)| ((*k).to_owned(), value(v))).collect(),
    }
}
