//! The types and constants of `include/radx.h`, mirrored field by field.
//!
//! Enumerations cross the boundary as fixed-width integers (a C caller can pass any
//! value, and an out-of-range Rust enum would be undefined behaviour), so each one is a
//! type alias plus constants. `tests/header.rs` checks this file against the header.

use std::os::raw::{c_char, c_uint};

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
pub type RadxSlotRole = i32;
pub type RadxReturnLayout = i32;
/// `radx_llvm_get_version_fn`: the caller's `LLVMGetVersion` (LLVM 15: `LLVMContextCreate`,
/// compared, never called).
pub type RadxLlvmGetVersionFn = Option<unsafe extern "C" fn(*mut c_uint, *mut c_uint, *mut c_uint)>;

/// The ABI version: changes whenever a struct or a signature of the header changes in a
/// way an old caller would misread. 1 was the forward-only ABI; 2 appended fields to
/// `radx_result` and added entry points, so ABI 1 callers keep working.
pub const RADX_ABI_VERSION: u32 = 2;

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
        RADX_ERR_UNSUPPORTED_MODE = 9,
        RADX_ERR_LLVM_MISMATCH = 10;
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
        RADX_FLAG_NO_POSTOPT = 2,
        RADX_FLAG_RUNTIME_ACTIVITY = 4,
        RADX_FLAG_CACHE = 8;
    RadxSlotRole:
        RADX_SLOT_PRIMAL = 0,
        RADX_SLOT_SHADOW = 1,
        RADX_SLOT_SEED = 2,
        RADX_SLOT_TAPE = 3,
        RADX_SLOT_RETURN = 4,
        RADX_SLOT_RETURN_SHADOW = 5,
        RADX_SLOT_ADJOINT = 6;
    RadxReturnLayout:
        RADX_RETURN_VOID = 0,
        RADX_RETURN_VALUE = 1,
        RADX_RETURN_STRUCT = 2;
});

/// The version macros of the header.
pub const VERSION_MACROS: &[(&str, &str)] = &[
    ("RADX_VERSION_MAJOR", env!("CARGO_PKG_VERSION_MAJOR")),
    ("RADX_VERSION_MINOR", env!("CARGO_PKG_VERSION_MINOR")),
    ("RADX_VERSION_PATCH", env!("CARGO_PKG_VERSION_PATCH")),
    ("RADX_ABI_VERSION", "2"),
];

/// `arg` of a slot that belongs to no parameter (`UINT32_MAX` in C).
pub const NO_ARG: u32 = u32::MAX;

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

/// `radx_slot`: one parameter or one result of a generated function.
#[repr(C)]
#[derive(Debug)]
pub struct RadxSlot {
    pub role: RadxSlotRole,
    pub arg: u32,
    pub lane: u32,
    pub llvm_type: *mut c_char,
}

/// `radx_function`: a generated function and its exact signature.
#[repr(C)]
#[derive(Debug)]
pub struct RadxFunction {
    pub name: *mut c_char,
    pub mode: RadxMode,
    pub return_layout: RadxReturnLayout,
    pub llvm_type: *mut c_char,
    pub params: *mut RadxSlot,
    pub num_params: usize,
    pub results: *mut RadxSlot,
    pub num_results: usize,
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
    // ABI 2
    pub functions: *mut RadxFunction,
    pub num_functions: usize,
    pub tape_type: *mut c_char,
}

/// `radx_rule`: a custom derivative registered for a function of the module.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct RadxRule {
    pub function: *const c_char,
    pub args: *const RadxActivity,
    pub num_args: usize,
    pub return_activity: RadxActivity,
    pub width: u32,
    pub forward: *const c_char,
    pub augmented: *const c_char,
    pub reverse: *const c_char,
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
    layout!(out, "radx_result", RadxResult, bitcode, bitcode_len, function_name, calls_lowered, report_json, functions, num_functions, tape_type);
    layout!(out, "radx_slot", RadxSlot, role, arg, lane, llvm_type);
    layout!(out, "radx_function", RadxFunction, name, mode, return_layout, llvm_type, params, num_params, results, num_results);
    layout!(out, "radx_rule", RadxRule, function, args, num_args, return_activity, width, forward, augmented, reverse);
    layout!(out, "radx_error", RadxError, code, line, column, message, function, file, construct, hint, text, next);
    out
}
