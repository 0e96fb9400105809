//! Every transport, both directions, against the echo server on each driver: messages come
//! back unchanged, large messages too, and batches stay batches.

use std::time::Duration;

use io_core::{Options, TransportKind};
use tests::client::{decoded, Client, Kind};
use tests::ours::{ours_on, test_options, Adapter};
use tests::per_adapter;
use tests::raw::Conn;
use tests::transcript::{decode_frames, encode_frames};

const TEXT: &str = "hello";
const JSON: &str = r#"~j~{"greeting":"hi","n":[1,2.5,null,true],"nested":{"é":"😀"}}"#;
const EMOJI: &str = "smile 😀, café, 𝄞 and ✓";

per_adapter!(
    every_transport_echoes_text_json_and_emoji,
    one_mebibyte_over_rfc6455,
    one_mebibyte_over_xhr_polling,
    several_messages_in_one_post_come_back_as_several,
    echoes_queued_between_polls_come_in_one_payload,
    websocket_reattach_gets_what_was_queued,
);

fn every_transport_echoes_text_json_and_emoji(adapter: Adapter) {
    let server = ours_on(adapter, "echo", test_options());
    for kind in Kind::ALL {
        let mut client = Client::open(server.target.addr, kind);
        client.echo_each(&[TEXT, JSON, EMOJI, ""]);
        // The length prefix counts UTF-16 units: the echo's payload is exactly ours.
        client.send(&[EMOJI]);
        let payload = client.recv_payload(Duration::from_secs(5));
        assert_eq!(payload, encode_frames(&[EMOJI]), "{kind:?}");
        // JSON stays JSON: the echo parses to the same value.
        client.send(&[JSON]);
        let back = client.recv(1);
        assert_eq!(decoded(&back[0]), decoded(JSON), "{kind:?}");
        assert!(back[0].starts_with("~j~"), "{kind:?}: {back:?}");
    }
}

/// About 1 MiB of text with multi-byte characters and a surrogate pair in every cycle.
fn big_message() -> String {
    let unit = "0123456789abcdef-é-😀-<&>\"\\ ";
    let mut s = String::with_capacity(1 << 20);
    while s.len() < (1 << 20) {
        s.push_str(unit);
    }
    s
}

fn one_mebibyte_over_rfc6455(adapter: Adapter) {
    let server = ours_on(adapter, "echo", test_options());
    let mut client = Client::open(server.target.addr, Kind::WebSocket);
    let big = big_message();
    client.send(&[&big]);
    let back = client.recv(1);
    assert!(back[0] == big, "the 1 MiB echo differs");
    client.echo_each(&[TEXT]);
}

fn one_mebibyte_over_xhr_polling(adapter: Adapter) {
    let mut options = test_options();
    // Percent-encoding makes the body about 1.6 times larger than the message.
    options.limits.max_body = 4 << 20;
    let server = ours_on(adapter, "echo", options);
    let mut client = Client::open(server.target.addr, Kind::XhrPolling);
    let big = big_message();
    client.send(&[&big]);
    let back = client.recv(1);
    assert!(back[0] == big, "the 1 MiB echo differs");
    client.echo_each(&[TEXT]);
}

fn several_messages_in_one_post_come_back_as_several(adapter: Adapter) {
    let server = ours_on(adapter, "echo", test_options());
    let batch = [TEXT, JSON, EMOJI, "last"];
    for kind in Kind::ALL {
        let mut client = Client::open(server.target.addr, kind);
        client.send(&batch);
        let back = client.recv(batch.len());
        let back: Vec<_> = back.iter().map(|m| decoded(m)).collect();
        let want: Vec<_> = batch.iter().map(|m| decoded(m)).collect();
        assert_eq!(back, want, "{kind:?}");
    }
}

fn echoes_queued_between_polls_come_in_one_payload(adapter: Adapter) {
    let server = ours_on(adapter, "echo", test_options());
    for kind in [Kind::XhrPolling, Kind::JsonpPolling] {
        let mut client = Client::open(server.target.addr, kind);
        client.send(&["one", "two", "three"]);
        // No poll is held, so the echoes queue up; give the application time to send them.
        std::thread::sleep(Duration::from_millis(200));
        let payload = client.recv_payload(Duration::from_secs(5));
        assert_eq!(
            decode_frames(&payload).0,
            ["one", "two", "three"],
            "{kind:?}: {payload:?}"
        );
        // The session lives on between polls.
        client.echo_each(&[TEXT]);
    }
}

fn websocket_reattach_gets_what_was_queued(adapter: Adapter) {
    let mut options: Options = test_options();
    options
        .transport_options_mut(TransportKind::WebSocket)
        .close_timeout = Duration::from_secs(5);
    let server = ours_on(adapter, "echo", options);
    let addr = server.target.addr;
    let mut client = Client::open(addr, Kind::WebSocket);
    let sid = client.sid.clone();
    // A message and a close frame in one write: the server reads both at once, so the
    // echo is sent after the socket is gone and has to wait in the queue.
    let mut bytes = tests::client::text_frame(&encode_frames(&["queued", JSON]));
    bytes.extend(io_core::websocket::rfc6455::client_frame(
        io_core::websocket::rfc6455::OP_CLOSE,
        true,
        &1000u16.to_be_bytes(),
        [1, 2, 3, 4],
    ));
    client.conn().send(&bytes);
    // The server answers the close and hangs up.
    let (opcode, _) = tests::client::read_frame(client.conn(), Duration::from_secs(5));
    assert_eq!(opcode, io_core::websocket::rfc6455::OP_CLOSE);
    client.conn().read_to_close(Duration::from_secs(5));
    drop(client);
    assert_eq!(
        server.session_count(),
        1,
        "the session waits for a new transport"
    );

    let mut again = Client::attach(addr, Kind::WebSocket, Some(&sid));
    let back = again.recv(2);
    assert_eq!(back[0], "queued");
    assert_eq!(decoded(&back[1]), decoded(JSON));
    again.echo_each(&[TEXT]);
    assert_eq!(server.session_count(), 1);
    // A socket to an id nobody knows is closed unanswered.
    let mut stranger = Conn::connect(addr);
    stranger.send(&tests::client::rfc6455_request(
        addr,
        "/socket.io/websocket/12345678901234567890",
    ));
    stranger.expect_closed_without_response();
}
