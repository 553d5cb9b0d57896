//! Checks that the webview is built (it is embedded in the binary) and
//! generates the permissions of the app's commands, which
//! `capabilities/default.json` grants to the window.

use std::path::Path;

/// The commands of `src/commands.rs`; each gets an `allow-…` permission.
const COMMANDS: &[&str] = &[
    "day_curve",
    "typical_day",
    "verdict",
    "learning",
    "status",
    "pause",
    "resume",
    "check_now",
    "mark_normal",
    "new_normal",
    "history",
    "usage_history",
    "destinations",
    "networks",
    "export_range",
];

fn main() {
    let dist = Path::new("../ui/dist");
    println!("cargo:rerun-if-changed=../ui/dist");
    if !dist.join("index.html").is_file() {
        eprintln!(
            "\nerror: the webview is not built: {} has no index.html.\n\
             Build it first: `npm --prefix ui ci && npm --prefix ui run build` \
             (scripts/test and scripts/test_ui.sh do this).\n",
            dist.display()
        );
        std::process::exit(1);
    }
    let attributes = tauri_build::Attributes::new()
        .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS));
    if let Err(e) = tauri_build::try_build(attributes) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
