//! Base45 (RFC 9285): bytes as text in the 45 characters of the QR code's alphanumeric mode, so
//! a payload costs about 5.5 bits per byte in the code instead of 8 in byte mode.

const ALPHABET: &[u8; 45] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";

pub fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(2) * 3);
    let push = |out: &mut String, v: usize| out.push(char::from(ALPHABET[v]));
    for pair in bytes.chunks(2) {
        if let [a, b] = pair {
            let n = usize::from(*a) * 256 + usize::from(*b);
            push(&mut out, n % 45);
            push(&mut out, n / 45 % 45);
            push(&mut out, n / 2025);
        } else {
            let n = usize::from(pair[0]);
            push(&mut out, n % 45);
            push(&mut out, n / 45);
        }
    }
    out
}

/// Decode; the error gives the character position (from 0) and what is wrong there.
pub fn decode(text: &str) -> Result<Vec<u8>, (usize, &'static str)> {
    let values: Vec<usize> = text
        .bytes()
        .enumerate()
        .map(|(i, c)| ALPHABET.iter().position(|a| *a == c).ok_or((i, "is not a Base45 character")))
        .collect::<Result<_, _>>()?;
    let mut out = Vec::with_capacity(values.len() / 3 * 2 + 1);
    for (g, group) in values.chunks(3).enumerate() {
        let at = g * 3;
        match group {
            [c, d, e] => {
                let n = c + d * 45 + e * 2025;
                if n > 0xFFFF {
                    return Err((at, "group encodes more than two bytes"));
                }
                out.extend_from_slice(&[(n >> 8) as u8, n as u8]);
            }
            [c, d] => {
                let n = c + d * 45;
                if n > 0xFF {
                    return Err((at, "final group encodes more than one byte"));
                }
                out.push(n as u8);
            }
            _ => return Err((at, "a single character cannot end the text")),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc_9285_examples() {
        assert_eq!(encode(b"AB"), "BB8");
        assert_eq!(encode(b"Hello!!"), "%69 VD92EX0");
        assert_eq!(encode(b"base-45"), "UJCLQE7W581");
        assert_eq!(decode("QED8WEX0").unwrap(), b"ietf!");
        assert_eq!(decode("GGW").unwrap_err(), (0, "group encodes more than two bytes"));
        assert_eq!(decode("AB_").unwrap_err(), (2, "is not a Base45 character"));
        assert_eq!(decode("BB8A").unwrap_err(), (3, "a single character cannot end the text"));
    }

    proptest! {
        #[test]
        fn round_trip(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            prop_assert_eq!(decode(&encode(&bytes)).unwrap(), bytes);
        }
    }
}
