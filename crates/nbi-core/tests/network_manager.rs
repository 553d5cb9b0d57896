//! Network identity on Linux against a real D-Bus daemon: a private bus
//! (`dbus-daemon`) with python-dbusmock's NetworkManager on it, built up as
//! a laptop's would be; the same bus without NetworkManager; one answering
//! nonsense; an address where nothing listens; and a socket that never
//! answers. Each must give an answer for every interface, within 2 s.
//!
//! Needs `dbus-daemon` (Debian `dbus`) and a python3 with dbusmock (Debian
//! `python3-dbusmock`; `/usr/bin/python3` is tried first, as a pyenv python3
//! on PATH may lack it). Without them a test says why and returns, unless
//! `NBI_TEST_REQUIRE_SERVICES=1` (the test command sets it): then it fails.
#![cfg(target_os = "linux")]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nbi_core::network::linux::{fallback, identify, Bus};
use nbi_core::network::{Routes, Sighting};

/// How long identify() may take here: its D-Bus budget is 1 s.
const PROMPT: Duration = Duration::from_secs(2);

fn required() -> bool {
    std::env::var("NBI_TEST_REQUIRE_SERVICES").as_deref() == Ok("1")
}

/// The python3 that has dbusmock (and dbus-python), and that `dbus-daemon`
/// runs; or `None` after saying why the test is skipped (failing instead
/// under the test command).
fn tools() -> Option<PathBuf> {
    let mut why = Vec::new();
    let daemon = Command::new("dbus-daemon").arg("--version").output();
    if !daemon.is_ok_and(|o| o.status.success()) {
        why.push("`dbus-daemon` is not installed (Debian package dbus)");
    }
    let python = ["/usr/bin/python3", "python3"].into_iter().find(|p| {
        Command::new(p)
            .args(["-c", "import dbusmock, dbus"])
            .stderr(Stdio::null())
            .output()
            .is_ok_and(|o| o.status.success())
    });
    if python.is_none() {
        why.push("no python3 with dbusmock (Debian package python3-dbusmock)");
    }
    if why.is_empty() {
        return python.map(PathBuf::from);
    }
    let why = why.join("; ");
    assert!(!required(), "cannot run: {why}");
    eprintln!("skipped: {why}");
    None
}

/// Processes this test started, killed (last first) when it ends however
/// it ends, and the directory they worked in.
struct Children {
    procs: Vec<Child>,
    dir: tempfile::TempDir,
}

impl Children {
    fn new() -> Children {
        Children {
            procs: Vec::new(),
            dir: tempfile::tempdir().unwrap(),
        }
    }
}

impl Drop for Children {
    fn drop(&mut self) {
        for c in self.procs.iter_mut().rev() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A private bus of its own: its address, and its processes.
struct PrivateBus {
    address: String,
    python: PathBuf,
    children: Children,
}

impl PrivateBus {
    fn start(python: PathBuf) -> PrivateBus {
        let mut children = Children::new();
        let socket = children.dir.path().join("bus");
        let mut daemon = Command::new("dbus-daemon")
            .arg("--session")
            .arg("--nofork")
            .arg("--print-address=1")
            .arg(format!("--address=unix:path={}", socket.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start dbus-daemon");
        let stdout = daemon.stdout.take().expect("dbus-daemon's stdout");
        children.procs.push(daemon);
        // Read the address on a thread: a daemon that neither prints nor
        // exits must not hang the test.
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let address = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("dbus-daemon printed no address")
            .trim()
            .to_string();
        assert!(address.starts_with("unix:"), "dbus-daemon said {address:?}");
        PrivateBus {
            address,
            python,
            children,
        }
    }

    fn bus(&self) -> Bus {
        Bus::Address(self.address.clone())
    }

    /// Puts python-dbusmock on the bus: the NetworkManager template, or
    /// (`template` None) a bare object claiming NetworkManager's name.
    fn start_mock(&mut self, template: Option<&str>) {
        let mut cmd = Command::new(&self.python);
        cmd.args(["-m", "dbusmock", "--system"]);
        match template {
            Some(t) => cmd.args(["--template", t]),
            None => cmd.args([
                "org.freedesktop.NetworkManager",
                "/org/freedesktop/NetworkManager",
                "org.freedesktop.NetworkManager",
            ]),
        };
        let log = std::fs::File::create(self.children.dir.path().join("dbusmock.log")).unwrap();
        let child = cmd
            // The mock goes on the "system" bus: this private one.
            .env("DBUS_SYSTEM_BUS_ADDRESS", &self.address)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start python3 -m dbusmock");
        self.children.procs.push(child);
    }

    /// Runs one step of [`MOCK_SCRIPT`] against the mock, which it first
    /// waits for.
    fn mock(&self, args: &[&str]) {
        let mut cmd = Command::new(&self.python);
        cmd.arg("-c").arg(MOCK_SCRIPT).arg(&self.address).args(args);
        let out = output_within(cmd, Duration::from_secs(30));
        assert!(
            out.status.success(),
            "mock step {args:?} failed: {}\n(dbusmock's log: {})",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(self.children.dir.path().join("dbusmock.log"))
                .unwrap_or_default()
        );
    }
}

/// `cmd`'s output, failing the test (the helper killed) when it takes
/// longer than `limit`.
fn output_within(mut cmd: Command, limit: Duration) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start a helper");
    let read_all = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut out = Vec::new();
            let _ = r.read_to_end(&mut out);
            out
        })
    };
    let stdout = read_all(Box::new(child.stdout.take().unwrap()));
    let stderr = read_all(Box::new(child.stderr.take().unwrap()));
    let until = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > until {
            let _ = child.kill();
            let _ = child.wait();
            panic!("a helper took longer than {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

/// Steps on python-dbusmock's NetworkManager, as `python3 -c SCRIPT ADDRESS
/// STEP [ARG]`: `setup` builds a Wi-Fi device wlan0 connected to "Home"
/// (Metered 1: yes), an Ethernet device eth0 connected to "Office LAN" (no
/// Metered property, as an older NetworkManager has none) and a Wi-Fi
/// device wlan1 without a connection; `metered N` sets wlan0's Metered;
/// `garbage` makes a bare mock's GetDevices answer a string.
const MOCK_SCRIPT: &str = r#"
import sys, time
import dbus

NM = 'org.freedesktop.NetworkManager'
MOCK = 'org.freedesktop.DBus.Mock'
DEVICE = NM + '.Device'
bus = dbus.bus.BusConnection(sys.argv[1])
until = time.monotonic() + 20
while not bus.name_has_owner(NM):
    if time.monotonic() > until:
        sys.exit('the NetworkManager mock did not come up on the bus')
    time.sleep(0.05)
nm = dbus.Interface(bus.get_object(NM, '/org/freedesktop/NetworkManager'), MOCK)
step = sys.argv[2]
if step == 'setup':
    wifi = nm.AddWiFiDevice('wifi0', 'wlan0', 100)
    ap = nm.AddAccessPoint(wifi, 'ap0', 'Home', '00:11:22:33:44:55', 2, 2437, 54000, 80, 0)
    home = nm.AddWiFiConnection(wifi, 'home', 'Home', '')
    nm.AddActiveConnection([wifi], home, ap, 'wifi0', 2)
    device = dbus.Interface(bus.get_object(NM, wifi), MOCK)
    device.AddProperty(DEVICE, 'Metered', dbus.UInt32(1))
    eth = nm.AddEthernetDevice('ether0', 'eth0', 100)
    settings = dbus.Interface(
        bus.get_object(NM, '/org/freedesktop/NetworkManager/Settings'), NM + '.Settings')
    office = settings.AddConnection(
        {'connection': {'id': 'Office LAN', 'type': '802-3-ethernet'}})
    nm.AddActiveConnection([eth], office, '/', 'ether0', 2)
    nm.AddWiFiDevice('wifi1', 'wlan1', 30)
elif step == 'metered':
    nm.SetProperty('/org/freedesktop/NetworkManager/Devices/wifi0', DEVICE, 'Metered',
                   dbus.UInt32(int(sys.argv[3]), variant_level=1))
elif step == 'garbage':
    nm.AddMethod(NM, 'GetDevices', '', 's', 'ret = "nonsense"')
else:
    sys.exit('unknown step ' + step)
"#;

/// What identify() falls back to on this machine for `interface`.
fn fallback_here(interface: &str) -> Sighting {
    let routes = Routes::read().unwrap_or_default();
    let arp = std::fs::read_to_string("/proc/net/arp").unwrap_or_default();
    fallback(interface, &routes, &arp)
}

/// identify(), checked to answer every interface promptly.
fn identify_promptly(interfaces: &[&str], bus: Bus) -> BTreeMap<String, Sighting> {
    let started = Instant::now();
    let got = identify(interfaces, bus);
    let took = started.elapsed();
    assert!(took < PROMPT, "identify took {took:?}");
    let keys: Vec<&str> = got.keys().map(String::as_str).collect();
    let mut want = interfaces.to_vec();
    want.sort_unstable();
    assert_eq!(keys, want);
    got
}

/// Every interface gets what the routes and neighbours say.
fn assert_all_fallbacks(got: &BTreeMap<String, Sighting>) {
    for (interface, sighting) in got {
        assert_eq!(*sighting, fallback_here(interface), "{interface}");
    }
}

fn summary(s: &Sighting) -> (&str, &str, Option<bool>) {
    (s.id.as_str(), s.name.as_str(), s.metered)
}

#[test]
fn network_manager_names_active_connections_and_says_which_are_metered() {
    let Some(python) = tools() else { return };
    let mut bus = PrivateBus::start(python);
    bus.start_mock(Some("networkmanager"));
    bus.mock(&["setup"]);

    let interfaces = ["wlan0", "eth0", "eth9", "wlan1"];
    let got = identify_promptly(&interfaces, bus.bus());
    assert_eq!(summary(&got["wlan0"]), ("wifi:Home", "Home", Some(true)));
    assert_eq!(
        summary(&got["eth0"]),
        ("ethernet:Office LAN", "Office LAN", None)
    );
    // Not a NetworkManager device; one without an active connection.
    assert_eq!(got["eth9"], fallback_here("eth9"));
    assert_eq!(got["wlan1"], fallback_here("wlan1"));

    for (value, want) in [
        ("3", Some(true)),
        ("2", Some(false)),
        ("4", Some(false)),
        ("0", None),
    ] {
        bus.mock(&["metered", value]);
        let got = identify_promptly(&["wlan0"], bus.bus());
        assert_eq!(got["wlan0"].metered, want, "Metered {value}");
        assert_eq!(got["wlan0"].id.as_str(), "wifi:Home");
    }
}

#[test]
fn a_bus_without_network_manager_gives_fallbacks() {
    let Some(python) = tools() else { return };
    let bus = PrivateBus::start(python);
    let got = identify_promptly(&["eth0", "wlan0", "eth9"], bus.bus());
    assert_all_fallbacks(&got);
}

#[test]
fn network_manager_answering_nonsense_gives_fallbacks() {
    let Some(python) = tools() else { return };
    let mut bus = PrivateBus::start(python);
    bus.start_mock(None);
    bus.mock(&["garbage"]);
    let got = identify_promptly(&["eth0", "wlan0"], bus.bus());
    assert_all_fallbacks(&got);
}

#[test]
fn an_address_where_no_bus_listens_gives_fallbacks() {
    let dir = tempfile::tempdir().unwrap();
    let address = format!("unix:path={}", dir.path().join("nobody").display());
    let got = identify_promptly(&["eth0", "wlan0"], Bus::Address(address));
    assert_all_fallbacks(&got);
}

#[test]
fn a_bus_that_never_answers_is_given_up_on_in_time() {
    // A socket that takes connections into its backlog and never says a
    // word: the D-Bus handshake waits for ever without the deadline.
    let dir = tempfile::tempdir().unwrap();
    let path: &Path = &dir.path().join("silent");
    let _listener = std::os::unix::net::UnixListener::bind(path).unwrap();
    let address = format!("unix:path={}", path.display());
    let got = identify_promptly(&["eth0", "wlan0"], Bus::Address(address));
    assert_all_fallbacks(&got);
}
