//! A component built for a future contract version (`orch:plugin@0.3.0`),
//! which this host must refuse before instantiating it.

// The generated export glue is unsafe code by nature; there is no SDK here to hide it.
#![allow(unsafe_code)]

wit_bindgen::generate!({
    inline: "
        package orch:plugin@0.3.0;
        interface router {
            describe: func() -> string;
        }
        world future-router {
            export router;
        }
    ",
});

struct Future;

impl exports::orch::plugin::router::Guest for Future {
    fn describe() -> String {
        "from the future".into()
    }
}

#[cfg(target_arch = "wasm32")]
export!(Future);
