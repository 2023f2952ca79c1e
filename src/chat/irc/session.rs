//! One connection, up to registration: TCP or TLS (rustls), the IRCv3
//! capabilities Podium uses where the server offers them, a SASL PLAIN
//! login where it offers SASL, the server password, and a nick (the
//! configured one, or an alternate while it is taken). What the server
//! refuses outright (the password, the nick's form, the SASL login) is a
//! configuration problem and said so; anything else is worth retrying.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use base64::Engine as _;
use futures_util::StreamExt;
use irc::client::{Client, ClientStream};
use irc::proto::{CapSubCommand, Command, Response};

use super::caps::{WANTED, cap_parts, has_accounts};
use crate::config::IrcConfig;

/// How long connecting (and the TLS handshake) may take.
const CONNECT_PATIENCE: Duration = Duration::from_secs(30);
/// How long registration may take once connected.
const REGISTER_PATIENCE: Duration = Duration::from_secs(60);

/// A registered connection.
pub struct Session {
    /// Shared with the send queue and the engine's operator checks; the
    /// stream stays with the connection.
    pub client: std::sync::Arc<Client>,
    pub stream: ClientStream,
    /// The capabilities the server granted.
    pub caps: HashSet<String>,
    /// The nick the server registered (an alternate if the configured one
    /// was taken).
    pub nick: String,
    /// The server has accounts (see [`has_accounts`]): people are then
    /// identified by account, never by nick.
    pub accounts: bool,
    /// Podium logged in to its own account with SASL.
    pub logged_in: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// Retrying with the same settings cannot help.
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Failed(String),
}

/// Connects to the server and registers.
///
/// # Errors
/// [`OpenError::Refused`] when the server rejects the configuration,
/// [`OpenError::Failed`] otherwise.
pub async fn open(config: &IrcConfig) -> Result<Session, OpenError> {
    let client = tokio::time::timeout(CONNECT_PATIENCE, Client::from_config(irc_config(config)?))
        .await
        .map_err(|_| OpenError::Failed(format!("no answer within {CONNECT_PATIENCE:?}")))?
        .map_err(|e| OpenError::Failed(describe(&e)))?;
    let mut reg = Registration::new(config, client)?;
    tokio::time::timeout(REGISTER_PATIENCE, reg.run())
        .await
        .map_err(|_| {
            OpenError::Failed(format!(
                "connected, but not registered within {REGISTER_PATIENCE:?}"
            ))
        })??;
    Ok(Session {
        accounts: has_accounts(&reg.offered, &reg.acked),
        caps: reg.acked,
        nick: reg.nick,
        logged_in: reg.logged_in,
        client: std::sync::Arc::new(reg.client),
        stream: reg.stream,
    })
}

/// The `irc` crate's settings for `config`. Podium sends NICK, USER and
/// PASS itself (so capability negotiation comes first) and joins its
/// channels itself, so those are left out here.
fn irc_config(config: &IrcConfig) -> Result<irc::client::data::Config, OpenError> {
    let (host, port) = host_port(&config.server)
        .ok_or_else(|| OpenError::Refused(format!("`{}` is not host:port", config.server)))?;
    Ok(irc::client::data::Config {
        nickname: Some(config.nick.clone()),
        alt_nicks: alternates(&config.nick, config.replicas),
        username: Some(config.username.clone()),
        realname: Some(config.realname.clone()),
        server: Some(host),
        port: Some(port),
        use_tls: Some(config.tls),
        dangerously_accept_invalid_certs: Some(config.accept_invalid_certs),
        encoding: Some("UTF-8".into()),
        // A dead connection is noticed within 90 s rather than 200.
        ping_time: Some(60),
        ping_timeout: Some(30),
        version: Some(version()),
        ..irc::client::data::Config::default()
    })
}

/// What Podium says it is (CTCP VERSION, the real name's default).
pub fn version() -> String {
    format!("Podium {}, a debate host", env!("CARGO_PKG_VERSION"))
}

/// `irc.example.org:6697` or `[::1]:6667`.
fn host_port(server: &str) -> Option<(String, u16)> {
    let (host, port) = server.rsplit_once(':')?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    Some((host.to_owned(), port.parse().ok()?))
}

/// Nicks to fall back on while the configured one is taken. Many, since
/// the `irc` crate gives up (and drops the connection) when it runs out.
/// Replicas share the configured nick and number themselves first
/// (`podium-2`, `podium-3`, ...), so a channel sees which one posts.
fn alternates(nick: &str, replicas: bool) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    if replicas {
        out.extend((2..=9).map(|n| format!("{nick}-{n}")));
    }
    out.extend((1..=3).map(|n| format!("{nick}{}", "_".repeat(n))));
    out.extend((1..=20).map(|n| format!("{nick}{n}")));
    out
}

/// An error of the `irc` crate, as an operator should read it.
pub fn describe(e: &irc::error::Error) -> String {
    match e {
        irc::error::Error::NoUsableNick => {
            "the nick and every alternate to it are in use".to_owned()
        }
        irc::error::Error::PingTimeout => "the server stopped answering pings".to_owned(),
        other => with_causes(other),
    }
}

/// An error and its causes ("an io error occurred: invalid peer
/// certificate: UnknownIssuer"): the `irc` crate's own message alone does
/// not say what went wrong.
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let next = c.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        cause = c.source();
    }
    text
}

/// A numeric reply's number and arguments, whether or not the `irc` crate
/// knows its name.
pub fn numeric(command: &Command) -> Option<(u16, &[String])> {
    match command {
        Command::Response(r, args) => Some((*r as u16, args.as_slice())),
        Command::Raw(code, args) if code.len() == 3 => {
            code.parse().ok().map(|n| (n, args.as_slice()))
        }
        _ => None,
    }
}

struct Registration<'a> {
    config: &'a IrcConfig,
    client: Client,
    stream: ClientStream,
    /// Offered capabilities and their values (`sasl=PLAIN,EXTERNAL`).
    offered: HashMap<String, String>,
    acked: HashSet<String>,
    /// Capability requests not answered yet.
    asked: usize,
    nick: String,
    logged_in: bool,
}

impl<'a> Registration<'a> {
    fn new(config: &'a IrcConfig, mut client: Client) -> Result<Self, OpenError> {
        let stream = client
            .stream()
            .map_err(|e| OpenError::Failed(describe(&e)))?;
        Ok(Registration {
            config,
            client,
            stream,
            offered: HashMap::new(),
            acked: HashSet::new(),
            asked: 0,
            nick: config.nick.clone(),
            logged_in: false,
        })
    }

    fn send(&self, command: Command) -> Result<(), OpenError> {
        self.client
            .send(command)
            .map_err(|e| OpenError::Failed(describe(&e)))
    }

    async fn run(&mut self) -> Result<(), OpenError> {
        // Registration waits for CAP END once CAP LS is seen, so the
        // capabilities and the SASL login come before the nick is taken.
        self.send(Command::CAP(
            None,
            CapSubCommand::LS,
            None,
            Some("302".into()),
        ))?;
        if let Some(p) = &self.config.server_password {
            self.send(Command::PASS(p.expose().to_owned()))?;
        }
        self.send(Command::NICK(self.config.nick.clone()))?;
        self.send(Command::USER(
            self.config.username.clone(),
            "0".into(),
            self.config.realname.clone(),
        ))?;
        loop {
            let message = match self.stream.next().await {
                Some(Ok(m)) => m,
                Some(Err(e)) => return Err(OpenError::Failed(describe(&e))),
                None => return Err(OpenError::Failed("the server closed the connection".into())),
            };
            if self.handle(&message.command)? {
                return Ok(());
            }
        }
    }

    /// True once registered.
    fn handle(&mut self, command: &Command) -> Result<bool, OpenError> {
        match command {
            Command::CAP(..) => self.cap(command)?,
            Command::AUTHENTICATE(data) if data == "+" => self.credentials()?,
            Command::ERROR(reason) => {
                return Err(OpenError::Failed(format!(
                    "the server closed the link: {reason}"
                )));
            }
            _ => {}
        }
        let Some((code, args)) = numeric(command) else {
            return Ok(false);
        };
        let reason = args.last().cloned().unwrap_or_default();
        let account = &self.config.account;
        match code {
            1 => {
                if let Some(nick) = args.first() {
                    self.nick.clone_from(nick);
                }
                return Ok(true);
            }
            903 => {
                self.logged_in = true;
                self.end_caps()?;
            }
            902 | 904 | 905 => {
                return Err(OpenError::Refused(format!(
                    "the server refused the SASL login as `{account}`: {reason}"
                )));
            }
            // SASL aborted, or PLAIN not among its mechanisms: go on
            // without it (NickServ is tried after registration).
            906..=908 => self.end_caps()?,
            c if c == Response::ERR_PASSWDMISMATCH as u16 => {
                return Err(OpenError::Refused(format!(
                    "the server refused its password (irc.server_password): {reason}"
                )));
            }
            c if c == Response::ERR_ERRONEOUSNICKNAME as u16 => {
                return Err(OpenError::Refused(format!(
                    "the server does not accept the nick `{}`: {reason}",
                    self.config.nick
                )));
            }
            c if c == Response::ERR_NICKNAMEINUSE as u16 => {
                tracing::info!(nick = %args.get(1).map_or("", String::as_str),
                    "that nick is in use; trying an alternate");
            }
            c if c == Response::ERR_YOUREBANNEDCREEP as u16 => {
                return Err(OpenError::Failed(format!(
                    "banned from the server: {reason}"
                )));
            }
            _ => {}
        }
        Ok(false)
    }

    fn cap(&mut self, command: &Command) -> Result<(), OpenError> {
        let Some((sub, more, list)) = cap_parts(command) else {
            return Ok(());
        };
        match sub {
            CapSubCommand::LS => {
                for item in list.split_whitespace() {
                    let (name, value) = item.split_once('=').unwrap_or((item, ""));
                    self.offered.insert(name.to_owned(), value.to_owned());
                }
                if !more {
                    self.request()?;
                }
            }
            CapSubCommand::ACK | CapSubCommand::NAK => {
                if sub == CapSubCommand::ACK {
                    self.acked.extend(
                        list.split_whitespace()
                            .map(|c| c.trim_start_matches('-').to_owned()),
                    );
                }
                self.asked = self.asked.saturating_sub(1);
                if self.asked == 0 {
                    self.after_caps()?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Asks for each wanted capability on its own, so one the server
    /// refuses does not take the others with it.
    fn request(&mut self) -> Result<(), OpenError> {
        let mut wanted: Vec<&str> = WANTED
            .iter()
            .copied()
            .filter(|c| self.offered.contains_key(*c))
            .collect();
        // Echoes are only useful with their labels.
        if !self.offered.contains_key("labeled-response") || !self.offered.contains_key("batch") {
            wanted.retain(|c| !matches!(*c, "echo-message" | "labeled-response" | "batch"));
        }
        if self.wants_sasl() {
            wanted.push("sasl");
        }
        self.asked = wanted.len();
        if wanted.is_empty() {
            return self.end_caps();
        }
        for cap in wanted {
            self.send(Command::CAP(
                None,
                CapSubCommand::REQ,
                None,
                Some(cap.to_owned()),
            ))?;
        }
        Ok(())
    }

    fn wants_sasl(&self) -> bool {
        self.config.password.is_some()
            && self.offered.get("sasl").is_some_and(|mechs| {
                mechs.is_empty() || mechs.split(',').any(|m| m.eq_ignore_ascii_case("PLAIN"))
            })
    }

    fn after_caps(&mut self) -> Result<(), OpenError> {
        if self.acked.contains("sasl") && self.config.password.is_some() {
            self.send(Command::AUTHENTICATE("PLAIN".into()))
        } else {
            self.end_caps()
        }
    }

    fn end_caps(&self) -> Result<(), OpenError> {
        self.send(Command::CAP(None, CapSubCommand::END, None, None))
    }

    /// SASL PLAIN: `account NUL account NUL password`, base64, in chunks of
    /// 400 bytes (an exact multiple ends with `+`).
    fn credentials(&self) -> Result<(), OpenError> {
        let Some(password) = &self.config.password else {
            return self.send(Command::AUTHENTICATE("*".into()));
        };
        let account = &self.config.account;
        let plain = format!("{account}\0{account}\0{}", password.expose());
        let encoded = base64::engine::general_purpose::STANDARD.encode(plain);
        for chunk in encoded.as_bytes().chunks(400) {
            self.send(Command::AUTHENTICATE(
                String::from_utf8_lossy(chunk).into_owned(),
            ))?;
        }
        if encoded.len() % 400 == 0 {
            self.send(Command::AUTHENTICATE("+".into()))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_are_host_and_port() {
        assert_eq!(
            host_port("irc.libera.chat:6697"),
            Some(("irc.libera.chat".into(), 6697))
        );
        assert_eq!(host_port("[::1]:6667"), Some(("::1".into(), 6667)));
        assert_eq!(host_port("nowhere"), None);
    }

    #[test]
    fn errors_are_described_with_their_causes() {
        let io = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "invalid peer certificate: UnknownIssuer",
        );
        let text = describe(&irc::error::Error::Io(io));
        assert!(
            text.contains("invalid peer certificate: UnknownIssuer"),
            "{text}"
        );
    }

    #[test]
    fn alternates_never_run_out_quickly() {
        let alts = alternates("podium", false);
        assert_eq!(alts[0], "podium_");
        assert!(alts.len() >= 20);
    }
}
