//! The default mapping set is embedded with `include_dir!`, which cargo cannot see into: tell it
//! to rebuild when a data file changes.
fn main() {
    for dir in ["codes", "procedures", "routing", "systems"] {
        println!("cargo:rerun-if-changed={dir}");
    }
}
