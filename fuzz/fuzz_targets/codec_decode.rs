//! The `~m~<len>~m~<data>` decoder on arbitrary text.
//!
//! Whatever it accepts must be exactly a prefix of the payload and must come back unchanged
//! when encoded and decoded again; each frame's data goes through `interpret`.
#![no_main]

use io_core::codec::{self, Incoming};
use io_core::Message;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|payload: &str| {
    let decoded = codec::decode(payload);

    let mut again = Vec::new();
    for data in &decoded.frames {
        assert_eq!(codec::utf16_len(data), data.encode_utf16().count());
        codec::write_frame(&mut again, data);
        check_interpret(data);
    }

    // The frames taken are the payload's first bytes, and no error means all of it.
    assert!(
        payload.as_bytes().starts_with(&again),
        "re-encoded frames are not a prefix of the payload"
    );
    assert_eq!(decoded.error.is_none(), again.len() == payload.len());

    // Encoding the frames and decoding them again gives the same frames, with no error.
    let again = String::from_utf8(again).expect("frames of a str are UTF-8");
    let redecoded = codec::decode(&again);
    assert_eq!(redecoded.frames, decoded.frames);
    assert_eq!(redecoded.error, None);

    if let Some(e) = &decoded.error {
        let _ = e.to_string();
    }
});

fn check_interpret(data: &str) {
    match codec::interpret(data) {
        Ok(Incoming::Heartbeat(rest)) => {
            assert_eq!(format!("~h~{rest}"), data);
        }
        Ok(Incoming::Message(msg)) => {
            // What the server would send back for this message reads as the same message.
            let wire = codec::message_data(&msg);
            match &msg {
                Message::Text(text) => {
                    assert_eq!(text, data);
                    assert_eq!(wire, data);
                }
                Message::Json(_) => {
                    assert!(data.starts_with("~j~"));
                    assert!(wire.starts_with("~j~"));
                    // Only "parses again as JSON": serde_json's default float parsing may
                    // land one unit in the last place away from the printed value, so a
                    // number like 9.999999999995e30 does not always come back bit for bit.
                    assert!(matches!(
                        codec::interpret(&wire),
                        Ok(Incoming::Message(Message::Json(_)))
                    ));
                }
            }
            let frame = codec::encode(&msg);
            let frame = std::str::from_utf8(&frame).expect("an encoded frame is UTF-8");
            assert_eq!(codec::decode(frame).frames, vec![&*wire]);
        }
        Err(e) => {
            assert!(data.starts_with("~j~"), "only JSON can fail to interpret");
            let _ = e.to_string();
        }
    }
}
