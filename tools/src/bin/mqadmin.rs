//! `mqadmin`: RocketMQ's admin commands against any RocketMQ-compatible name server and
//! brokers. A failure prints one line on stderr and exits 1; bad flags exit 2 (clap).

use clap::Parser;
use ramjet_tools::commands::{run, Cli};

fn main() {
    // Printing into a closed pipe (`mqadmin topicList | head`) ends the program quietly, as
    // it does for C tools, instead of panicking on the failed write.
    // SAFETY: restoring the default action of one signal before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    match run(cli) {
        Ok(true) => {}
        Ok(false) => std::process::exit(1),
        Err(error) => {
            eprintln!("mqadmin: {error}");
            std::process::exit(1);
        }
    }
}
