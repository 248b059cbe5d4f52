//! Reading transparent EFs with as few READ BINARY commands as the length allows.

use crate::apdu::{CardChannel, Command, MAX_SHORT_LE, Sw};
use crate::error::CardError;
use crate::tlv::{self, HEADER_READ, TlvError, TlvRule};

/// Select the application (DF) `aid`; `false` when the card has none such.
pub(crate) fn select_application<C: CardChannel + ?Sized>(ch: &mut C, aid: &[u8]) -> Result<bool, CardError> {
    let command = Command::select_aid(aid);
    match ch.transmit(&command)?.sw {
        Sw::OK => Ok(true),
        Sw::NOT_FOUND => Ok(false),
        sw => Err(CardError::status(&command, sw)),
    }
}

/// Select the EF `fid` under the current DF.
pub(crate) fn select_ef<C: CardChannel + ?Sized>(ch: &mut C, fid: [u8; 2]) -> Result<(), CardError> {
    let command = Command::select_ef(fid);
    ch.transmit(&command)?.ok(&command).map(drop)
}

/// `len` bytes of the current EF from `offset`, in chunks of at most 255 bytes. A card may answer
/// the last chunk with 62 82 (end of file) and fewer bytes; that ends the read early.
pub(crate) fn read_range<C: CardChannel + ?Sized>(
    ch: &mut C,
    offset: usize,
    len: usize,
) -> Result<Vec<u8>, CardError> {
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        let at = offset + out.len();
        let at = u16::try_from(at).ok().filter(|a| *a <= 0x7FFF).ok_or_else(|| {
            CardError::Transport(format!("offset {at} is beyond what READ BINARY can address"))
        })?;
        let want = (len - out.len()).min(usize::from(MAX_SHORT_LE)) as u16;
        let command = Command::read_binary(at, want);
        let response = ch.transmit(&command)?;
        match response.sw {
            Sw::OK if !response.data.is_empty() => out.extend_from_slice(&response.data),
            Sw::END_OF_FILE => {
                out.extend_from_slice(&response.data);
                break;
            }
            Sw::OK => break,
            sw => return Err(CardError::status(&command, sw)),
        }
    }
    out.truncate(len);
    Ok(out)
}

/// The current EF when it holds one TLV: its header first, then the rest of the value, never a
/// byte beyond the TLV's end. `max` bounds what a corrupt length may make us read.
pub(crate) fn read_tlv_file<C: CardChannel + ?Sized>(
    ch: &mut C,
    file: &'static str,
    max: usize,
) -> Result<Vec<u8>, CardError> {
    let malformed = |error: TlvError| CardError::MalformedTlv { file, error };
    let mut bytes = read_range(ch, 0, usize::from(HEADER_READ))?;
    let header = tlv::parse_header(&bytes, 0).map_err(malformed)?;
    let total = header.total_len();
    if total > max {
        return Err(malformed(TlvError { offset: 0, rule: TlvRule::TooLarge { declared: total, max } }));
    }
    if total > bytes.len() {
        let rest = read_range(ch, bytes.len(), total - bytes.len())?;
        bytes.extend_from_slice(&rest);
    } else {
        bytes.truncate(total);
    }
    Ok(bytes)
}
