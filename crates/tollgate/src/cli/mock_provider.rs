//! `tollgate mock-provider`: the mock provider on its own port.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::serve::ListenerExt;
use clap::Args;

use crate::mock_server::{router, MockServerConfig, MockStats};

#[derive(Debug, Args)]
pub(crate) struct MockProviderArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:9099")]
    bind: SocketAddr,
    /// Delay before each answer and between streamed events, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Refuse calls that do not carry this key (Bearer or x-api-key) with 401.
    #[arg(long, env = "TOLLGATE_MOCK_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
}

pub(crate) async fn run(args: MockProviderArgs) -> anyhow::Result<ExitCode> {
    let listener = tokio::net::TcpListener::bind(args.bind)
        .await
        .with_context(|| format!("cannot listen on {}", args.bind))?;
    let addr = listener.local_addr()?;
    let app = router(
        MockServerConfig {
            latency: Duration::from_millis(args.latency_ms),
            api_key: args.api_key,
        },
        Arc::new(MockStats::default()),
    );
    say!("mock provider on http://{addr} (OpenAI API under /v1, Anthropic's /v1/messages)");
    // Without TCP_NODELAY a response written in two pieces waits ~40 ms for a delayed ACK.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app)
        .with_graceful_shutdown(crate::shutdown_signal())
        .await?;
    Ok(ExitCode::SUCCESS)
}
