//! Reverse mode (combined and split). Forward-split is listed here because it reuses a
//! reverse-mode tape.

use crate::abi::{MagicKind, ParsedCall};
use crate::diag::{Code, Diagnostic, Result};
use crate::engine::Engine;
use crate::ir::builder::Builder;

pub fn lower(_engine: &mut Engine, _b: &Builder, p: &ParsedCall) -> Result<()> {
    let what = match p.kind {
        MagicKind::AutoDiff => "reverse mode (`__enzyme_autodiff`)",
        MagicKind::AugmentForward | MagicKind::Reverse | MagicKind::AugmentSize => "split reverse mode",
        _ => "forward mode over a tape (`__enzyme_fwdsplit`)",
    };
    Err(Diagnostic::new(Code::Unsupported, format!("{what} is not available in this build of RadX")).at(p.call).hint("use __enzyme_fwddiff"))
}
