//! Real servers a test owns: a Kafka-protocol broker (tansu) and an
//! InfluxDB server, each on its own loopback port and data directory, so a
//! test can stop and restart them.
//!
//! `./scripts/test_services.sh start` installs both and `env` names their
//! programs (`NBI_TEST_TANSU`, `NBI_TEST_INFLUXD`); without them a test says
//! it is skipped, unless `NBI_TEST_REQUIRE_SERVICES=1` (the test command
//! sets it) makes a missing server a failure.
#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The program named by `var`, or `None` after saying the test is skipped.
pub fn program(var: &str, what: &str) -> Option<PathBuf> {
    match std::env::var_os(var).map(PathBuf::from) {
        Some(p) if p.exists() => Some(p),
        _ => {
            let msg = format!(
                "{what} is not available: {var} is not set (./scripts/test_services.sh start installs it and ./scripts/test sets it)"
            );
            if std::env::var("NBI_TEST_REQUIRE_SERVICES").as_deref() == Ok("1") {
                panic!("{msg}");
            }
            eprintln!("skipped: {msg}");
            None
        }
    }
}

/// The address of a shared test server named by `var` (e.g.
/// `NBI_TEST_INFLUX_URL`), with the same skip-or-fail rule as [`program`].
pub fn server(var: &str, what: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(v) if !v.trim().is_empty() => Some(v),
        _ => {
            let msg = format!(
                "{what} is not available: {var} is not set (./scripts/test starts it and sets it)"
            );
            if std::env::var("NBI_TEST_REQUIRE_SERVICES").as_deref() == Ok("1") {
                panic!("{msg}");
            }
            eprintln!("skipped: {msg}");
            None
        }
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn wait_for_port(port: u16, within: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < within {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

fn wait_for_port_closed(port: u16, within: Duration) {
    let start = Instant::now();
    while start.elapsed() < within && TcpStream::connect(("127.0.0.1", port)).is_ok() {
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A tansu broker with durable SQLite storage.
pub struct Broker {
    program: PathBuf,
    dir: PathBuf,
    pub port: u16,
    child: Option<Child>,
}

impl Broker {
    /// Starts a broker keeping its data in `dir`; `None` when tansu is not
    /// installed (the test is skipped).
    pub fn start(dir: &Path) -> Option<Broker> {
        let program = program("NBI_TEST_TANSU", "the Kafka-protocol broker (tansu)")?;
        std::fs::create_dir_all(dir).expect("broker dir");
        let mut b = Broker {
            program,
            dir: dir.to_path_buf(),
            port: free_port(),
            child: None,
        };
        b.restart();
        Some(b)
    }

    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Starts it again (same port, same data) after [`Broker::kill`].
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "the broker is running");
        let url = format!("tcp://127.0.0.1:{}", self.port);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("tansu.log"))
            .expect("broker log");
        let child = Command::new(&self.program)
            .arg("broker")
            .arg("--listener-url")
            .arg(&url)
            .arg("--advertised-listener-url")
            .arg(&url)
            .arg("--storage-engine")
            // tansu reads the path after `sqlite://` relative to its directory.
            .arg("sqlite://tansu.db")
            .current_dir(&self.dir)
            .env_remove("CLUSTER_ID")
            .env_remove("LISTENER_URL")
            .env_remove("ADVERTISED_LISTENER_URL")
            .env_remove("STORAGE_ENGINE")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start tansu");
        self.child = Some(child);
        assert!(
            wait_for_port(self.port, Duration::from_secs(20)),
            "tansu did not listen on {}",
            self.port
        );
    }

    /// Stops it hard (SIGKILL), as a crash or a pulled cable would.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        wait_for_port_closed(self.port, Duration::from_secs(5));
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.kill();
    }
}

/// An InfluxDB 1.x server (Debian's influxd) serving the v1 API.
pub struct Influx {
    program: PathBuf,
    dir: PathBuf,
    pub port: u16,
    rpc_port: u16,
    child: Option<Child>,
}

impl Influx {
    pub fn start(dir: &Path) -> Option<Influx> {
        let program = program("NBI_TEST_INFLUXD", "InfluxDB (influxd)")?;
        std::fs::create_dir_all(dir).expect("influx dir");
        let mut i = Influx {
            program,
            dir: dir.to_path_buf(),
            port: free_port(),
            rpc_port: free_port(),
            child: None,
        };
        i.restart();
        Some(i)
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "influxd is running");
        let d = self.dir.display();
        let conf = self.dir.join("influxdb.conf");
        std::fs::write(
            &conf,
            format!(
                "reporting-disabled = true\nbind-address = \"127.0.0.1:{rpc}\"\n\
                 [meta]\n  dir = \"{d}/meta\"\n\
                 [data]\n  dir = \"{d}/data\"\n  wal-dir = \"{d}/wal\"\n  query-log-enabled = false\n\
                 [http]\n  bind-address = \"127.0.0.1:{http}\"\n  log-enabled = false\n  pprof-enabled = false\n\
                 [ifql]\n  enabled = false\n[monitor]\n  store-enabled = false\n\
                 [continuous_queries]\n  enabled = false\n",
                rpc = self.rpc_port,
                http = self.port,
            ),
        )
        .expect("influx config");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("influxd.log"))
            .expect("influx log");
        let child = Command::new(&self.program)
            .arg("-config")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start influxd");
        self.child = Some(child);
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(30) {
            let ok = std::process::Command::new("curl")
                .args(["-fsS", "-o", "/dev/null", &format!("{}/ping", self.url())])
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if ok {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("influxd did not answer on {}", self.url());
    }

    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        wait_for_port_closed(self.port, Duration::from_secs(5));
    }
}

impl Drop for Influx {
    fn drop(&mut self) {
        self.kill();
    }
}
