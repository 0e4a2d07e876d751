use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum_server::accept::NoDelayAcceptor;
use axum_server::tls_rustls::RustlsConfig;
use axum_server::Handle;
use tokio::net::TcpListener;
use tollgate_config::Settings;
use tollgate_gateway::{GatewayState, Recovered, Upstreams, UsageJournal, UsageWriter};
use tollgate_store::{Store, StoreError};

use crate::checkpoints::Checkpointer;
use crate::{http, tls};

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
    /// A provider cannot be set up (bad header, HTTP client).
    #[error(transparent)]
    Provider(#[from] tollgate_providers::http::SetupError),
    /// The usage journal cannot be opened (or another process has it).
    #[error(transparent)]
    Journal(#[from] tollgate_gateway::JournalError),
    /// The checkpoint signing key or a trusted key cannot be loaded.
    #[error(transparent)]
    AuditKey(#[from] crate::checkpoints::KeyError),
    /// The certificate or key cannot be loaded.
    #[error("cannot load the TLS certificate {cert} and key {key}: {source}; check server.tls.cert_file and server.tls.key_file")]
    Tls {
        /// Certificate file.
        cert: String,
        /// Key file.
        key: String,
        /// Why.
        source: std::io::Error,
    },
}

/// A server that is bound and ready to run.
pub struct Application {
    listener: TcpListener,
    store: Store,
    settings: Settings,
    upstreams: Arc<Upstreams>,
    journal: UsageJournal,
    tls: Option<RustlsConfig>,
    checkpointer: Option<Checkpointer>,
}

impl Application {
    /// Opens the store, migrates it when `database.migrate_on_start` is set, loads the TLS
    /// certificate if one is configured, and binds.
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
        let upstreams = Arc::new(Upstreams::from_settings(&settings)?);
        crate::checkpoints::trusted(&settings.audit)?;
        let checkpointer = Checkpointer::from_settings(&settings.audit)?;
        if checkpointer.is_none() {
            tracing::warn!("audit checkpoints are not signed: set audit.signing_key_file (`tollgate audit keygen` makes a key) so the audit trail can be verified outside the database");
        }
        let mut journal = UsageJournal::open(&settings.usage)?;
        // Without it the writer still stores what is left, and a later clean stop gives the
        // leases back: a failure here only delays.
        match journal.recover(&store, settings.usage.batch_records).await {
            Ok(found) if found != Recovered::default() => tracing::info!(
                records = found.records,
                credits = found.credits,
                "stored the usage an earlier process left in the journal and gave its credit leases back"
            ),
            Ok(_) => {}
            Err(err) => tracing::warn!(%err, "cannot store what an earlier process left in the usage journal yet; the usage writer will"),
        }
        let tls_settings = &settings.server.tls;
        let tls = if tls_settings.enabled() {
            let config =
                RustlsConfig::from_pem_file(&tls_settings.cert_file, &tls_settings.key_file)
                    .await
                    .map_err(|source| StartError::Tls {
                        cert: tls_settings.cert_file.clone(),
                        key: tls_settings.key_file.clone(),
                        source,
                    })?;
            Some(config)
        } else {
            None
        };
        let addr = settings.server.bind;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| StartError::Bind { addr, source })?;
        Ok(Self {
            listener,
            store,
            settings,
            upstreams,
            journal,
            tls,
            checkpointer,
        })
    }

    /// The address actually bound (the port is chosen by the OS when it was 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or(self.settings.server.bind)
    }

    /// `https` when TLS is terminated here, else `http`.
    pub fn scheme(&self) -> &'static str {
        if self.tls.is_some() {
            "https"
        } else {
            "http"
        }
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
        let grace = Duration::from_secs(self.settings.server.shutdown_grace_seconds);
        let holder = self.journal.holder();
        let (usage, usage_writer) =
            UsageWriter::start(self.journal, self.store.clone(), &self.settings.usage);
        let gateway = GatewayState::new(
            self.store.clone(),
            &self.settings,
            self.upstreams,
            usage,
            holder,
        );
        let (stop_returns, returns_stopped) = tokio::sync::oneshot::channel::<()>();
        let returns = {
            let gateway = gateway.clone();
            tokio::spawn(async move {
                gateway
                    .return_idle_credits(async {
                        let _ = returns_stopped.await;
                    })
                    .await;
            })
        };
        let (stop_checkpoints, checkpoints_stopped) = tokio::sync::oneshot::channel::<()>();
        let interval = self.settings.audit.checkpoint_interval_seconds;
        let checkpoints = self.checkpointer.filter(|_| interval > 0).map(|c| {
            let store = self.store.clone();
            tokio::spawn(async move {
                let stop = async {
                    let _ = checkpoints_stopped.await;
                };
                c.run_every(store.clone(), Duration::from_secs(interval), stop)
                    .await;
                // One last round, so the changes of the final minutes are covered too.
                if let Err(err) = c.sign(&store, None).await {
                    tracing::warn!(%err, "cannot sign the final audit checkpoints");
                }
            })
        });
        let (stop_retention, retention_stopped) = tokio::sync::oneshot::channel::<()>();
        let retention = self.settings.retention.enabled.then(|| {
            tokio::spawn(crate::retention::run_every(
                self.store.clone(),
                self.settings.retention.clone(),
                holder.to_string(),
                async {
                    let _ = retention_stopped.await;
                },
            ))
        });
        let service = http::router(self.store.clone(), &self.settings, gateway.clone())
            .into_make_service_with_connect_info::<SocketAddr>();
        let handle: Handle<SocketAddr> = Handle::new();
        let stopper = handle.clone();
        tokio::spawn(async move {
            shutdown.await;
            tracing::info!(
                grace_seconds = grace.as_secs(),
                "shutting down: draining in-flight requests"
            );
            stopper.graceful_shutdown(Some(grace));
        });
        let store = self.store.clone();
        let listener = self.listener.into_std()?;
        // NoDelayAcceptor: without TCP_NODELAY a response written in two pieces can wait
        // ~40 ms for a delayed ACK.
        let served = match self.tls {
            None => {
                axum_server::from_tcp(listener)?
                    .acceptor(NoDelayAcceptor::new())
                    .handle(handle)
                    .serve(service)
                    .await
            }
            Some(config) => {
                let reloader = tokio::spawn(tls::reload_on_change(
                    config.clone(),
                    self.settings.server.tls.clone(),
                ));
                let served = axum_server::from_tcp_rustls(listener, config)?
                    .map(|tls| tls.acceptor(NoDelayAcceptor::new()))
                    .handle(handle)
                    .serve(service)
                    .await;
                reloader.abort();
                served
            }
        };
        // Requests are drained (or the grace period is over): store the usage, then give the
        // credit leases back (only then is what is left in them known to be unspent).
        let _ = stop_returns.send(());
        let _ = returns.await;
        let _ = stop_retention.send(());
        if let Some(task) = retention {
            let _ = task.await;
        }
        let _ = stop_checkpoints.send(());
        if let Some(task) = checkpoints {
            let _ = task.await;
        }
        // Streams cut off by the end of the grace period settle as their connections go.
        let settled = gateway.settled(Duration::from_secs(5)).await;
        if !settled {
            tracing::error!(
                "calls still settling at shutdown; the credit leases stay for the next start"
            );
        }
        match tokio::time::timeout(grace, usage_writer.finish()).await {
            Ok(true) if settled => match store.return_leases(holder).await {
                Ok(credits) if credits > 0 => {
                    tracing::info!(credits, "gave the credit leases back")
                }
                Ok(_) => {}
                Err(err) => {
                    tracing::error!(%err, "cannot give the credit leases back; the next start will")
                }
            },
            Ok(true) => {}
            Ok(false) | Err(_) => tracing::error!("usage records not all stored within the grace period; they and the credit leases wait in the journal for the next start"),
        }
        store.close().await;
        served
    }
}
