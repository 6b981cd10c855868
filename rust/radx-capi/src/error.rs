//! Failures inside the library and their conversion to `radx_error` chains.

use crate::types::*;
use radx_core::{Code, Diagnostic};
use std::any::Any;
use std::ffi::CString;
use std::os::raw::c_char;

/// One or more diagnostics, each with the status code it is reported under. The C API has
/// codes of its own (invalid argument, function not found, unsupported mode) beside the
/// ones mirroring `radx_core::Code`.
#[derive(Debug)]
pub struct Failure(pub Vec<(RadxStatus, Diagnostic)>);

impl Failure {
    pub fn new(status: RadxStatus, d: Diagnostic) -> Failure {
        Failure(vec![(status, d)])
    }

    /// A failure with a C-API code; the diagnostic's own code is only a neighbour.
    pub fn api(status: RadxStatus, message: impl Into<String>) -> Failure {
        let code = if status == RADX_ERR_MALFORMED_INPUT { Code::MalformedInput } else { Code::BadRequest };
        Failure::new(status, Diagnostic::new(code, message))
    }

    pub fn invalid(message: impl Into<String>) -> Failure {
        Failure::api(RADX_ERR_INVALID_ARGUMENT, message)
    }

    pub fn hint(mut self, h: impl Into<String>) -> Failure {
        if let Some((_, d)) = self.0.last_mut() {
            d.hint = Some(h.into());
        }
        self
    }

    pub fn status(&self) -> RadxStatus {
        self.0.first().map(|(s, _)| *s).unwrap_or(RADX_ERR_INTERNAL)
    }

    pub fn from_panic(payload: Box<dyn Any + Send>) -> Failure {
        let what = if let Some(s) = payload.downcast_ref::<&str>() {
            s.to_string()
        } else if let Some(s) = payload.downcast_ref::<String>() {
            s.clone()
        } else {
            "a panic without a message".to_string()
        };
        Failure::new(
            RADX_ERR_INTERNAL,
            Diagnostic::new(Code::Internal, format!("internal error in RadX: {what}"))
                .hint("this is a bug in RadX; please report it with the input module"),
        )
    }
}

impl From<Diagnostic> for Failure {
    fn from(d: Diagnostic) -> Failure {
        Failure::new(status_of(d.code), d)
    }
}

impl From<Vec<Diagnostic>> for Failure {
    fn from(ds: Vec<Diagnostic>) -> Failure {
        Failure(ds.into_iter().map(|d| (status_of(d.code), d)).collect())
    }
}

/// The status code of each diagnostic code. Exhaustive on purpose: a new `Code` needs a
/// new `RADX_ERR_*` in the header (and in `types.rs`).
pub fn status_of(code: Code) -> RadxStatus {
    match code {
        Code::MalformedInput => RADX_ERR_MALFORMED_INPUT,
        Code::BadRequest => RADX_ERR_BAD_REQUEST,
        Code::NoRule => RADX_ERR_NO_RULE,
        Code::Activity => RADX_ERR_ACTIVITY,
        Code::Unsupported => RADX_ERR_UNSUPPORTED,
        Code::Internal => RADX_ERR_INTERNAL,
    }
}

/// A C string owned by the library (interior NULs are replaced, never an error).
pub fn c_string(s: &str) -> *mut c_char {
    let clean = if s.contains('\0') { s.replace('\0', "\u{fffd}") } else { s.to_string() };
    CString::new(clean).expect("no interior NUL").into_raw()
}

fn opt_c_string(s: Option<&str>) -> *mut c_char {
    s.map(c_string).unwrap_or(std::ptr::null_mut())
}

/// # Safety
/// `p` is null or came from [`c_string`] and has not been freed.
pub unsafe fn free_c_string(p: *mut c_char) {
    if !p.is_null() {
        drop(CString::from_raw(p));
    }
}

/// Builds the `radx_error` chain of a failure (first diagnostic first).
pub fn to_chain(f: Failure) -> *mut RadxError {
    let mut next: *mut RadxError = std::ptr::null_mut();
    for (status, d) in f.0.into_iter().rev() {
        let function = d.function.as_deref().map(radx_core::diag::demangle_clone_name);
        let e = RadxError {
            code: status,
            line: d.location.as_ref().map(|l| l.line).unwrap_or(0),
            column: d.location.as_ref().map(|l| l.column).unwrap_or(0),
            message: c_string(&d.message),
            function: opt_c_string(function),
            file: opt_c_string(d.location.as_ref().map(|l| l.file.as_str()).filter(|f| !f.is_empty())),
            construct: opt_c_string(d.construct.as_deref()),
            hint: opt_c_string(d.hint.as_deref()),
            text: c_string(&d.to_string()),
            next,
        };
        next = Box::into_raw(Box::new(e));
    }
    next
}

/// # Safety
/// `e` is null or the head of a chain made by [`to_chain`] and not freed yet.
pub unsafe fn free_chain(mut e: *mut RadxError) {
    while !e.is_null() {
        let b = Box::from_raw(e);
        for p in [b.message, b.function, b.file, b.construct, b.hint, b.text] {
            free_c_string(p);
        }
        e = b.next;
    }
}
