//! Login authentication: argon2 password hashes from the config, checked once per user and
//! remembered, so a re-login costs a comparison and not an argon2 run on the gateway thread.
//!
//! # Invariants
//! - A password is accepted only if argon2 verifies it against the configured PHC string, or it
//!   equals (constant-time) the one that last did for this user.
//! - A failed check never updates the remembered password.

use argon2::{PasswordHash, PasswordVerifier};

/// SoupBinTCP's password field width.
pub const PASSWORD_FIELD_LEN: usize = 10;

/// One user's credentials.
pub struct Credentials {
    phc: String,
    /// The password field (as received) that last passed argon2.
    verified: Option<[u8; PASSWORD_FIELD_LEN]>,
    /// argon2 runs done for this user (metrics; a burst means someone is guessing).
    pub argon2_runs: u64,
}

impl Credentials {
    pub fn new(phc: &str) -> Credentials {
        Credentials {
            phc: phc.to_string(),
            verified: None,
            argon2_runs: 0,
        }
    }

    /// Checks a Login Request's password field (left-justified, space-padded).
    pub fn check(&mut self, field: &[u8; PASSWORD_FIELD_LEN]) -> bool {
        if let Some(known) = &self.verified {
            if constant_time_eq(known, field) {
                return true;
            }
        }
        self.argon2_runs += 1;
        let Ok(hash) = PasswordHash::new(&self.phc) else {
            return false;
        };
        let password = peregrine_gateway::alpha_trimmed(field);
        let ok = argon2::Argon2::default()
            .verify_password(password, &hash)
            .is_ok();
        if ok {
            self.verified = Some(*field);
        }
        ok
    }
}

fn constant_time_eq(a: &[u8; PASSWORD_FIELD_LEN], b: &[u8; PASSWORD_FIELD_LEN]) -> bool {
    let mut difference = 0u8;
    for (x, y) in a.iter().zip(b.iter()) {
        difference |= x ^ y;
    }
    difference == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn right_password_passes_wrong_one_fails_and_is_not_cached() {
        let phc = crate::config::hash_password("secret").expect("hash");
        let mut credentials = Credentials::new(&phc);
        assert!(!credentials.check(b"wrong     "));
        assert!(credentials.check(b"secret    "));
        assert!(credentials.check(b"secret    "));
        assert_eq!(credentials.argon2_runs, 2);
        assert!(!credentials.check(b"secret2   "));
    }
}
