//! The server's leaf certificate, read for whom it was issued: subject, the DNS names
//! and addresses of its subjectAltName, and issuer, parsed with `x509-parser` (DER,
//! RFC 5280). The chain is not verified: a capture says what the server sent, not
//! whether a client should have trusted it.

use crate::report::model::TlsCertificate;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

/// The certificate `der` describes, or `None` when it does not parse.
pub fn leaf_certificate(der: &[u8]) -> Option<TlsCertificate> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let name = |n: &x509_parser::x509::X509Name<'_>| {
        let text = n.to_string();
        (!text.is_empty()).then_some(text)
    };
    let mut san = Vec::new();
    if let Ok(Some(ext)) = cert.subject_alternative_name() {
        for general in &ext.value.general_names {
            match general {
                GeneralName::DNSName(dns) => san.push((*dns).to_string()),
                GeneralName::IPAddress(bytes) => {
                    if let Some(ip) = ip_address(bytes) {
                        san.push(ip);
                    }
                }
                _ => {}
            }
        }
    }
    Some(TlsCertificate {
        subject: name(cert.subject()),
        san,
        issuer: name(cert.issuer()),
    })
}

fn ip_address(bytes: &[u8]) -> Option<String> {
    if let Ok(v4) = <[u8; 4]>::try_from(bytes) {
        return Some(std::net::Ipv4Addr::from(v4).to_string());
    }
    let v6 = <[u8; 16]>::try_from(bytes).ok()?;
    Some(std::net::Ipv6Addr::from(v6).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_not_a_certificate() {
        assert_eq!(leaf_certificate(&[]), None);
        assert_eq!(leaf_certificate(&[0x30, 0x82, 0xff, 0xff, 0]), None);
        assert_eq!(leaf_certificate(&[0xde; 300]), None);
    }

    #[test]
    fn addresses_in_san() {
        assert_eq!(ip_address(&[127, 0, 0, 1]).as_deref(), Some("127.0.0.1"));
        let mut v6 = [0u8; 16];
        v6[15] = 1;
        assert_eq!(ip_address(&v6).as_deref(), Some("::1"));
        assert_eq!(ip_address(&[1, 2, 3]), None);
    }
}
