//! Compiles `renkei/v1/*.proto` with protoc (Debian: protobuf-compiler, libprotobuf-dev) and writes
//! the descriptor set that the gateway serves through gRPC reflection.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protos = [
        "renkei/v1/common.proto",
        "renkei/v1/counter.proto",
        "renkei/v1/card.proto",
        "renkei/v1/admin.proto",
        "renkei/v1/auth.proto",
    ];
    for p in &protos {
        println!("cargo:rerun-if-changed={p}");
    }
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    // Type names let the bounded codec find each request's descriptor.
    let mut config = prost_build::Config::new();
    config.enable_type_names();
    tonic_prost_build::configure()
        // BTreeMap keeps map fields in key order, so an encoded request is the same bytes every
        // time: the gateway hashes requests to recognise a replayed idempotency key.
        .btree_map(".")
        // Every request is checked against the API's limits as it is decoded (src/limits.rs).
        .codec_path("crate::limits::BoundedCodec")
        .file_descriptor_set_path(out.join("renkei_v1_descriptor.bin"))
        .compile_with_config(config, &protos, &["."])?;
    Ok(())
}
