//! What the binary's integration tests share.

use std::path::Path;
use std::process::{Child, Command, Stdio};

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
