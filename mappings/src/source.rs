//! Where a mapping set's files come from: the default set compiled into the binary, or an
//! operator's directory.

use std::path::{Path, PathBuf};

use include_dir::{Dir, include_dir};

use crate::problem::Problem;

/// The default set: the data directories beside this crate's sources. `build.rs` makes cargo
/// rebuild when a file in them changes.
static DEFAULT_SET: [(&str, Dir<'static>); 3] = [
    ("codes", include_dir!("$CARGO_MANIFEST_DIR/codes")),
    ("procedures", include_dir!("$CARGO_MANIFEST_DIR/procedures")),
    ("routing", include_dir!("$CARGO_MANIFEST_DIR/routing")),
];

/// One file of a mapping set: its path relative to the set's root, and its text.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: PathBuf,
    pub text: String,
}

/// The `.toml` files under `subdir` of the embedded default set, sorted by path.
pub(crate) fn embedded(subdir: &str) -> Vec<SourceFile> {
    let mut files: Vec<SourceFile> = DEFAULT_SET
        .iter()
        .filter(|(name, _)| *name == subdir)
        .flat_map(|(_, dir)| dir.files())
        .filter(|f| f.path().extension().is_some_and(|e| e == "toml"))
        .map(|f| SourceFile {
            path: Path::new(subdir).join(f.path()),
            text: f.contents_utf8().unwrap_or_default().to_owned(),
        })
        .collect();
    files.sort_by(|a, b| a.path.cmp(&b.path));
    files
}

/// The `.toml` files under `root/subdir`, sorted by path; a missing subdirectory is empty.
pub(crate) fn directory(root: &Path, subdir: &str) -> Result<Vec<SourceFile>, Problem> {
    let dir = root.join(subdir);
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Problem { file: PathBuf::from(subdir), line: None, message: e.to_string() }),
    };
    let mut files = Vec::new();
    for entry in entries {
        let entry =
            entry.map_err(|e| Problem { file: PathBuf::from(subdir), line: None, message: e.to_string() })?;
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let relative = PathBuf::from(subdir).join(entry.file_name());
        let text = std::fs::read_to_string(&path).map_err(|e| Problem {
            file: relative.clone(),
            line: None,
            message: e.to_string(),
        })?;
        files.push(SourceFile { path: relative, text });
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}
