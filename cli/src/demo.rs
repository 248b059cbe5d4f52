//! `renkei demo`: the gateway and simulated core systems — resident record, tax, national
//! health insurance and welfare — sharing one synthetic population.

use std::net::SocketAddr;
use std::path::PathBuf;

use std::sync::Arc;

use renkei_adapter_core::{FileTransferConfig, RestConfig, TransportConfig};
use renkei_conformance::core_system::{CoreSystemSimulator, SystemKind};
use renkei_conformance::population::{HardCase, Population};
use renkei_conformance::resident_record::ResidentRecordSimulator;
use renkei_gateway::config::{Config, SubscriberConfig, SystemConfig};

#[derive(Debug, clap::Args)]
pub(super) struct DemoArgs {
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
    /// Address of the simulated resident record's REST API (port 0: any free port). The tax, NHI
    /// and welfare simulators take free loopback ports.
    #[arg(long, default_value = "127.0.0.1:0")]
    simulator_listen: SocketAddr,
    /// Where the demo keeps its SQLite database.
    #[arg(long, default_value = "renkei-data/demo")]
    data_dir: PathBuf,
}

/// The demo's users: one in each default group.
const DEMO_USERS: [(&str, &str, &str); 6] = [
    ("madoguchi", "窓口 試験", "窓口職員"),
    ("sekininsha", "責任者 試験", "窓口責任者"),
    ("shinsa", "審査 試験", "バックヤード審査"),
    ("kanri", "管理 試験", "システム管理者"),
    ("kansa", "監査 試験", "監査"),
    ("online", "オンライン受付", "オンライン受付"),
];

/// Make user `id` in `groups` with a fresh random password (a new one each time for a user that
/// exists already), and return the password.
pub(crate) async fn add_user(
    auth: &renkei_auth::Authenticator,
    id: &str,
    name: &str,
    groups: &[&str],
) -> anyhow::Result<String> {
    let password = uuid::Uuid::new_v4().simple().to_string()[..20].to_owned();
    let groups: Vec<String> = groups.iter().map(|g| (*g).to_owned()).collect();
    if auth.users().await?.iter().any(|u| u.id == id) {
        auth.set_password(id, &password).await?;
    } else {
        auth.add_user(id, name, &groups, &password).await?;
    }
    Ok(password)
}

/// Where the simulated core systems of a demo or a conformance run listen.
#[derive(Debug, Clone)]
pub(crate) struct SimulatedCity {
    pub resident_record: String,
    pub tax: String,
    pub nhi: String,
    /// The NHI system's file-transfer inbox (applications).
    pub nhi_inbox: PathBuf,
    /// Where the change feed writes NHI member files.
    pub nhi_feed: PathBuf,
    pub welfare: String,
}

impl SimulatedCity {
    /// The gateway's configuration against these systems, its database in `data_dir`: tax and
    /// welfare over REST, 国保 異動届 as Shift_JIS CSV files with member lookups over REST, and the
    /// resident record's differences delivered to the other three.
    pub(crate) fn config(&self, data_dir: PathBuf) -> anyhow::Result<Config> {
        let mut config = Config::default();
        config.storage.data_dir = data_dir;
        // The synthetic population lives in the wards of 横浜市.
        config.documents.municipality = "横浜市".into();
        config.systems.insert("resident-record".into(), SystemConfig::rest(self.resident_record.clone()));
        config.systems.insert("tax".into(), SystemConfig::rest(self.tax.clone()));
        config.systems.insert("welfare".into(), SystemConfig::rest(self.welfare.clone()));
        let file = FileTransferConfig { inbox: Some(self.nhi_inbox.clone()), ack_timeout_ms: 30_000 };
        config.systems.insert(
            "nhi".into(),
            SystemConfig {
                adapter: None,
                lookup: Some(RestConfig::new(self.nhi.clone())),
                // The simulator acknowledges application files in its inbox; the change feed's
                // member files wait apart for a reader.
                feed_inbox: Some(self.nhi_feed.clone()),
                transport: TransportConfig::File(file),
            },
        );
        std::fs::create_dir_all(&self.nhi_feed)?;
        // Each system takes the differences over its own channel: tax and welfare over REST,
        // NHI as files.
        for (system, mapping) in [
            ("tax", "resident-record/atena-diff"),
            ("welfare", "resident-record/atena-diff"),
            ("nhi", "nhi/member"),
        ] {
            let subscriber = SubscriberConfig { system: system.into(), mapping: mapping.parse()? };
            config.hub.subscribers.insert(system.into(), subscriber);
        }
        Ok(config)
    }
}

pub(super) async fn run(args: DemoArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.residents >= HardCase::MIN_POPULATION,
        "--residents must be at least {} so the population holds every hard case",
        HardCase::MIN_POPULATION
    );
    let population = Population::generate(args.residents, args.seed);
    let simulator = ResidentRecordSimulator::new(&population).start(args.simulator_listen).await?;
    // The other systems read records through the mapping set the gateway starts with.
    let mappings = Arc::new(
        renkei_mappings::MappingSet::embedded().map_err(|p| anyhow::anyhow!("embedded mapping set: {p}"))?,
    );
    let any_port = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let nhi_inbox = args.data_dir.join("nhi-inbox");
    std::fs::create_dir_all(&nhi_inbox)?;
    let tax =
        CoreSystemSimulator::new(SystemKind::Tax, &population, mappings.clone()).start(any_port).await?;
    let nhi = CoreSystemSimulator::new(SystemKind::Nhi, &population, mappings.clone())
        .with_inbox(nhi_inbox.clone())
        .start(any_port)
        .await?;
    let welfare =
        CoreSystemSimulator::new(SystemKind::Welfare, &population, mappings).start(any_port).await?;

    let nhi_feed = args.data_dir.join("nhi-feed");
    let data_dir = args.data_dir.clone();
    let city = SimulatedCity {
        resident_record: simulator.base_url(),
        tax: tax.base_url(),
        nhi: nhi.base_url(),
        nhi_inbox,
        nhi_feed: nhi_feed.clone(),
        welfare: welfare.base_url(),
    };
    let mut config = city.config(args.data_dir)?;
    config.server.grpc_listen = args.grpc_listen;
    config.server.http_listen = args.http_listen;
    // The resident record's differences go to the other three: 20 changes now, and the hub
    // takes new ones every 10 seconds.
    let changes = simulator.churn(20, args.seed, renkei_model::Date::today());
    config.hub.poll_interval_ms = 10_000;
    let gateway = renkei_gateway::server::start(config).await?;

    let auth = &gateway.state().auth;
    let mut logins = String::new();
    for (user, name, group) in DEMO_USERS {
        let password = add_user(auth, user, name, &[group]).await?;
        logins.push_str(&format!("\x20 {user:<11} {password}  {group}\n"));
    }
    let token = auth.issue("madoguchi", 8 * 3600).await?;
    let example = population.hard_case(HardCase::IvsName).expect("the population holds every hard case");
    let grpc = gateway.grpc_addr;
    println!(
        "\nrenkei demo is running (Ctrl-C stops it)\n\
         \x20 counter API (gRPC, reflection on)  {grpc}\n\
         \x20 health                              http://{http}/healthz\n\
         \x20 simulated resident record (REST)    {sim}  — {n} synthetic residents\n\
         \x20 simulated tax system (REST)         {tax}\n\
         \x20 simulated NHI system (file, REST)   {nhi_inbox} ; {nhi}\n\
         \x20 simulated welfare system (REST)     {welfare}\n\
         \x20 change feed                         {changes} changes → tax, welfare (REST), NHI (files in {nhi_feed});\n\
         \x20                                     `renkei hub status --data-dir {data_dir}` shows where each is\n\
         \nDemo users, one in each default group (passwords are new each start; docs/SECURITY.md says\n\
         what each group may do). Log in with AuthService.Login:\n\
         {logins}\
         \x20 grpcurl -plaintext -d '{{\"user_id\":\"madoguchi\",\"password\":\"<from above>\"}}' {grpc} renkei.v1.AuthService/Login\n\
         \nTry it with grpcurl (https://github.com/fullstorydev/grpcurl), as madoguchi (this token lasts 8 hours):\n\
         \x20 export TOKEN={token}\n\
         \x20 grpcurl -plaintext -H \"authorization: Bearer $TOKEN\" -d '{{\"counter_id\":\"window-1\"}}' {grpc} renkei.v1.CounterService/OpenSession\n\
         \x20 grpcurl -plaintext -H \"authorization: Bearer $TOKEN\" -d '{{\"session_id\":\"<from above>\",\"basic_facts\":{{\"name\":\"{family}{given}\",\"birth_date\":{{\"year\":{y},\"month\":{m},\"day\":{d}}}}}}}' \\\n\
         \x20   {grpc} renkei.v1.CounterService/LookupResident\n\
         \n{family}{given} is a synthetic resident whose family name is written with an ideographic variation\n\
         sequence ({escaped}); the answer carries those exact code points.\n",
        http = gateway.http_addr,
        sim = simulator.base_url(),
        tax = tax.base_url(),
        nhi = nhi.base_url(),
        nhi_inbox = nhi.inbox().map(|p| p.display().to_string()).unwrap_or_default(),
        welfare = welfare.base_url(),
        nhi_feed = nhi_feed.display(),
        data_dir = data_dir.display(),
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
    tax.shutdown().await?;
    nhi.shutdown().await?;
    welfare.shutdown().await?;
    Ok(())
}
