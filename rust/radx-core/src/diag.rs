//! Diagnostics for people: what could not be differentiated, where, and what to do.
//!
//! Floor: just above the IR wrappers (a diagnostic quotes the instruction and its source
//! line); everything that can fail imports it.

use crate::ir::{self, SourceLoc, Value};
use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Code {
    /// The input could not be read or parsed as LLVM IR.
    MalformedInput,
    /// A magic call (`__enzyme_*`) is used wrongly: bad first argument, wrong markers or counts.
    BadRequest,
    /// An instruction or call has no derivative rule.
    NoRule,
    /// Activity that cannot be made consistent (a constant pointer stored into active memory, ...).
    Activity,
    /// A construct RadX does not differentiate.
    Unsupported,
    /// A module RadX produced failed verification: a bug in RadX.
    Internal,
}

#[derive(Clone, Debug, Serialize)]
pub struct Diagnostic {
    pub code: Code,
    pub message: String,
    /// The function being differentiated (or containing the magic call).
    pub function: Option<String>,
    /// The offending instruction, as LLVM prints it.
    pub construct: Option<String>,
    pub location: Option<SourceLoc>,
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn new(code: Code, message: impl Into<String>) -> Diagnostic {
        Diagnostic { code, message: message.into(), function: None, construct: None, location: None, hint: None }
    }

    /// Names the instruction, its function and its source line.
    pub fn at(mut self, inst: Value) -> Diagnostic {
        if ir::is_instruction(inst) {
            self.construct = Some(without_attachments(&ir::value_to_string(inst)).to_string());
            if self.location.is_none() {
                self.location = ir::source_loc(inst);
            }
            if self.function.is_none() {
                self.function = Some(ir::name_of(ir::parent_function(inst)));
            }
        }
        self
    }

    pub fn in_function(mut self, name: impl Into<String>) -> Diagnostic {
        self.function = Some(name.into());
        self
    }

    pub fn with_location(mut self, loc: Option<SourceLoc>) -> Diagnostic {
        if loc.is_some() {
            self.location = loc;
        }
        self
    }

    pub fn hint(mut self, h: impl Into<String>) -> Diagnostic {
        self.hint = Some(h.into());
        self
    }
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.location {
            Some(l) => write!(f, "{l}: error: {}", self.message)?,
            None => write!(f, "error: {}", self.message)?,
        }
        if let Some(func) = &self.function {
            write!(f, "\n  in function `{}`", demangle_clone_name(func))?;
        }
        if let Some(c) = &self.construct {
            let c: String = c.chars().take(300).collect();
            write!(f, "\n  at: {c}")?;
        }
        if let Some(h) = &self.hint {
            write!(f, "\n  hint: {h}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostic {}

/// The name prefix of the prepared copies derivatives are generated from (the engine
/// names them so; diagnostics take it off again).
pub const PREPARED_PREFIX: &str = "radx.prep.";

/// Generated clones carry a prefix; users know their functions by the original name.
pub fn demangle_clone_name(name: &str) -> &str {
    let Some(rest) = name.strip_prefix(PREPARED_PREFIX) else { return name };
    match rest.rsplit_once('.') {
        Some((base, n)) if !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit()) => base,
        _ => rest,
    }
}

/// An instruction as printed, without its metadata attachments (`, !dbg !12, !tbaa !5`),
/// which mean nothing to the reader of a diagnostic.
pub fn without_attachments(s: &str) -> &str {
    let b = s.as_bytes();
    let end = (0..b.len().saturating_sub(3)).find(|&i| &b[i..i + 3] == b", !" && b[i + 3].is_ascii_alphabetic());
    s[..end.unwrap_or(s.len())].trim_end()
}

pub type Result<T> = std::result::Result<T, Diagnostic>;

/// A value as a message quotes it: LLVM's text without metadata, cut at 80 characters.
pub fn short(v: Value) -> String {
    short_text(&ir::value_to_string(v))
}

/// `short` of a value already printed (see `ir::instruction_texts`).
pub fn short_text(printed: &str) -> String {
    let s = without_attachments(printed).to_string();
    if s.chars().count() > 80 {
        format!("{}...", s.chars().take(80).collect::<String>())
    } else {
        s
    }
}

/// An opcode as a message names it (`fdiv`, `atomicrmw`).
pub fn opcode_name(op: llvm_sys::LLVMOpcode) -> String {
    format!("{op:?}").trim_start_matches("LLVM").to_lowercase()
}

#[cfg(test)]
mod tests {
    #[test]
    fn attachments_are_stripped() {
        use super::without_attachments as w;
        assert_eq!(w("%1 = load ptr, ptr @fp, align 8, !dbg !23, !tbaa !24"), "%1 = load ptr, ptr @fp, align 8");
        assert_eq!(w("call void @g(metadata !12, i32 1), !dbg !3"), "call void @g(metadata !12, i32 1)");
        assert_eq!(w("%2 = fmul double %0, %0"), "%2 = fmul double %0, %0");
    }
}
