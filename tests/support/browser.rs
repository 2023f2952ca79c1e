//! A real browser for the tests: Debian's Chromium, headless, found or
//! installed by `scripts/chromium-install.sh`, and driven over the W3C
//! WebDriver protocol by chromedriver (Debian's `chromium-driver`), with
//! the dev-dependency `reqwest`: pages are opened, scripts run in them and
//! what they show read back, while the page stays open.

use std::time::Duration;

/// A headless browser to open pages in: the one on PATH, or Debian's
/// Chromium, installed when missing (`scripts/chromium-install.sh`, as the
/// IRC tests install InspIRCd); found once per test binary.
pub fn chromium() -> std::path::PathBuf {
    static FOUND: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    FOUND
        .get_or_init(|| {
            let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("scripts/chromium-install.sh");
            let out = std::process::Command::new(&script)
                .output()
                .unwrap_or_else(|e| panic!("{} does not run: {e}", script.display()));
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success(),
                "{} found no browser and could not install one:\n{}",
                script.display(),
                String::from_utf8_lossy(&out.stderr)
            );
            std::path::PathBuf::from(stdout.trim())
        })
        .clone()
}

/// A browser driven over the W3C WebDriver protocol by chromedriver
/// (Debian's `chromium-driver`, installed with the browser by
/// `scripts/chromium-install.sh`), headless.
pub struct Driver {
    child: std::process::Child,
    base: String,
    session: String,
    http: reqwest::Client,
    _profile: tempfile::TempDir,
}

impl Driver {
    pub async fn start() -> Driver {
        let chromium = chromium();
        let driver = chromedriver();
        let port = free_port();
        let child = std::process::Command::new(&driver)
            .arg(format!("--port={port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{} does not start: {e}", driver.display()));
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        let deadline = std::time::Instant::now() + super::WAIT;
        while http.get(format!("{base}/status")).send().await.is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "chromedriver never answered"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = tempfile::tempdir().unwrap();
        let capabilities = serde_json::json!({
            "capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": chromium,
                    "args": [
                        "--headless",
                        "--no-sandbox",
                        "--disable-gpu",
                        "--no-first-run",
                        "--disable-background-networking",
                        "--disable-component-update",
                        "--disable-sync",
                        "--window-size=1000,1600",
                        format!("--user-data-dir={}", profile.path().display()),
                    ],
                },
            }},
        });
        let mut driver = Driver {
            child,
            base,
            session: String::new(),
            http,
            _profile: profile,
        };
        let created = driver.call("POST", "/session", capabilities).await;
        driver.session = created["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {created}"))
            .to_owned();
        driver
    }

    /// A WebDriver command; its `value`.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        body: serde_json::Value,
    ) -> serde_json::Value {
        let url = format!("{}{path}", self.base);
        let request = match method {
            "POST" => self.http.post(&url).body(body.to_string()),
            "DELETE" => self.http.delete(&url),
            _ => self.http.get(&url),
        };
        let response = request
            .header("content-type", "application/json")
            .send()
            .await
            .unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        let json: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        assert!(status.is_success(), "{method} {path}: {status} {text}");
        json["value"].clone()
    }

    pub async fn go(&self, url: &str) {
        let path = format!("/session/{}/url", self.session);
        self.call("POST", &path, serde_json::json!({ "url": url }))
            .await;
    }

    /// Runs `script` (a function body) in the page; what it returns.
    pub async fn run(&self, script: &str) -> serde_json::Value {
        let path = format!("/session/{}/execute/sync", self.session);
        let body = serde_json::json!({ "script": script, "args": [] });
        self.call("POST", &path, body).await
    }

    /// Asks `script` every 20 ms until it returns true; how long that took
    /// from `since`, or `None` past `within`.
    pub async fn until(
        &self,
        script: &str,
        since: std::time::Instant,
        within: Duration,
    ) -> Option<Duration> {
        loop {
            if self.run(script).await == serde_json::Value::Bool(true) {
                return Some(since.elapsed());
            }
            if since.elapsed() > within {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Saves a screenshot of the page as it is now to `path`.
    pub async fn screenshot(&self, path: &std::path::Path) {
        use base64::Engine as _;
        let command = format!("/session/{}/screenshot", self.session);
        let png = self.call("GET", &command, serde_json::Value::Null).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().unwrap_or_default())
            .unwrap();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, png).unwrap();
    }

    pub async fn quit(mut self) {
        let path = format!("/session/{}", self.session);
        self.call("DELETE", &path, serde_json::Value::Null).await;
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// chromedriver: the one on PATH, or the one `scripts/chromium-install.sh
/// --driver` installs (Debian's `chromium-driver`); found once.
pub fn chromedriver() -> std::path::PathBuf {
    static FOUND: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    FOUND
        .get_or_init(|| {
            let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("scripts/chromium-install.sh");
            let out = std::process::Command::new(&script)
                .arg("--driver")
                .output()
                .unwrap_or_else(|e| panic!("{} does not run: {e}", script.display()));
            assert!(
                out.status.success(),
                "{} found no chromedriver and could not install one:\n{}",
                script.display(),
                String::from_utf8_lossy(&out.stderr)
            );
            std::path::PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
        })
        .clone()
}

/// A JavaScript string literal of `text`.
pub fn js(text: &str) -> String {
    serde_json::Value::String(text.to_owned()).to_string()
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}
