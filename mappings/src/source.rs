//! Where a mapping set's files come from: the default set compiled into the binary, or an
//! operator's directory.

use std::path::{Path, PathBuf};

use include_dir::{Dir, include_dir};

use crate::problem::{Problem, line_of};

/// The default set: the data directories beside this crate's sources. `build.rs` makes cargo
/// rebuild when a file in them changes.
static DEFAULT_SET: [(&str, Dir<'static>); 4] = [
    ("codes", include_dir!("$CARGO_MANIFEST_DIR/codes")),
    ("procedures", include_dir!("$CARGO_MANIFEST_DIR/procedures")),
    ("routing", include_dir!("$CARGO_MANIFEST_DIR/routing")),
    ("systems", include_dir!("$CARGO_MANIFEST_DIR/systems")),
];

/// One file of a mapping set: its path relative to the set's root, and its text.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: PathBuf,
    pub text: String,
}

impl SourceFile {
    /// Read the file as `T`. A syntax error, an unknown key or a value of the wrong shape is a
    /// problem at the line toml points at.
    pub(crate) fn parse_toml<T: serde::de::DeserializeOwned>(&self) -> Result<T, Problem> {
        toml::from_str(&self.text).map_err(|e| Problem {
            file: self.path.clone(),
            line: e.span().map(|s| line_of(&self.text, s.start)),
            message: e.message().to_owned(),
        })
    }
}

fn all_files(dir: &'static Dir<'static>, out: &mut Vec<&'static include_dir::File<'static>>) {
    out.extend(dir.files());
    for sub in dir.dirs() {
        all_files(sub, out);
    }
}

/// The `.toml` files under `subdir` of the embedded default set (and its subdirectories),
/// sorted by path.
pub(crate) fn embedded(subdir: &str) -> Vec<SourceFile> {
    let mut found = Vec::new();
    for (_, dir) in DEFAULT_SET.iter().filter(|(name, _)| *name == subdir) {
        all_files(dir, &mut found);
    }
    let mut files: Vec<SourceFile> = found
        .into_iter()
        .filter(|f| f.path().extension().is_some_and(|e| e == "toml"))
        .map(|f| SourceFile {
            path: Path::new(subdir).join(f.path()),
            text: f.contents_utf8().unwrap_or_default().to_owned(),
        })
        .collect();
    files.sort_by(|a, b| a.path.cmp(&b.path));
    files
}

/// The `.toml` files under `root/subdir` and its subdirectories, sorted by path; a missing
/// subdirectory is empty.
pub(crate) fn directory(root: &Path, subdir: &str) -> Result<Vec<SourceFile>, Problem> {
    let mut files = Vec::new();
    walk(root, Path::new(subdir), &mut files)?;
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

fn walk(root: &Path, relative: &Path, files: &mut Vec<SourceFile>) -> Result<(), Problem> {
    let problem =
        |e: std::io::Error| Problem { file: relative.to_owned(), line: None, message: e.to_string() };
    let entries = match std::fs::read_dir(root.join(relative)) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(problem(e)),
    };
    for entry in entries {
        let entry = entry.map_err(problem)?;
        let path = relative.join(entry.file_name());
        if entry.file_type().map_err(problem)?.is_dir() {
            walk(root, &path, files)?;
            continue;
        }
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let text = std::fs::read_to_string(root.join(&path)).map_err(|e| Problem {
            file: path.clone(),
            line: None,
            message: e.to_string(),
        })?;
        files.push(SourceFile { path, text });
    }
    Ok(())
}
