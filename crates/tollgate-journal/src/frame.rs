//! One record on disk: its length, a CRC-32 of its bytes, the bytes. A frame cut short or
//! damaged (a power cut in the middle of a write) is recognised, never misread. Pure.

/// Bytes before the payload: length (u32 LE) then CRC-32 (u32 LE).
pub const HEADER: usize = 8;

/// Largest payload a frame holds; anything larger is not a frame but damage.
pub const MAX_PAYLOAD: usize = 16 * 1024 * 1024;

/// Appends the frame of `payload` to `out`.
pub fn encode(payload: &[u8], out: &mut Vec<u8>) {
    let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    out.extend_from_slice(payload);
}

/// What is at the start of some bytes.
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded<'a> {
    /// A whole, intact frame: its payload and its size on disk.
    Frame(&'a [u8], usize),
    /// The bytes end inside a frame (it is still being written, or was cut short).
    Partial,
    /// Not a frame: a bad length or checksum.
    Damaged,
}

/// The frame at the start of `bytes`.
pub fn decode(bytes: &[u8]) -> Decoded<'_> {
    let (Some(len), Some(crc)) = (read_u32(bytes, 0), read_u32(bytes, 4)) else {
        return Decoded::Partial;
    };
    let len = len as usize;
    // No record is empty: a zero length is unwritten space or damage, never a frame.
    if len == 0 || len > MAX_PAYLOAD {
        return Decoded::Damaged;
    }
    let Some(payload) = bytes.get(HEADER..HEADER + len) else {
        return Decoded::Partial;
    };
    if crc32fast::hash(payload) != crc {
        return Decoded::Damaged;
    }
    Decoded::Frame(payload, HEADER + len)
}

fn read_u32(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at + 4)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn frames(bytes: &[u8]) -> (Vec<Vec<u8>>, Decoded<'_>) {
        let mut out = Vec::new();
        let mut rest = bytes;
        loop {
            match decode(rest) {
                Decoded::Frame(p, n) => {
                    out.push(p.to_vec());
                    rest = &rest[n..];
                    if rest.is_empty() {
                        return (out, Decoded::Partial);
                    }
                }
                other => return (out, other),
            }
        }
    }

    proptest! {
        #[test]
        fn frames_read_back_as_written(payloads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..300), 0..20)) {
            let mut bytes = Vec::new();
            for p in &payloads {
                encode(p, &mut bytes);
            }
            prop_assert_eq!(frames(&bytes).0, payloads);
        }

        #[test]
        fn a_cut_frame_is_partial_and_never_misread(payload in proptest::collection::vec(any::<u8>(), 1..300), cut in any::<usize>()) {
            let mut bytes = Vec::new();
            encode(&payload, &mut bytes);
            let cut = cut % bytes.len();
            prop_assert_eq!(decode(&bytes[..cut]), Decoded::Partial);
        }

        #[test]
        fn a_flipped_bit_is_damage(payload in proptest::collection::vec(any::<u8>(), 1..300), at in any::<usize>(), bit in 0u8..8) {
            let mut bytes = Vec::new();
            encode(&payload, &mut bytes);
            let at = HEADER + at % payload.len();
            bytes[at] ^= 1 << bit;
            prop_assert_eq!(decode(&bytes), Decoded::Damaged);
        }
    }

    #[test]
    fn zeros_are_no_frame() {
        assert_eq!(decode(&[0; 16]), Decoded::Damaged);
    }

    #[test]
    fn an_impossible_length_is_damage() {
        let mut bytes = vec![0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0];
        bytes.extend_from_slice(&[1, 2, 3]);
        assert_eq!(decode(&bytes), Decoded::Damaged);
        assert_eq!(decode(&[1, 0]), Decoded::Partial);
    }
}
