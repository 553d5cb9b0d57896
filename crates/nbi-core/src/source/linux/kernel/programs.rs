//! The eBPF programs (`bpf/sockets.bpf.c`, built by `build.rs` with clang):
//! loading them, attaching them to the cgroup v2 root as BPF links, and the
//! records they write, laid out as in C.

use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use aya::maps::{Array, HashMap as BpfHashMap, MapData};
use aya::programs::{CgroupAttachMode, CgroupSkb, CgroupSkbAttachType, CgroupSock};
use aya::Ebpf;

/// The compiled programs.
static OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/sockets.bpf.o"));

/// What a socket moved, and where (`struct traffic`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Traffic {
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub ifindex: u32,
    pub family: u16,
    pub protocol: u8,
    pub remote_varies: u8,
    pub remote: [u8; 16],
    pub remote_port: u16,
    pub remote_set: u16,
    pub local_port: u16,
    pub owner_known: u8,
    pub released: u8,
    pub pad: [u8; 8],
}

// SAFETY: plain old data, laid out as the C struct (checked by a test).
unsafe impl aya::Pod for Traffic {}

/// Who made a socket (`struct owner`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Creator {
    pub pid: u32,
    pub uid: u32,
    pub comm: [u8; 16],
    pub exe: [u8; 64],
}

// SAFETY: as above.
unsafe impl aya::Pod for Creator {}

/// `struct settings`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
struct Settings {
    include_loopback: u32,
}

// SAFETY: as above.
unsafe impl aya::Pod for Settings {}

/// Why the kernel-side counters could not start.
#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    #[error(
        "loading the eBPF programs: {0} (they need root, or cap_bpf,cap_net_admin,cap_perfmon)"
    )]
    Load(String),
    #[error("no cgroup v2 hierarchy to attach to: {0}")]
    Cgroup(String),
    #[error("attaching {program}: {reason}")]
    Attach { program: String, reason: String },
}

/// The loaded and attached programs and their maps. Dropping it detaches
/// the programs.
pub struct Programs {
    pub traffic: BpfHashMap<MapData, u64, Traffic>,
    pub owners: BpfHashMap<MapData, u64, Creator>,
    pub lost: Array<MapData, u64>,
    // Dropped last.
    _ebpf: Ebpf,
}

impl Programs {
    /// Loads the programs and attaches them to the cgroup v2 root.
    ///
    /// # Errors
    /// Not allowed (no root or capabilities), no cgroup v2, a kernel
    /// without these program types or without BTF.
    pub fn attach(include_loopback: bool) -> Result<Programs, KernelError> {
        let cgroup_dir = cgroup2_root().map_err(KernelError::Cgroup)?;
        let cgroup = std::fs::File::open(&cgroup_dir)
            .map_err(|e| KernelError::Cgroup(format!("{}: {e}", cgroup_dir.display())))?;
        let mut ebpf = Ebpf::load(OBJECT).map_err(|e| KernelError::Load(chain(&e)))?;
        let mut settings: Array<MapData, Settings> = take_map(&mut ebpf, "settings")?;
        let set = Settings {
            include_loopback: u32::from(include_loopback),
        };
        settings
            .set(0, set, 0)
            .map_err(|e| KernelError::Load(e.to_string()))?;
        for (name, direction) in [
            ("count_ingress", CgroupSkbAttachType::Ingress),
            ("count_egress", CgroupSkbAttachType::Egress),
        ] {
            let p: &mut CgroupSkb = program(&mut ebpf, name)?;
            p.load().map_err(|e| KernelError::Load(chain(&e)))?;
            // As a BPF link, which sits beside other programs of the
            // cgroup whatever the mode (the kernel refuses flags on links).
            p.attach(cgroup.as_fd(), direction, CgroupAttachMode::Single)
                .map_err(|e| attach_error(name, &e))?;
        }
        for name in ["sock_create", "sock_release"] {
            let p: &mut CgroupSock = program(&mut ebpf, name)?;
            p.load().map_err(|e| KernelError::Load(chain(&e)))?;
            p.attach(cgroup.as_fd(), CgroupAttachMode::Single)
                .map_err(|e| attach_error(name, &e))?;
        }
        let traffic = take_map(&mut ebpf, "traffic")?;
        let owners = take_map(&mut ebpf, "owners")?;
        let lost = take_map(&mut ebpf, "lost")?;
        tracing::info!(cgroup = %cgroup_dir.display(), "kernel-side counters attached");
        Ok(Programs {
            traffic,
            owners,
            lost,
            _ebpf: ebpf,
        })
    }
}

fn program<'a, P>(ebpf: &'a mut Ebpf, name: &str) -> Result<&'a mut P, KernelError>
where
    &'a mut P: TryFrom<&'a mut aya::programs::Program, Error = aya::programs::ProgramError>,
{
    let p = ebpf.program_mut(name).ok_or_else(|| KernelError::Attach {
        program: name.into(),
        reason: "not in the object".into(),
    })?;
    p.try_into().map_err(|e| attach_error(name, &e))
}

fn attach_error(program: &str, e: &dyn std::error::Error) -> KernelError {
    KernelError::Attach {
        program: program.into(),
        reason: chain(e),
    }
}

fn take_map<V: TryFrom<aya::maps::Map>>(ebpf: &mut Ebpf, name: &str) -> Result<V, KernelError>
where
    V::Error: std::fmt::Display,
{
    let map = ebpf
        .take_map(name)
        .ok_or_else(|| KernelError::Load(format!("no map {name}")))?;
    V::try_from(map).map_err(|e| KernelError::Load(format!("map {name}: {e}")))
}

/// An error and its causes, one after the other ("`bpf_link_create`
/// failed: Operation not permitted").
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        // Some errors repeat their cause in their own text.
        let said = c.to_string();
        if !text.contains(&said) {
            text.push_str(&format!(": {said}"));
        }
        cause = c.source();
    }
    text
}

/// A name the kernel recorded, up to its NUL.
pub fn nul_terminated(name: &[u8]) -> String {
    let end = name.iter().position(|b| *b == 0).unwrap_or(name.len());
    String::from_utf8_lossy(&name[..end]).into_owned()
}

/// The remote end a socket talked to, when it talked to one.
pub fn remote_of(t: &Traffic) -> Option<std::net::SocketAddr> {
    if t.remote_set == 0 || t.remote_varies != 0 {
        return None;
    }
    let ip: std::net::IpAddr = match i32::from(t.family) {
        libc::AF_INET => {
            std::net::Ipv4Addr::new(t.remote[0], t.remote[1], t.remote[2], t.remote[3]).into()
        }
        libc::AF_INET6 => std::net::Ipv6Addr::from(t.remote).into(),
        _ => return None,
    };
    Some(std::net::SocketAddr::new(ip, t.remote_port))
}

/// Where a cgroup v2 hierarchy is mounted (`/sys/fs/cgroup` on a unified
/// host, `/sys/fs/cgroup/unified` on a hybrid one). With none, one is
/// mounted in a directory of our own.
fn cgroup2_root() -> Result<PathBuf, String> {
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").map_err(|e| e.to_string())?;
    if let Some(dir) = cgroup2_in(&mounts) {
        return Ok(dir);
    }
    let dir = Path::new("/run/nbi/cgroup2");
    crate::files::create_dir_private(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let target =
        std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()).map_err(|e| e.to_string())?;
    // SAFETY: mount(2) with valid C strings; nothing else is touched.
    let r = unsafe {
        libc::mount(
            c"cgroup2".as_ptr(),
            target.as_ptr(),
            c"cgroup2".as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    if r != 0 {
        return Err(format!(
            "none is mounted, and mounting one at {} failed: {}",
            dir.display(),
            std::io::Error::last_os_error()
        ));
    }
    tracing::info!(dir = %dir.display(), "mounted a cgroup v2 hierarchy");
    Ok(dir.to_path_buf())
}

/// The mount point of the first cgroup2 file system in `mountinfo`.
fn cgroup2_in(mountinfo: &str) -> Option<PathBuf> {
    mountinfo.lines().find_map(|line| {
        // "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS ... - FSTYPE SOURCE ..."
        let (head, tail) = line.split_once(" - ")?;
        let fstype = tail.split_whitespace().next()?;
        let mountpoint = head.split_whitespace().nth(4)?;
        (fstype == "cgroup2").then(|| PathBuf::from(mountpoint.replace("\\040", " ")))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_records_are_laid_out_as_the_programs_write_them() {
        // No padding the compiler adds: every byte is a field (`pad`).
        assert_eq!(std::mem::size_of::<Traffic>(), 56);
        assert_eq!(std::mem::size_of::<Creator>(), 88);
        assert_eq!(std::mem::offset_of!(Traffic, remote), 24);
        assert_eq!(std::mem::offset_of!(Traffic, remote_port), 40);
        assert_eq!(std::mem::offset_of!(Traffic, local_port), 44);
        assert_eq!(std::mem::offset_of!(Traffic, owner_known), 46);
        assert_eq!(std::mem::offset_of!(Traffic, released), 47);
        assert_eq!(std::mem::offset_of!(Traffic, pad), 48);
        assert_eq!(std::mem::offset_of!(Creator, exe), 24);
    }

    #[test]
    fn the_cgroup2_mount_is_found_on_unified_and_hybrid_hosts() {
        let hybrid = "25 24 0:22 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755\n\
                      26 25 0:23 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
        assert_eq!(
            cgroup2_in(hybrid),
            Some(PathBuf::from("/sys/fs/cgroup/unified"))
        );
        let unified = "30 1 0:26 / /sys/fs/cgroup rw,nosuid shared:4 - cgroup2 cgroup2 rw\n";
        assert_eq!(cgroup2_in(unified), Some(PathBuf::from("/sys/fs/cgroup")));
        assert_eq!(cgroup2_in("1 0 8:1 / / rw - ext4 /dev/sda1 rw\n"), None);
    }

    #[test]
    fn an_error_chain_says_each_cause_once() {
        #[derive(Debug, thiserror::Error)]
        #[error("failed to create map `traffic`")]
        struct Inner(#[source] std::io::Error);
        #[derive(Debug, thiserror::Error)]
        #[error("map error: {0}")]
        struct Outer(#[source] Inner);
        let e = Outer(Inner(std::io::Error::from_raw_os_error(libc::EPERM)));
        assert_eq!(
            chain(&e),
            "map error: failed to create map `traffic`: Operation not permitted (os error 1)"
        );
    }

    #[test]
    fn names_end_at_their_nul() {
        assert_eq!(nul_terminated(b"curl\0\0\0\0\0\0\0\0\0\0\0\0"), "curl");
        assert_eq!(nul_terminated(b"0123456789abcdef"), "0123456789abcdef");
    }

    #[test]
    fn remote_ends_of_v4_and_v6_sockets() {
        let mut t = Traffic {
            family: libc::AF_INET as u16,
            remote_set: 1,
            remote_port: 443,
            ..Traffic::default()
        };
        t.remote[..4].copy_from_slice(&[198, 18, 0, 2]);
        assert_eq!(remote_of(&t), Some("198.18.0.2:443".parse().unwrap()));
        t.remote_varies = 1;
        assert_eq!(remote_of(&t), None, "an unconnected socket");
        let mut v6 = Traffic {
            family: libc::AF_INET6 as u16,
            remote_set: 1,
            remote_port: 4433,
            ..Traffic::default()
        };
        v6.remote = "2001:2::2".parse::<std::net::Ipv6Addr>().unwrap().octets();
        assert_eq!(remote_of(&v6), Some("[2001:2::2]:4433".parse().unwrap()));
    }
}
