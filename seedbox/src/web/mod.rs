//! TEMPORARY placeholder until the web branch is merged.
use std::sync::Arc;
use crate::library::Library;
pub struct WebConfig { pub site_title: String, pub admin_token: Option<String>, pub extra_hosts: Vec<String> }
pub async fn serve(_l: tokio::net::TcpListener, _lib: Arc<dyn Library>, _c: WebConfig) -> std::io::Result<()> { std::future::pending().await }
