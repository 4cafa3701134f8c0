//! The registered country of an address, for the detector's `country_ip` rule, the custom rules'
//! `country` field and the sign-in history (`streams/reference/countries.py`'s `country_of`).
//!
//! Not a port: the Python reference asks the `iptocc` wheel, which is PyO3 bindings over the
//! `iptocc` crate, and the engine links the same crate at the version whose RIR tables that wheel
//! embeds (`Cargo.toml` pins it; `tests/engine/test_country_engine.py` holds the two to the same
//! answers). Both parse the text with Rust's `IpAddr::from_str`, so what one refuses the other
//! refuses too; the reference turns a refusal into `None`, as this does.

/// ISO 3166 alpha-2 code of `ip`'s registered country, or `None` (not an address; private, reserved,
/// unallocated).
pub fn country_of(ip: &str) -> Option<&'static str> {
    iptocc::country_code(ip)
}

#[cfg(test)]
mod tests {
    use super::country_of;

    #[test]
    fn public_addresses_have_their_registry_country() {
        // RIR delegations that have not moved in decades: APNIC's 1.0.0.0/24 test-net of
        // Australia's research network, Google's ARIN block, DFN's RIPE block
        assert_eq!(country_of("1.0.0.1"), Some("AU"));
        assert_eq!(country_of("8.8.8.8"), Some("US"));
        assert_eq!(country_of("2001:638::1"), Some("DE"));
    }

    #[test]
    fn no_country_for_what_is_not_a_public_address() {
        for text in ["10.1.2.3", "192.168.0.1", "127.0.0.1", "::1", "fe80::1", "", "8.8.8", "8.8.8.8 ", "x"] {
            assert_eq!(country_of(text), None, "{text:?}");
        }
    }
}
