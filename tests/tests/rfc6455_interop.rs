//! RFC 6455 against a client this project did not write: the `ws` npm package.

use std::process::Command;

use serde_json::{json, Value};
use std::path::Path;

use tests::ours::{ours_on, ours_tls, test_options, Adapter, ADAPTERS};
use tests::reference::reference_dir;
use tests::tls;

#[test]
fn ws_package_talks_to_our_echo_server() {
    for adapter in ADAPTERS {
        let server = ours_on(adapter, "echo", test_options());
        talk(server.target.addr.port(), &format!("{adapter:?}"), None);
    }
}

#[test]
fn ws_package_talks_to_our_echo_server_over_wss() {
    let dir = std::env::temp_dir().join(format!("io-wss-{}", std::process::id()));
    let (cert, _key) = tls::cert().write_to(&dir);
    for adapter in [Adapter::Smol, Adapter::Std] {
        let server = ours_tls(adapter, "echo", test_options(), tls::server_config());
        talk(
            server.target.addr.port(),
            &format!("{adapter:?} wss"),
            Some(&cert),
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// Runs the `ws` client against `port`; over wss, trusting `ca` only, when given.
fn talk(port: u16, adapter: &str, ca: Option<&Path>) {
    let dir = reference_dir();
    assert!(
        dir.join("node_modules/ws").exists(),
        "run `npm ci` in {} first",
        dir.display()
    );
    let out = Command::new("node")
        .arg(dir.join("ws-client.js"))
        .arg(port.to_string())
        .args(ca)
        .env("NODE_PATH", dir.join("node_modules"))
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{adapter}: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    // The session id first, as a text message.
    let id = lines[0]["message"].as_str().expect("a text message");
    assert!(id.starts_with("~m~") && id[3..].contains("~m~"), "{id}");
    assert_eq!(lines[0]["binary"], json!(false));
    // Both messages echoed, each in its own frame, lengths in UTF-16 units.
    assert_eq!(
        lines[1],
        json!({"message": "~m~8~m~héllo 😀", "binary": false})
    );
    assert_eq!(
        lines[2],
        json!({"message": "~m~14~m~~j~{\"a\":[1,2]}", "binary": false})
    );
    assert_eq!(lines[3], json!({"pong": "are you there"}));
    assert_eq!(lines[4], json!({"close": 1000, "reason": ""}));
    assert_eq!(lines.len(), 5, "{stdout}");
}
