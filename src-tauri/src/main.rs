fn main() -> std::process::ExitCode {
    // Before any thread exists: the runtime's process-wide policy.
    nbi_core::runtime::init_process();
    nbi_app::run()
}
