//! How every process connects: servers, credentials, TLS. Secrets are read
//! from files or the environment, never printed: [`Connection`]'s `Debug`
//! shows only whether a secret is set.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use async_nats::jetstream::{self, stream};
use async_nats::{Client, ConnectOptions};

use crate::error::{nats, Error, Result};
use crate::partition::Names;

/// Connection settings shared by every subcommand.
#[derive(Clone, Default)]
pub struct Connection {
    /// Server URLs, e.g. `nats://127.0.0.1:4222` or `tls://…`.
    pub servers: Vec<String>,
    /// User name for user/password authentication.
    pub user: Option<String>,
    /// The password (read from a file or the environment by the caller).
    pub password: Option<String>,
    /// A `.creds` file (JWT + nkey seed).
    pub creds_file: Option<PathBuf>,
    /// A file holding an nkey seed.
    pub nkey_seed_file: Option<PathBuf>,
    /// A CA certificate (PEM) the servers' certificates must chain to; implies TLS.
    pub tls_ca: Option<PathBuf>,
    /// A client certificate and key (PEM), for servers that verify clients.
    pub tls_client: Option<(PathBuf, PathBuf)>,
    /// Client name shown in the server's monitoring.
    pub name: String,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("servers", &self.servers)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<set>"))
            .field("creds_file", &self.creds_file)
            .field(
                "nkey_seed_file",
                &self.nkey_seed_file.as_ref().map(|_| "<set>"),
            )
            .field("tls_ca", &self.tls_ca)
            .field("tls_client", &self.tls_client)
            .finish()
    }
}

impl Connection {
    /// Plain settings for `servers`.
    pub fn new<S: Into<String>>(servers: impl IntoIterator<Item = S>) -> Connection {
        Connection {
            servers: servers.into_iter().map(Into::into).collect(),
            name: "trendlog-cluster".into(),
            ..Connection::default()
        }
    }

    /// Connects, retrying for up to `patience` while no server answers (a
    /// cluster starting up). Authentication failures are not retried.
    pub async fn connect(&self, patience: Duration) -> Result<Client> {
        if self.servers.is_empty() {
            return Err(Error::Config("no NATS server given (--server)".into()));
        }
        let deadline = tokio::time::Instant::now() + patience;
        let mut delay = Duration::from_millis(50);
        loop {
            match self.options().await?.connect(self.servers.clone()).await {
                Ok(c) => return Ok(c),
                Err(e) => {
                    let kind = e.kind();
                    let auth = matches!(
                        kind,
                        async_nats::ConnectErrorKind::AuthorizationViolation
                            | async_nats::ConnectErrorKind::Authentication
                            | async_nats::ConnectErrorKind::Tls
                    );
                    if auth || tokio::time::Instant::now() >= deadline {
                        return Err(Error::Connect(e.to_string()));
                    }
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(1));
                }
            }
        }
    }

    async fn options(&self) -> Result<ConnectOptions> {
        let mut o = ConnectOptions::new()
            .name(&self.name)
            .connection_timeout(Duration::from_secs(3))
            .request_timeout(Some(Duration::from_secs(5)))
            // Reconnect forever: a process outlives any one server.
            .max_reconnects(None);
        if let Some(path) = &self.creds_file {
            o = o
                .credentials_file(path)
                .await
                .map_err(|e| Error::Io(path.clone(), e))?;
        }
        if let Some(path) = &self.nkey_seed_file {
            let seed = std::fs::read_to_string(path).map_err(|e| Error::Io(path.clone(), e))?;
            o = o.nkey(seed.trim().to_owned());
        }
        match (&self.user, &self.password) {
            (Some(u), Some(p)) => o = o.user_and_password(u.clone(), p.clone()),
            (None, None) => {}
            _ => {
                return Err(Error::Config(
                    "give both a user and a password, or neither".into(),
                ))
            }
        }
        if let Some(ca) = &self.tls_ca {
            o = o.add_root_certificates(ca.clone()).require_tls(true);
        }
        if let Some((cert, key)) = &self.tls_client {
            o = o.add_client_certificate(cert.clone(), key.clone());
        }
        Ok(o)
    }
}

/// Stream settings for a deployment.
#[derive(Debug, Clone)]
pub struct StreamSettings {
    /// Copies of each stream (3 on a 3-server cluster).
    pub replicas: usize,
    /// How long a message is kept: a replica can be rebuilt from the stream
    /// start while its data is younger than this.
    pub max_age: Duration,
    /// The window in which a retried publish with the same message id is dropped.
    pub duplicate_window: Duration,
}

impl Default for StreamSettings {
    fn default() -> StreamSettings {
        StreamSettings {
            replicas: 3,
            max_age: Duration::from_secs(7 * 86_400),
            duplicate_window: Duration::from_secs(120),
        }
    }
}

/// Retries `f` with backoff while it fails (a leader election, a server
/// restarting), for up to `patience`.
pub async fn retry<T, E: fmt::Display, F, Fut>(
    what: &str,
    patience: Duration,
    mut f: F,
) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = std::result::Result<T, E>>,
{
    let deadline = tokio::time::Instant::now() + patience;
    let mut delay = Duration::from_millis(50);
    loop {
        match f().await {
            Ok(v) => return Ok(v),
            Err(e) => {
                if tokio::time::Instant::now() >= deadline {
                    return Err(Error::Nats(format!("{what}: {e}")));
                }
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(1));
            }
        }
    }
}

/// Creates (or updates) the partition streams: file storage, Limits retention
/// with a max age, `replicas` copies, a duplicate window for publish retries.
pub async fn ensure_streams(client: &Client, names: &Names, s: &StreamSettings) -> Result<()> {
    let js = jetstream::new(client.clone());
    for p in 0..names.partitions {
        let config = stream::Config {
            name: names.stream(p),
            subjects: vec![names.subject(p)],
            retention: stream::RetentionPolicy::Limits,
            storage: stream::StorageType::File,
            num_replicas: s.replicas,
            max_age: s.max_age,
            duplicate_window: s.duplicate_window,
            discard: stream::DiscardPolicy::Old,
            ..Default::default()
        };
        retry("creating a stream", Duration::from_secs(60), || {
            js.create_or_update_stream(config.clone())
        })
        .await?;
    }
    Ok(())
}

/// `nats` for a client's error when flushing.
pub async fn flush(client: &Client) -> Result<()> {
    client.flush().await.map_err(nats)
}
