//! libradx's doors through the derivative cache (`radx_core::cache`): a request whose
//! module, request, rules, RadX and LLVM are those of an earlier run is answered from disk.
//!
//! Both doors share one key: the bitcode door hashes the caller's bytes, the in-process
//! door the bitcode its module writes (what RadX.jl would pass to the other door). An entry
//! holds the whole differentiated module, the requested function's name and the report
//! JSON, whose `functions` array carries everything `radx_function` exposes. The bitcode
//! door returns the entry as it is; the in-process door links the entry's new functions
//! and globals into the caller's module (the originals are never modified by a request, so
//! the new symbols are all there is to bring over).

use crate::error::{c_string, Failure};
use crate::request::Parsed;
use crate::rules::Registry;
use crate::types::*;
use radx_core::cache::{self, Cache, Entry, Key, Lookup};
use radx_core::ir::{self, Value};
use radx_core::llvm_sys;
use llvm_sys::core::*;
use llvm_sys::prelude::LLVMModuleRef;
use llvm_sys::LLVMLinkage;
use std::collections::HashMap;

/// The cache a request uses: `RADX_FLAG_CACHE` asks for it, `RADX_CACHE=1|0` forces it on
/// or off for every request.
pub fn cache_for(p: &Parsed) -> Option<Cache> {
    if cache::env_switch().unwrap_or(p.cache) {
        Cache::from_env()
    } else {
        None
    }
}

pub fn key(module_bytes: &[u8], p: &Parsed, rules: Option<&Registry>) -> Key {
    let request = format!("{p:?}");
    let rules = rules.map(|r| format!("{:?}", r.snapshot())).unwrap_or_default();
    Key::new(&[b"radx_differentiate", module_bytes, request.as_bytes(), rules.as_bytes()])
}

/// What a cached request gives back.
pub struct Cached {
    pub bitcode: Vec<u8>,
    pub function_name: String,
    pub json: serde_json::Value,
}

pub fn lookup(cache: &Cache, key: &Key) -> Option<Cached> {
    match cache.get(key) {
        Lookup::Hit(e) => {
            let cached = Cached {
                bitcode: e.get("bitcode")?.to_vec(),
                function_name: String::from_utf8(e.get("function")?.to_vec()).ok()?,
                json: serde_json::from_slice(e.get("json")?).ok()?,
            };
            cached.json.get("functions")?.as_array()?;
            Some(cached)
        }
        // A damaged entry is gone; the request is answered by a fresh run, which stores it anew.
        Lookup::Corrupt(_) | Lookup::Miss => None,
    }
}

/// Stores a result. Failing to write leaves the cache as it was: the request succeeded.
pub fn store(cache: &Cache, key: &Key, bitcode: &[u8], function_name: &str, json: &serde_json::Value) {
    let entry = Entry::default().with("bitcode", bitcode).with("function", function_name).with("json", json.to_string());
    let _ = cache.put(key, &entry);
}

/// The module's bitcode, for its key.
pub fn module_bitcode(m: LLVMModuleRef) -> Vec<u8> {
    unsafe {
        let buf = llvm_sys::bit_writer::LLVMWriteBitcodeToMemoryBuffer(m);
        let bytes = std::slice::from_raw_parts(LLVMGetBufferStart(buf) as *const u8, LLVMGetBufferSize(buf)).to_vec();
        LLVMDisposeMemoryBuffer(buf);
        bytes
    }
}

/// Marks a result's JSON as answered from the cache.
pub fn mark_hit(json: &mut serde_json::Value, key: &Key, lookup_ms: f64) {
    json["cache"] = serde_json::json!({ "hit": true, "key": key.hex(), "lookup_ms": lookup_ms });
}

fn code_of(prefix: &str, name: &str) -> Option<i64> {
    C_CONSTANTS.iter().find(|(n, _)| n.starts_with(prefix) && *n == name).map(|(_, v)| *v)
}

/// The `radx_function` array, from the `functions` of a result's JSON (which names every
/// field of it).
pub fn functions_from_json(json: &serde_json::Value) -> Option<(*mut RadxFunction, usize)> {
    let slots = |v: &serde_json::Value| -> Option<(*mut RadxSlot, usize)> {
        let mut out = Vec::new();
        for s in v.as_array()? {
            out.push(RadxSlot {
                role: code_of("RADX_SLOT_", s.get("role")?.as_str()?)? as RadxSlotRole,
                arg: s.get("arg").and_then(|a| a.as_u64()).map(|a| a as u32).unwrap_or(NO_ARG),
                lane: s.get("lane")?.as_u64()? as u32,
                llvm_type: c_string(s.get("type")?.as_str()?),
            });
        }
        let n = out.len();
        Some(if n == 0 { (std::ptr::null_mut(), 0) } else { (Box::into_raw(out.into_boxed_slice()) as *mut RadxSlot, n) })
    };
    let mut fns = Vec::new();
    for f in json.get("functions")?.as_array()? {
        let (params, num_params) = slots(f.get("params")?)?;
        let (results, num_results) = slots(f.get("results")?)?;
        fns.push(RadxFunction {
            name: c_string(f.get("name")?.as_str()?),
            mode: code_of("RADX_MODE_", f.get("mode")?.as_str()?)? as RadxMode,
            return_layout: match f.get("return_layout")?.as_str()? {
                "void" => RADX_RETURN_VOID,
                "value" => RADX_RETURN_VALUE,
                _ => RADX_RETURN_STRUCT,
            },
            llvm_type: c_string(f.get("type")?.as_str()?),
            params,
            num_params,
            results,
            num_results,
        });
    }
    let n = fns.len();
    Some(if n == 0 { (std::ptr::null_mut(), 0) } else { (Box::into_raw(fns.into_boxed_slice()) as *mut RadxFunction, n) })
}

/// Brings what a cached run added to the module into `m`, which is the module that run
/// started from. Returns `Ok(false)`, with `m` untouched, when the entry cannot be linked
/// (a construct the merge does not handle): the caller then differentiates as usual.
pub fn link_new_symbols(m: LLVMModuleRef, bitcode: &[u8]) -> Result<bool, Failure> {
    unsafe {
        let ctx = LLVMGetModuleContext(m);
        let buf = LLVMCreateMemoryBufferWithMemoryRangeCopy(bitcode.as_ptr() as *const _, bitcode.len(), b"radx-cache\0".as_ptr() as *const _);
        let mut src = std::ptr::null_mut();
        // The parser reads the buffer whole and does not keep it.
        let unreadable = llvm_sys::bit_reader::LLVMParseBitcodeInContext2(ctx, buf, &mut src) != 0;
        LLVMDisposeMemoryBuffer(buf);
        if unreadable {
            return Ok(false);
        }
        if LLVMGetFirstGlobalAlias(src).is_null() && LLVMGetFirstGlobalIFunc(src).is_null() && !has_comdats(src) && !has_unnamed(m) {
            let theirs: HashMap<String, Value> = ir::functions(m).into_iter().chain(ir::globals(m)).map(|v| (ir::name_of(v), v)).collect();
            // What the caller already has comes from the caller's module: drop the
            // entry's copies to declarations (available_externally keeps a function's
            // body but never wins over a definition), and let the linker match the
            // caller's local symbols by name for the moment of the link.
            for f in ir::functions(src) {
                if theirs.contains_key(&ir::name_of(f)) && !ir::is_declaration(f) {
                    LLVMSetLinkage(f, LLVMLinkage::LLVMAvailableExternallyLinkage);
                    LLVMSetVisibility(f, llvm_sys::LLVMVisibility::LLVMDefaultVisibility);
                }
            }
            for g in ir::globals(src) {
                if theirs.contains_key(&ir::name_of(g)) {
                    LLVMSetInitializer(g, std::ptr::null_mut());
                    LLVMSetLinkage(g, LLVMLinkage::LLVMExternalLinkage);
                    LLVMSetVisibility(g, llvm_sys::LLVMVisibility::LLVMDefaultVisibility);
                }
            }
            let mut restore = Vec::new();
            for &v in theirs.values() {
                let l = LLVMGetLinkage(v);
                if matches!(l, LLVMLinkage::LLVMInternalLinkage | LLVMLinkage::LLVMPrivateLinkage) {
                    restore.push((v, l, LLVMGetVisibility(v)));
                    LLVMSetLinkage(v, LLVMLinkage::LLVMExternalLinkage);
                }
            }
            let failed = llvm_sys::linker::LLVMLinkModules2(m, src) != 0;
            for (v, l, vis) in restore {
                LLVMSetLinkage(v, l);
                LLVMSetVisibility(v, vis);
            }
            // The declarations the linker made of the entry's copies are the caller's own
            // symbols again; nothing else in the caller's module changed.
            return if failed { Err(Failure::api(RADX_ERR_INTERNAL, "linking a cached derivative into the module failed").hint("set RADX_CACHE=0 and report it")) } else { Ok(true) };
        }
        LLVMDisposeModule(src);
        Ok(false)
    }
}

fn has_comdats(m: LLVMModuleRef) -> bool {
    ir::functions(m).into_iter().chain(ir::globals(m)).any(|v| unsafe { !llvm_sys::comdat::LLVMGetComdat(v).is_null() })
}

/// Symbols without names cannot be matched between the two modules.
fn has_unnamed(m: LLVMModuleRef) -> bool {
    ir::functions(m).into_iter().chain(ir::globals(m)).any(|v| ir::name_of(v).is_empty())
}
