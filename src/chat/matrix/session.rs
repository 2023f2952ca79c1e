//! Logging in once and staying the same device: the session (user, device,
//! access token) is saved in `DATA_DIR/matrix/session.json` (readable by
//! its owner only) and matrix-sdk's state and crypto stores live beside it
//! in `DATA_DIR/matrix/store/`, so a restart reuses the device and its
//! encryption keys. The SDK's own sync token is removed before the session
//! is restored: Podium's cursor, committed with the replies, is the only
//! resume position (see the sync module for why).

use std::path::{Path, PathBuf};
use std::time::Duration;

use matrix_sdk::authentication::matrix::MatrixSession;
use matrix_sdk::config::RequestConfig;
use matrix_sdk::ruma::api::error::ErrorKind;
use matrix_sdk::store::StateStoreDataKey;
use matrix_sdk::{Client, SessionMeta, SessionTokens};

use crate::config::MatrixConfig;

/// Why the bot cannot log in; each names the homeserver and the user.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// The homeserver refused the credentials: retrying will not help.
    #[error("{homeserver} refused to log in {user}: {reason}")]
    Refused {
        homeserver: String,
        user: String,
        reason: String,
    },
    /// The homeserver could not be reached or failed: worth retrying.
    #[error("cannot reach {homeserver} to log in {user}: {reason}")]
    Unreachable {
        homeserver: String,
        user: String,
        reason: String,
    },
    #[error("cannot keep the Matrix session in {}: {reason}", dir.display())]
    Files { dir: PathBuf, reason: String },
}

/// Requests made by the SDK for Podium: no long hidden retry loops (Podium
/// retries itself, and must not block a room for 15 minutes).
pub fn request_config() -> RequestConfig {
    RequestConfig::new()
        .timeout(Duration::from_secs(45))
        .retry_limit(2)
        .max_retry_time(Duration::from_secs(10))
}

/// A logged-in client for `config`, with its stores under `dir`.
pub async fn login(config: &MatrixConfig, dir: &Path) -> Result<Client, LoginError> {
    let files = |reason: String| LoginError::Files {
        dir: dir.to_owned(),
        reason,
    };
    create_private_dir(dir).map_err(|e| files(e.to_string()))?;
    let saved = read_session(dir)
        .map_err(files)?
        .filter(|s| s.meta.user_id.as_str() == config.user);
    if saved.is_none() {
        // Another account's (or no) session: its stores would not match.
        let _ = std::fs::remove_dir_all(dir.join("store"));
    }
    let client = build(config, dir).await?;
    forget_sdk_sync_token(&client).await;
    if let Some(session) = saved {
        let device = session.meta.device_id.to_string();
        match restore_and_check(&client, session, config).await {
            Ok(()) => return Ok(client),
            Err(LoginError::Refused { reason, .. }) if config.password.is_some() => {
                tracing::warn!(homeserver = %config.homeserver, user = %config.user, %reason,
                    "the saved session was refused; logging in again with the password");
                drop(client);
                let client = build(config, dir).await?;
                forget_sdk_sync_token(&client).await;
                return password_login(&client, config, dir, Some(&device))
                    .await
                    .map(|()| client);
            }
            Err(e) => return Err(e),
        }
    }
    match (&config.access_token, &config.password) {
        (Some(token), _) => token_login(client, config, dir, token.expose()).await,
        (None, Some(_)) => password_login(&client, config, dir, None)
            .await
            .map(|()| client),
        (None, None) => Err(LoginError::Refused {
            homeserver: config.homeserver.clone(),
            user: config.user.clone(),
            reason: "neither a password nor an access token is configured".into(),
        }),
    }
    .inspect(|c| {
        tracing::info!(homeserver = %config.homeserver, user = %config.user,
            device = %c.device_id().map(ToString::to_string).unwrap_or_default(), "logged in");
    })
}

async fn build(config: &MatrixConfig, dir: &Path) -> Result<Client, LoginError> {
    Client::builder()
        .homeserver_url(&config.homeserver)
        .sqlite_store(dir.join("store"), None)
        .request_config(request_config())
        .build()
        .await
        .map_err(|e| LoginError::Unreachable {
            homeserver: config.homeserver.clone(),
            user: config.user.clone(),
            reason: e.to_string(),
        })
}

/// The SDK discards a sync response whose `next_batch` equals the token
/// it saved last: after a crash between its save and Podium's commit,
/// syncing again from Podium's older cursor could come back empty and lose
/// the messages in between. So its token is removed before every start.
async fn forget_sdk_sync_token(client: &Client) {
    if let Err(e) = client
        .state_store()
        .remove_kv_data(StateStoreDataKey::SyncToken)
        .await
    {
        tracing::warn!(cause = %e, "cannot clear matrix-sdk's own sync token");
    }
}

async fn restore_and_check(
    client: &Client,
    session: MatrixSession,
    config: &MatrixConfig,
) -> Result<(), LoginError> {
    client
        .restore_session(session)
        .await
        .map_err(|e| classify(config, &e.to_string(), None))?;
    client
        .whoami()
        .await
        .map(|_| ())
        .map_err(|e| classify(config, &e.to_string(), e.client_api_error_kind()))
}

async fn password_login(
    client: &Client,
    config: &MatrixConfig,
    dir: &Path,
    device: Option<&str>,
) -> Result<(), LoginError> {
    let password = config.password.as_ref().map_or("", |p| p.expose());
    let mut login = client
        .matrix_auth()
        .login_username(&config.user, password)
        .initial_device_display_name(&config.device_name);
    if let Some(device) = device {
        login = login.device_id(device);
    }
    login
        .send()
        .await
        .map_err(|e| classify(config, &e.to_string(), e.client_api_error_kind()))?;
    save(client, dir)
}

/// An access token: its device is asked of the homeserver first (with a
/// throwaway client), then the session is restored over the stores.
async fn token_login(
    client: Client,
    config: &MatrixConfig,
    dir: &Path,
    token: &str,
) -> Result<Client, LoginError> {
    let user_id = config
        .user
        .as_str()
        .try_into()
        .map_err(|e: matrix_sdk::IdParseError| classify(config, &e.to_string(), None))?;
    let probe = Client::builder()
        .homeserver_url(&config.homeserver)
        .request_config(request_config())
        .build()
        .await
        .map_err(|e| classify(config, &e.to_string(), None))?;
    let session = |device: &str| MatrixSession {
        meta: SessionMeta {
            user_id: matrix_sdk::ruma::OwnedUserId::clone(&user_id),
            device_id: device.into(),
        },
        tokens: SessionTokens {
            access_token: token.to_owned(),
            refresh_token: None,
        },
    };
    probe
        .restore_session(session("PODIUM_PROBE"))
        .await
        .map_err(|e| classify(config, &e.to_string(), None))?;
    let whoami = probe
        .whoami()
        .await
        .map_err(|e| classify(config, &e.to_string(), e.client_api_error_kind()))?;
    let device = whoami
        .device_id
        .map(|d| d.to_string())
        .ok_or_else(|| LoginError::Refused {
            homeserver: config.homeserver.clone(),
            user: config.user.clone(),
            reason: "the access token belongs to no device".into(),
        })?;
    client
        .restore_session(session(&device))
        .await
        .map_err(|e| classify(config, &e.to_string(), None))?;
    save(&client, dir)?;
    Ok(client)
}

/// Refused (wrong password, revoked token, deactivated user: retrying will
/// not help) or unreachable (worth retrying).
fn classify(config: &MatrixConfig, reason: &str, kind: Option<&ErrorKind>) -> LoginError {
    let homeserver = config.homeserver.clone();
    let user = config.user.clone();
    let reason = reason.to_owned();
    match kind {
        Some(
            ErrorKind::Forbidden
            | ErrorKind::UnknownToken { .. }
            | ErrorKind::MissingToken
            | ErrorKind::UserDeactivated
            | ErrorKind::InvalidUsername
            | ErrorKind::UserLocked
            | ErrorKind::UserSuspended,
        ) => LoginError::Refused {
            homeserver,
            user,
            reason,
        },
        _ => LoginError::Unreachable {
            homeserver,
            user,
            reason,
        },
    }
}

const SESSION_FILE: &str = "session.json";

fn read_session(dir: &Path) -> Result<Option<MatrixSession>, String> {
    match std::fs::read_to_string(dir.join(SESSION_FILE)) {
        Ok(text) => serde_json::from_str(&text).map(Some).map_err(|e| {
            format!("{SESSION_FILE} is not a session ({e}); remove it to log in again")
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read {SESSION_FILE}: {e}")),
    }
}

/// Writes the session aside and renames it into place, owner-only: it
/// holds the access token.
fn save(client: &Client, dir: &Path) -> Result<(), LoginError> {
    let files = |reason: String| LoginError::Files {
        dir: dir.to_owned(),
        reason,
    };
    let session = client
        .matrix_auth()
        .session()
        .ok_or_else(|| files("the client has no session after logging in".into()))?;
    let json = serde_json::to_string(&session).map_err(|e| files(e.to_string()))?;
    let partial = dir.join("session.json.partial");
    write_private(&partial, json.as_bytes()).map_err(|e| files(e.to_string()))?;
    std::fs::rename(&partial, dir.join(SESSION_FILE)).map_err(|e| files(e.to_string()))
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}
