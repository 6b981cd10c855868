//! The types and constants of `include/radx.h`, mirrored field by field.
//!
//! Enumerations cross the boundary as fixed-width integers (a C caller can pass any
//! value, and an out-of-range Rust enum would be undefined behaviour), so each one is a
//! type alias plus constants. `tests/header.rs` checks this file against the header.

use std::os::raw::c_char;

/// Defines `pub const` items and a table of them (name, value) for the header check.
macro_rules! c_constants {
    ($table:ident { $($ty:ident : $($name:ident = $value:expr),+ ;)+ }) => {
        $($(pub const $name: $ty = $value;)+)+
        /// Every constant the header defines, with its value.
        pub const $table: &[(&str, i64)] = &[$($((stringify!($name), $value as i64),)+)+];
    };
}

pub type RadxStatus = i32;
pub type RadxMode = i32;
pub type RadxActivity = i32;
pub type RadxFlags = u32;

c_constants!(C_CONSTANTS {
    RadxStatus:
        RADX_OK = 0,
        RADX_ERR_MALFORMED_INPUT = 1,
        RADX_ERR_BAD_REQUEST = 2,
        RADX_ERR_NO_RULE = 3,
        RADX_ERR_ACTIVITY = 4,
        RADX_ERR_UNSUPPORTED = 5,
        RADX_ERR_INTERNAL = 6,
        RADX_ERR_INVALID_ARGUMENT = 7,
        RADX_ERR_FUNCTION_NOT_FOUND = 8,
        RADX_ERR_UNSUPPORTED_MODE = 9;
    RadxMode:
        RADX_MODE_FORWARD = 0,
        RADX_MODE_REVERSE_PRIMAL = 1,
        RADX_MODE_REVERSE_GRADIENT = 2,
        RADX_MODE_REVERSE_COMBINED = 3,
        RADX_MODE_FORWARD_SPLIT = 4;
    RadxActivity:
        RADX_ACTIVITY_DEFAULT = 0,
        RADX_ACTIVITY_CONST = 1,
        RADX_ACTIVITY_DUP = 2,
        RADX_ACTIVITY_DUP_NONEED = 3,
        RADX_ACTIVITY_ACTIVE = 4;
    RadxFlags:
        RADX_FLAG_NO_PREOPT = 1,
        RADX_FLAG_NO_POSTOPT = 2;
});

/// The version macros of the header.
pub const VERSION_MACROS: &[(&str, &str)] = &[
    ("RADX_VERSION_MAJOR", env!("CARGO_PKG_VERSION_MAJOR")),
    ("RADX_VERSION_MINOR", env!("CARGO_PKG_VERSION_MINOR")),
    ("RADX_VERSION_PATCH", env!("CARGO_PKG_VERSION_PATCH")),
];

pub fn status_name(s: RadxStatus) -> &'static str {
    C_CONSTANTS
        .iter()
        .find(|(n, v)| (*n == "RADX_OK" || n.starts_with("RADX_ERR_")) && *v == s as i64)
        .map(|(n, _)| *n)
        .unwrap_or("unknown")
}

pub fn mode_name(m: RadxMode) -> Option<&'static str> {
    C_CONSTANTS.iter().find(|(n, v)| n.starts_with("RADX_MODE_") && *v == m as i64).map(|(n, _)| *n)
}

/// `radx_request`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct RadxRequest {
    pub function: *const c_char,
    pub mode: RadxMode,
    pub width: u32,
    pub args: *const RadxActivity,
    pub num_args: usize,
    pub return_activity: RadxActivity,
    /// C `bool`; read as a byte so that any value is defined (non-zero means true).
    pub return_primal: u8,
    pub flags: u32,
}

/// `radx_result`.
#[repr(C)]
#[derive(Debug)]
pub struct RadxResult {
    pub bitcode: *mut u8,
    pub bitcode_len: usize,
    pub function_name: *mut c_char,
    pub calls_lowered: usize,
    pub report_json: *mut c_char,
}

/// `radx_error`.
#[repr(C)]
#[derive(Debug)]
pub struct RadxError {
    pub code: RadxStatus,
    pub line: u32,
    pub column: u32,
    pub message: *mut c_char,
    pub function: *mut c_char,
    pub file: *mut c_char,
    pub construct: *mut c_char,
    pub hint: *mut c_char,
    pub text: *mut c_char,
    pub next: *mut RadxError,
}

/// Sizes and field offsets and sizes of the structs, for the header check:
/// (struct, field, offset, size); the field `sizeof` gives the struct's size.
pub fn struct_layouts() -> Vec<(&'static str, &'static str, usize, usize)> {
    fn size_of_pointee<T>(_: *const T) -> usize {
        std::mem::size_of::<T>()
    }
    macro_rules! layout {
        ($out:ident, $cname:literal, $t:ty, $($f:ident),+) => {{
            let u = std::mem::MaybeUninit::<$t>::uninit();
            let base = u.as_ptr() as usize;
            $(
                // SAFETY: only the address of the field is taken, nothing is read.
                let field = unsafe { std::ptr::addr_of!((*u.as_ptr()).$f) };
                $out.push(($cname, stringify!($f), field as usize - base, size_of_pointee(field)));
            )+
            $out.push(($cname, "sizeof", 0, std::mem::size_of::<$t>()));
        }};
    }
    let mut out = Vec::new();
    layout!(out, "radx_request", RadxRequest, function, mode, width, args, num_args, return_activity, return_primal, flags);
    layout!(out, "radx_result", RadxResult, bitcode, bitcode_len, function_name, calls_lowered, report_json);
    layout!(out, "radx_error", RadxError, code, line, column, message, function, file, construct, hint, text, next);
    out
}
