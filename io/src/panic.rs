//! The text of a caught panic, for the layers that turn one into a report
//! (the driver's failed attempt, the FFI's error, the simulator's
//! violation) instead of letting it cross a boundary.

use std::any::Any;

/// The message a panic carried (`panic!("…")` gives a `&str` or a
/// `String`), or a fixed text when it carried something else.
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "a panic without a message".to_owned()
    }
}
