//! The record decryptor fed arbitrary records under every supported suite. The first
//! input byte picks the suite and direction; the rest is a sequence of records
//! (type, 2-byte length, body). Fixed secrets: the point is that no record, however
//! malformed, panics or grows memory, and that failures are typed.
#![no_main]

use connscope::decrypt::keylog::{Label, Secret};
use connscope::decrypt::{
    CipherSuite, ClientRandom, ContentType, Direction, Negotiated, RecordDecryptor, SessionSecrets,
};
use libfuzzer_sys::fuzz_target;

const SUITES: [u16; 9] = [
    0x1301, 0x1302, 0x1303, 0xc02b, 0xc030, 0xcca8, 0xc013, 0xc028, 0x003c,
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, mut rest)) = data.split_first() else {
        return;
    };
    let suite = CipherSuite(SUITES[usize::from(pick) % SUITES.len()]);
    let direction = if pick & 0x80 == 0 {
        Direction::ClientToServer
    } else {
        Direction::ServerToClient
    };
    let mut secrets = SessionSecrets::default();
    let len = if suite.0 == 0x1302 { 48 } else { 32 };
    let version = if pick & 0x10 != 0 { 0x0301 } else { 0x0303 };
    for label in Label::ALL {
        let n = if label == Label::ClientRandom { 48 } else { len };
        secrets.set(label, Secret::new(&[label as u8; 48][..n]).unwrap());
    }
    let hello = Negotiated {
        client_random: ClientRandom([1; 32]),
        server_random: [2; 32],
        suite,
        encrypt_then_mac: pick & 0x20 != 0,
    };
    let Ok(mut dec) = RecordDecryptor::new(&hello, &secrets, direction) else {
        return;
    };
    if pick & 0x40 != 0 {
        let _ = dec.switch_to_application();
    }
    while rest.len() >= 3 {
        let len = usize::from(u16::from_be_bytes([rest[1], rest[2]]));
        let end = (3 + len).min(rest.len());
        let _ = dec.decrypt(ContentType(rest[0]), version, &rest[3..end]);
        rest = &rest[end..];
    }
});
