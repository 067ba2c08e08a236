//! One arbitrary frame for each link type connscope decodes.
#![no_main]

use connscope::capture::LinkType;
use connscope::decode::decode;
use libfuzzer_sys::fuzz_target;

const LINK_TYPES: [LinkType; 11] = [
    LinkType::NULL,
    LinkType::ETHERNET,
    LinkType::RAW_OPENBSD,
    LinkType::RAW_BSDOS,
    LinkType::RAW,
    LinkType::LOOP,
    LinkType::LINUX_SLL,
    LinkType::IPV4,
    LinkType::IPV6,
    LinkType::NFLOG,
    LinkType::LINUX_SLL2,
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, frame)) = data.split_first() else {
        return;
    };
    let link = LINK_TYPES[usize::from(pick) % LINK_TYPES.len()];
    // The wire length is the frame's, or (odd picks) larger, as after a snap-length cut.
    let orig_len = frame.len() as u32 + u32::from(pick & 1) * 1000;
    if let Ok(segment) = decode(link, frame, orig_len) {
        assert!(segment.payload.len() <= segment.payload_len as usize);
    }
});
