//! The `renkei.v1` gRPC contract, generated from `proto/renkei/v1/*.proto`.
//!
//! The counter app codes against these services; the gateway implements them. The `.proto`
//! files are the source of truth: read them for field meanings.

#![allow(missing_debug_implementations)] // generated code
#![allow(clippy::all)]

pub mod v1 {
    tonic::include_proto!("renkei.v1");

    /// The encoded `FileDescriptorSet` of every renkei.v1 file and its imports, for reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("renkei_v1_descriptor");
}
