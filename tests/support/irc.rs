//! IRC for the tests: a real InspIRCd (one per test binary, started by
//! `scripts/ircd-up.sh` and stopped when the test binary exits), and
//! participants who are IRC clients of the tests' own: raw lines over tokio
//! sockets (plain TCP or TLS), not the `irc` crate the bot uses, so a bug
//! there cannot hide itself. Included by the IRC test binaries only
//! (`#[path]`), so the others need not build it.
//!
//! A [`Client`] keeps every line it received (parsed into a [`Message`]),
//! answers the server's PINGs by itself, and waits with a deadline: a wait
//! that times out fails the test with the last lines seen. Each wait
//! returns the earliest line not yet returned by an earlier wait that
//! matches, so lines that arrive while a test waits for something else are
//! not lost.
//!
//! InspIRCd completes a registration at its once-a-second tick: connecting
//! takes about a second, so connect several clients at once
//! (`tokio::join!`).
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::{Mutex, mpsc};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use tokio_rustls::rustls::crypto::{self, CryptoProvider};
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use tokio_rustls::rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};

use crate::support::WAIT;

/// The oper account every test server has (`OPER admin adminpass`).
pub const OPER: (&str, &str) = ("admin", "adminpass");

/// A test IRC server. Dropping it stops it and deletes its data dir (the
/// guard of [`start_ircd`]); the shared one of [`ircd`] lives as long as
/// the test binary, whose exit stops it (`IRCD_PARENT`).
pub struct Ircd {
    /// Plain connections: `127.0.0.1:PORT`.
    pub addr: String,
    /// TLS connections (self-signed certificate for `localhost`):
    /// `127.0.0.1:PORT`.
    pub tls_addr: String,
    /// Where a stand-in for services links in (`IRCD_SERVICES=yes`; see
    /// [`Services`]).
    pub link_addr: Option<String>,
    /// Its data dir: config, certificate (`cert.pem`), logs, ports.
    pub dir: PathBuf,
    /// Its flood protection (`relaxed`, `strict` or `strict-nofakelag`).
    pub flood: String,
    /// Other settings of `scripts/ircd-up.sh` it was started with.
    pub settings: Vec<(String, String)>,
    services: OnceLock<Services>,
}

/// Starts the binary's IRC server on first use (relaxed flood limits,
/// with a link for [`Services`]).
pub fn ircd() -> &'static Ircd {
    static IRCD: OnceLock<Ircd> = OnceLock::new();
    IRCD.get_or_init(|| start_ircd_with("relaxed", &[("IRCD_SERVICES", "yes")]))
}

/// Another IRC server of this test binary, on free ports, with the flood
/// protection `flood` (see `scripts/ircd-up.sh`): `relaxed`, `strict`
/// (Debian's defaults: fakelag) or `strict-nofakelag` ("Excess Flood").
pub fn start_ircd(flood: &str) -> Ircd {
    start_ircd_with(flood, &[])
}

/// [`start_ircd`] with more of `scripts/ircd-up.sh`'s settings, such as
/// `("IRCD_PINGFREQ", "10")`.
pub fn start_ircd_with(flood: &str, settings: &[(&str, &str)]) -> Ircd {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "podium-ircd-{}-{flood}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let settings: Vec<(String, String)> = settings
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let (addr, tls_addr, link_addr) = ircd_up(&dir, flood, &settings);
    Ircd {
        addr,
        tls_addr,
        link_addr,
        dir,
        flood: flood.to_owned(),
        settings,
        services: OnceLock::new(),
    }
}

impl Drop for Ircd {
    fn drop(&mut self) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/ircd-down.sh");
        // Quietly, and never a panic in a drop: the watchdog is the backstop.
        let _ = Command::new(&script)
            .arg("--wipe")
            .env("IRCD_DATA", &self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

impl Ircd {
    /// Stops it (`scripts/ircd-down.sh`, data dir kept): an outage. Every
    /// client's connection ends.
    pub fn stop(&self) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/ircd-down.sh");
        let status = Command::new(&script)
            .env("IRCD_DATA", &self.dir)
            .stderr(Stdio::inherit())
            .status()
            .expect("scripts/ircd-down.sh runs");
        assert!(status.success(), "scripts/ircd-down.sh failed");
    }

    /// Starts it again after [`Ircd::stop`]: same ports (the script
    /// remembers them), same flood protection. Nothing survives a restart:
    /// channels, their modes and opers are gone.
    pub fn start_again(&self) {
        let (addr, tls_addr, _) = ircd_up(&self.dir, &self.flood, &self.settings);
        assert_eq!(addr, self.addr, "InspIRCd came back on another port");
        assert_eq!(tls_addr, self.tls_addr);
    }

    /// The plain port.
    pub fn port(&self) -> u16 {
        port_of(&self.addr)
    }

    /// The TLS port.
    pub fn tls_port(&self) -> u16 {
        port_of(&self.tls_addr)
    }

    /// Its log (`ircd.log`), for failure reports.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("ircd.log")).unwrap_or_default()
    }
}

fn port_of(addr: &str) -> u16 {
    addr.rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("HOST:PORT")
}

/// `scripts/ircd-up.sh` on `dir`, on free ports, stopped (and `dir`
/// deleted) when this test binary exits: its plain, TLS and services link
/// addresses.
fn ircd_up(
    dir: &Path,
    flood: &str,
    settings: &[(String, String)],
) -> (String, String, Option<String>) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/ircd-up.sh");
    let out = Command::new(&script)
        .envs(settings.iter().map(|(k, v)| (k, v)))
        .env("IRCD_DATA", dir)
        .env("IRCD_PORT", "0")
        .env("IRCD_TLS_PORT", "0")
        .env("IRCD_FLOOD", flood)
        .env("IRCD_PARENT", std::process::id().to_string())
        .stderr(Stdio::inherit())
        .output()
        .expect("scripts/ircd-up.sh runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "scripts/ircd-up.sh failed: {stdout}");
    // KEY=VALUE lines: IRCD_PORT, IRCD_TLS_PORT, IRCD_ADDR, IRCD_TLS_ADDR.
    let value = |key: &str| {
        stdout
            .lines()
            .find_map(|l| l.trim().strip_prefix(key)?.strip_prefix('='))
            .unwrap_or_else(|| panic!("scripts/ircd-up.sh printed no {key}: {stdout}"))
            .to_owned()
    };
    let link = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("IRCD_LINK_ADDR="))
        .map(str::to_owned);
    (value("IRCD_ADDR"), value("IRCD_TLS_ADDR"), link)
}

/// A nick no other client of this test binary uses: `base` and a number
/// (IRC nicks are short: keep `base` under 20 characters).
pub fn unique_nick(base: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!("{base}{}", N.fetch_add(1, Ordering::SeqCst))
}

/// One line from the server, parsed.
#[derive(Clone, Debug)]
pub struct Message {
    /// IRCv3 tags, values unescaped (`\s` is a space...); a tag without a
    /// value maps to "".
    pub tags: BTreeMap<String, String>,
    /// The whole prefix (`nick!user@host` or a server name), without ':'.
    pub prefix: Option<String>,
    /// The nick of a user prefix; None for a server's.
    pub nick: Option<String>,
    /// As sent: `PRIVMSG`, `001`...
    pub command: String,
    /// Every parameter, the trailing one included (last).
    pub params: Vec<String>,
    /// The trailing parameter (the one after " :"), when there is one.
    pub trailing: Option<String>,
    /// The line without CR LF (invalid UTF-8 replaced with U+FFFD).
    pub raw: String,
    /// The line's bytes as received, without CR LF.
    pub bytes: Vec<u8>,
    /// When this client read it.
    pub at: Instant,
}

impl Message {
    /// Parses one line (without CR LF).
    pub fn parse(bytes: &[u8]) -> Message {
        let raw = String::from_utf8_lossy(bytes).into_owned();
        let mut rest = raw.as_str();
        let mut tags = BTreeMap::new();
        if let Some(after) = rest.strip_prefix('@') {
            let (tag_str, r) = after.split_once(' ').unwrap_or((after, ""));
            for tag in tag_str.split(';').filter(|t| !t.is_empty()) {
                let (k, v) = tag.split_once('=').unwrap_or((tag, ""));
                tags.insert(k.to_owned(), unescape_tag(v));
            }
            rest = r;
        }
        rest = rest.trim_start_matches(' ');
        let mut prefix = None;
        if let Some(after) = rest.strip_prefix(':') {
            let (p, r) = after.split_once(' ').unwrap_or((after, ""));
            prefix = Some(p.to_owned());
            rest = r.trim_start_matches(' ');
        }
        let (command, r) = rest.split_once(' ').unwrap_or((rest, ""));
        rest = r;
        let mut params = Vec::new();
        let mut trailing = None;
        loop {
            rest = rest.trim_start_matches(' ');
            if rest.is_empty() {
                break;
            }
            if let Some(t) = rest.strip_prefix(':') {
                params.push(t.to_owned());
                trailing = Some(t.to_owned());
                break;
            }
            let (p, r) = rest.split_once(' ').unwrap_or((rest, ""));
            params.push(p.to_owned());
            rest = r;
        }
        let nick = prefix.as_deref().and_then(|p| {
            let end = p.find(['!', '@']).unwrap_or(p.len());
            // A server's name has a dot and no user part.
            (end < p.len() || !p.contains('.')).then(|| p[..end].to_owned())
        });
        Message {
            tags,
            prefix,
            nick,
            command: command.to_owned(),
            params,
            trailing,
            bytes: bytes.to_vec(),
            raw,
            at: Instant::now(),
        }
    }

    /// The last parameter (a PRIVMSG's text), or "".
    pub fn text(&self) -> &str {
        self.params.last().map(String::as_str).unwrap_or("")
    }

    /// The first parameter (a PRIVMSG's target, a numeric's own nick), or "".
    pub fn target(&self) -> &str {
        self.params.first().map(String::as_str).unwrap_or("")
    }

    /// The value of tag `name` (`time`, `msgid`, `+draft/reply`...).
    pub fn tag(&self, name: &str) -> Option<&str> {
        self.tags.get(name).map(String::as_str)
    }

    /// The `msgid` tag.
    pub fn msgid(&self) -> Option<&str> {
        self.tag("msgid")
    }

    /// The `server-time` tag, parsed.
    pub fn time(&self) -> Option<DateTime<Utc>> {
        self.tag("time").and_then(|t| t.parse().ok())
    }

    /// Whether it is `command` (case-insensitive).
    pub fn is(&self, command: &str) -> bool {
        self.command.eq_ignore_ascii_case(command)
    }

    /// Whether it was sent by `nick` (case-insensitive).
    pub fn is_from(&self, nick: &str) -> bool {
        self.nick
            .as_deref()
            .is_some_and(|n| n.eq_ignore_ascii_case(nick))
    }

    /// A PRIVMSG from `from` to `to` (a channel or a nick); CTCP ACTIONs
    /// included.
    pub fn is_privmsg(&self, from: &str, to: &str) -> bool {
        self.is("PRIVMSG") && self.is_from(from) && self.target().eq_ignore_ascii_case(to)
    }

    /// A NOTICE from `from` to `to`.
    pub fn is_notice(&self, from: &str, to: &str) -> bool {
        self.is("NOTICE") && self.is_from(from) && self.target().eq_ignore_ascii_case(to)
    }

    /// The text of a CTCP ACTION (`/me`), when it is one.
    pub fn action(&self) -> Option<&str> {
        if !self.is("PRIVMSG") {
            return None;
        }
        let inner = self.text().strip_prefix("\x01ACTION")?;
        let inner = inner.strip_suffix('\x01').unwrap_or(inner);
        Some(inner.strip_prefix(' ').unwrap_or(inner))
    }

    /// A numeric reply (`001`...).
    pub fn numeric(&self) -> Option<u16> {
        (self.command.len() == 3)
            .then(|| self.command.parse().ok())
            .flatten()
    }

    /// An error numeric (400-599).
    pub fn is_error(&self) -> bool {
        self.numeric().is_some_and(|n| (400..600).contains(&n))
    }
}

fn unescape_tag(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let mut chars = v.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some(':') => out.push(';'),
            Some('s') => out.push(' '),
            Some('r') => out.push('\r'),
            Some('n') => out.push('\n'),
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

/// A tag value escaped for sending.
pub fn escape_tag(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            ';' => out.push_str("\\:"),
            ' ' => out.push_str("\\s"),
            '\\' => out.push_str("\\\\"),
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// The texts of `messages` (their last parameters).
pub fn texts(messages: &[Message]) -> Vec<String> {
    messages.iter().map(|m| m.text().to_owned()).collect()
}

type Writer = Arc<Mutex<Box<dyn AsyncWrite + Send + Unpin>>>;

enum Event {
    Line(Message),
    Closed(String),
}

/// A participant: one IRC connection.
pub struct Client {
    pub nick: String,
    /// The IRCv3 capabilities the server acknowledged.
    pub caps: Vec<String>,
    writer: Writer,
    events: mpsc::UnboundedReceiver<Event>,
    /// Every line received, in order.
    lines: Vec<Message>,
    /// Whether a wait returned the line of the same index.
    returned: Vec<bool>,
    closed: Option<String>,
    reader: JoinHandle<()>,
    syncs: u32,
}

impl Drop for Client {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl Client {
    /// Connects to `addr` (plain) and registers as `nick`, no capabilities.
    pub async fn connect(addr: &str, nick: &str) -> Client {
        Client::open(addr, false, nick, &[]).await
    }

    /// Connects (plain) and registers as `nick` with the IRCv3
    /// capabilities `caps` (`server-time`, `message-tags`,
    /// `echo-message`...); a capability the server does not offer fails
    /// the test.
    pub async fn connect_caps(addr: &str, nick: &str, caps: &[&str]) -> Client {
        Client::open(addr, false, nick, caps).await
    }

    /// The same over TLS, accepting the server's (self-signed) certificate.
    pub async fn connect_tls(addr: &str, nick: &str, caps: &[&str]) -> Client {
        Client::open(addr, true, nick, caps).await
    }

    /// Connects, registers, and returns once the welcome (up to the end of
    /// the MOTD) is in.
    pub async fn open(addr: &str, tls: bool, nick: &str, caps: &[&str]) -> Client {
        let tcp = tokio::time::timeout(WAIT, TcpStream::connect(addr))
            .await
            .unwrap_or_else(|_| panic!("{nick}: connecting to {addr} timed out"))
            .unwrap_or_else(|e| panic!("{nick}: cannot connect to {addr}: {e}"));
        tcp.set_nodelay(true).expect("TCP_NODELAY");
        let (read, write): (
            Box<dyn AsyncRead + Send + Unpin>,
            Box<dyn AsyncWrite + Send + Unpin>,
        ) = if tls {
            let name = ServerName::try_from("localhost").expect("a server name");
            let stream = tokio::time::timeout(WAIT, tls_connector().connect(name, tcp))
                .await
                .unwrap_or_else(|_| panic!("{nick}: TLS handshake with {addr} timed out"))
                .unwrap_or_else(|e| panic!("{nick}: TLS handshake with {addr}: {e}"));
            let (r, w) = tokio::io::split(stream);
            (Box::new(r), Box::new(w))
        } else {
            let (r, w) = tcp.into_split();
            (Box::new(r), Box::new(w))
        };
        let writer: Writer = Arc::new(Mutex::new(write));
        let (tx, events) = mpsc::unbounded_channel();
        let reader = tokio::spawn(read_lines(read, writer.clone(), tx));
        let mut client = Client {
            nick: nick.to_owned(),
            caps: Vec::new(),
            writer,
            events,
            lines: Vec::new(),
            returned: Vec::new(),
            closed: None,
            reader,
            syncs: 0,
        };
        client.register(caps).await;
        client
    }

    async fn register(&mut self, caps: &[&str]) {
        let nick = self.nick.clone();
        if !caps.is_empty() {
            self.send_raw("CAP LS 302").await;
        }
        self.send_raw(&format!("NICK {nick}")).await;
        self.send_raw(&format!("USER {nick} 0 * :{nick} (Podium test)"))
            .await;
        if !caps.is_empty() {
            let mut offered = Vec::new();
            loop {
                let ls = self
                    .wait_for("CAP LS", |m| {
                        m.is("CAP") && m.params.get(1).is_some_and(|p| p == "LS")
                    })
                    .await;
                offered.extend(
                    ls.text()
                        .split_whitespace()
                        .map(|c| c.split('=').next().unwrap_or(c).to_owned()),
                );
                // "CAP * LS * :..." continues on the next line.
                if ls.params.len() < 4 || ls.params[2] != "*" {
                    break;
                }
            }
            for cap in caps {
                assert!(
                    offered.iter().any(|o| o == cap),
                    "{nick}: the server does not offer {cap}; it offers {offered:?}"
                );
            }
            self.send_raw(&format!("CAP REQ :{}", caps.join(" "))).await;
            let answer = self
                .wait_for("CAP ACK", |m| {
                    m.is("CAP") && m.params.get(1).is_some_and(|p| p == "ACK" || p == "NAK")
                })
                .await;
            assert_eq!(answer.params[1], "ACK", "{nick}: {}", answer.raw);
            self.caps = answer
                .text()
                .split_whitespace()
                .map(str::to_owned)
                .collect();
            self.send_raw("CAP END").await;
        }
        let welcome = self
            .wait_for("001 (welcome)", |m| {
                m.is("001") || m.is("ERROR") || (m.is_error() && m.numeric() != Some(421))
            })
            .await;
        assert!(welcome.is("001"), "{nick} cannot register: {}", welcome.raw);
        self.wait_for("the end of the MOTD", |m| m.is("376") || m.is("422"))
            .await;
    }

    /// Sends one line; CR LF is added (the line must not hold one).
    pub async fn send_raw(&self, line: &str) {
        assert!(
            !line.contains(['\r', '\n']),
            "send_raw: one line without CR/LF (use send_bytes): {line:?}"
        );
        let mut bytes = line.as_bytes().to_vec();
        bytes.extend_from_slice(b"\r\n");
        self.send_bytes(&bytes).await;
    }

    /// Sends `bytes` as they are (several lines, invalid UTF-8, no CR LF...).
    pub async fn send_bytes(&self, bytes: &[u8]) {
        let mut w = self.writer.lock().await;
        w.write_all(bytes)
            .await
            .unwrap_or_else(|e| panic!("{}: cannot send: {e}", self.nick));
        w.flush().await.expect("flush");
    }

    /// Like [`Client::send_bytes`], but a closed connection is an `Err`, not
    /// a failed test (for flood tests).
    pub async fn try_send_bytes(&self, bytes: &[u8]) -> std::io::Result<()> {
        let mut w = self.writer.lock().await;
        w.write_all(bytes).await?;
        w.flush().await
    }

    /// `PRIVMSG to :text`.
    pub async fn privmsg(&self, to: &str, text: &str) {
        self.send_raw(&format!("PRIVMSG {to} :{text}")).await;
    }

    /// A PRIVMSG with IRCv3 client tags (needs `message-tags`), such as
    /// `[("+draft/reply", msgid)]`; values are escaped here.
    pub async fn privmsg_tagged(&self, to: &str, tags: &[(&str, &str)], text: &str) {
        self.send_raw(&format!("{}PRIVMSG {to} :{text}", tag_prefix(tags)))
            .await;
    }

    /// A PRIVMSG that replies to the message `msgid` (`+draft/reply`).
    pub async fn reply(&self, to: &str, msgid: &str, text: &str) {
        self.privmsg_tagged(to, &[("+draft/reply", msgid)], text)
            .await;
    }

    /// A TAGMSG (tags only, such as `+draft/react`; needs `message-tags`).
    pub async fn tagmsg(&self, to: &str, tags: &[(&str, &str)]) {
        self.send_raw(&format!("{}TAGMSG {to}", tag_prefix(tags)))
            .await;
    }

    /// A CTCP ACTION (`/me text`).
    pub async fn action(&self, to: &str, text: &str) {
        self.send_raw(&format!("PRIVMSG {to} :\x01ACTION {text}\x01"))
            .await;
    }

    /// `NOTICE to :text`.
    pub async fn notice(&self, to: &str, text: &str) {
        self.send_raw(&format!("NOTICE {to} :{text}")).await;
    }

    /// Joins `channel` and waits for the end of its NAMES; returns the
    /// names (with their `@`/`+` prefixes). A refusal fails the test.
    pub async fn join(&mut self, channel: &str) -> Vec<String> {
        self.try_join(channel, None)
            .await
            .unwrap_or_else(|m| panic!("{} cannot join {channel}: {}", self.nick, m.raw))
    }

    /// Joins `channel` (with `key`, if given): the names, or the error
    /// numeric the server refused with (471 full, 473 invite only, 474
    /// banned, 475 wrong key...).
    pub async fn try_join(
        &mut self,
        channel: &str,
        key: Option<&str>,
    ) -> Result<Vec<String>, Message> {
        self.drain();
        let from = self.lines.len();
        match key {
            Some(key) => self.send_raw(&format!("JOIN {channel} {key}")).await,
            None => self.send_raw(&format!("JOIN {channel}")).await,
        }
        let chan = channel.to_owned();
        let end = self
            .wait_for(&format!("the end of NAMES of {channel}"), |m| {
                (m.is("366") || m.is_error())
                    && m.params
                        .get(1)
                        .is_some_and(|c| c.eq_ignore_ascii_case(&chan))
            })
            .await;
        if end.is_error() {
            return Err(end);
        }
        Ok(self.lines[from..]
            .iter()
            .filter(|m| {
                m.is("353")
                    && m.params
                        .get(2)
                        .is_some_and(|c| c.eq_ignore_ascii_case(channel))
            })
            .flat_map(|m| {
                m.text()
                    .split_whitespace()
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .collect())
    }

    /// `PART channel`, and waits for the server's confirmation.
    pub async fn part(&mut self, channel: &str) {
        self.send_raw(&format!("PART {channel}")).await;
        let me = self.nick.clone();
        self.wait_for(&format!("PART {channel}"), |m| {
            m.is("PART") && m.is_from(&me) && m.target().eq_ignore_ascii_case(channel)
        })
        .await;
    }

    /// Becomes an IRC operator (`OPER admin adminpass`).
    pub async fn oper(&mut self) {
        self.send_raw(&format!("OPER {} {}", OPER.0, OPER.1)).await;
        let m = self
            .wait_for("381 (you are an oper)", |m| m.is("381") || m.is_error())
            .await;
        assert!(m.is("381"), "{} cannot oper up: {}", self.nick, m.raw);
    }

    /// Sends `line` and waits until the server has handled it (see
    /// [`Client::sync`]); an error numeric in the meantime fails the test.
    /// Returns the lines that came in meanwhile.
    pub async fn command(&mut self, line: &str) -> Vec<Message> {
        self.send_raw(line).await;
        let got = self.sync().await;
        if let Some(e) = got.iter().find(|m| m.is_error()) {
            panic!("{}: {line:?} was refused: {}", self.nick, e.raw);
        }
        got
    }

    /// `MODE target modes` (e.g. `("#chan", "+o bob")`, `"+b *!*@host"`,
    /// `"+k secret"`, `"+i"`), as channel operator; refused fails the test.
    pub async fn mode(&mut self, target: &str, modes: &str) -> Vec<Message> {
        self.command(&format!("MODE {target} {modes}")).await
    }

    /// `SAMODE channel modes`: any mode on any channel, as an oper (see
    /// [`Client::oper`]), in it or not.
    pub async fn samode(&mut self, channel: &str, modes: &str) -> Vec<Message> {
        self.command(&format!("SAMODE {channel} {modes}")).await
    }

    /// Waits until the server has handled every line sent before (a PING
    /// and its PONG); returns the lines received meanwhile (not marked as
    /// returned: later waits still see them).
    pub async fn sync(&mut self) -> Vec<Message> {
        self.syncs += 1;
        let token = format!("sync{}", self.syncs);
        self.drain();
        let from = self.lines.len();
        self.send_raw(&format!("PING :{token}")).await;
        self.wait_for(&format!("PONG {token}"), |m| {
            m.is("PONG") && m.text() == token
        })
        .await;
        self.lines[from..]
            .iter()
            .filter(|m| !(m.is("PONG") && m.text() == token))
            .cloned()
            .collect()
    }

    /// `QUIT :message`, and waits until the server closes the connection.
    pub async fn quit(mut self, message: &str) {
        self.send_raw(&format!("QUIT :{message}")).await;
        self.wait_closed().await;
    }

    /// Waits (up to [`WAIT`]) for the earliest line not yet returned that
    /// matches `pred`, and marks it returned. `what` names it in the
    /// failure message.
    pub async fn wait_for(&mut self, what: &str, pred: impl Fn(&Message) -> bool) -> Message {
        self.wait_for_within(WAIT, what, pred).await
    }

    /// [`Client::wait_for`] with a deadline of `timeout`.
    pub async fn wait_for_within(
        &mut self,
        timeout: Duration,
        what: &str,
        pred: impl Fn(&Message) -> bool,
    ) -> Message {
        match self.try_wait_for(timeout, &pred).await {
            Some(m) => m,
            None => self.fail(&format!("waited {timeout:?} for {what}")),
        }
    }

    /// The earliest line not yet returned that matches `pred`, within
    /// `timeout`, or None (also when the connection closes): for asserting
    /// that something does not come.
    pub async fn try_wait_for(
        &mut self,
        timeout: Duration,
        pred: impl Fn(&Message) -> bool,
    ) -> Option<Message> {
        let deadline = Instant::now() + timeout;
        let mut checked = 0;
        loop {
            self.drain();
            for i in checked..self.lines.len() {
                if !self.returned[i] && pred(&self.lines[i]) {
                    self.returned[i] = true;
                    return Some(self.lines[i].clone());
                }
            }
            checked = self.lines.len();
            if self.closed.is_some() || !self.next_event(deadline).await {
                return None;
            }
        }
    }

    /// Waits until `check` finds what it wants among every line received
    /// so far (returned or not): for "at least 3 PRIVMSGs from the bot".
    pub async fn wait_until<T>(
        &mut self,
        timeout: Duration,
        what: &str,
        check: impl Fn(&[Message]) -> Option<T>,
    ) -> T {
        let deadline = Instant::now() + timeout;
        loop {
            self.drain();
            if let Some(t) = check(&self.lines) {
                return t;
            }
            if self.closed.is_some() || !self.next_event(deadline).await {
                self.drain();
                if let Some(t) = check(&self.lines) {
                    return t;
                }
                self.fail(&format!("waited {timeout:?} for {what}"));
            }
        }
    }

    /// Every line received so far, in order.
    pub fn history(&mut self) -> &[Message] {
        self.drain();
        &self.lines
    }

    /// Marks every line received so far as returned: later waits only see
    /// what comes after.
    pub fn skip_all(&mut self) {
        self.drain();
        self.returned.fill(true);
    }

    /// Every PRIVMSG from `from` to `to` (a channel, or this client's
    /// nick) received so far, in order (CTCP ACTIONs included).
    pub fn privmsgs_from(&mut self, from: &str, to: &str) -> Vec<Message> {
        self.drain();
        self.lines
            .iter()
            .filter(|m| m.is_privmsg(from, to))
            .cloned()
            .collect()
    }

    /// Waits until at least `n` PRIVMSGs from `from` to `to` have come;
    /// returns them all, in order.
    pub async fn wait_for_privmsgs_from(&mut self, from: &str, to: &str, n: usize) -> Vec<Message> {
        self.wait_until(WAIT, &format!("{n} PRIVMSGs from {from} to {to}"), |all| {
            let got: Vec<Message> = all
                .iter()
                .filter(|m| m.is_privmsg(from, to))
                .cloned()
                .collect();
            (got.len() >= n).then_some(got)
        })
        .await
    }

    /// Every NOTICE from `from` to this client received so far, in order.
    pub fn notices_from(&mut self, from: &str) -> Vec<Message> {
        self.drain();
        let me = self.nick.clone();
        self.lines
            .iter()
            .filter(|m| m.is_notice(from, &me))
            .cloned()
            .collect()
    }

    /// Waits until the server closes the connection; returns its `ERROR`
    /// line, if it sent one ("Closing link: ... [Excess Flood]").
    pub async fn wait_closed(&mut self) -> Option<Message> {
        let deadline = Instant::now() + WAIT;
        while self.closed.is_none() {
            if !self.next_event(deadline).await && self.closed.is_none() {
                self.fail("waited for the server to close the connection");
            }
        }
        self.drain();
        self.lines.iter().rev().find(|m| m.is("ERROR")).cloned()
    }

    /// Whether the connection has ended (as far as read so far).
    pub fn is_closed(&mut self) -> bool {
        self.drain();
        self.closed.is_some()
    }

    /// Moves what the reader task has read into `lines`.
    fn drain(&mut self) {
        while let Ok(event) = self.events.try_recv() {
            self.take(event);
        }
    }

    /// Waits for the next line (or the end) until `deadline`: false on
    /// timeout.
    async fn next_event(&mut self, deadline: Instant) -> bool {
        match tokio::time::timeout_at(deadline, self.events.recv()).await {
            Ok(Some(event)) => {
                self.take(event);
                true
            }
            Ok(None) => {
                self.closed.get_or_insert_with(|| "reader gone".to_owned());
                true
            }
            Err(_) => false,
        }
    }

    fn take(&mut self, event: Event) {
        match event {
            Event::Line(m) => {
                self.lines.push(m);
                self.returned.push(false);
            }
            Event::Closed(why) => self.closed = Some(why),
        }
    }

    fn fail(&mut self, what: &str) -> ! {
        self.drain();
        let last: Vec<&str> = self
            .lines
            .iter()
            .rev()
            .take(25)
            .rev()
            .map(|m| m.raw.as_str())
            .collect();
        let state = match &self.closed {
            Some(why) => format!("connection closed ({why})"),
            None => "connection open".to_owned(),
        };
        panic!(
            "{}: {what}; {state}; the last {} lines seen:\n  {}",
            self.nick,
            last.len(),
            last.join("\n  ")
        );
    }
}

fn tag_prefix(tags: &[(&str, &str)]) -> String {
    if tags.is_empty() {
        return String::new();
    }
    let tags: Vec<String> = tags
        .iter()
        .map(|(k, v)| {
            if v.is_empty() {
                (*k).to_owned()
            } else {
                format!("{k}={}", escape_tag(v))
            }
        })
        .collect();
    format!("@{} ", tags.join(";"))
}

/// Reads lines until the connection ends, answers PINGs at once (so a
/// client a test does not read from for minutes stays connected), and
/// hands every line to the client.
async fn read_lines(
    read: Box<dyn AsyncRead + Send + Unpin>,
    writer: Writer,
    tx: mpsc::UnboundedSender<Event>,
) {
    let mut read = BufReader::new(read);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match read.read_until(b'\n', &mut buf).await {
            Ok(0) => {
                let _ = tx.send(Event::Closed("closed by the server".to_owned()));
                return;
            }
            Ok(_) => {
                while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                    buf.pop();
                }
                if buf.is_empty() {
                    continue;
                }
                let m = Message::parse(&buf);
                if m.is("PING") {
                    let mut pong = b"PONG".to_vec();
                    pong.extend_from_slice(
                        &buf[buf.iter().position(|b| *b == b' ').unwrap_or(buf.len())..],
                    );
                    pong.extend_from_slice(b"\r\n");
                    let mut w = writer.lock().await;
                    let _ = w.write_all(&pong).await;
                    let _ = w.flush().await;
                }
                if tx.send(Event::Line(m)).is_err() {
                    return;
                }
            }
            Err(e) => {
                let _ = tx.send(Event::Closed(e.to_string()));
                return;
            }
        }
    }
}

/// TLS that accepts any certificate (the test server's is self-signed),
/// still checking the handshake's signatures.
fn tls_connector() -> TlsConnector {
    let provider = Arc::new(crypto::aws_lc_rs::default_provider());
    let config = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
        .with_no_client_auth();
    TlsConnector::from(Arc::new(config))
}

#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, tokio_rustls::rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, tokio_rustls::rustls::Error> {
        crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, tokio_rustls::rustls::Error> {
        crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A stand-in for services, for accounts on a test server started with
/// `IRCD_SERVICES=yes` ([`ircd`] is): it links in as the U-lined server
/// `services.localhost` (InspIRCd's server protocol 1205) and logs users
/// in to accounts as NickServ would, so their messages carry
/// `account=NAME` (account-tag) and WHOIS shows it. Nothing else of
/// services: no NickServ to talk to, no ChanServ.
///
/// The link runs on a thread of its own, for as long as the test binary:
/// a server takes one link of that name at a time, so the tests of a
/// binary share it ([`Ircd::services`]), and each test has its own tokio
/// runtime, which ends with the test.
pub struct Services {
    logins: mpsc::UnboundedSender<(String, String)>,
}

impl Services {
    fn link(addr: &str) -> Services {
        let (logins, rx) = mpsc::unbounded_channel();
        let (linked_tx, linked) = std::sync::mpsc::channel();
        let addr = addr.to_owned();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime for the services link");
            rt.block_on(run_link(&addr, rx, linked_tx));
        });
        match linked.recv_timeout(WAIT) {
            Ok(Ok(())) => Services { logins },
            Ok(Err(why)) => panic!("services cannot link: {why}"),
            Err(_) => panic!("services: no answer to the link within {WAIT:?}"),
        }
    }

    /// Logs `nick` (connected, or about to be) in to `account`. The
    /// server applies it when it reads the line: [`Client::wait_account`]
    /// waits for that.
    pub fn login(&self, nick: &str, account: &str) {
        self.logins
            .send((nick.to_owned(), account.to_owned()))
            .expect("the services link is up");
    }
}

impl Ircd {
    /// The stand-in for services linked to this server (started with
    /// `IRCD_SERVICES=yes`), linked on first use.
    pub fn services(&self) -> &Services {
        let addr = self
            .link_addr
            .as_deref()
            .expect("a server started with IRCD_SERVICES=yes");
        self.services.get_or_init(|| Services::link(addr))
    }
}

/// The services link: the handshake, then the server's PINGs answered, each
/// user's UID learnt, and logins sent once the user's UID is known.
async fn run_link(
    addr: &str,
    mut logins: mpsc::UnboundedReceiver<(String, String)>,
    linked: std::sync::mpsc::Sender<Result<(), String>>,
) {
    let tcp = match TcpStream::connect(addr).await {
        Ok(t) => t,
        Err(e) => {
            let _ = linked.send(Err(format!("{addr}: {e}")));
            return;
        }
    };
    let (read, mut write) = tcp.into_split();
    let hello = "CAPAB START 1205\nCAPAB CAPABILITIES :PROTOCOL=1205\nCAPAB END\n\
                 SERVER services.localhost linkpass 0 0AA :Podium test services\n";
    let _ = write.write_all(hello.as_bytes()).await;
    let mut lines = BufReader::new(read).lines();
    let mut uids: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    let mut pending: Vec<(String, String)> = Vec::new();
    loop {
        let out = tokio::select! {
            line = lines.next_line() => match line {
                Ok(Some(line)) => link_line(&line, &mut uids, &linked),
                _ => {
                    let _ = linked.send(Err("the server closed the link".into()));
                    return;
                }
            },
            login = logins.recv() => match login {
                Some(l) => {
                    pending.push(l);
                    String::new()
                }
                None => return,
            },
        };
        let mut out = out;
        pending.retain(
            |(nick, account)| match uids.get(&nick.to_ascii_lowercase()) {
                Some(uid) => {
                    out.push_str(&format!(":0AA METADATA {uid} accountname :{account}\n"));
                    false
                }
                None => true,
            },
        );
        if !out.is_empty() && write.write_all(out.as_bytes()).await.is_err() {
            return;
        }
    }
}

/// One line from the server on the services link; returns what to answer.
fn link_line(
    line: &str,
    uids: &mut std::collections::HashMap<String, String>,
    linked: &std::sync::mpsc::Sender<Result<(), String>>,
) -> String {
    let words: Vec<&str> = line.split(' ').collect();
    // `:SID COMMAND ...` once linked; `COMMAND ...` before.
    let (source, rest) = match words.split_first() {
        Some((w, rest)) if w.starts_with(':') => (&w[1..], rest),
        _ => ("", &words[..]),
    };
    let (command, args) = rest.split_first().map_or(("", &[][..]), |(c, a)| (*c, a));
    match command {
        "SERVER" => {
            let _ = linked.send(Ok(()));
            format!("BURST {}\nENDBURST\n", Utc::now().timestamp())
        }
        "ERROR" => {
            let _ = linked.send(Err(line.to_owned()));
            String::new()
        }
        "PING" => format!(":0AA PONG {source}\n"),
        // :SID UID uid ts nick host dhost ident ip signon modes :gecos
        "UID" if args.len() > 2 => {
            uids.insert(args[2].to_ascii_lowercase(), args[0].to_owned());
            String::new()
        }
        // :UID NICK newnick ts
        "NICK" if !args.is_empty() => {
            uids.retain(|_, uid| uid != source);
            uids.insert(args[0].to_ascii_lowercase(), source.to_owned());
            String::new()
        }
        "QUIT" => {
            uids.retain(|_, uid| uid != source);
            String::new()
        }
        _ => String::new(),
    }
}

impl Client {
    /// Waits until the server says (WHOIS) that `nick` is logged in to
    /// `account`.
    pub async fn wait_account(&mut self, nick: &str, account: &str) {
        let deadline = Instant::now() + WAIT;
        loop {
            self.drain();
            let from = self.lines.len();
            self.send_raw(&format!("WHOIS {nick}")).await;
            let n = nick.to_owned();
            self.wait_for("the end of WHOIS", move |m| {
                m.is("318") && m.params.get(1).is_some_and(|p| p.eq_ignore_ascii_case(&n))
            })
            .await;
            let logged = self.lines[from..].iter().any(|m| {
                m.is("330")
                    && m.params
                        .get(1)
                        .is_some_and(|p| p.eq_ignore_ascii_case(nick))
                    && m.params.get(2).is_some_and(|a| a == account)
            });
            if logged {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{nick} was never logged in to {account}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
