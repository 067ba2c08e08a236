//! Properties over generated inputs (proptest): sequence arithmetic across the 2³² wrap,
//! one key for both directions of a flow, and HTTP framing that does not depend on how
//! the bytes were split into segments.

use connscope::analyzers::http::HttpAnalyzer;
use connscope::analyzers::reassembly::{Chunk, Origin};
use connscope::flow::key::{Direction, Endpoint, FlowKey};
use connscope::flow::seq::SeqNumber;
use connscope::time::Timestamp;
use proptest::prelude::*;
use std::net::{IpAddr, Ipv4Addr};

proptest! {
    #[test]
    fn sequence_order_survives_the_wrap(base in any::<u32>(), step in 1u32..(1 << 30)) {
        let a = SeqNumber(base);
        let b = a.plus(step);
        prop_assert!(b > a);
        prop_assert!(a < b);
        prop_assert_eq!(b.diff(a), step as i32);
        prop_assert_eq!(b.minus(step), a);
    }

    #[test]
    fn both_directions_share_one_key(a in any::<u32>(), pa in any::<u16>(), b in any::<u32>(), pb in any::<u16>()) {
        let x = Endpoint { ip: IpAddr::V4(Ipv4Addr::from(a)), port: pa };
        let y = Endpoint { ip: IpAddr::V4(Ipv4Addr::from(b)), port: pb };
        let (k1, x_low) = FlowKey::new(x, y);
        let (k2, y_low) = FlowKey::new(y, x);
        prop_assert_eq!(k1, k2);
        prop_assert!(x == y || x_low != y_low);
    }

    #[test]
    fn http_framing_is_independent_of_segmentation(
        bodies in proptest::collection::vec(0usize..3000, 1..5),
        chunked in proptest::collection::vec(any::<bool>(), 5),
        cuts in proptest::collection::vec(1usize..200, 1..40),
    ) {
        // A conversation: for each body, a request and a response (length or chunked).
        let mut client = Vec::new();
        let mut server = Vec::new();
        for (i, len) in bodies.iter().enumerate() {
            client.extend_from_slice(format!("GET /{i} HTTP/1.1\r\nHost: h\r\n\r\n").as_bytes());
            if chunked[i % chunked.len()] {
                server.extend_from_slice(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
                for part in vec![b'z'; *len].chunks(700) {
                    server.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
                    server.extend_from_slice(part);
                    server.extend_from_slice(b"\r\n");
                }
                server.extend_from_slice(b"0\r\n\r\n");
            } else {
                server.extend_from_slice(format!("HTTP/1.1 200 OK\r\nContent-Length: {len}\r\n\r\n").as_bytes());
                server.extend(std::iter::repeat_n(b'z', *len));
            }
        }
        let run = |cuts: &[usize]| {
            let mut http = HttpAnalyzer::default();
            let mut packet = 0;
            for (dir, bytes) in [(Direction::Client, &client), (Direction::Server, &server)] {
                let mut at = 0;
                let mut i = 0;
                while at < bytes.len() {
                    let n = cuts[i % cuts.len()].min(bytes.len() - at);
                    packet += 1;
                    let origin = Origin { packet, ts: Timestamp::from_nanos(packet as i64) };
                    http.on_chunk(dir, Chunk::Data(&bytes[at..at + n]), origin);
                    at += n;
                    i += 1;
                }
            }
            let s = http.finish();
            prop_assert!(s.warnings.is_empty(), "{:?}", s.warnings);
            Ok(s.exchanges.iter().map(|x| (x.target.clone(), x.status, x.response_body_bytes, x.response_complete)).collect::<Vec<_>>())
        };
        let whole = run(&[usize::MAX])?;
        prop_assert_eq!(whole.len(), bodies.len());
        for (i, x) in whole.iter().enumerate() {
            prop_assert_eq!(x.2, bodies[i] as u64);
            prop_assert!(x.3);
        }
        prop_assert_eq!(run(&cuts)?, whole);
    }
}
