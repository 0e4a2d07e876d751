//! Allocation rules of national identifiers and card issuers.

use super::checksum::{iso7064_mod11_10, luhn_is_valid, nir_key};

/// Whether the nine digits of a US SSN or ITIN could have been issued: area not 000 or 666,
/// group not 00, serial not 0000. Area 9xx is an ITIN and counts.
pub fn us_ssn_is_valid(digits: &[u8]) -> bool {
    if digits.len() != 9 || !digits.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let (area, group, serial) = (&digits[..3], &digits[3..5], &digits[5..]);
    area != b"000" && area != b"666" && group != b"00" && serial != b"0000"
}

/// Whether `nino` (nine characters, no spaces) is a UK National Insurance number: two prefix
/// letters as allocated (not D, F, I, Q, U, V; the second not O; not BG, GB, KN, NK, NT, TN,
/// ZZ), six digits, a suffix A–D.
pub fn uk_nino_is_valid(nino: &[u8]) -> bool {
    if nino.len() != 9 {
        return false;
    }
    let up: Vec<u8> = nino.iter().map(u8::to_ascii_uppercase).collect();
    let (a, b) = (up[0], up[1]);
    let never = |c: u8| matches!(c, b'D' | b'F' | b'I' | b'Q' | b'U' | b'V');
    a.is_ascii_uppercase()
        && b.is_ascii_uppercase()
        && !never(a)
        && !never(b)
        && b != b'O'
        && !matches!(
            &up[..2],
            b"BG" | b"GB" | b"KN" | b"NK" | b"NT" | b"TN" | b"ZZ"
        )
        && up[2..8].iter().all(u8::is_ascii_digit)
        && matches!(up[8], b'A'..=b'D')
}

/// Whether 11 digits are a Steuer-ID: no leading 0; in the first ten, exactly one digit twice
/// or three times (never three in a row) and no other repeated; the ISO 7064 check digit.
pub fn de_tax_id_is_valid(digits: &[u8]) -> bool {
    if digits.len() != 11 || !digits.iter().all(u8::is_ascii_digit) || digits[0] == b'0' {
        return false;
    }
    let mut counts = [0u8; 10];
    for d in &digits[..10] {
        counts[usize::from(d - b'0')] += 1;
    }
    let repeated: Vec<u8> = counts.iter().copied().filter(|&c| c > 1).collect();
    let shape_ok = match repeated.as_slice() {
        [2] => true,
        [3] => !digits[..10]
            .windows(3)
            .any(|w| w[0] == w[1] && w[1] == w[2]),
        _ => false,
    };
    shape_ok && iso7064_mod11_10(&digits[..10]) == digits[10] - b'0'
}

/// Whether 15 characters are a French NIR: sex 1, 2 (or 3, 4, 7, 8 for provisional numbers),
/// a month 01–12 or the codes for an unknown one (20, 30–42, 50–99), a department (two digits
/// or 2A/2B), and the key.
pub fn fr_nir_is_valid(nir: &[u8]) -> bool {
    if nir.len() != 15 {
        return false;
    }
    let digits_at = |r: std::ops::Range<usize>| nir[r].iter().all(u8::is_ascii_digit);
    if !matches!(nir[0], b'1' | b'2' | b'3' | b'4' | b'7' | b'8')
        || !digits_at(1..5)
        || !digits_at(7..15)
    {
        return false;
    }
    let month = u32::from(nir[3] - b'0') * 10 + u32::from(nir[4] - b'0');
    if !matches!(month, 1..=12 | 20 | 30..=42 | 50..=99) {
        return false;
    }
    let dept = [nir[5], nir[6].to_ascii_uppercase()];
    if !(dept.iter().all(u8::is_ascii_digit) || matches!(&dept, b"2A" | b"2B")) {
        return false;
    }
    let key = u32::from(nir[13] - b'0') * 10 + u32::from(nir[14] - b'0');
    nir_key(&nir[..13]).map(u32::from) == Some(key)
}

/// Whether card digits have a known issuer's prefix and length and pass Luhn: Visa, Mastercard,
/// American Express, Discover, Diners, JCB, UnionPay, Maestro, Mir.
pub fn card_issuer_known(digits: &[u8]) -> bool {
    let len = digits.len();
    if !(12..=19).contains(&len) || !luhn_is_valid(digits) {
        return false;
    }
    let prefix = |n: usize| -> u32 {
        digits[..n]
            .iter()
            .fold(0, |acc, d| acc * 10 + u32::from(d - b'0'))
    };
    match digits[0] {
        b'4' => matches!(len, 13 | 16 | 19),
        b'3' => match prefix(2) {
            34 | 37 => len == 15,
            36 | 38 | 39 | 30 => (14..=19).contains(&len),
            35 => (3528..=3589).contains(&prefix(4)) && (16..=19).contains(&len),
            _ => false,
        },
        b'5' => match prefix(2) {
            51..=55 => len == 16,
            50 | 56..=59 => len >= 12,
            _ => false,
        },
        b'2' => {
            let p4 = prefix(4);
            ((2221..=2720).contains(&p4) && len == 16) || ((2200..=2204).contains(&p4) && len >= 16)
        }
        b'6' => len >= 12,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssn_never_issued_parts_are_refused_and_itins_kept() {
        assert!(us_ssn_is_valid(b"123456789"));
        assert!(us_ssn_is_valid(b"912701234"), "an ITIN");
        for bad in [
            "000123456",
            "666123456",
            "123006789",
            "123450000",
            "12345678",
        ] {
            assert!(!us_ssn_is_valid(bad.as_bytes()), "{bad}");
        }
    }

    #[test]
    fn nino_prefixes_and_suffixes() {
        assert!(uk_nino_is_valid(b"AB123456C"));
        assert!(uk_nino_is_valid(b"ab123456d"));
        for bad in [
            "BG123456A",
            "GB123456A",
            "DA123456A",
            "AO123456A",
            "AB123456E",
            "AB12345CA",
        ] {
            assert!(!uk_nino_is_valid(bad.as_bytes()), "{bad}");
        }
    }

    #[test]
    fn steuer_id_digit_rules() {
        assert!(de_tax_id_is_valid(b"86095742719"));
        assert!(!de_tax_id_is_valid(b"86095742718"), "check digit");
        assert!(!de_tax_id_is_valid(b"06095742719"), "leading zero");
        // Every digit once in the first ten: not a Steuer-ID, whatever the check digit.
        let all_once = b"1234567890";
        let check = iso7064_mod11_10(all_once);
        let mut id = all_once.to_vec();
        id.push(b'0' + check);
        assert!(!de_tax_id_is_valid(&id));
    }

    #[test]
    fn nir_with_its_key() {
        assert!(fr_nir_is_valid(b"185057800608491"));
        assert!(fr_nir_is_valid(b"255057512345638"));
        assert!(!fr_nir_is_valid(b"185057800608492"), "key");
        assert!(!fr_nir_is_valid(b"585057800608491"), "sex");
        assert!(!fr_nir_is_valid(b"185137800608491"), "month 13");
    }

    #[test]
    fn card_issuers() {
        for card in [
            "4111111111111111",
            "5555555555554444",
            "378282246310005",
            "6011111111111117",
            "3530111333300000",
            "2223003122003222",
        ] {
            assert!(card_issuer_known(card.as_bytes()), "{card}");
        }
        // Luhn-valid but no issuer starts with 1, 7, 8, 9 or 0.
        assert!(!card_issuer_known(b"1234567812345670"));
        assert!(!card_issuer_known(b"4111111111111112"), "Luhn");
    }
}
