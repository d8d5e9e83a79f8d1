//! `mqbench`: Ramjet's benchmark tool. One subcommand per benchmark; each lives in its own
//! module of `ramjet_bench` and prints one `RESULT` line last.

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "mqbench", about = "Ramjet benchmarks")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Append through the real store API, then write the same volume raw with O_DIRECT.
    Store(ramjet_bench::store_bench::StoreBenchArgs),
    /// GET_ROUTEINFO_BY_TOPIC load on many pipelined connections against a name server.
    Route(ramjet_bench::route_bench::RouteBenchArgs),
    /// Send messages to a topic through any RocketMQ name server and broker.
    Produce(ramjet_bench::produce::ProduceArgs),
    /// Pull every queue of a topic from any RocketMQ broker.
    Consume(ramjet_bench::consume::ConsumeArgs),
    /// Timer messages with a million pending: the wheel alone, and end to end.
    Timer(ramjet_bench::timer_bench::TimerBenchArgs),
    /// Delay-level delivery lateness (delivered store time minus due time).
    Delay(ramjet_bench::delay_bench::DelayArgs),
    /// CPU of the remoting codec per send request (frame, typed header, response), no I/O.
    Codec(ramjet_bench::codec_bench::CodecBenchArgs),
    /// A broker's cross-shard hop: sync sends alternating between queues on two shards.
    Hop(ramjet_bench::hop_bench::HopBenchArgs),
}

fn main() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Store(args) => ramjet_bench::store_bench::run(args),
        Command::Route(args) => ramjet_bench::route_bench::run(args),
        Command::Produce(args) => ramjet_bench::produce::run(args),
        Command::Consume(args) => ramjet_bench::consume::run(args),
        Command::Timer(args) => ramjet_bench::timer_bench::run(args),
        Command::Delay(args) => ramjet_bench::delay_bench::run(args),
        Command::Codec(args) => ramjet_bench::codec_bench::run(args),
        Command::Hop(args) => ramjet_bench::hop_bench::run(args),
    };
    if let Err(error) = result {
        eprintln!("mqbench: {error}");
        std::process::exit(1);
    }
}
