use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::Notify;
use tollgate_config::Settings;
use tollgate_store::{Store, StoreError};

use crate::http;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The database could not be opened or migrated.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The listen address is taken or not ours.
    #[error("cannot listen on {addr}: {source}; set server.bind (TOLLGATE_SERVER__BIND) to a free address")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// A server that is bound and ready to run.
pub struct Application {
    listener: TcpListener,
    store: Store,
    settings: Settings,
}

impl Application {
    /// Opens the store, migrates it when `database.migrate_on_start` is set, and binds.
    pub async fn build(settings: Settings) -> Result<Self, StartError> {
        let store = Store::connect(&settings.database).await?;
        Self::build_with_store(settings, store).await
    }

    /// Like [`Application::build`] with a store the caller already opened.
    pub async fn build_with_store(settings: Settings, store: Store) -> Result<Self, StartError> {
        if settings.database.migrate_on_start {
            let report = store
                .migrate_up(None, settings.database.backup_before_migrate)
                .await?;
            if let Some(backup) = &report.backup {
                tracing::info!(%backup, "copied the database aside before migrating");
            }
            if !report.applied.is_empty() {
                tracing::info!(applied = ?report.applied, "applied migrations");
            }
        }
        let addr = settings.server.bind;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| StartError::Bind { addr, source })?;
        Ok(Self {
            listener,
            store,
            settings,
        })
    }

    /// The address actually bound (the port is chosen by the OS when it was 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or(self.settings.server.bind)
    }

    /// The store the server uses.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Serves until `shutdown` completes, then drains in-flight requests for at most
    /// `server.shutdown_grace_seconds`.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        use axum::serve::ListenerExt;
        let grace = Duration::from_secs(self.settings.server.shutdown_grace_seconds);
        let router = http::router(self.store.clone());
        let listener = self.listener.tap_io(|tcp| {
            // Without it a response written in two pieces can wait ~40 ms for a delayed ACK.
            if let Err(err) = tcp.set_nodelay(true) {
                tracing::warn!(%err, "cannot set TCP_NODELAY");
            }
        });
        let stopping = Arc::new(Notify::new());
        let signal = {
            let stopping = stopping.clone();
            async move {
                shutdown.await;
                tracing::info!("shutting down: draining in-flight requests");
                stopping.notify_one();
            }
        };
        let serve = axum::serve(listener, router).with_graceful_shutdown(signal);
        tokio::select! {
            result = serve => result,
            () = async { stopping.notified().await; tokio::time::sleep(grace).await } => {
                tracing::warn!(seconds = grace.as_secs(), "requests still running after the grace period; stopping anyway");
                Ok(())
            }
        }
    }
}
