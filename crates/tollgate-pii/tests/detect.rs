//! What the scanner finds and what it leaves alone, in English, German and French, with the
//! spaced, dotted and dashed forms people type.

use tollgate_pii::{EntityType as T, Scanner, SecretKind as S};

fn found(text: &str) -> Vec<(T, String)> {
    Scanner::new()
        .scan(text)
        .into_iter()
        .map(|f| (f.kind, text[f.start..f.end].to_string()))
        .collect()
}

fn one(text: &str, kind: T, value: &str) {
    let f = found(text);
    assert_eq!(f, vec![(kind, value.to_string())], "in {text:?}");
}

fn none(text: &str) {
    let f = found(text);
    assert!(f.is_empty(), "{text:?} gave {f:?}");
}

#[test]
fn emails() {
    one(
        "Mail me at jane.doe+ai@example.co.uk please",
        T::Email,
        "jane.doe+ai@example.co.uk",
    );
    one(
        "Schreib an max.mustermann@firma.de.",
        T::Email,
        "max.mustermann@firma.de",
    );
    none("the retina logo is logo@2x.png");
}

#[test]
fn cards() {
    one(
        "card 4111 1111 1111 1111 exp 12/29",
        T::CreditCard,
        "4111 1111 1111 1111",
    );
    one(
        "Karte: 5555-5555-5555-4444",
        T::CreditCard,
        "5555-5555-5555-4444",
    );
    one("amex 378282246310005", T::CreditCard, "378282246310005");
    none("order 4111 1111 1111 1112 shipped");
    none("4111 1111-1111 1111");
}

#[test]
fn ibans() {
    one(
        "IBAN: DE89 3704 0044 0532 0130 00 bitte",
        T::Iban,
        "DE89 3704 0044 0532 0130 00",
    );
    one(
        "virement sur FR14 2004 1010 0505 0001 3M02 606 merci",
        T::Iban,
        "FR14 2004 1010 0505 0001 3M02 606",
    );
    one("GB82WEST12345698765432", T::Iban, "GB82WEST12345698765432");
    none("DE89 3704 0044 0532 0130 01");
}

#[test]
fn national_ids() {
    one("My SSN is 123-45-6789.", T::UsSsn, "123-45-6789");
    one("ITIN 912-70-1234", T::UsSsn, "912-70-1234");
    one("ssn: 123456789", T::UsSsn, "123456789");
    none("SSN 000-12-3456");
    none("ref 123456789");
    one("NI number AB 12 34 56 C", T::UkNino, "AB 12 34 56 C");
    none("code BG123456A");
    one("Steuer-ID 86 095 742 719", T::DeTaxId, "86 095 742 719");
    one("Meine IdNr: 86095742719", T::DeTaxId, "86095742719");
    one(
        "numéro de sécu 1 85 05 78 006 084 91",
        T::FrNir,
        "1 85 05 78 006 084 91",
    );
    none("1 85 05 78 006 084 92");
    one(
        "NIR corse : 1 85 05 2A 006 084 35",
        T::FrNir,
        "1 85 05 2A 006 084 35",
    );
}

#[test]
fn ip_addresses() {
    one(
        "the server is at 192.168.10.25 now",
        T::IpAddress,
        "192.168.10.25",
    );
    one(
        "ssh to 2001:db8:85a3::8a2e:370:7334",
        T::IpAddress,
        "2001:db8:85a3::8a2e:370:7334",
    );
    let f = found("DATABASE_URL=postgres://app@10.0.3.17:5432/app");
    assert_eq!(f, vec![(T::IpAddress, "10.0.3.17".to_string())]);
    none("localhost is 127.0.0.1 and ::1");
    none("release 1.2.3.4.5 is out");
    none("upgrade to version 1.2.3.4 today");
    none("it started at 12:30:45");
    none("use std::vector in C++");
}

#[test]
fn phones() {
    one("call me on +44 20 7946 0958", T::Phone, "+44 20 7946 0958");
    one("Ruf an: 030 1234567", T::Phone, "030 1234567");
    one("Telefon +49 (0)30 12345678", T::Phone, "+49 (0)30 12345678");
    one("appelle-moi au 06 12 34 56 78", T::Phone, "06 12 34 56 78");
    one("phone (415) 555-2671", T::Phone, "(415) 555-2671");
    none("order 0301234567 shipped");
    none("on 2024-01-15 at 10:30");
}

#[test]
fn secrets() {
    let s = |text: &str, kind: S| {
        let f = Scanner::new().scan(text);
        assert_eq!(f.len(), 1, "{text:?}: {f:?}");
        assert_eq!(
            (f[0].kind, f[0].secret),
            (T::Secret, Some(kind)),
            "{text:?}"
        );
    };
    s("key AKIAIOSFODNN7EXAMPLE here", S::CloudKey);
    s(
        "export GITHUB_TOKEN=ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789",
        S::SourceHostToken,
    );
    s(
        "OPENAI_API_KEY=sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCD",
        S::ModelProviderKey,
    );
    s(
        "sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123456789",
        S::ModelProviderKey,
    );
    s("stripe sk_live_4eC39HqLyjWDarjtT1zdp7dc", S::PaymentKey);
    s(
        "slack xoxb-123456789012-1234567890123-abcdefghijklmnop",
        S::ChatBotToken,
    );
    s("token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U", S::Jwt);
    s(
        "postgres://app:S3cr3t!pw@db.internal:5432/prod",
        S::Password,
    );
    s("password = hunter2hunter2", S::Password);
    s("mot de passe: Soleil2024!", S::Password);
    let key = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----";
    let f = Scanner::new().scan(&format!("here {key} there"));
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].end - f[0].start, key.len());
}

#[test]
fn names_and_addresses() {
    one("Please reply to Jane Doe by Friday.", T::Person, "Jane Doe");
    one("Sehr geehrte Frau Weber, danke.", T::Person, "Weber");
    one("Dear Zoltan Kovacs, thanks.", T::Person, "Zoltan Kovacs");
    one("Je m'appelle Camille Durand.", T::Person, "Camille Durand");
    one(
        "Ship it to 221B Baker Street, London NW1 6XE please.",
        T::Address,
        "221B Baker Street, London NW1 6XE",
    );
    one(
        "Lieferung an Hauptstraße 5, 10115 Berlin bitte.",
        T::Address,
        "Hauptstraße 5, 10115 Berlin",
    );
    one(
        "Livrer au 12 rue de la Paix, 75002 Paris merci.",
        T::Address,
        "12 rue de la Paix, 75002 Paris",
    );
    none("Write Python Code in The Morning.");
    none("The Rolling Stones play in Paris on Monday.");
}

#[test]
fn placeholders_are_not_secrets() {
    none("set OPENAI_API_KEY=<YOUR_API_KEY>");
    none("api_key = sk-...");
    none("password: ${DB_PASSWORD}");
    none("password = ********");
    none("the password field is required");
}

#[test]
fn harmless_prompts() {
    for text in [
        "Summarise this article about the 2024 Olympics in Paris.",
        "Write a Python function that sorts a list of 10000 numbers.",
        "Übersetze bitte: Der Zug fährt um 14:35 von Gleis 7.",
        "Explique-moi la photosynthèse en 3 phrases.",
        "Bump the dependency from 1.2.3 to 1.4.0 and fix issue #4521.",
        "The UUID 123e4567-e89b-12d3-a456-426614174000 identifies the job.",
        "sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "Order 12345678901 was shipped on 15.01.2024.",
        "Meeting at 10:30 on 2024-03-05, room 4.12.",
    ] {
        none(text);
    }
}

#[test]
fn people_written_to_are_found_whatever_their_name_and_teams_are_not() {
    one(
        "Please reply to Kwame Mensah about the invoice.",
        T::Person,
        "Kwame Mensah",
    );
    one(
        "Bitte schreibe an Aiko Tanaka wegen des Termins.",
        T::Person,
        "Aiko Tanaka",
    );
    one(
        "Merci de répondre à Zoltan Kovacs avant lundi.",
        T::Person,
        "Zoltan Kovacs",
    );
    one(
        "Meeting with Legal tomorrow; Emma Weber will join.",
        T::Person,
        "Emma Weber",
    );
    none("Please write to Product Marketing about the launch date.");
    none("Bitte schreibe an Vertrieb Nord wegen des Angebots.");
    none("Merci d'écrire à Service Client pour la facture.");
}

#[test]
fn findings_serialise_with_a_short_confidence() {
    let found = Scanner::new().scan("mail jane.doe@example.com");
    let json = serde_json::to_string(&found).unwrap_or_default();
    assert!(json.contains(r#""confidence":0.99"#), "{json}");
    assert!(!json.contains("0.990000"), "{json}");
}
