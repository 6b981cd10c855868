//! The derivative cache through libradx (`RADX_FLAG_CACHE`): a second identical request,
//! from the bitcode door or the in-process door, is answered from disk with the same
//! module and signatures; what it returns runs and gives the right numbers; a damaged
//! entry is rebuilt, never used; requests without the flag do not touch the cache.

mod common;
use common::*;
use inkwell::context::Context;
use inkwell::memory_buffer::MemoryBuffer;
use radx::*;
use std::ffi::{c_void, CString};
use std::path::PathBuf;

const MODEL: &str = r#"
#include <math.h>
double f(double x, double y) { return x * x * y + sin(x); }
void scale(double *v, int n, double a) { for (int i = 0; i < n; i++) v[i] = v[i] * a * a + log1p(v[i] * v[i]); }
__attribute__((noinline)) static double helper(double x) { return x * exp(x); }
double uses_helper(double x) { return helper(x) * x; }
"#;

/// One directory for the whole test binary: the variable is process-wide. The tests count
/// entries, so they take turns.
fn cache_dir() -> (PathBuf, std::sync::MutexGuard<'static, ()>) {
    static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    (dir(), turn)
}

fn dir() -> PathBuf {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let d = scratch("cache");
        let _ = std::fs::remove_dir_all(&d);
        std::env::set_var("RADX_CACHE_DIR", &d);
        std::env::remove_var("RADX_CACHE");
        d
    })
    .clone()
}

fn cached(flags: u32, r: RadxRequest) -> RadxRequest {
    RadxRequest { flags, ..r }
}

fn hit(r: &Res) -> bool {
    let j: serde_json::Value = serde_json::from_str(&r.report_json).unwrap();
    j["cache"]["hit"].as_bool() == Some(true)
}

fn entries() -> Vec<PathBuf> {
    std::fs::read_dir(dir()).map(|d| d.flatten().map(|e| e.path()).filter(|p| p.extension().map(|x| x == "radx").unwrap_or(false)).collect()).unwrap_or_default()
}

#[repr(C)]
#[derive(Debug, Clone, Copy)]
struct D2 {
    a: f64,
    b: f64,
}

fn check_combined_f(bc: &[u8], name: &str) {
    with_jit(bc, name, |a| {
        let comb: extern "C" fn(f64, f64, f64) -> D2 = unsafe { std::mem::transmute(a) };
        let (x, y) = (0.7, -1.3);
        let g = comb(x, y, 1.0);
        assert!(close(g.a, 2.0 * x * y + x.cos()) && close(g.b, x * x), "{g:?}");
    });
}

#[test]
fn the_bitcode_door_answers_a_repeated_request_from_the_cache() {
    let _dir = cache_dir();
    let bc = c_to_bitcode(MODEL, &["-O2"]);
    let f = CString::new("f").unwrap();
    let r = cached(RADX_FLAG_CACHE as u32, req(&f, RADX_MODE_REVERSE_COMBINED, &[], RADX_ACTIVITY_DEFAULT, false));
    let before = entries().len();
    let cold = request(&bc, &r).unwrap();
    assert!(!hit(&cold));
    assert_eq!(entries().len(), before + 1, "the result is stored");
    let warm = request(&bc, &r).unwrap();
    assert!(hit(&warm), "{}", warm.report_json);
    assert_eq!(warm.bitcode, cold.bitcode);
    assert_eq!(warm.function_name, cold.function_name);
    assert_eq!(format!("{:?}", warm.functions), format!("{:?}", cold.functions));
    assert_eq!(warm.tape_type, cold.tape_type);
    check_combined_f(&warm.bitcode, cold.function_name.as_deref().unwrap());

    // Another request on the same module is another entry.
    let fwd = cached(RADX_FLAG_CACHE as u32, req(&f, RADX_MODE_FORWARD, &[], RADX_ACTIVITY_DEFAULT, false));
    assert!(!hit(&request(&bc, &fwd).unwrap()));
    assert!(hit(&request(&bc, &fwd).unwrap()));

    // Without the flag the cache is neither read nor written.
    let n = entries().len();
    let plain = request(&bc, &req(&f, RADX_MODE_REVERSE_COMBINED, &[], RADX_ACTIVITY_DEFAULT, false)).unwrap();
    assert!(!hit(&plain));
    assert_eq!(entries().len(), n);
}

#[test]
fn a_damaged_entry_is_rebuilt_not_loaded() {
    let _dir = cache_dir();
    let bc = c_to_bitcode(MODEL, &["-O1"]);
    let scale = CString::new("scale").unwrap();
    let acts = [RADX_ACTIVITY_DUP, RADX_ACTIVITY_CONST, RADX_ACTIVITY_ACTIVE];
    let r = cached(RADX_FLAG_CACHE as u32, req(&scale, RADX_MODE_REVERSE_GRADIENT, &acts, RADX_ACTIVITY_DEFAULT, false));
    let before: Vec<PathBuf> = entries();
    let cold = request(&bc, &r).unwrap();
    let new: Vec<PathBuf> = entries().into_iter().filter(|p| !before.contains(p)).collect();
    assert_eq!(new.len(), 1);
    let whole = std::fs::read(&new[0]).unwrap();
    for damage in [whole[..whole.len() / 2].to_vec(), { let mut w = whole.clone(); let i = w.len() - 7; w[i] ^= 0x40; w }] {
        std::fs::write(&new[0], &damage).unwrap();
        let again = request(&bc, &r).unwrap();
        assert!(!hit(&again), "a damaged entry must not be used");
        assert_eq!(again.bitcode, cold.bitcode);
        let rewritten = std::fs::read(&new[0]).unwrap();
        assert!(rewritten != damage && rewritten.len() > whole.len() / 2, "the entry is written again");
    }
    let warm = request(&bc, &r).unwrap();
    assert!(hit(&warm));
    with_jit_many(&warm.bitcode, &["augmented_scale", "reverse_scale"], |a| {
        let aug: extern "C" fn(*mut f64, *mut f64, i32, f64) -> *mut c_void = unsafe { std::mem::transmute(a[0]) };
        let rev: extern "C" fn(*mut f64, *mut f64, i32, f64, *mut c_void) -> f64 = unsafe { std::mem::transmute(a[1]) };
        let (mut v, mut dv) = ([0.5, -2.0], [1.0, 1.0]);
        let tape = aug(v.as_mut_ptr(), dv.as_mut_ptr(), 2, 1.5);
        let da = rev(v.as_mut_ptr(), dv.as_mut_ptr(), 2, 1.5, tape);
        assert!(close(da, (0.5 - 2.0) * 2.0 * 1.5), "{da}");
    });
}

#[test]
fn the_in_process_door_links_a_cached_derivative_into_a_fresh_module() {
    let _dir = cache_dir();
    let bc = c_to_bitcode(MODEL, &["-O2", "-g"]);
    let f = CString::new("f").unwrap();
    let uses = CString::new("uses_helper").unwrap();
    let requests = [
        cached(RADX_FLAG_CACHE as u32, req(&f, RADX_MODE_REVERSE_COMBINED, &[], RADX_ACTIVITY_DEFAULT, false)),
        cached(RADX_FLAG_CACHE as u32, req(&uses, RADX_MODE_FORWARD, &[], RADX_ACTIVITY_DEFAULT, false)),
        cached(RADX_FLAG_CACHE as u32, req(&uses, RADX_MODE_REVERSE_COMBINED, &[], RADX_ACTIVITY_DEFAULT, false)),
    ];
    // Each request on a fresh module: the first process would differentiate, the next
    // (here, the next module with the same bitcode) finds it.
    let mut cold_text = Vec::new();
    for (i, r) in requests.iter().enumerate() {
        let ctx = Context::create();
        let m = ctx.create_module_from_ir(MemoryBuffer::create_from_memory_range_copy(&bc, "caller")).unwrap();
        let out = request_module(m.as_mut_ptr(), r, std::ptr::null()).unwrap();
        assert!(!hit(&out), "request {i} is new");
        cold_text.push((out.function_name.clone().unwrap(), format!("{:?}", out.functions), m.print_to_string().to_string()));
    }
    for (i, r) in requests.iter().enumerate() {
        let ctx = Context::create();
        let m = ctx.create_module_from_ir(MemoryBuffer::create_from_memory_range_copy(&bc, "caller")).unwrap();
        let out = request_module(m.as_mut_ptr(), r, std::ptr::null()).unwrap();
        assert!(hit(&out), "request {i} comes from the cache: {}", out.report_json);
        assert!(out.bitcode.is_empty());
        m.verify().expect("the module with a linked derivative verifies");
        let (name, sigs, text) = &cold_text[i];
        assert_eq!(out.function_name.as_ref(), Some(name));
        assert_eq!(&format!("{:?}", out.functions), sigs);
        // The same functions, with the same bodies, as the run that made the entry.
        assert_eq!(sorted_functions(&m.print_to_string().to_string()), sorted_functions(text), "request {i}");
        let helper_local = m.get_function("helper").map(|h| h.get_linkage() == inkwell::module::Linkage::Internal);
        assert_ne!(helper_local, Some(false), "the caller's local symbols stay local");
        let bc2 = m.write_bitcode_to_memory().as_slice().to_vec();
        match i {
            0 => check_combined_f(&bc2, name),
            1 => with_jit(&bc2, name, |a| {
                let fwd: extern "C" fn(f64, f64) -> f64 = unsafe { std::mem::transmute(a) };
                let x = 0.4;
                assert!(close(fwd(x, 1.0), (2.0 * x + x * x) * x.exp()), "{}", fwd(x, 1.0));
            }),
            _ => with_jit(&bc2, name, |a| {
                let rev: extern "C" fn(f64, f64) -> f64 = unsafe { std::mem::transmute(a) };
                let x = 0.4;
                assert!(close(rev(x, 1.0), (2.0 * x + x * x) * x.exp()), "{}", rev(x, 1.0));
            }),
        }
    }
}

/// A module's function definitions, each as its text, in name order (the linker may order
/// them differently).
fn sorted_functions(text: &str) -> Vec<String> {
    let mut fns: Vec<String> = Vec::new();
    let mut cur: Option<String> = None;
    for line in text.lines() {
        if line.starts_with("define ") {
            cur = Some(String::new());
        }
        if let Some(c) = cur.as_mut() {
            c.push_str(&without_metadata_numbers(line));
            c.push('\n');
            if line == "}" {
                fns.push(cur.take().unwrap());
            }
        }
    }
    fns.sort();
    fns
}

/// Metadata numbering differs between two modules with the same content.
fn without_metadata_numbers(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut after_bang = false;
    for ch in line.chars() {
        if after_bang && ch.is_ascii_digit() {
            continue;
        }
        after_bang = ch == '!';
        out.push(ch);
    }
    out
}
