//! Compiles the pre-entry QR format (`proto/pre_entry.proto`) with protoc.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/pre_entry.proto");
    prost_build::Config::new()
        // Maps in key order: the same pre-entry always encodes to the same bytes.
        .btree_map(["."])
        .compile_protos(&["proto/pre_entry.proto"], &["proto"])?;
    Ok(())
}
