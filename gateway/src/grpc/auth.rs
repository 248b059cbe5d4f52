//! `AuthService`: Login, Refresh, Logout over renkei-auth's [`Authenticator`].

use std::sync::Arc;

use renkei_auth::{Authenticator, Tokens};
use renkei_proto::v1 as pb;
use renkei_proto::v1::auth_service_server::AuthService;
use tonic::{Request, Response, Status};

use super::{convert, guard, status};

#[derive(Debug, Clone)]
pub struct AuthApi {
    auth: Arc<Authenticator>,
}

impl AuthApi {
    pub fn new(auth: Arc<Authenticator>) -> AuthApi {
        AuthApi { auth }
    }
}

fn response(t: Tokens) -> pb::LoginResponse {
    pb::LoginResponse {
        access_token: t.access_token,
        access_expires_at: Some(convert::ms_to_timestamp(t.access_expires_at_ms)),
        refresh_token: t.refresh_token,
        refresh_expires_at: Some(convert::ms_to_timestamp(t.refresh_expires_at_ms)),
        user_id: t.principal.subject.clone(),
        display_name: t.principal.display_name.clone(),
        groups: t.principal.groups.clone(),
        permissions: t.principal.permissions().map(|p| p.to_string()).collect(),
    }
}

#[tonic::async_trait]
impl AuthService for AuthApi {
    async fn login(&self, request: Request<pb::LoginRequest>) -> Result<Response<pb::LoginResponse>, Status> {
        let r = request.into_inner();
        if r.user_id.is_empty() || r.password.is_empty() || r.user_id.len() > 64 || r.password.len() > 1024 {
            return Err(Status::invalid_argument(
                "user_id and password: both required, at most 64 and 1024 bytes",
            ));
        }
        self.auth
            .login(&r.user_id, &r.password)
            .await
            .map(|t| Response::new(response(t)))
            .map_err(status::auth)
    }

    async fn refresh(
        &self,
        request: Request<pb::RefreshRequest>,
    ) -> Result<Response<pb::LoginResponse>, Status> {
        let r = request.into_inner();
        if r.refresh_token.is_empty() || r.refresh_token.len() > 256 {
            return Err(Status::invalid_argument("refresh_token: required, at most 256 bytes"));
        }
        self.auth.refresh(&r.refresh_token).await.map(|t| Response::new(response(t))).map_err(status::auth)
    }

    async fn logout(
        &self,
        request: Request<pb::LogoutRequest>,
    ) -> Result<Response<pb::LogoutResponse>, Status> {
        let caller = guard::principal_of(&request)?;
        self.auth.logout(&caller).await.map_err(status::auth)?;
        Ok(Response::new(pb::LogoutResponse {}))
    }
}
