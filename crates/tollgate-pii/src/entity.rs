//! What the detector finds: the entity types, with the names every output uses.

use serde::{Deserialize, Serialize};

/// A kind of personal data or secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EntityType {
    /// A person's name.
    Person,
    /// An email address.
    Email,
    /// A telephone number.
    Phone,
    /// A postal address, as one span.
    Address,
    /// A payment card number (Luhn-valid, a known issuer's prefix).
    CreditCard,
    /// An IBAN (mod-97 valid, the country's length).
    Iban,
    /// A US Social Security number or ITIN.
    UsSsn,
    /// A UK National Insurance number.
    UkNino,
    /// A German tax identification number (Steuer-ID).
    DeTaxId,
    /// A French social security number (NIR).
    FrNir,
    /// An IPv4 or IPv6 address (not loopback or unspecified).
    IpAddress,
    /// A credential; [`SecretKind`] says which.
    Secret,
    /// A tenant's own pattern or keyword list.
    Custom,
}

impl EntityType {
    /// Every built-in type, in output order.
    pub const ALL: [EntityType; 13] = [
        EntityType::Person,
        EntityType::Email,
        EntityType::Phone,
        EntityType::Address,
        EntityType::CreditCard,
        EntityType::Iban,
        EntityType::UsSsn,
        EntityType::UkNino,
        EntityType::DeTaxId,
        EntityType::FrNir,
        EntityType::IpAddress,
        EntityType::Secret,
        EntityType::Custom,
    ];

    /// The name in every output, e.g. `CREDIT_CARD`.
    pub fn as_str(self) -> &'static str {
        match self {
            EntityType::Person => "PERSON",
            EntityType::Email => "EMAIL",
            EntityType::Phone => "PHONE",
            EntityType::Address => "ADDRESS",
            EntityType::CreditCard => "CREDIT_CARD",
            EntityType::Iban => "IBAN",
            EntityType::UsSsn => "US_SSN",
            EntityType::UkNino => "UK_NINO",
            EntityType::DeTaxId => "DE_TAX_ID",
            EntityType::FrNir => "FR_NIR",
            EntityType::IpAddress => "IP_ADDRESS",
            EntityType::Secret => "SECRET",
            EntityType::Custom => "CUSTOM",
        }
    }

    /// The type a name (as [`EntityType::as_str`] gives it, any case) stands for.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(name))
    }

    /// Which of two overlapping findings wins: the more specific, validated kind.
    pub(crate) fn precedence(self) -> u8 {
        match self {
            EntityType::Secret => 12,
            EntityType::Custom => 11,
            EntityType::Iban => 10,
            EntityType::CreditCard => 9,
            EntityType::FrNir => 8,
            EntityType::DeTaxId => 7,
            EntityType::UkNino => 6,
            EntityType::UsSsn => 5,
            EntityType::Email => 4,
            EntityType::IpAddress => 3,
            EntityType::Address => 2,
            EntityType::Phone => 1,
            EntityType::Person => 0,
        }
    }
}

impl std::fmt::Display for EntityType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which kind of credential a [`EntityType::Secret`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretKind {
    /// AWS, Google Cloud, Azure keys.
    CloudKey,
    /// GitHub, GitLab, Bitbucket tokens.
    SourceHostToken,
    /// OpenAI, Anthropic, Hugging Face, Groq and other model providers' keys.
    ModelProviderKey,
    /// Stripe, Square, PayPal keys.
    PaymentKey,
    /// Slack, Discord, Telegram bot tokens and webhooks.
    ChatBotToken,
    /// A JSON Web Token.
    Jwt,
    /// A PEM or OpenSSH private key block.
    PrivateKey,
    /// A password in a connection string or a config line.
    Password,
}

impl SecretKind {
    /// The subtype's name in outputs, e.g. `cloud_key`.
    pub fn as_str(self) -> &'static str {
        match self {
            SecretKind::CloudKey => "cloud_key",
            SecretKind::SourceHostToken => "source_host_token",
            SecretKind::ModelProviderKey => "model_provider_key",
            SecretKind::PaymentKey => "payment_key",
            SecretKind::ChatBotToken => "chat_bot_token",
            SecretKind::Jwt => "jwt",
            SecretKind::PrivateKey => "private_key",
            SecretKind::Password => "password",
        }
    }
}
