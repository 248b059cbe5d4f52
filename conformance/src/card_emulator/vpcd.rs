//! The link to vpcd, the virtual reader driver of pcsc-lite (Debian: vsmartcard-vpcd).
//!
//! vpcd listens on TCP (35963 for its first slot); a card emulator connects as a client, which
//! pcscd sees as a card inserted, and closing the connection is removing it. Every message
//! either way is a two-byte big-endian length and a payload. A one-byte message from vpcd is a
//! control: 00 power off, 01 power on, 02 reset, 04 get ATR (answered with the ATR); anything
//! longer is a command APDU, answered with response data and status word.
//!
//! The link is latency-bound: one APDU is one small exchange each way. Nagle is off
//! (TCP_NODELAY) so a reply leaves at once, and on Linux the socket acknowledges at once
//! (TCP_QUICKACK, re-armed before every read because the kernel drops back to delayed
//! acknowledgements once request and reply alternate), meant to keep vpcd's two writes per APDU
//! (length, then payload) from waiting on a delayed ACK (docs/BENCHMARKS.md, "Card and QR").

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tracing::debug;

use super::card::{ATR, EmulatedCard};

/// vpcd's first slot ("Virtual PCD 00 00").
pub const DEFAULT_VPCD: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 35963);
/// The reader name pcsc-lite gives vpcd's first slot.
pub const VPCD_READER: &str = "Virtual PCD 00 00";

/// Pull the card out in the middle of a command: when the `nth` command (from 1) with
/// instruction `ins` arrives, the connection closes without an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemoveDuring {
    pub ins: u8,
    pub nth: u32,
}

/// A card in vpcd's slot. [`InsertedCard::remove`] takes it out and gives the card back with
/// its state (tries counters live on the card).
#[derive(Debug)]
pub struct InsertedCard {
    task: JoinHandle<std::io::Result<EmulatedCard>>,
    remove: Option<oneshot::Sender<()>>,
    apdus: Arc<AtomicU32>,
}

/// Acknowledge what arrives at once instead of waiting to piggyback the ACK (Linux; the kernel
/// leaves quick-ACK mode again as soon as it sees request and reply alternate, so it is set
/// before every read).
#[cfg(any(target_os = "linux", target_os = "android"))]
fn quick_ack(stream: &TcpStream) -> std::io::Result<()> {
    socket2::SockRef::from(stream).set_tcp_quickack(true)
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn quick_ack(_stream: &TcpStream) -> std::io::Result<()> {
    Ok(())
}

impl InsertedCard {
    /// Connect `card` to vpcd at `vpcd` (pcscd must be running with the vpcd driver).
    pub async fn insert(card: EmulatedCard, vpcd: SocketAddr) -> std::io::Result<InsertedCard> {
        Self::insert_with(card, vpcd, None).await
    }

    /// Like [`InsertedCard::insert`], pulling the card out mid-command as `remove_during` says.
    pub async fn insert_with(
        card: EmulatedCard,
        vpcd: SocketAddr,
        remove_during: Option<RemoveDuring>,
    ) -> std::io::Result<InsertedCard> {
        Self::connect(card, vpcd, remove_during, true).await
    }

    /// Like [`InsertedCard::insert`] with delayed acknowledgements left on (no TCP_QUICKACK):
    /// for the benchmark that measures what quick acknowledgements save.
    pub async fn insert_with_delayed_acks(
        card: EmulatedCard,
        vpcd: SocketAddr,
    ) -> std::io::Result<InsertedCard> {
        Self::connect(card, vpcd, None, false).await
    }

    async fn connect(
        mut card: EmulatedCard,
        vpcd: SocketAddr,
        remove_during: Option<RemoveDuring>,
        quickack: bool,
    ) -> std::io::Result<InsertedCard> {
        let mut stream = TcpStream::connect(vpcd).await.map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!(
                    "cannot reach vpcd at {vpcd} ({e}): is pcscd running with the vsmartcard-vpcd driver? \
                     (Debian: apt-get install pcscd vsmartcard-vpcd; then pcscd --foreground &)"
                ),
            )
        })?;
        stream.set_nodelay(true)?;
        let apdus = Arc::new(AtomicU32::new(0));
        let counter = apdus.clone();
        let (remove, mut removed) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let mut seen_ins = 0u32;
            loop {
                // Before every read: a reply just written puts the socket back in delayed-ACK
                // ("ping-pong") mode, and vpcd's length and payload come in two segments.
                if quickack {
                    quick_ack(&stream)?;
                }
                let mut len = [0u8; 2];
                tokio::select! {
                    _ = &mut removed => break,
                    read = stream.read_exact(&mut len) => match read {
                        Ok(_) => {}
                        // vpcd went away (pcscd stopped): the card is out.
                        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
                        Err(e) => return Err(e),
                    },
                }
                if quickack {
                    quick_ack(&stream)?;
                }
                let mut message = vec![0u8; usize::from(u16::from_be_bytes(len))];
                stream.read_exact(&mut message).await?;
                let reply = match message.as_slice() {
                    [0x00] | [0x01] | [0x02] => {
                        card.reset();
                        continue;
                    }
                    [0x04] => ATR.to_vec(),
                    [_] => continue,
                    apdu => {
                        if let Some(r) = remove_during
                            && apdu.get(1) == Some(&r.ins)
                        {
                            seen_ins += 1;
                            if seen_ins == r.nth {
                                debug!("card pulled out during a command");
                                break;
                            }
                        }
                        counter.fetch_add(1, Ordering::Relaxed);
                        card.process(apdu)
                    }
                };
                let mut framed = Vec::with_capacity(reply.len() + 2);
                framed.extend_from_slice(&(reply.len() as u16).to_be_bytes());
                framed.extend_from_slice(&reply);
                stream.write_all(&framed).await?;
            }
            let _ = stream.shutdown().await;
            card.reset();
            Ok(card)
        });
        Ok(InsertedCard { task, remove: Some(remove), apdus })
    }

    /// Command APDUs answered so far.
    pub fn apdus(&self) -> u32 {
        self.apdus.load(Ordering::Relaxed)
    }

    /// Whether the card already left the reader (pulled out mid-command, or vpcd closed).
    pub fn is_removed(&self) -> bool {
        self.task.is_finished()
    }

    /// Take the card out of the reader and get it back.
    pub async fn remove(mut self) -> std::io::Result<EmulatedCard> {
        if let Some(remove) = self.remove.take() {
            let _ = remove.send(());
        }
        (&mut self.task).await.map_err(std::io::Error::other)?
    }
}
