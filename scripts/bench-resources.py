#!/usr/bin/env python3
"""Helpers of scripts/bench-resources.sh (standard library only).

  rooms URL N OUT              the host creates N public rooms (#resN:localhost),
                               both bots join each; writes their aliases to OUT
  login URL USER PASSWORD DEV  prints an access token for USER on device DEV
  maubot-setup API MBP HS TOKEN DEV
                               through maubot's management API: logs in as the
                               admin, uploads the plugin, adds the client and
                               one instance of the plugin on it
  first-sync LOG USER SINCE    the first /sync of USER answered by Synapse after
                               SINCE (Unix seconds), from Synapse's access log:
                               prints "START END" (request received, answered)
  schedule N START ROOMS       a debates.yaml with one debate per room at START
  answers N                    N rehearsal lines (`name: text`) on stdout; the
                               raw size of their names and bodies on stderr
"""

import concurrent.futures
import datetime
import json
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request


def call(method, url, body=None, token=None, raw=None, ctype="application/json"):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", ctype)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    for attempt in range(5):
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return json.loads(r.read() or b"{}")
        except urllib.error.HTTPError as e:
            text = e.read().decode(errors="replace")
            if e.code == 429 and attempt < 4:
                time.sleep(1)
                continue
            sys.exit(f"{method} {url}: HTTP {e.code}: {text}")


def login(hs, user, password, device):
    r = call("POST", f"{hs}/_matrix/client/v3/login", {
        "type": "m.login.password",
        "identifier": {"type": "m.id.user", "user": user},
        "password": password,
        "device_id": device,
    })
    return r["access_token"]


def rooms(hs, n, out):
    host = login(hs, "reshost", "reshostpass", "HOST")
    bots = [login(hs, "respodium", "respodiumpass", "SETUP"),
            login(hs, "resmaubot", "resmaubotpass", "SETUP")]

    def one(i):
        alias = f"#res{i}:localhost"
        call("POST", f"{hs}/_matrix/client/v3/createRoom",
             {"room_alias_name": f"res{i}", "preset": "public_chat", "name": f"Res {i}"}, host)
        for t in bots:
            call("POST", f"{hs}/_matrix/client/v3/join/{urllib.parse.quote(alias)}", {}, t)
        return alias

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        aliases = list(pool.map(one, range(n)))
    # The setup devices go; the bots come with devices of their own.
    for t in bots:
        call("POST", f"{hs}/_matrix/client/v3/logout", {}, t)
    with open(out, "w") as f:
        f.write("\n".join(aliases) + "\n")


def maubot_setup(api, mbp, hs, token, device):
    base = f"{api}/_matrix/maubot/v1"
    admin = call("POST", f"{base}/auth/login",
                 {"username": "admin", "password": "adminpass"})["token"]
    with open(mbp, "rb") as f:
        plugin = call("POST", f"{base}/plugins/upload", token=admin, raw=f.read(),
                      ctype="application/zip")
    client = call("POST", f"{base}/client/new", {
        "homeserver": hs, "access_token": token, "device_id": device,
        "enabled": True, "sync": True, "autojoin": True, "online": True,
        "displayname": "disable", "avatar_url": "disable",
    }, admin)
    call("PUT", f"{base}/instance/ping", {
        "type": plugin["id"], "primary_user": client["id"], "enabled": True, "started": True,
    }, admin)
    print(f"plugin {plugin['id']} {plugin['version']}, client {client['id']}, instance ping",
          file=sys.stderr)


LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) .*\{(@[^}]*)\} Processed request: "
                  r"([\d.]+)sec/.*\"GET /_matrix/client/(?:v3|r0)/sync[?\" ]")


def first_sync(log, user, since):
    for line in open(log, errors="replace"):
        m = LINE.match(line)
        if not m or m.group(2) != user:
            continue
        end = datetime.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
        start = end - float(m.group(3))
        if start >= since:
            print(f"{start:.3f} {end:.3f}")
            return
    sys.exit(1)


def schedule(n, start, rooms_file):
    aliases = open(rooms_file).read().split()[:n]
    out = ["timezone: UTC", "debates:"]
    for i, alias in enumerate(aliases):
        out += [f"  - id: r{i}", f"    title: Room {i} debate", f"    starts: {start}",
                "    duration: 30m", "    remind: []", f"    rooms: [\"{alias}\"]",
                "    questions:", f"      - {{text: First question of room {i}?, at: 0s}}",
                f"      - {{text: Second question of room {i}?, at: 600s}}"]
    print("\n".join(out))


def body(i):
    # The bodies of benches/replies.rs: tagged and untagged, 30-70 bytes.
    return [f"A{i % 4 + 1}: an answer with a tag, number {i}",
            f"untagged thoughts about the latest question ({i})",
            f"a2) another style of tag {i}",
            f"A 3 - and another, with some more words to make it realistic {i}"][i % 4]


def answers(n):
    raw = 0
    out = sys.stdout
    for i in range(n):
        name, text = f"speaker{i % 20}", body(i)
        raw += len(name.encode()) + len(text.encode())
        out.write(f"{name}: {text}\n")
    out.flush()
    print(raw, file=sys.stderr)


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "rooms":
        rooms(args[0], int(args[1]), args[2])
    elif cmd == "login":
        print(login(*args))
    elif cmd == "maubot-setup":
        maubot_setup(*args)
    elif cmd == "first-sync":
        first_sync(args[0], args[1], float(args[2]))
    elif cmd == "schedule":
        schedule(int(args[0]), args[1], args[2])
    elif cmd == "answers":
        answers(int(args[0]))
    else:
        sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
