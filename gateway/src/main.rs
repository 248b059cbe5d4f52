//! `renkei`: the gateway binary. Everything it does lives in the `renkei_gateway` library; this
//! file only parses the command line.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
