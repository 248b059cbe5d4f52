//! `renkei card read|watch|emulate`: the card readers at this machine, for staff and integrators.

use std::io::BufRead;
use std::net::SocketAddr;

use anyhow::Context;
use renkei_adapter_card::pcsc::PcscReaders;
use renkei_adapter_card::{Counted, Pin, ReadRequest, read_card};
use renkei_conformance::card_emulator::{
    CardImage, DriversLicense, EmulatedCard, InsertedCard, MyNumberCard,
};
use renkei_conformance::population::Population;
use renkei_model::{AtenaNumber, Date};

#[derive(Debug, clap::Args)]
pub(super) struct CardArgs {
    #[command(subcommand)]
    command: CardCommand,
}

#[derive(Debug, clap::Subcommand)]
enum CardCommand {
    /// Read the card in a reader: its kind, the PIN tries left and, with a PIN, the holder's facts.
    ///
    /// The card is identified by selecting its applications (My Number card input-assistance
    /// application, driver's license DF1). Without a PIN only the kind and the tries left are
    /// read, which spends no try. With one try left the PIN is only sent with
    /// --confirm-last-try, since a wrong PIN then blocks the card.
    ///
    /// The PIN is read from the environment variable RENKEI_CARD_PIN or, with --pin-stdin, from
    /// the first line of standard input; never from the command line, where it would stay in
    /// the shell's history.
    ///
    /// Examples:
    ///   renkei card read
    ///   echo 1234 | renkei card read --pin-stdin --reader "Virtual PCD 00 00"
    Read(ReadArgs),
    /// Print readers and cards as they come and go, until Ctrl-C.
    ///
    /// Readers present and their cards are printed first, then each change, one per line:
    ///   reader_added    Virtual PCD 00 00
    ///   card_inserted   Virtual PCD 00 00
    Watch,
    /// Put an emulated card for a synthetic resident into vpcd's virtual reader, until Ctrl-C.
    ///
    /// Needs pcscd running with the vsmartcard-vpcd driver (Debian packages pcscd and
    /// vsmartcard-vpcd; start with `pcscd --foreground &`). The resident comes from the same
    /// synthetic population as `renkei demo` (--residents, --seed). The card then reads like a
    /// real one with `renkei card read` or through the gateway's CardService.
    ///
    /// Example (葛󠄀西 太郎, whose name has an IVS selector):
    ///   renkei card emulate --resident 0000000019
    Emulate(EmulateArgs),
}

#[derive(Debug, clap::Args)]
struct ReadArgs {
    /// The reader's PC/SC name; by default the only reader with a card.
    #[arg(long)]
    reader: Option<String>,
    /// Read the PIN from the first line of standard input.
    #[arg(long)]
    pin_stdin: bool,
    /// Staff confirm that the last PIN try may be spent.
    #[arg(long)]
    confirm_last_try: bool,
    /// Also read the individual number (My Number card). Handle the output as 特定個人情報.
    #[arg(long)]
    individual_number: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum EmulatedKind {
    /// My Number card (input-assistance application).
    MyNumber,
    /// Driver's license.
    License,
}

#[derive(Debug, clap::Args)]
struct EmulateArgs {
    /// 宛名番号 of the synthetic resident the card is issued to.
    #[arg(long)]
    resident: String,
    /// Which card.
    #[arg(long, value_enum, default_value = "my-number")]
    card: EmulatedKind,
    /// The card's PIN (input-assistance PIN or license PIN1).
    #[arg(long, default_value = "1234")]
    pin: String,
    /// Where vpcd listens (its first slot is 35963).
    #[arg(long, default_value = "127.0.0.1:35963")]
    vpcd: SocketAddr,
    /// Size of the synthetic population (as for `renkei demo`).
    #[arg(long, default_value_t = 10_000)]
    residents: usize,
    /// Seed of the synthetic population (as for `renkei demo`).
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

pub(super) async fn run(args: CardArgs) -> anyhow::Result<()> {
    match args.command {
        CardCommand::Read(a) => tokio::task::spawn_blocking(move || read(a)).await?,
        CardCommand::Watch => watch().await,
        CardCommand::Emulate(a) => emulate(a).await,
    }
}

fn read(args: ReadArgs) -> anyhow::Result<()> {
    let pin_text = if args.pin_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).context("reading the PIN from standard input")?;
        Some(line.trim_end_matches(['\r', '\n']).to_owned())
    } else {
        std::env::var("RENKEI_CARD_PIN").ok()
    };
    let pin = pin_text.map(|p| Pin::parse(&p).map_err(|e| anyhow::anyhow!("PIN {}", e.rule))).transpose()?;
    let readers = PcscReaders::establish()?;
    let card = readers.connect(args.reader.as_deref())?;
    let reader = card.reader().to_owned();
    let mut channel = Counted::new(card);
    let request = ReadRequest {
        pin,
        staff_confirmed_last_try: args.confirm_last_try,
        read_individual_number: args.individual_number,
    };
    let reading = read_card(&mut channel, &request)?;
    println!("reader           {reader}");
    println!("card             {:?}", reading.card);
    println!("PIN tries left   {}", reading.pin_tries_left);
    if let Some(f) = &reading.facts {
        println!("name             {}  ({})", f.name, f.name.escaped());
        if let Some(k) = &f.name_kana {
            println!("reading          {k}");
        }
        if let Some(a) = &f.address {
            println!("address          {a}");
        }
        let wareki = f.birth_date.to_wareki_string().unwrap_or_default();
        println!("birth date       {} ({wareki})", f.birth_date);
        println!("sex              {:?}", f.sex);
    }
    for path in &reading.needs_confirmation {
        println!("confirm          {path} against the printed card");
    }
    if let Some(n) = &reading.individual_number {
        println!("individual no.   {}", n.expose());
    }
    if let Some(common) = reading.license.as_ref().map(|l| &l.common) {
        println!(
            "license          spec {} issued {} expires {}",
            common.spec_version, common.issued_on, common.expires_on
        );
    }
    println!("APDUs            {}", channel.sent());
    Ok(())
}

async fn watch() -> anyhow::Result<()> {
    let readers = PcscReaders::establish()?;
    let canceller = readers.canceller();
    let stop = canceller.clone();
    tokio::spawn(async move {
        super::ctrl_c().await;
        stop.cancel();
    });
    tokio::task::spawn_blocking(move || {
        readers.watch(canceller.flag(), |event| {
            println!("{:<15} {}", event.kind(), event.reader());
            true
        })
    })
    .await??;
    Ok(())
}

async fn emulate(args: EmulateArgs) -> anyhow::Result<()> {
    let atena = AtenaNumber::parse(&args.resident).map_err(|e| anyhow::anyhow!("--resident: {}", e.rule))?;
    anyhow::ensure!(
        args.pin.len() == 4 && args.pin.bytes().all(|b| b.is_ascii_digit()),
        "--pin: must be exactly 4 digits (0-9)"
    );
    let population = Population::generate(args.residents, args.seed);
    let resident = population.resident(&atena).with_context(|| {
        format!(
            "--resident: no synthetic resident has this 宛名番号 (--residents {} --seed {})",
            args.residents, args.seed
        )
    })?;
    let image = match args.card {
        EmulatedKind::MyNumber => CardImage::MyNumber(MyNumberCard::for_resident(resident, &args.pin)),
        EmulatedKind::License => CardImage::DriversLicense(DriversLicense::for_resident(
            resident,
            &args.pin,
            Date::from_ymd(2024, 4, 1)?,
        )),
    };
    let inserted = InsertedCard::insert(EmulatedCard::new(image), args.vpcd).await?;
    println!(
        "a {:?} card for {} ({}) is in vpcd's reader at {}; Ctrl-C removes it",
        args.card,
        resident.name.full(),
        resident.name.full().escaped(),
        args.vpcd
    );
    tokio::select! {
        _ = super::ctrl_c() => {}
        _ = async { while !inserted.is_removed() { tokio::time::sleep(std::time::Duration::from_millis(200)).await } } => {
            println!("vpcd closed the connection (pcscd stopped?)");
        }
    }
    let card = inserted.remove().await?;
    println!("card removed ({} PIN tries left)", card.tries_left());
    Ok(())
}
