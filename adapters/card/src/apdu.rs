//! ISO/IEC 7816-4 command and response APDUs, short form only (every reader and card here speaks
//! it), and the channel a card is reached through.

use std::fmt;

use crate::error::CardError;
use crate::pin::Pin;

/// A status word (`SW1 SW2`).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sw(pub u16);

impl Sw {
    pub const OK: Sw = Sw(0x9000);
    /// End of file reached before Le bytes were read (the data is still good).
    pub const END_OF_FILE: Sw = Sw(0x6282);
    /// Authentication method blocked.
    pub const BLOCKED: Sw = Sw(0x6983);
    /// File or application not found.
    pub const NOT_FOUND: Sw = Sw(0x6A82);
    /// Security status not satisfied (the PIN was not verified).
    pub const SECURITY: Sw = Sw(0x6982);

    /// `63 Cx`: a PIN check answered with `x` tries left.
    pub fn tries_left(self) -> Option<u8> {
        (self.0 & 0xFFF0 == 0x63C0).then_some((self.0 & 0x000F) as u8)
    }
}

impl fmt::Display for Sw {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04X}", self.0)
    }
}

impl fmt::Debug for Sw {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sw({self})")
    }
}

/// A command APDU. Its `Debug` form never shows the data of a VERIFY (the PIN).
#[derive(Clone, PartialEq, Eq)]
pub struct Command {
    pub cla: u8,
    pub ins: u8,
    pub p1: u8,
    pub p2: u8,
    pub data: Vec<u8>,
    /// Expected response length, 1..=256 (256 is written as 00).
    pub le: Option<u16>,
}

/// The largest Le of a short READ BINARY that every reader passes through unchanged.
pub const MAX_SHORT_LE: u16 = 255;

impl Command {
    /// SELECT FILE by DF name (AID), no response data.
    pub fn select_aid(aid: &[u8]) -> Command {
        Command { cla: 0x00, ins: 0xA4, p1: 0x04, p2: 0x0C, data: aid.to_vec(), le: None }
    }

    /// SELECT FILE of an EF under the current DF, no response data.
    pub fn select_ef(fid: [u8; 2]) -> Command {
        Command { cla: 0x00, ins: 0xA4, p1: 0x02, p2: 0x0C, data: fid.to_vec(), le: None }
    }

    /// SELECT the master file.
    pub fn select_mf() -> Command {
        Command { cla: 0x00, ins: 0xA4, p1: 0x00, p2: 0x00, data: Vec::new(), le: None }
    }

    /// VERIFY against PIN reference `p2`; without a PIN it only asks for the tries left.
    pub fn verify(p2: u8, pin: Option<&Pin>) -> Command {
        Command {
            cla: 0x00,
            ins: 0x20,
            p1: 0x00,
            p2,
            data: pin.map(|p| p.ascii().to_vec()).unwrap_or_default(),
            le: None,
        }
    }

    /// READ BINARY of the current EF: `le` bytes (1..=256) from `offset` (at most 0x7FFF).
    pub fn read_binary(offset: u16, le: u16) -> Command {
        debug_assert!(offset <= 0x7FFF && (1..=256).contains(&le));
        Command {
            cla: 0x00,
            ins: 0xB0,
            p1: (offset >> 8) as u8,
            p2: offset as u8,
            data: Vec::new(),
            le: Some(le),
        }
    }

    /// The command's name, for errors and traces.
    pub fn name(&self) -> &'static str {
        match self.ins {
            0xA4 => "SELECT",
            0x20 => "VERIFY",
            0xB0 => "READ BINARY",
            _ => "command",
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(5 + self.data.len() + 1);
        out.extend_from_slice(&[self.cla, self.ins, self.p1, self.p2]);
        if !self.data.is_empty() {
            out.push(self.data.len() as u8);
            out.extend_from_slice(&self.data);
        }
        if let Some(le) = self.le {
            out.push(if le == 256 { 0 } else { le as u8 });
        }
        out
    }
}

impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let data = if self.ins == 0x20 && !self.data.is_empty() {
            "<pin>".to_owned()
        } else {
            self.data.iter().map(|b| format!("{b:02X}")).collect::<String>()
        };
        write!(
            f,
            "{} {:02X}{:02X}{:02X}{:02X} [{data}] le={:?}",
            self.name(),
            self.cla,
            self.ins,
            self.p1,
            self.p2,
            self.le
        )
    }
}

/// A response APDU: data and status word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub data: Vec<u8>,
    pub sw: Sw,
}

impl Response {
    /// Split raw response bytes; fewer than two bytes is a broken reader.
    pub fn from_bytes(raw: &[u8]) -> Result<Response, CardError> {
        if raw.len() < 2 {
            return Err(CardError::Transport(format!("response of {} bytes has no status word", raw.len())));
        }
        let (data, sw) = raw.split_at(raw.len() - 2);
        Ok(Response { data: data.to_vec(), sw: Sw(u16::from_be_bytes([sw[0], sw[1]])) })
    }

    /// The data, if the card answered 90 00; otherwise the status as an error.
    pub fn ok(self, command: &Command) -> Result<Vec<u8>, CardError> {
        if self.sw == Sw::OK { Ok(self.data) } else { Err(CardError::status(command, self.sw)) }
    }
}

/// Where APDUs go: a card in a PC/SC reader, or an emulated card in a test.
pub trait CardChannel {
    fn transmit(&mut self, command: &Command) -> Result<Response, CardError>;
}

impl<C: CardChannel + ?Sized> CardChannel for &mut C {
    fn transmit(&mut self, command: &Command) -> Result<Response, CardError> {
        (**self).transmit(command)
    }
}

/// A channel that counts the APDUs sent through it (the figure benchmarks report).
#[derive(Debug)]
pub struct Counted<C> {
    inner: C,
    sent: u32,
}

impl<C: CardChannel> Counted<C> {
    pub fn new(inner: C) -> Self {
        Self { inner, sent: 0 }
    }

    pub fn sent(&self) -> u32 {
        self.sent
    }

    pub fn into_inner(self) -> C {
        self.inner
    }
}

impl<C: CardChannel> CardChannel for Counted<C> {
    fn transmit(&mut self, command: &Command) -> Result<Response, CardError> {
        self.sent += 1;
        let response = self.inner.transmit(command);
        tracing::trace!(?command, sw = ?response.as_ref().map(|r| r.sw).ok(), "apdu");
        response
    }
}

impl CardError {
    /// The card answered `sw` to `command`, which the flow does not expect.
    pub(crate) fn status(command: &Command, sw: Sw) -> CardError {
        CardError::Status { command: command.name(), sw: sw.to_string() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_the_documented_commands() {
        let aid = [0xD3, 0x92, 0x10, 0x00, 0x31, 0x00, 0x01, 0x01, 0x04, 0x08];
        assert_eq!(
            Command::select_aid(&aid).to_bytes(),
            [&[0x00, 0xA4, 0x04, 0x0C, 0x0A][..], &aid].concat()
        );
        assert_eq!(Command::select_ef([0x00, 0x11]).to_bytes(), [0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x11]);
        assert_eq!(Command::verify(0x80, None).to_bytes(), [0x00, 0x20, 0x00, 0x80]);
        let pin = Pin::parse("1234").unwrap();
        assert_eq!(
            Command::verify(0x80, Some(&pin)).to_bytes(),
            [0x00, 0x20, 0x00, 0x80, 0x04, b'1', b'2', b'3', b'4']
        );
        assert_eq!(Command::read_binary(0x0107, 255).to_bytes(), [0x00, 0xB0, 0x01, 0x07, 0xFF]);
        assert_eq!(Command::read_binary(0, 256).to_bytes(), [0x00, 0xB0, 0x00, 0x00, 0x00]);
    }

    #[test]
    fn debug_never_shows_a_pin() {
        let pin = Pin::parse("9876").unwrap();
        let shown = format!("{:?}", Command::verify(0x80, Some(&pin)));
        assert!(!shown.contains("39383736") && !shown.contains("9876"), "{shown}");
        assert!(shown.contains("<pin>"));
    }

    #[test]
    fn status_words() {
        assert_eq!(Sw(0x63C2).tries_left(), Some(2));
        assert_eq!(Sw(0x63C0).tries_left(), Some(0));
        assert_eq!(Sw(0x6983).tries_left(), None);
        let r = Response::from_bytes(&[0x01, 0x90, 0x00]).unwrap();
        assert_eq!((r.data.as_slice(), r.sw), (&[0x01][..], Sw::OK));
        assert!(Response::from_bytes(&[0x90]).is_err());
    }
}
