//! A throwaway PostgreSQL server for tests: `initdb` and `postgres` in a temporary folder on a
//! free loopback port (as the `postgres` user when the tests run as root, since PostgreSQL refuses
//! root), password authentication, and a watchdog that stops the server and removes its folder
//! when the test process ends. One server per test process; each caller gets its own database.
//!
//! Shared by the store's unit tests (`#[path]`) and the end-to-end tests in `tests/`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The superuser and its password.
pub const USER: &str = "automl";
/// The superuser's password.
pub const PASSWORD: &str = "automl-test-pw";

/// A running test server.
pub struct Server {
    /// Its port on 127.0.0.1.
    pub port: u16,
    dir: PathBuf,
    bin: PathBuf,
    uid: Option<(u32, u32)>,
}

fn bin_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("AUTOML_PG_BIN") {
        return PathBuf::from(d);
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.path().join("bin")).collect())
        .unwrap_or_default();
    found.retain(|p| p.join("postgres").exists());
    found.sort();
    found.pop().unwrap_or_else(|| {
        panic!(
            "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/postgres; set AUTOML_PG_BIN \
             or install Debian's postgresql, as .ci/run does)"
        )
    })
}

/// uid and gid of the `postgres` user when running as root.
fn run_as() -> Option<(u32, u32)> {
    let me = Command::new("id").arg("-u").output().ok()?;
    if String::from_utf8_lossy(&me.stdout).trim() != "0" {
        return None;
    }
    let id = |flag: &str| -> u32 {
        let o = Command::new("id")
            .args([flag, "postgres"])
            .output()
            .expect("id postgres");
        String::from_utf8_lossy(&o.stdout)
            .trim()
            .parse()
            .expect("a 'postgres' user to run the test server as (root cannot)")
    };
    Some((id("-u"), id("-g")))
}

fn command(program: &Path, uid: Option<(u32, u32)>) -> Command {
    let mut c = Command::new(program);
    if let Some((u, g)) = uid {
        use std::os::unix::process::CommandExt;
        c.uid(u).gid(g);
    }
    c
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Remove folders of earlier test processes that died before their watchdog could.
fn sweep_stale(base: &Path) {
    let Ok(rd) = std::fs::read_dir(base) else { return };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if let Some(pid) = name.strip_prefix("automl-pg-").and_then(|r| r.split('-').next()) {
            if !Path::new("/proc").join(pid).exists() {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
}

impl Server {
    /// A server of the caller's own (tests that stop and start it), started.
    pub fn new() -> Server {
        let bin = bin_dir();
        let uid = run_as();
        let base = std::env::temp_dir();
        sweep_stale(&base);
        let dir = base.join(format!("automl-pg-{}-{}", std::process::id(), free_port()));
        std::fs::create_dir_all(&dir).expect("server folder");
        let pw = dir.join("pw");
        std::fs::write(&pw, PASSWORD).expect("password file");
        if let Some((u, g)) = uid {
            Command::new("chown")
                .args(["-R", &format!("{u}:{g}")])
                .arg(&dir)
                .status()
                .expect("chown");
        }
        let out = command(&bin.join("initdb"), uid)
            .arg("-D")
            .arg(dir.join("data"))
            .args(["-U", USER, "--auth=scram-sha-256", "-E", "UTF8", "--no-sync"])
            .arg(format!("--pwfile={}", pw.display()))
            .output()
            .expect("initdb runs");
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let s = Server {
            port: free_port(),
            dir,
            bin,
            uid,
        };
        s.start();
        s
    }

    /// Start the server (again) and wait until it accepts connections.
    pub fn start(&self) {
        let script = r#"
"$BIN/postgres" -D "$DIR/data" -p "$PORT" -k "$DIR" -c listen_addresses=127.0.0.1 \
  -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300 \
  >>"$DIR/log" 2>&1 &
pg=$!
while [ -d "/proc/$PARENT" ] && kill -0 "$pg" 2>/dev/null; do sleep 0.3; done
kill -INT "$pg" 2>/dev/null
wait "$pg"
if [ ! -d "/proc/$PARENT" ]; then rm -rf "$DIR"; fi
"#;
        let mut watchdog = command(Path::new("sh"), self.uid)
            .arg("-c")
            .arg(script)
            .env("BIN", &self.bin)
            .env("DIR", &self.dir)
            .env("PORT", self.port.to_string())
            .env("PARENT", std::process::id().to_string())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start postgres");
        // Reaped when it ends (after a stop, or with the test process).
        std::thread::spawn(move || watchdog.wait());
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if postgres::Client::connect(&self.url("postgres"), postgres::NoTls).is_ok() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the test PostgreSQL server did not start: {}",
                std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stop the server (fast shutdown) and wait until it is gone.
    pub fn stop(&self) {
        let pid = std::fs::read_to_string(self.dir.join("data/postmaster.pid"))
            .ok()
            .and_then(|s| s.lines().next().map(str::to_string))
            .expect("a running server");
        Command::new("kill").args(["-INT", &pid]).status().expect("kill");
        let deadline = Instant::now() + Duration::from_secs(30);
        while Path::new("/proc").join(&pid).exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// URL of database `db` as the superuser.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://{USER}:{PASSWORD}@127.0.0.1:{}/{db}", self.port)
    }
}

/// The process's test server (started on first use).
pub fn server() -> &'static Server {
    static S: OnceLock<Server> = OnceLock::new();
    S.get_or_init(Server::new)
}

/// A new empty database on the shared test server; returns its URL.
pub fn database() -> String {
    database_on(server())
}

/// A new empty database on server `s`; returns its URL.
pub fn database_on(s: &Server) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let name = format!("t{}_{}", std::process::id(), N.fetch_add(1, Ordering::SeqCst));
    let mut c = postgres::Client::connect(&s.url("postgres"), postgres::NoTls).expect("connect");
    c.batch_execute(&format!("CREATE DATABASE {name}"))
        .expect("create database");
    s.url(&name)
}
