//! Fuzz inputs that can also be written down: every input type is decoded
//! from bytes by `arbitrary` (derived) and can be encoded back into exactly
//! those bytes by [`SeedBytes`], so the committed seed corpus is generated
//! from readable Rust values (`crate::corpus`) rather than hand-made bytes.
//!
//! The encoding mirrors `arbitrary` 1.x as used here: integers are
//! little-endian, `bool` is one byte (low bit), an enum tag is a `u32` that
//! the derive maps to a variant with `(tag * variants) >> 32`, `Option` is a
//! `bool` then the value, and a `Vec` is a "keep going" byte before each
//! element and a 0 after the last. Text and byte strings are this crate's
//! own [`Text`] and [`Blob`] (length-prefixed at the front, unlike
//! `arbitrary`'s `String`, which takes its length from the end of the
//! input). `tests::seeds_decode_to_what_was_written` checks the mirror
//! against the real decoder, so a change in `arbitrary` shows up at once.

use arbitrary::{Arbitrary, Unstructured};

/// Writes a value as the bytes `arbitrary` decodes back into it.
pub trait SeedBytes {
    fn write_seed(&self, out: &mut Vec<u8>);

    fn to_seed(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_seed(&mut out);
        out
    }
}

macro_rules! seed_le_integers {
    ($($ty:ty),*) => {
        $(impl SeedBytes for $ty {
            fn write_seed(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
        })*
    };
}
seed_le_integers!(u8, u16, u32, u64, i8, i16, i32, i64);

impl SeedBytes for bool {
    fn write_seed(&self, out: &mut Vec<u8>) {
        out.push(u8::from(*self));
    }
}

impl<T: SeedBytes> SeedBytes for Option<T> {
    fn write_seed(&self, out: &mut Vec<u8>) {
        match self {
            None => false.write_seed(out),
            Some(value) => {
                true.write_seed(out);
                value.write_seed(out);
            }
        }
    }
}

impl<T: SeedBytes> SeedBytes for Vec<T> {
    fn write_seed(&self, out: &mut Vec<u8>) {
        for item in self {
            true.write_seed(out);
            item.write_seed(out);
        }
        false.write_seed(out);
    }
}

impl<A: SeedBytes, B: SeedBytes> SeedBytes for (A, B) {
    fn write_seed(&self, out: &mut Vec<u8>) {
        self.0.write_seed(out);
        self.1.write_seed(out);
    }
}

/// The tag `arbitrary`'s derive reads as variant `index` of `count`.
pub fn write_enum_tag(index: u64, count: u64, out: &mut Vec<u8>) {
    assert!(index < count, "variant {index} of {count}");
    let tag = (index << 32).div_ceil(count);
    let tag = u32::try_from(tag).expect("a variant tag fits in u32");
    tag.write_seed(out);
}

/// Text of at most 255 bytes: a length byte, then that many bytes (fewer
/// when the input ends), decoded lossily as UTF-8. Any Rust string up to 255
/// bytes round-trips.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Text(pub String);

impl Text {
    pub fn new(text: &str) -> Text {
        assert!(text.len() <= usize::from(u8::MAX), "seed text too long");
        Text(text.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'a> Arbitrary<'a> for Text {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let wanted = usize::from(u8::arbitrary(u)?);
        let bytes = u.bytes(wanted.min(u.len()))?;
        Ok(Text(String::from_utf8_lossy(bytes).into_owned()))
    }
}

impl SeedBytes for Text {
    fn write_seed(&self, out: &mut Vec<u8>) {
        let length = u8::try_from(self.0.len()).expect("seed text too long");
        out.push(length);
        out.extend_from_slice(self.0.as_bytes());
    }
}

/// Bytes of at most 65,535: a little-endian `u16` length, then that many
/// bytes (fewer when the input ends).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Blob(pub Vec<u8>);

impl<'a> Arbitrary<'a> for Blob {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let wanted = usize::from(u16::arbitrary(u)?);
        let bytes = u.bytes(wanted.min(u.len()))?;
        Ok(Blob(bytes.to_vec()))
    }
}

impl SeedBytes for Blob {
    fn write_seed(&self, out: &mut Vec<u8>) {
        let length = u16::try_from(self.0.len()).expect("seed blob too long");
        out.extend_from_slice(&length.to_le_bytes());
        out.extend_from_slice(&self.0);
    }
}

/// A struct with named fields that is both `Arbitrary` and [`SeedBytes`].
macro_rules! fuzz_struct {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[$field_meta:meta])* pub $field:ident : $ty:ty ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(arbitrary::Arbitrary, Clone, Debug, PartialEq)]
        pub struct $name {
            $( $(#[$field_meta])* pub $field: $ty ),*
        }

        impl $crate::seed::SeedBytes for $name {
            fn write_seed(&self, out: &mut Vec<u8>) {
                $( $crate::seed::SeedBytes::write_seed(&self.$field, out); )*
            }
        }
    };
}

/// An enum of unit and struct-like variants that is both `Arbitrary` and
/// [`SeedBytes`].
macro_rules! fuzz_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $(
                $(#[$variant_meta:meta])*
                $variant:ident $({ $( $field:ident : $ty:ty ),* $(,)? })?
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(arbitrary::Arbitrary, Clone, Debug, PartialEq)]
        pub enum $name {
            $( $(#[$variant_meta])* $variant $({ $( $field: $ty ),* })? ),*
        }

        impl $crate::seed::SeedBytes for $name {
            #[allow(unused_assignments)]
            fn write_seed(&self, out: &mut Vec<u8>) {
                let count = [$(stringify!($variant)),*].len() as u64;
                let mut index = 0_u64;
                $(
                    if let $name::$variant $({ $( $field ),* })? = self {
                        $crate::seed::write_enum_tag(index, count, out);
                        $($( $crate::seed::SeedBytes::write_seed($field, out); )*)?
                        return;
                    }
                    index += 1;
                )*
            }
        }
    };
}

pub(crate) use {fuzz_enum, fuzz_struct};

/// Decodes `bytes` as the fuzz target's input type does.
pub fn decode<'a, T: Arbitrary<'a>>(bytes: &'a [u8]) -> arbitrary::Result<T> {
    T::arbitrary_take_rest(Unstructured::new(bytes))
}
