//! Builders shared by the table's tests: packets made with etherparse's
//! `PacketBuilder`, decoded and tracked exactly as the pipeline does.
pub use super::*;
pub(crate) use crate::analyzers::Streams;
pub use crate::capture::LinkType;
pub use crate::decode::decode;
use etherparse::PacketBuilder;

const CLIENT: ([u8; 4], u16) = ([10, 0, 0, 1], 40000);
const SERVER: ([u8; 4], u16) = ([10, 0, 0, 2], 80);

/// One packet to build: who sends, flags, seq, ack, window, payload, time (s).
pub struct Pkt {
    pub from_client: bool,
    syn: bool,
    ack: Option<u32>,
    fin: bool,
    rst: bool,
    seq: u32,
    window: u16,
    payload: Vec<u8>,
    pub at: f64,
    client: ([u8; 4], u16),
    server: ([u8; 4], u16),
}

pub fn pkt(from_client: bool, seq: u32, at: f64) -> Pkt {
    Pkt {
        from_client,
        syn: false,
        ack: None,
        fin: false,
        rst: false,
        seq,
        window: 1000,
        payload: Vec::new(),
        at,
        client: CLIENT,
        server: SERVER,
    }
}

impl Pkt {
    pub fn syn(mut self) -> Self {
        self.syn = true;
        self
    }
    pub fn ack(mut self, ack: u32) -> Self {
        self.ack = Some(ack);
        self
    }
    pub fn fin(mut self) -> Self {
        self.fin = true;
        self
    }
    pub fn rst(mut self) -> Self {
        self.rst = true;
        self
    }
    pub fn window(mut self, window: u16) -> Self {
        self.window = window;
        self
    }
    pub fn data(mut self, payload: &[u8]) -> Self {
        self.payload = payload.to_vec();
        self
    }
    /// Between these endpoints instead of the default pair.
    pub fn between(mut self, client: ([u8; 4], u16), server: ([u8; 4], u16)) -> Self {
        self.client = client;
        self.server = server;
        self
    }
    pub fn bytes(&self) -> Vec<u8> {
        let (src, dst) = if self.from_client {
            (self.client, self.server)
        } else {
            (self.server, self.client)
        };
        let mut b = PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4(src.0, dst.0, 64)
            .tcp(src.1, dst.1, self.seq, self.window);
        if self.syn {
            b = b.syn();
        }
        if let Some(ack) = self.ack {
            b = b.ack(ack);
        }
        if self.fin {
            b = b.fin();
        }
        if self.rst {
            b = b.rst();
        }
        let mut out = Vec::new();
        b.write(&mut out, &self.payload).expect("build packet");
        out
    }
}

/// Feeds `packets` to `table`, returning what finished and when (by packet number).
pub fn feed(table: &mut ConnectionTable, packets: &[Pkt]) -> Vec<(u64, ConnectionRecord)> {
    let mut done = Vec::new();
    for (i, p) in packets.iter().enumerate() {
        let frame = p.bytes();
        let seg = decode(LinkType::ETHERNET, &frame, frame.len() as u32).expect("decodes");
        let ts = Timestamp::from_nanos((p.at * 1e9) as i64);
        let n = i as u64 + 1;
        table.on_segment(&seg, n, ts, &mut |r| done.push((n, r)));
    }
    done
}

pub fn track(packets: &[Pkt]) -> Vec<ConnectionRecord> {
    let mut table = ConnectionTable::new(0, 1, Streams::boxed);
    let mut done: Vec<ConnectionRecord> = feed(&mut table, packets)
        .into_iter()
        .map(|(_, r)| r)
        .collect();
    table.finish_all(&mut |r| done.push(r));
    done.sort_by_key(|r| r.id);
    done
}

pub fn handshake(isn_c: u32, isn_s: u32) -> Vec<Pkt> {
    vec![
        pkt(true, isn_c, 0.0).syn(),
        pkt(false, isn_s, 0.010).syn().ack(isn_c + 1),
        pkt(true, isn_c + 1, 0.020).ack(isn_s + 1),
    ]
}

/// One TCP conversation written as a script: each call adds the packets a real
/// client and server would send, keeping sequence numbers right.
pub struct Conv {
    client: ([u8; 4], u16),
    server: ([u8; 4], u16),
    c_next: u32,
    s_next: u32,
    pub packets: Vec<Pkt>,
}

impl Conv {
    /// A completed handshake starting at `at`, from client port `port` to the
    /// default server.
    pub fn open(port: u16, at: f64) -> Conv {
        Conv::open_to(port, SERVER, at)
    }

    pub fn open_to(port: u16, server: ([u8; 4], u16), at: f64) -> Conv {
        let client = (CLIENT.0, port);
        let (ci, si) = (u32::from(port) * 1000, 500_000);
        let packets = vec![
            pkt(true, ci, at).syn().between(client, server),
            pkt(false, si, at + 0.001)
                .syn()
                .ack(ci + 1)
                .between(client, server),
            pkt(true, ci + 1, at + 0.002)
                .ack(si + 1)
                .between(client, server),
        ];
        Conv {
            client,
            server,
            c_next: ci + 1,
            s_next: si + 1,
            packets,
        }
    }

    fn add(&mut self, p: Pkt) -> &mut Self {
        self.packets.push(p.between(self.client, self.server));
        self
    }

    /// `at` the client sends `bytes` (text or binary, such as TLS records).
    pub fn request(&mut self, at: f64, bytes: impl AsRef<[u8]>) -> &mut Self {
        let bytes = bytes.as_ref();
        let p = pkt(true, self.c_next, at).ack(self.s_next).data(bytes);
        self.c_next += bytes.len() as u32;
        self.add(p)
    }

    /// `at` the server sends `bytes`, and the client acknowledges them.
    pub fn response(&mut self, at: f64, bytes: impl AsRef<[u8]>) -> &mut Self {
        let bytes = bytes.as_ref();
        let p = pkt(false, self.s_next, at).ack(self.c_next).data(bytes);
        self.s_next += bytes.len() as u32;
        self.add(p);
        let ack = pkt(true, self.c_next, at + 0.0001).ack(self.s_next);
        self.add(ack)
    }

    /// `at` a keep-alive probe from the client, answered unless `answered` is false.
    pub fn client_probe(&mut self, at: f64, answered: bool) -> &mut Self {
        let p = pkt(true, self.c_next - 1, at).ack(self.s_next);
        self.add(p);
        if answered {
            let a = pkt(false, self.s_next, at + 0.0001).ack(self.c_next);
            self.add(a);
        }
        self
    }

    pub fn fin(&mut self, from_client: bool, at: f64) -> &mut Self {
        let (c, s) = (self.c_next, self.s_next);
        let first = if from_client {
            pkt(true, c, at).ack(s).fin()
        } else {
            pkt(false, s, at).ack(c).fin()
        };
        let second = if from_client {
            pkt(false, s, at + 0.0001).ack(c + 1).fin()
        } else {
            pkt(true, c, at + 0.0001).ack(s + 1).fin()
        };
        self.add(first);
        self.add(second);
        self.c_next += 1;
        self.s_next += 1;
        self
    }

    pub fn rst(&mut self, from_client: bool, at: f64) -> &mut Self {
        let p = if from_client {
            pkt(true, self.c_next, at).rst()
        } else {
            pkt(false, self.s_next, at).rst()
        };
        self.add(p)
    }
}

/// The records of several conversations captured together, packets in time order.
pub fn capture(convs: &[&Conv]) -> Vec<ConnectionRecord> {
    let mut all: Vec<&Pkt> = convs.iter().flat_map(|c| c.packets.iter()).collect();
    all.sort_by(|a, b| a.at.total_cmp(&b.at));
    let mut table = ConnectionTable::new(0, 1, Streams::boxed);
    let mut done = Vec::new();
    for (i, p) in all.iter().enumerate() {
        let frame = p.bytes();
        let seg = decode(LinkType::ETHERNET, &frame, frame.len() as u32).expect("decodes");
        let ts = Timestamp::from_nanos((p.at * 1e9) as i64);
        table.on_segment(&seg, i as u64 + 1, ts, &mut |r| done.push(r));
    }
    table.finish_all(&mut |r| done.push(r));
    done.sort_by_key(|r| r.id);
    done
}

/// A handshake record holding one TLS 1.2 hello: a ClientHello (`kind` 1, one suite,
/// null compression) or a ServerHello (`kind` 2).
pub fn tls_hello(kind: u8) -> Vec<u8> {
    let mut body = vec![3, 3];
    body.extend_from_slice(&[7; 32]); // random
    body.push(0); // no session id
    if kind == 1 {
        body.extend_from_slice(&[0, 2, 0xc0, 0x2f, 1, 0]); // one suite, null compression
    } else {
        body.extend_from_slice(&[0xc0, 0x2f, 0]);
    }
    let mut message = vec![kind, 0, 0, body.len() as u8];
    message.extend(body);
    let mut r = vec![22, 3, 1, 0, message.len() as u8];
    r.extend(message);
    r
}
