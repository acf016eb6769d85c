//! Parse, don't validate: account fields as types that can only hold valid
//! values. Errors are message-catalog keys.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Email, &'static str> {
        let s = raw.trim().to_lowercase();
        if s.is_empty() {
            return Err("accounts.errors.email_required");
        }
        let valid = s.len() <= 254
            && !s.chars().any(|c| c.is_whitespace() || c.is_control())
            && match s.split_once('@') {
                Some((local, domain)) => {
                    !local.is_empty()
                        && !domain.contains('@')
                        && domain.contains('.')
                        && !domain.starts_with('.')
                        && !domain.ends_with('.')
                        && !domain.contains("..")
                }
                None => false,
            };
        if valid {
            Ok(Email(s))
        } else {
            Err("accounts.errors.email_invalid")
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A Korean phone number, kept as digits with hyphens (010-1234-5678).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phone(String);

impl Phone {
    pub fn parse(raw: &str) -> Result<Phone, &'static str> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err("accounts.errors.phone_required");
        }
        if trimmed.chars().any(|c| !(c.is_ascii_digit() || c == '-' || c == ' ')) {
            return Err("accounts.errors.phone_invalid");
        }
        let digits: String = trimmed.chars().filter(|c| c.is_ascii_digit()).collect();
        if !digits.starts_with('0') || !(9..=11).contains(&digits.len()) {
            return Err("accounts.errors.phone_invalid");
        }
        let formatted = match (digits.len(), digits.starts_with("02")) {
            (9, true) => format!("{}-{}-{}", &digits[..2], &digits[2..5], &digits[5..]),
            (10, true) => format!("{}-{}-{}", &digits[..2], &digits[2..6], &digits[6..]),
            (10, false) => format!("{}-{}-{}", &digits[..3], &digits[3..6], &digits[6..]),
            (11, _) => format!("{}-{}-{}", &digits[..3], &digits[3..7], &digits[7..]),
            _ => digits,
        };
        Ok(Phone(formatted))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A Korean mobile number (010-XXXX-XXXX), the only kind that receives
/// texts; kept normalised as 010-1234-5678 whatever spacing it was typed with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mobile(String);

impl Mobile {
    pub fn parse(raw: &str) -> Result<Mobile, &'static str> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err("mobile.errors.mobile_required");
        }
        let digits: String = trimmed.chars().filter(|c| c.is_ascii_digit()).collect();
        let allowed = trimmed.chars().all(|c| c.is_ascii_digit() || c == '-' || c == ' ');
        if !allowed || digits.len() != 11 || !digits.starts_with("010") {
            return Err("mobile.errors.mobile_invalid");
        }
        Ok(Mobile(format!("{}-{}-{}", &digits[..3], &digits[3..7], &digits[7..])))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonName(String);

impl PersonName {
    pub fn parse(raw: &str) -> Result<PersonName, &'static str> {
        let s = raw.trim();
        if s.is_empty() {
            return Err("accounts.errors.name_required");
        }
        if s.chars().count() > 50 || s.chars().any(char::is_control) {
            return Err("accounts.errors.name_invalid");
        }
        Ok(PersonName(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A password meeting Korea's safety standard for personal information:
/// at least 8 characters of 2 kinds (Latin letters, digits, symbols), or 10 of one.
pub struct Password(String);

impl Password {
    pub fn parse(raw: &str, confirm: &str) -> Result<Password, &'static str> {
        if raw.is_empty() {
            return Err("accounts.errors.password_required");
        }
        let len = raw.chars().count();
        let kinds = [
            raw.chars().any(|c| c.is_ascii_alphabetic()),
            raw.chars().any(|c| c.is_ascii_digit()),
            raw.chars().any(|c| c.is_ascii_punctuation() || c == ' '),
        ]
        .iter()
        .filter(|k| **k)
        .count();
        if len > 128 || !((len >= 8 && kinds >= 2) || len >= 10) {
            return Err("accounts.errors.password_weak");
        }
        if raw != confirm {
            return Err("accounts.errors.password_mismatch");
        }
        Ok(Password(raw.to_string()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(Email::parse("  Mom@Example.KR ").unwrap().as_str(), "mom@example.kr");
        assert_eq!(Email::parse(""), Err("accounts.errors.email_required"));
        for bad in ["a@b", "@b.kr", "a@@b.kr", "a b@c.kr", "a@.kr", "a@b..kr"] {
            assert_eq!(Email::parse(bad), Err("accounts.errors.email_invalid"), "{bad}");
        }
    }

    #[test]
    fn phones_are_formatted() {
        assert_eq!(Phone::parse("01012345678").unwrap().as_str(), "010-1234-5678");
        assert_eq!(Phone::parse("061 330 8114").unwrap().as_str(), "061-330-8114");
        assert_eq!(Phone::parse("02-123-4567").unwrap().as_str(), "02-123-4567");
        assert_eq!(Phone::parse("1234567890"), Err("accounts.errors.phone_invalid"));
        assert_eq!(Phone::parse("010-12a4-5678"), Err("accounts.errors.phone_invalid"));
        assert_eq!(Phone::parse("0101"), Err("accounts.errors.phone_invalid"));
    }

    #[test]
    fn mobiles_are_010_numbers_kept_with_hyphens() {
        assert_eq!(Mobile::parse("01012345678").unwrap().as_str(), "010-1234-5678");
        assert_eq!(Mobile::parse(" 010 1234 5678 ").unwrap().as_str(), "010-1234-5678");
        assert_eq!(Mobile::parse("010-1234-5678").unwrap().as_str(), "010-1234-5678");
        assert_eq!(Mobile::parse(""), Err("mobile.errors.mobile_required"));
        for bad in ["061-330-8114", "011-123-4567", "010-1234-567", "010-1234-56789", "+82 10 1234 5678", "010.1234.5678"] {
            assert_eq!(Mobile::parse(bad), Err("mobile.errors.mobile_invalid"), "{bad}");
        }
    }

    #[test]
    fn password_policy_boundaries() {
        assert!(Password::parse("abcdef1!", "abcdef1!").is_ok(), "8 chars, 3 kinds");
        assert!(Password::parse("abcdefg1", "abcdefg1").is_ok(), "8 chars, 2 kinds");
        assert_eq!(Password::parse("abcdefgh", "abcdefgh").err(), Some("accounts.errors.password_weak"), "8 chars, 1 kind");
        assert_eq!(Password::parse("abcdef1", "abcdef1").err(), Some("accounts.errors.password_weak"), "7 chars");
        assert!(Password::parse("abcdefghij", "abcdefghij").is_ok(), "10 chars, 1 kind");
        assert_eq!(Password::parse("abcdefg1", "abcdefg2").err(), Some("accounts.errors.password_mismatch"));
    }
}
