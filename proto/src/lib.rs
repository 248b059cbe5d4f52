//! The `renkei.v1` gRPC contract, generated from `proto/renkei/v1/*.proto`.
//!
//! The counter app codes against these services; the gateway implements them. The `.proto`
//! files are the source of truth: read them for field meanings.

#![allow(missing_debug_implementations)] // generated code
#![allow(clippy::all)]

pub mod limits;

pub mod v1 {
    tonic::include_proto!("renkei.v1");

    /// The encoded `FileDescriptorSet` of every renkei.v1 file and its imports, for reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("renkei_v1_descriptor");
}

/// For clients: puts `authorization: Bearer <token>` on every call, so one channel serves all of
/// renkei's services with a login's access token.
///
/// ```no_run
/// # async fn run(token: String) -> Result<(), Box<dyn std::error::Error>> {
/// use renkei_proto::Bearer;
/// use renkei_proto::v1::counter_service_client::CounterServiceClient;
///
/// let channel = tonic::transport::Endpoint::from_static("http://127.0.0.1:50051").connect().await?;
/// let mut counter = CounterServiceClient::with_interceptor(channel, Bearer::new(&token)?);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Bearer(tonic::metadata::MetadataValue<tonic::metadata::Ascii>);

/// A channel whose calls carry a [`Bearer`] token.
pub type Authorized = tonic::service::interceptor::InterceptedService<tonic::transport::Channel, Bearer>;

impl Bearer {
    /// Fails for a token that is not a visible-ASCII string.
    pub fn new(token: &str) -> Result<Bearer, tonic::metadata::errors::InvalidMetadataValue> {
        Ok(Bearer(format!("Bearer {token}").parse()?))
    }

    /// `channel` with this token on every call.
    pub fn on(self, channel: tonic::transport::Channel) -> Authorized {
        tonic::service::interceptor::InterceptedService::new(channel, self)
    }
}

impl tonic::service::Interceptor for Bearer {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        request.metadata_mut().insert("authorization", self.0.clone());
        Ok(request)
    }
}
