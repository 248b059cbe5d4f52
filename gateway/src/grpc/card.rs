use std::pin::Pin;

use futures::Stream;
use renkei_proto::v1 as pb;
use renkei_proto::v1::card_service_server::CardService;
use tonic::{Request, Response, Status};

use super::status::not_built;

/// `CardService`. Card readers are not attached to this build yet: both RPCs say so.
#[derive(Debug, Clone, Default)]
pub struct CardApi;

#[tonic::async_trait]
impl CardService for CardApi {
    type WatchReadersStream = Pin<Box<dyn Stream<Item = Result<pb::ReaderEvent, Status>> + Send>>;

    async fn watch_readers(
        &self,
        _request: Request<pb::WatchReadersRequest>,
    ) -> Result<Response<Self::WatchReadersStream>, Status> {
        Err(not_built("watching card readers"))
    }

    async fn read_card(
        &self,
        _request: Request<pb::ReadCardRequest>,
    ) -> Result<Response<pb::ReadCardResponse>, Status> {
        Err(not_built("reading cards"))
    }
}
