//! The id rules of the drop-in contract, as properties over any text:
//! upload ids are any non-empty text of at most 1 KiB without control
//! characters, kept exactly; an `eventId` names an event only in the form
//! the engine hands out.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)] // a test or bench: failing loudly is the point

mod support;

use bgupload_fsm::validate::{
    self, MAX_EVENT_ID_TEXT_BYTES, MSG_EVENT_ID_REQUIRED, MSG_EVENT_ID_TOO_LONG,
};
use bgupload_fsm::{ErrorCode, Event, EventId, MAX_UPLOAD_ID_BYTES, Options, UploadId};
use proptest::prelude::*;
use support::{FILE_OK, World, payload};

fn id_rules_accept(text: &str) -> bool {
    !text.is_empty() && text.len() <= MAX_UPLOAD_ID_BYTES && !text.chars().any(char::is_control)
}

/// Text of every kind: printable, control characters (C0, DEL, C1),
/// non-ASCII, and lengths around the limit.
fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,40}",
        "[a-zA-Z0-9_./ -]{1,40}",
        "[\\x00-\\x1f\\x7f\\u{80}-\\u{9f}a]{1,8}",
        (1_000usize..1_100).prop_map(|len| "x".repeat(len)),
        (500usize..520).prop_map(|len| "é".repeat(len)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn upload_ids_are_accepted_exactly_by_the_rules_and_kept_as_written(text in any_text()) {
        match UploadId::parse(&text) {
            Ok(id) => {
                prop_assert!(id_rules_accept(&text), "{text:?} accepted");
                prop_assert_eq!(id.as_str(), text.as_str());
            }
            Err(_) => prop_assert!(!id_rules_accept(&text), "{text:?} refused"),
        }
    }

    #[test]
    fn a_start_is_accepted_or_refused_by_the_same_rules_and_a_refusal_stores_nothing(
        text in any_text()
    ) {
        let mut world = World::new(Options::new(3));
        world.init_limit(1);
        let command = world.start(payload(&text), FILE_OK);
        let result = world.results[&command].clone();
        if id_rules_accept(&text) {
            prop_assert!(result.is_ok(), "{text:?}: {result:?}");
            let stored: Vec<&str> = world.disk.uploads.keys().map(UploadId::as_str).collect();
            prop_assert_eq!(stored, vec![text.as_str()]);
        } else {
            let refused = result.expect_err("refused");
            // An empty id is the reference's own refusal, without a code.
            let code = (!text.is_empty()).then_some(ErrorCode::InvalidArgument.code());
            prop_assert_eq!(refused.error_code, code);
            prop_assert!(world.disk.uploads.is_empty());
        }
    }

    #[test]
    fn the_issued_form_names_its_event_and_no_other_text_names_any(
        number in EventId::FIRST.0..=EventId::MAX.0,
        text in any_text(),
    ) {
        prop_assert_eq!(EventId::from_app_text(&number.to_string()), Some(EventId(number)));
        let named = EventId::from_app_text(&text);
        if let Some(event_id) = named {
            prop_assert_eq!(event_id.to_string(), text);
        }
        prop_assert_eq!(EventId::from_app_text(&format!("0{number}")), None);
        prop_assert_eq!(EventId::from_app_text(&format!("{number} ")), None);
        prop_assert_eq!(EventId::from_app_text(&format!("-{number}")), None);
    }
}

#[test]
fn ids_that_differ_in_bytes_are_different_uploads() {
    let mut world = World::new(Options::new(4));
    world.init_limit(1);
    let ids = [
        "abc", "ABC", "abc ", " abc", "../../x", "123_456", "é", "e\u{301}",
    ];
    for id in ids {
        let command = world.start(payload(id), FILE_OK);
        assert!(world.results[&command].is_ok(), "{id:?}");
    }
    let mut stored: Vec<&str> = world.disk.uploads.keys().map(UploadId::as_str).collect();
    stored.sort_unstable();
    let mut expected = ids.to_vec();
    expected.sort_unstable();
    assert_eq!(stored, expected);
    // A second start of the same bytes is refused; nothing changes.
    let again = world.start(payload("abc"), FILE_OK);
    let refused = world.results[&again].clone().unwrap_err();
    assert_eq!(refused.error_code, Some(ErrorCode::DuplicateUpload.code()));
    assert_eq!(world.disk.uploads.len(), ids.len());
    assert!(
        world
            .delivered
            .iter()
            .all(|event| !matches!(event, Event::Terminal(_))),
        "no upload ended"
    );
}

#[test]
fn acknowledged_ids_are_any_non_empty_text_within_the_bound() {
    assert_eq!(validate::acknowledged_event(""), Err(MSG_EVENT_ID_REQUIRED));
    assert_eq!(validate::acknowledged_event("7"), Ok(Some(EventId(7))));
    for never_issued in [
        "x-coredata://123/UploadEvent/p1",
        "abc",
        "-1",
        "1e3",
        "0",
        "07",
    ] {
        assert_eq!(
            validate::acknowledged_event(never_issued),
            Ok(None),
            "{never_issued}"
        );
    }
    let longest = "9".repeat(MAX_EVENT_ID_TEXT_BYTES);
    assert_eq!(validate::acknowledged_event(&longest), Ok(None));
    let too_long = "9".repeat(MAX_EVENT_ID_TEXT_BYTES + 1);
    assert_eq!(
        validate::acknowledged_event(&too_long),
        Err(MSG_EVENT_ID_TOO_LONG)
    );
    let past_the_last = (EventId::MAX.0 + 1).to_string();
    assert_eq!(validate::acknowledged_event(&past_the_last), Ok(None));
}
