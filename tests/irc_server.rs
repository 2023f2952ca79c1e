//! The IRC test server (scripts/ircd-up.sh, InspIRCd) and the tests' own
//! IRC client (tests/support/irc.rs), against each other: registration
//! with IRCv3 capabilities, tags on relayed lines, TLS, a restart on the
//! same ports, channel modes, and what the strict flood modes do to a
//! burst.
//!
//! Flood figures, measured here (InspIRCd 3.15 from Debian, its default
//! connect class: threshold 10, commandrate 1000 = one line a second,
//! recvq 8192; each line costs 1 s of penalty, which drains at 1 s a
//! second, checked at the server's once-a-second tick), for the bot's send
//! queue defaults (burst 4, then one line every 1500 ms):
//!
//! - `strict` (fakelag): a burst of 20 PRIVMSGs right after JOIN: 8
//!   relayed at once, then exactly one a second (the 20th after 12 s);
//!   never cut off. A burst of 400 lines (~14 KB, over the recvq) ends the
//!   connection: "RecvQ exceeded". Burst 4 + one line every 500 ms: all
//!   30 relayed, the last ~9 s late.
//! - `strict-nofakelag`: right after registering and joining, a burst of 7
//!   lines survives and 8 kill the client ("Excess Flood"; a burst of 20:
//!   8 relayed, then the kill); after 11 s of quiet, 10 survive and 11
//!   kill. Burst 4 + one line every 500 ms: killed after 10 or 11 lines
//!   (depending on the tick phase).
//! - The bot's defaults (burst 4, 1500 ms), from right after JOIN: 12
//!   lines each relayed within ~45 ms, never delayed or killed, in either
//!   mode. Its margin: after JOIN a client has ~3 lines of penalty, the
//!   burst adds 4 (7 of the 10 allowed), and one line per 1.5 s drains
//!   faster than it fills. What the queue does not pace (JOINs, PONGs,
//!   WHO, MODE...) also counts against the same 10.

#[path = "support/irc.rs"]
mod irc_support;
mod support;

use std::time::{Duration, Instant};

use irc_support::{Client, ircd, start_ircd, texts, unique_nick};

const TAGS: &[&str] = &["server-time", "message-tags", "echo-message"];

fn channel() -> String {
    format!("#{}", unique_nick("debate"))
}

#[tokio::test]
async fn two_clients_relay_tags_and_replies() {
    let addr = &ircd().addr;
    let (an, bn) = (unique_nick("alice"), unique_nick("bob"));
    let started = Instant::now();
    let (mut alice, mut bob) = tokio::join!(
        Client::connect_caps(addr, &an, TAGS),
        Client::connect_caps(addr, &bn, &["server-time", "message-tags"]),
    );
    let registered = started.elapsed();
    // InspIRCd registers clients at its once-a-second tick.
    assert!(registered < Duration::from_secs(3), "{registered:?}");
    eprintln!("two clients registered in parallel in {registered:?}");
    assert_eq!(alice.caps, TAGS);

    let chan = channel();
    // The first to join a channel is its operator.
    assert_eq!(alice.join(&chan).await, [format!("@{an}")]);
    let names = bob.join(&chan).await;
    assert!(
        names.contains(&format!("@{an}")) && names.contains(&bn),
        "{names:?}"
    );

    alice.privmsg(&chan, "Q1: tabs or spaces?").await;
    let seen = bob
        .wait_for("alice's question", |m| m.is_privmsg(&an, &chan))
        .await;
    assert_eq!(seen.text(), "Q1: tabs or spaces?");
    let msgid = seen.msgid().expect("a msgid tag").to_owned();
    let sent = seen.time().expect("a server-time tag");
    assert!(
        (chrono::Utc::now() - sent).num_seconds().abs() < 5,
        "{sent}"
    );
    // echo-message: alice gets her own line back, with the same msgid.
    let echo = alice
        .wait_for("the echo", |m| m.is_privmsg(&an, &chan))
        .await;
    assert_eq!(echo.msgid(), Some(msgid.as_str()));

    bob.reply(&chan, &msgid, "A1: tabs; spaces; both").await;
    let reply = alice
        .wait_for("bob's reply", |m| m.is_privmsg(&bn, &chan))
        .await;
    assert_eq!(reply.text(), "A1: tabs; spaces; both");
    assert_eq!(reply.tag("+draft/reply"), Some(msgid.as_str()));
    assert!(
        reply.msgid().is_some() && reply.time().is_some(),
        "{}",
        reply.raw
    );
    assert_ne!(reply.msgid(), Some(msgid.as_str()));

    // A tag value with the characters that must be escaped.
    bob.privmsg_tagged(&chan, &[("+example.org/note", "a b;c\\d")], "tagged")
        .await;
    let tagged = alice
        .wait_for("the tagged line", |m| {
            m.is_privmsg(&bn, &chan) && m.text() == "tagged"
        })
        .await;
    assert_eq!(tagged.tag("+example.org/note"), Some("a b;c\\d"));

    // Several lines in one write arrive in order.
    let burst: String = (1..=5)
        .map(|i| format!("PRIVMSG {chan} :line {i}\r\n"))
        .collect();
    alice.send_bytes(burst.as_bytes()).await;
    let all = bob.wait_for_privmsgs_from(&an, &chan, 6).await;
    assert_eq!(
        texts(&all),
        [
            "Q1: tabs or spaces?",
            "line 1",
            "line 2",
            "line 3",
            "line 4",
            "line 5"
        ]
    );
    alice.quit("done").await;
    let quit = bob
        .wait_for("alice's QUIT", |m| m.is("QUIT") && m.is_from(&an))
        .await;
    assert_eq!(quit.text(), "Quit: done");
}

#[tokio::test]
async fn actions_notices_bytes_and_modes() {
    let addr = &ircd().addr;
    let (on, pn, an) = (unique_nick("op"), unique_nick("pat"), unique_nick("adm"));
    let (mut op, mut pat, mut admin) = tokio::join!(
        Client::connect_caps(addr, &on, &["message-tags"]),
        Client::connect(addr, &pn),
        Client::connect(addr, &an),
    );
    let chan = channel();
    op.join(&chan).await;
    pat.join(&chan).await;

    op.action(&chan, "waves").await;
    let action = pat
        .wait_for("the action", |m| m.is_privmsg(&on, &chan))
        .await;
    assert_eq!(action.action(), Some("waves"));
    op.notice(&pn, "psst").await;
    pat.wait_for("the notice", |m| m.is_notice(&on, &pn)).await;
    assert_eq!(texts(&pat.notices_from(&on)), ["psst"]);

    // Bytes that are not UTF-8 are relayed as they are.
    let mut latin1 = format!("PRIVMSG {chan} :caf").into_bytes();
    latin1.extend_from_slice(b"\xe9 ok\r\n");
    op.send_bytes(&latin1).await;
    let latin1 = pat
        .wait_for("the Latin-1 line", |m| {
            m.is_privmsg(&on, &chan) && m.text().ends_with(" ok")
        })
        .await;
    assert!(latin1.bytes.ends_with(b":caf\xe9 ok"), "{:?}", latin1.bytes);
    assert_eq!(latin1.text(), "caf\u{fffd} ok");

    // The channel operator gives +o; pat sees it.
    op.mode(&chan, &format!("+o {pn}")).await;
    pat.wait_for("+o", |m| {
        m.is("MODE") && m.params[1..] == ["+o".to_owned(), pn.clone()]
    })
    .await;
    // Channels the bot cannot join: invite only, a key, a ban.
    let (inv, key, ban) = (channel(), channel(), channel());
    for c in [&inv, &key, &ban] {
        op.join(c).await;
    }
    op.mode(&inv, "+i").await;
    op.mode(&key, "+k sesame").await;
    op.mode(&ban, &format!("+b {an}!*@*")).await;
    let refused = |r: Result<Vec<String>, irc_support::Message>| r.expect_err("refused").command;
    assert_eq!(refused(admin.try_join(&inv, None).await), "473");
    assert_eq!(refused(admin.try_join(&key, None).await), "475");
    assert_eq!(refused(admin.try_join(&ban, None).await), "474");
    admin
        .try_join(&key, Some("sesame"))
        .await
        .expect("the key opens it");
    // An oper sets modes on a channel it is not in.
    admin.oper().await;
    admin.samode(&inv, "-i").await;
    admin.join(&inv).await;
    // A refused command fails the test that sent it (its panic is printed).
    let refused = tokio::spawn(async move { pat.mode(&ban, "+s").await });
    assert!(refused.await.unwrap_err().is_panic());
}

#[tokio::test]
async fn tls_connection() {
    let ircd = ircd();
    let (tn, pn) = (unique_nick("tls"), unique_nick("plain"));
    let (mut tls, mut plain) = tokio::join!(
        Client::connect_tls(&ircd.tls_addr, &tn, &["server-time"]),
        Client::connect(&ircd.addr, &pn),
    );
    tls.send_raw(&format!("WHOIS {tn}")).await;
    tls.wait_for("671 (secure connection)", |m| m.is("671"))
        .await;
    let chan = channel();
    tls.join(&chan).await;
    plain.join(&chan).await;
    tls.privmsg(&chan, "over TLS").await;
    let m = plain
        .wait_for("the TLS client's line", |m| m.is_privmsg(&tn, &chan))
        .await;
    assert_eq!(m.text(), "over TLS");
    plain.send_raw(&format!("WHOIS {pn}")).await;
    plain.wait_for("318 (end of WHOIS)", |m| m.is("318")).await;
    assert!(!plain.history().iter().any(|m| m.is("671")));
}

#[tokio::test]
async fn stop_and_start_again_on_the_same_ports() {
    let ircd = start_ircd("relaxed");
    let nick = unique_nick("back");
    let mut before = Client::connect(&ircd.addr, &nick).await;
    before.join("#restart").await;
    let t = Instant::now();
    ircd.stop();
    eprintln!("stopped in {:?}", t.elapsed());
    before.wait_closed().await;
    assert!(tokio::net::TcpStream::connect(&ircd.addr).await.is_err());
    let t = Instant::now();
    ircd.start_again();
    eprintln!("started again in {:?}", t.elapsed());
    let tls_nick = unique_nick("tls");
    let (mut after, _tls) = tokio::join!(
        Client::connect(&ircd.addr, &nick),
        Client::connect_tls(&ircd.tls_addr, &tls_nick, &[]),
    );
    // A new server: the channel is new, and its first member the operator.
    assert_eq!(after.join("#restart").await, [format!("@{nick}")]);
    ircd.stop();
}

/// What [`burst`] sets up.
struct Burst {
    ircd: irc_support::Ircd,
    flooder: Client,
    observer: Client,
    chan: String,
    /// When the burst was sent.
    t0: Instant,
}

/// Two clients in one channel on a server of its own with flood mode
/// `flood`, registered and joined as a bot would; the first then sends `n`
/// PRIVMSGs in one write.
async fn burst(flood: &str, n: usize) -> Burst {
    let ircd = start_ircd(flood);
    let (fname, oname) = (unique_nick("flood"), unique_nick("watch"));
    let (mut flooder, mut observer) = tokio::join!(
        Client::connect(&ircd.addr, &fname),
        Client::connect(&ircd.addr, &oname),
    );
    let chan = channel();
    flooder.join(&chan).await;
    observer.join(&chan).await;
    let lines: String = (0..n)
        .map(|i| format!("PRIVMSG {chan} :flood {i}\r\n"))
        .collect();
    let t0 = Instant::now();
    flooder.send_bytes(lines.as_bytes()).await;
    Burst {
        ircd,
        flooder,
        observer,
        chan,
        t0,
    }
}

/// Debian's defaults (fakelag): a burst of 20 is not cut off but delayed:
/// a few lines at once (8 here), then one a second.
#[tokio::test]
async fn strict_delays_a_burst_of_20() {
    let Burst {
        ircd,
        mut flooder,
        mut observer,
        chan,
        t0,
    } = burst("strict", 20).await;
    let got = observer
        .wait_for_privmsgs_from(&flooder.nick, &chan, 20)
        .await;
    let at: Vec<f64> = got
        .iter()
        .map(|m| (m.at.into_std() - t0).as_secs_f64())
        .collect();
    eprintln!("strict: 20 lines arrived after {at:.1?} s");
    assert_eq!(
        texts(&got),
        (0..20).map(|i| format!("flood {i}")).collect::<Vec<_>>()
    );
    let at_once = at.iter().filter(|t| **t < 0.5).count();
    assert!((5..=11).contains(&at_once), "{at_once} at once: {at:?}");
    for pair in at[at_once..].windows(2) {
        assert!(
            pair[1] - pair[0] > 0.8,
            "one a second after the first: {at:?}"
        );
    }
    assert!(at[19] > 8.0, "{at:?}");
    assert!(!flooder.is_closed());
    flooder.sync().await;
    ircd.stop();
}

/// Without fakelag, the same burst ends the connection: "Excess Flood",
/// after 8 of its lines were relayed.
#[tokio::test]
async fn strict_nofakelag_kills_a_burst_of_20() {
    let Burst {
        ircd,
        mut flooder,
        mut observer,
        chan,
        ..
    } = burst("strict-nofakelag", 20).await;
    let error = flooder.wait_closed().await.expect("an ERROR line");
    assert!(error.text().contains("Excess Flood"), "{}", error.raw);
    let quit = observer
        .wait_for("the flooder's QUIT", |m| {
            m.is("QUIT") && m.is_from(&flooder.nick)
        })
        .await;
    assert_eq!(quit.text(), "Excess Flood");
    let relayed = observer.privmsgs_from(&flooder.nick, &chan).len();
    eprintln!("strict-nofakelag: {relayed} of 20 relayed before the kill");
    assert!((5..=10).contains(&relayed), "{relayed}");
    ircd.stop();
}

/// What one client sending at a pace saw: when each line went out, when
/// (if ever) the other client saw it, and how it ended.
struct Paced {
    sent: Vec<Instant>,
    relayed: Vec<Option<Instant>>,
    /// "Excess Flood", "RecvQ exceeded"... when the server ended it.
    killed: Option<String>,
}

impl Paced {
    fn relayed(&self) -> usize {
        self.relayed.iter().flatten().count()
    }

    /// The longest time from sending a line to the other client seeing it.
    fn worst_delay(&self) -> Duration {
        self.sent
            .iter()
            .zip(&self.relayed)
            .filter_map(|(s, r)| Some(r.as_ref()?.duration_since(*s)))
            .max()
            .unwrap_or_default()
    }
}

/// On `addr`, a client fresh from registering and joining (as the bot is
/// when it posts its first lines) sends `n` PRIVMSGs: `burst` at once, then
/// one every `interval`, like a token-bucket send queue; a second client
/// in the channel watches. Returns once every line is relayed or the
/// sender is gone (plus 3 s for stragglers).
async fn paced(addr: &str, burst: usize, interval: Duration, n: usize) -> Paced {
    let (sname, wname) = (unique_nick("pace"), unique_nick("watch"));
    let (mut sender, mut watcher) =
        tokio::join!(Client::connect(addr, &sname), Client::connect(addr, &wname),);
    let chan = channel();
    watcher.join(&chan).await;
    sender.join(&chan).await;
    let t0 = tokio::time::Instant::now();
    let mut sent = Vec::new();
    for i in 0..n {
        if i >= burst {
            tokio::time::sleep_until(t0 + interval * (i - burst + 1) as u32).await;
        }
        let line = format!("PRIVMSG {chan} :pace {i}\r\n");
        sent.push(Instant::now());
        if sender.try_send_bytes(line.as_bytes()).await.is_err() || sender.is_closed() {
            sent.pop();
            break;
        }
    }
    // Every line sent relayed, or the sender gone.
    let want = sent.len();
    let (s, c) = (sname.clone(), chan.clone());
    watcher
        .wait_until(
            Duration::from_secs(60),
            "the paced lines or a QUIT",
            |all| {
                let got = all.iter().filter(|m| m.is_privmsg(&s, &c)).count();
                let quit = all.iter().any(|m| m.is("QUIT") && m.is_from(&s));
                (got >= want || quit).then_some(())
            },
        )
        .await;
    let _ = watcher
        .try_wait_for(Duration::from_secs(3), |m| m.is("NOTHING"))
        .await;
    let seen = watcher.privmsgs_from(&sname, &chan);
    let relayed = (0..sent.len())
        .map(|i| {
            let text = format!("pace {i}");
            seen.iter()
                .find(|m| m.text() == text)
                .map(|m| m.at.into_std())
        })
        .collect();
    let killed = if sender.is_closed() {
        sender
            .history()
            .iter()
            .rev()
            .find(|m| m.is("ERROR"))
            .map(|m| m.text().to_owned())
            .or(Some("closed without ERROR".to_owned()))
    } else {
        None
    };
    Paced {
        sent,
        relayed,
        killed,
    }
}

/// The bot's send queue defaults (burst 4, then one line every 1500 ms)
/// against Debian's flood settings, right after JOIN, and three times that
/// pace for contrast (figures at the top of this file):
///
/// - burst 4 + 1 line / 1500 ms, 12 lines: never throttled (each line
///   relayed within ~45 ms) under `strict`, never killed under
///   `strict-nofakelag`;
/// - burst 4 + 1 line / 500 ms, 30 lines: under `strict` (fakelag) every
///   line still arrives, but ever later (the last ~9 s late: the server
///   relays one a second); under `strict-nofakelag` the client is killed
///   ("Excess Flood") after 10 or 11 of them.
#[tokio::test]
async fn bot_send_queue_defaults_against_strict_flood_limits() {
    let (strict, nofakelag) = (start_ircd("strict"), start_ircd("strict-nofakelag"));
    let bot = Duration::from_millis(1500);
    let fast = Duration::from_millis(500);
    let (bot_strict, bot_nofakelag, fast_strict, fast_nofakelag) = tokio::join!(
        paced(&strict.addr, 4, bot, 12),
        paced(&nofakelag.addr, 4, bot, 12),
        paced(&strict.addr, 4, fast, 30),
        paced(&nofakelag.addr, 4, fast, 30),
    );
    for (what, p) in [
        ("bot pace, strict", &bot_strict),
        ("bot pace, strict-nofakelag", &bot_nofakelag),
        ("500 ms, strict", &fast_strict),
        ("500 ms, strict-nofakelag", &fast_nofakelag),
    ] {
        eprintln!(
            "{what}: {} sent, {} relayed, worst delay {:?}, killed: {:?}",
            p.sent.len(),
            p.relayed(),
            p.worst_delay(),
            p.killed
        );
    }
    // The bot's pace: nothing held back, nobody killed.
    for p in [&bot_strict, &bot_nofakelag] {
        assert_eq!((p.sent.len(), p.relayed(), &p.killed), (12, 12, &None));
        assert!(
            p.worst_delay() < Duration::from_millis(500),
            "{:?}",
            p.worst_delay()
        );
    }
    // Three times that pace: held back, or killed.
    assert_eq!(fast_strict.relayed(), 30);
    assert!(fast_strict.killed.is_none(), "{:?}", fast_strict.killed);
    assert!(fast_strict.worst_delay() > Duration::from_secs(3));
    let killed = fast_nofakelag.killed.as_deref().unwrap_or("not killed");
    assert!(killed.contains("Excess Flood"), "{killed}");
    assert!((8..30).contains(&fast_nofakelag.relayed()));
}

/// The largest burst (lines in one write) a client survives without
/// fakelag: right after JOIN (7; 8 are killed), and after 11 s of quiet
/// (10; 11 are killed).
#[tokio::test]
async fn strict_nofakelag_largest_burst() {
    let ircd = start_ircd("strict-nofakelag");
    let runs = (4..=12).flat_map(|n| [(n, false), (n, true)]);
    let results = futures_util::future::join_all(runs.map(|(n, rested)| {
        let addr = ircd.addr.clone();
        async move {
            let nick = unique_nick("burst");
            let chan = channel();
            let mut c = Client::connect(&addr, &nick).await;
            c.join(&chan).await;
            if rested {
                tokio::time::sleep(Duration::from_secs(11)).await;
            }
            let lines: String = (0..n)
                .map(|i| format!("PRIVMSG {chan} :b {i}\r\n"))
                .collect();
            let _ = c.try_send_bytes(lines.as_bytes()).await;
            let _ = c
                .try_wait_for(Duration::from_secs(3), |m| m.is("ERROR"))
                .await;
            (n, rested, c.is_closed())
        }
    }))
    .await;
    let largest = |rested: bool| {
        results
            .iter()
            .filter(|(_, r, killed)| *r == rested && !killed)
            .map(|(n, ..)| *n)
            .max()
            .unwrap_or(0)
    };
    let smallest_killed = |rested: bool| {
        results
            .iter()
            .filter(|(_, r, killed)| *r == rested && *killed)
            .map(|(n, ..)| *n)
            .min()
    };
    eprintln!(
        "strict-nofakelag: right after JOIN a burst of {} survives, {:?} is killed; \
         after 11 s of quiet {} survives, {:?} is killed",
        largest(false),
        smallest_killed(false),
        largest(true),
        smallest_killed(true),
    );
    // The bot's burst of 4 is always safe; some burst of 12 or fewer is not.
    assert!(largest(false) >= 4 && largest(true) >= 4, "{results:?}");
    assert!(smallest_killed(false).is_some(), "{results:?}");
}

/// With fakelag, what does end a connection is more unprocessed input than
/// the recvq holds (8192 bytes): a burst of 400 lines (~14 KB).
#[tokio::test]
async fn strict_ends_a_burst_over_the_recvq() {
    let Burst {
        ircd, mut flooder, ..
    } = burst("strict", 400).await;
    let error = flooder.wait_closed().await.expect("an ERROR line");
    assert!(error.text().contains("RecvQ exceeded"), "{}", error.raw);
    ircd.stop();
}
