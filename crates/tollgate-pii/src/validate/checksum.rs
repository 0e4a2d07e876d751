//! Check digits: Luhn (cards), ISO 13616 mod-97 (IBAN), ISO 7064 MOD 11,10 (Steuer-ID),
//! the NIR key (mod 97).

/// Whether `digits` (ASCII digits only) pass the Luhn check.
pub fn luhn_is_valid(digits: &[u8]) -> bool {
    if digits.len() < 2 || !digits.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            let d = u32::from(d - b'0');
            if i % 2 == 1 {
                let twice = d * 2;
                if twice > 9 {
                    twice - 9
                } else {
                    twice
                }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// IBAN lengths by country (the SWIFT registry).
const IBAN_LENGTHS: &[(&[u8; 2], usize)] = &[
    (b"AD", 24),
    (b"AE", 23),
    (b"AL", 28),
    (b"AT", 20),
    (b"AZ", 28),
    (b"BA", 20),
    (b"BE", 16),
    (b"BG", 22),
    (b"BH", 22),
    (b"BI", 27),
    (b"BR", 29),
    (b"BY", 28),
    (b"CH", 21),
    (b"CR", 22),
    (b"CY", 28),
    (b"CZ", 24),
    (b"DE", 22),
    (b"DJ", 27),
    (b"DK", 18),
    (b"DO", 28),
    (b"EE", 20),
    (b"EG", 29),
    (b"ES", 24),
    (b"FI", 18),
    (b"FK", 18),
    (b"FO", 18),
    (b"FR", 27),
    (b"GB", 22),
    (b"GE", 22),
    (b"GI", 23),
    (b"GL", 18),
    (b"GR", 27),
    (b"GT", 28),
    (b"HR", 21),
    (b"HU", 28),
    (b"IE", 22),
    (b"IL", 23),
    (b"IQ", 23),
    (b"IS", 26),
    (b"IT", 27),
    (b"JO", 30),
    (b"KW", 30),
    (b"KZ", 20),
    (b"LB", 28),
    (b"LC", 32),
    (b"LI", 21),
    (b"LT", 20),
    (b"LU", 20),
    (b"LV", 21),
    (b"LY", 25),
    (b"MC", 27),
    (b"MD", 24),
    (b"ME", 22),
    (b"MK", 19),
    (b"MN", 20),
    (b"MR", 27),
    (b"MT", 31),
    (b"MU", 30),
    (b"NI", 28),
    (b"NL", 18),
    (b"NO", 15),
    (b"OM", 23),
    (b"PK", 24),
    (b"PL", 28),
    (b"PS", 29),
    (b"PT", 25),
    (b"QA", 29),
    (b"RO", 24),
    (b"RS", 22),
    (b"RU", 33),
    (b"SA", 24),
    (b"SC", 31),
    (b"SD", 18),
    (b"SE", 24),
    (b"SI", 19),
    (b"SK", 24),
    (b"SM", 27),
    (b"SO", 23),
    (b"ST", 25),
    (b"SV", 28),
    (b"TL", 23),
    (b"TN", 24),
    (b"TR", 26),
    (b"UA", 29),
    (b"VA", 22),
    (b"VG", 24),
    (b"XK", 20),
    (b"YE", 30),
];

/// Whether `iban` (letters and digits, no spaces, any case) is an IBAN: a known country, its
/// length, two check digits and mod 97 = 1.
pub fn iban_is_valid(iban: &[u8]) -> bool {
    if iban.len() < 15 || !iban.iter().all(u8::is_ascii_alphanumeric) {
        return false;
    }
    let country = [iban[0].to_ascii_uppercase(), iban[1].to_ascii_uppercase()];
    let Some(&(_, len)) = IBAN_LENGTHS.iter().find(|(c, _)| **c == country) else {
        return false;
    };
    if iban.len() != len || !iban[2].is_ascii_digit() || !iban[3].is_ascii_digit() {
        return false;
    }
    let mut rem: u32 = 0;
    for &c in iban[4..].iter().chain(&iban[..4]) {
        let c = c.to_ascii_uppercase();
        if c.is_ascii_digit() {
            rem = (rem * 10 + u32::from(c - b'0')) % 97;
        } else {
            let v = u32::from(c - b'A') + 10;
            rem = (rem * 100 + v) % 97;
        }
    }
    rem == 1
}

/// The ISO 7064 MOD 11,10 check digit of `digits` (ASCII digits).
pub fn iso7064_mod11_10(digits: &[u8]) -> u8 {
    let mut product: u32 = 10;
    for d in digits {
        let mut sum = (u32::from(d - b'0') + product) % 10;
        if sum == 0 {
            sum = 10;
        }
        product = (sum * 2) % 11;
    }
    let check = (11 - product) % 10;
    check as u8
}

/// The key of a NIR's first 13 characters (digits, or Corsica's `2A`/`2B` as the department):
/// 97 − (number mod 97), with 2A counted as 19 and 2B as 18.
pub fn nir_key(first13: &[u8]) -> Option<u8> {
    if first13.len() != 13 {
        return None;
    }
    let mut rem: u64 = 0;
    for (i, &c) in first13.iter().enumerate() {
        let (value, width) = match (i, c.to_ascii_uppercase()) {
            (5, b'2') if matches!(first13[6].to_ascii_uppercase(), b'A' | b'B') => (None, 0),
            (6, b'A') if first13[5] == b'2' => (Some(19u64), 2),
            (6, b'B') if first13[5] == b'2' => (Some(18u64), 2),
            (_, d) if d.is_ascii_digit() => (Some(u64::from(d - b'0')), 1),
            _ => return None,
        };
        if let Some(v) = value {
            rem = (rem * 10u64.pow(width) + v) % 97;
        }
    }
    Some((97 - rem) as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_accepts_test_cards_and_rejects_one_digit_off() {
        for card in [
            "4111111111111111",
            "5500005555555559",
            "378282246310005",
            "6011111111111117",
        ] {
            assert!(luhn_is_valid(card.as_bytes()), "{card}");
        }
        assert!(!luhn_is_valid(b"4111111111111112"));
        assert!(!luhn_is_valid(b"41111111111a1111"));
    }

    #[test]
    fn ibans_of_several_countries() {
        for iban in [
            "DE89370400440532013000",
            "GB82WEST12345698765432",
            "FR1420041010050500013M02606",
            "NL91ABNA0417164300",
            "CH9300762011623852957",
            "be71096123456769",
        ] {
            assert!(iban_is_valid(iban.as_bytes()), "{iban}");
        }
        assert!(!iban_is_valid(b"DE89370400440532013001"), "check digits");
        assert!(!iban_is_valid(b"DE8937040044053201300"), "length");
        assert!(!iban_is_valid(b"XX89370400440532013000"), "country");
    }

    #[test]
    fn steuer_id_check_digit() {
        // 86095742719 is the example Steuer-ID of the German Wikipedia article.
        assert_eq!(iso7064_mod11_10(b"8609574271"), 9);
        assert_ne!(iso7064_mod11_10(b"8609574272"), 9);
    }

    #[test]
    fn nir_keys_including_corsica() {
        assert_eq!(nir_key(b"2550575123456"), Some(38));
        assert_eq!(nir_key(b"1850578006084"), Some(91));
        assert_eq!(nir_key(b"12345"), None);
        // Corsica: 2A counts as 19, 2B as 18.
        let a = nir_key(b"185052A006084").unwrap();
        let b = nir_key(b"185052B006084").unwrap();
        assert_ne!(a, b);
        assert_eq!(u64::from(a), 97 - 1_850_519_006_084u64 % 97);
        assert_eq!(u64::from(b), 97 - 1_850_518_006_084u64 % 97);
    }
}
