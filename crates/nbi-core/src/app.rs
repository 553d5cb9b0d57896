//! App identity: turning a process into the application a person recognises.
//! Which processes count is the counting policy's ([`crate::counting`]).

use std::path::Path;

/// The outermost `.app` bundle an executable lives in, without `.app`:
/// `/Applications/Google Chrome.app/…/Google Chrome Helper (Renderer).app/Contents/MacOS/…`
/// is "Google Chrome".
pub fn bundle_name(exe: &Path) -> Option<String> {
    exe.components().find_map(|c| {
        let part = c.as_os_str().to_str()?;
        let name = part.strip_suffix(".app")?;
        (!name.is_empty()).then(|| name.to_string())
    })
}

/// What a person calls the program at `exe`: its bundle on macOS, its file
/// name elsewhere.
pub fn app_name_for_exe(exe: &Path) -> Option<String> {
    bundle_name(exe).or_else(|| {
        exe.file_name()
            .and_then(|n| n.to_str())
            .map(|n| n.trim_end_matches(" (deleted)").to_string())
            .filter(|n| !n.is_empty())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers_count_as_their_outer_bundle() {
        let exe = Path::new("/Applications/Google Chrome.app/Contents/Frameworks/Google Chrome Framework.framework/Versions/120.0/Helpers/Google Chrome Helper (Renderer).app/Contents/MacOS/Google Chrome Helper (Renderer)");
        assert_eq!(bundle_name(exe).as_deref(), Some("Google Chrome"));
        assert_eq!(
            app_name_for_exe(Path::new("/usr/bin/curl")).as_deref(),
            Some("curl")
        );
        assert_eq!(
            app_name_for_exe(Path::new("/usr/lib/firefox/firefox (deleted)")).as_deref(),
            Some("firefox")
        );
        assert_eq!(bundle_name(Path::new("/usr/sbin/.app/x")), None);
    }
}
