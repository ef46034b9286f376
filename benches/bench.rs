//! `applianced-bench`: the benchmark program (numbers for docs/PERFORMANCE.md) and the helper
//! processes that tests drive (the crash test's delivering child). Benchmarks are programs,
//! not timed tests.

mod append_memory;
mod connections;
mod cpu;
mod crash_child;
mod imap;
mod logins;
mod mapi;
mod store;

use argh::FromArgs;

/// applianced benchmarks and test helpers.
#[derive(FromArgs)]
struct Args {
    #[argh(subcommand)]
    cmd: Cmd,
}

#[derive(FromArgs)]
#[argh(subcommand)]
enum Cmd {
    AppendMemory(append_memory::AppendMemoryBench),
    Connections(connections::ConnectionsBench),
    Cpu(cpu::CpuBench),
    CrashChild(crash_child::CrashChild),
    Imap(imap::ImapBench),
    Logins(logins::LoginsBench),
    Mapi(mapi::MapiBench),
    Store(store::StoreBench),
}

fn main() -> std::process::ExitCode {
    let args: Args = argh::from_env();
    let r = match args.cmd {
        Cmd::AppendMemory(b) => append_memory::run(b),
        Cmd::Connections(b) => connections::run(b),
        Cmd::Cpu(b) => cpu::run(b),
        Cmd::CrashChild(c) => crash_child::run(c),
        Cmd::Imap(b) => imap::run(b),
        Cmd::Logins(b) => logins::run(b),
        Cmd::Mapi(b) => mapi::run(b),
        Cmd::Store(b) => store::run(b),
    };
    match r {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("applianced-bench: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
