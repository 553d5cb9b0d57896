//! Compiles the Linux source's eBPF programs (`src/source/linux/bpf/`)
//! with clang, from the kernel's UAPI headers and libbpf's
//! `bpf_helpers.h` (Debian: `clang`, `libbpf-dev`). Without them the build
//! goes on, says so, and the Linux source counts TCP only (its fallback).
//! Other systems need none of it.

use std::env;
use std::path::PathBuf;
use std::process::Command;

const PROGRAM: &str = "src/source/linux/bpf/sockets.bpf.c";

fn main() {
    println!("cargo:rerun-if-changed={PROGRAM}");
    println!("cargo:rerun-if-env-changed=NBI_CLANG");
    println!("cargo:rustc-check-cfg=cfg(nbi_bpf)");
    if env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("linux") {
        return;
    }
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let object = out.join("sockets.bpf.o");
    let arch = env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    // <asm/types.h> lives in the multiarch directory of the target.
    let multiarch = match arch.as_str() {
        "x86_64" => "x86_64-linux-gnu",
        "aarch64" => "aarch64-linux-gnu",
        "arm" => "arm-linux-gnueabihf",
        "riscv64" => "riscv64-linux-gnu",
        other => other,
    };
    let clang = env::var("NBI_CLANG").unwrap_or_else(|_| "clang".into());
    let result = Command::new(&clang)
        .args(["-O2", "-g", "-Wall", "-Werror", "-target", "bpf"])
        .arg(format!("-I/usr/include/{multiarch}"))
        .args(["-c", PROGRAM, "-o"])
        .arg(&object)
        .output();
    match result {
        Ok(o) if o.status.success() => println!("cargo:rustc-cfg=nbi_bpf"),
        Ok(o) => {
            let why = String::from_utf8_lossy(&o.stderr);
            let first = why.lines().next().unwrap_or("").to_string();
            println!("cargo:warning=the Linux source's eBPF programs did not compile ({first}); this build counts TCP only. Install clang and libbpf-dev.");
        }
        Err(e) => println!(
            "cargo:warning=no {clang} to compile the Linux source's eBPF programs ({e}); this build counts TCP only. Install clang and libbpf-dev."
        ),
    }
}
