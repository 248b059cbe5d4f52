//! `renkei simulate SYSTEM`: one simulated core system as its own process, for testers, crash
//! tests and `renkei conformance run --target demo`.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use renkei_conformance::core_system::{CoreSystemSimulator, SystemKind};
use renkei_conformance::faults::Fault;
use renkei_conformance::population::{HardCase, Population};
use renkei_conformance::resident_record::ResidentRecordSimulator;

/// Which system to stand in for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(super) enum SimulatedSystem {
    /// 住民記録: the resident record's REST API (lookups, 住民異動届, the change feed).
    ResidentRecord,
    /// 税: certificate requests, the change feed.
    Tax,
    /// 国民健康保険: applications as files in --inbox (and over REST), member lookups.
    Nhi,
    /// 福祉: applications over REST, the change feed.
    Welfare,
}

#[derive(Debug, clap::Args)]
pub(super) struct SimulateArgs {
    /// The system to simulate.
    #[arg(value_enum)]
    system: SimulatedSystem,
    /// Address to serve REST on (port 0: any free port; the first line printed says which).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Directory to take application files from (file transfer: NAME + NAME.done in, NAME.ack out).
    #[arg(long)]
    inbox: Option<PathBuf>,
    /// Synthetic residents the system knows (the same as the resident record's).
    #[arg(long, default_value_t = 10_000)]
    residents: usize,
    /// Seed of the synthetic population: the same seed makes the same people.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Faults for the first requests or files, in order, comma-separated: unavailable,
    /// lose-response, drop, duplicate-ack, malformed, disk-full, latency=200ms, timeout=5s.
    #[arg(long, default_value = "")]
    faults: String,
}

/// The line a simulator prints first, once it listens: `listening http://ADDR/api/v1`.
pub(super) const LISTENING: &str = "listening ";

pub(super) async fn run(args: SimulateArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.residents >= HardCase::MIN_POPULATION,
        "--residents must be at least {} so the population holds every hard case",
        HardCase::MIN_POPULATION
    );
    let faults = Fault::parse_list(&args.faults).map_err(|e| anyhow::anyhow!("--faults: {e}"))?;
    let population = Population::generate(args.residents, args.seed);
    let announce = |url: &str| -> anyhow::Result<()> {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{LISTENING}{url}")?;
        out.flush()?;
        Ok(())
    };
    if args.system == SimulatedSystem::ResidentRecord {
        anyhow::ensure!(args.inbox.is_none(), "--inbox: the resident record takes no files");
        let simulator = ResidentRecordSimulator::new(&population).start(args.listen).await?;
        for fault in faults {
            simulator.inject_todoke_fault(fault);
        }
        announce(&simulator.base_url())?;
        super::ctrl_c().await;
        simulator.shutdown().await?;
        return Ok(());
    }
    let kind = match args.system {
        SimulatedSystem::Tax => SystemKind::Tax,
        SimulatedSystem::Nhi => SystemKind::Nhi,
        _ => SystemKind::Welfare,
    };
    // Its answers (member records, certificates) are written in the layouts renkei reads.
    let mappings = Arc::new(
        renkei_mappings::MappingSet::embedded().map_err(|p| anyhow::anyhow!("embedded mapping set: {p}"))?,
    );
    let mut simulator = CoreSystemSimulator::new(kind, &population, mappings);
    if let Some(inbox) = args.inbox {
        std::fs::create_dir_all(&inbox)?;
        simulator = simulator.with_inbox(inbox);
    }
    let handle = simulator.start(args.listen).await?;
    for fault in faults {
        handle.faults().inject(fault);
    }
    announce(&handle.base_url())?;
    super::ctrl_c().await;
    handle.shutdown().await?;
    Ok(())
}
