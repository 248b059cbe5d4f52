//! `renkei demo`: the gateway and a simulated resident record with synthetic residents.

use std::net::SocketAddr;
use std::path::PathBuf;

use renkei_conformance::population::{HardCase, Population};
use renkei_conformance::resident_record::ResidentRecordSimulator;
use renkei_gateway::config::Config;

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Synthetic residents in the simulated resident record.
    #[arg(long, default_value_t = 10_000)]
    residents: usize,
    /// Seed of the synthetic population: the same seed makes the same people.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// gRPC address of the gateway.
    #[arg(long, default_value = "127.0.0.1:50051")]
    grpc_listen: SocketAddr,
    /// HTTP address of the gateway (/healthz, /readyz).
    #[arg(long, default_value = "127.0.0.1:8080")]
    http_listen: SocketAddr,
    /// Address of the simulated resident record's REST API (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    simulator_listen: SocketAddr,
    /// Where the demo keeps its SQLite database.
    #[arg(long, default_value = "renkei-data/demo")]
    data_dir: PathBuf,
}

pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.residents >= HardCase::MIN_POPULATION,
        "--residents must be at least {} so the population holds every hard case",
        HardCase::MIN_POPULATION
    );
    let population = Population::generate(args.residents, args.seed);
    let simulator = ResidentRecordSimulator::new(&population).start(args.simulator_listen).await?;

    let mut config = Config::default();
    config.server.grpc_listen = args.grpc_listen;
    config.server.http_listen = args.http_listen;
    config.storage.data_dir = args.data_dir;
    // The synthetic population lives in the wards of 横浜市.
    config.documents.municipality = "横浜市".into();
    config
        .systems
        .insert("resident-record".into(), renkei_adapter_core::RestConfig::new(simulator.base_url()));
    let gateway = renkei_gateway::server::start(config).await?;

    let example = population.hard_case(HardCase::IvsName).expect("the population holds every hard case");
    let grpc = gateway.grpc_addr;
    println!(
        "\nrenkei demo is running (Ctrl-C stops it)\n\
         \x20 counter API (gRPC, reflection on)  {grpc}\n\
         \x20 health                              http://{http}/healthz\n\
         \x20 simulated resident record (REST)    {sim}  — {n} synthetic residents\n\
         \nTry it with grpcurl (https://github.com/fullstorydev/grpcurl):\n\
         \x20 grpcurl -plaintext -d '{{\"counter_id\":\"window-1\",\"staff_id\":\"demo\"}}' {grpc} renkei.v1.CounterService/OpenSession\n\
         \x20 grpcurl -plaintext -d '{{\"session_id\":\"<from above>\",\"basic_facts\":{{\"name\":\"{family}{given}\",\"birth_date\":{{\"year\":{y},\"month\":{m},\"day\":{d}}}}}}}' \\\n\
         \x20   {grpc} renkei.v1.CounterService/LookupResident\n\
         \n{family}{given} is a synthetic resident whose family name is written with an ideographic variation\n\
         sequence ({escaped}); the answer carries those exact code points.\n",
        http = gateway.http_addr,
        sim = simulator.base_url(),
        n = population.len(),
        family = example.name.family.search_key(),
        given = example.name.given,
        escaped = example.name.family.escaped(),
        y = example.birth_date.year(),
        m = example.birth_date.month(),
        d = example.birth_date.day(),
    );
    gateway.run_until(super::ctrl_c()).await?;
    simulator.shutdown().await?;
    Ok(())
}
