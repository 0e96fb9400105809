//! What the integration suite needs to know about the drivers it runs against.

use crate::ours::Adapter;

/// Whether `adapter` can run the example behaviour `mode` (`echo`, `broadcast`, `chat`).
/// Drivers that only run the echo behaviour answer false for the others.
pub fn supports(adapter: Adapter, mode: &str) -> bool {
    adapter.supports(mode)
}

/// For each `fn name(adapter: Adapter)` listed, a module `name` with one test per driver,
/// so that `cargo test smol` or `cargo test name` picks them out. A new driver is one more
/// line here. Attributes before a name (`#[ignore = "…"]`) go on each of its tests.
#[macro_export]
macro_rules! per_adapter {
    ($($(#[$attr:meta])* $name:ident),* $(,)?) => {
        $(
            mod $name {
                #[test]
                $(#[$attr])*
                fn smol() {
                    super::$name($crate::ours::Adapter::Smol)
                }
                #[test]
                $(#[$attr])*
                fn std() {
                    super::$name($crate::ours::Adapter::Std)
                }
                #[test]
                $(#[$attr])*
                fn custom_loop() {
                    super::$name($crate::ours::Adapter::CustomLoop)
                }
            }
        )*
    };
}
