//! The `applianced` binary: everything is in the library; see `cli`.

fn main() -> std::process::ExitCode {
    applianced::cli::main()
}
