//! Validators: the checksums and allocation rules that tell a real identifier from a number
//! of the same shape. Each takes the identifier's characters without separators.

mod checksum;
mod national;

pub use checksum::{iban_is_valid, iso7064_mod11_10, luhn_is_valid, nir_key};
pub use national::{
    card_issuer_known, de_tax_id_is_valid, fr_nir_is_valid, uk_nino_is_valid, us_ssn_is_valid,
};
