fn main() -> std::process::ExitCode {
    nbi_app::run()
}
