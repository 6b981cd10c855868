//! The in-process door (`radx_differentiate_module`): derivatives added to the caller's
//! module in place (JIT-run), the libLLVM identity check, the module left intact on
//! failure, and concurrent calls on modules of distinct contexts.

mod common;
use common::*;
use inkwell::context::Context;
use inkwell::memory_buffer::MemoryBuffer;
use inkwell::module::Module;
use radx::*;
use std::ffi::{c_void, CString};
use std::os::raw::c_uint;

const MODEL: &str = r#"
#include <math.h>
double f(double x, double y) { return x * x * y + sin(x); }
void scale(double *v, int n, double a) { for (int i = 0; i < n; i++) v[i] = v[i] * a * a + log1p(v[i] * v[i]); }
static double helper(double x) { return x * exp(x); }
double mystery(double);
double uses_mystery(double x) { return helper(x) + mystery(x); }
"#;

fn module_in<'c>(ctx: &'c Context, bc: &[u8]) -> Module<'c> {
    ctx.create_module_from_ir(MemoryBuffer::create_from_memory_range_copy(bc, "caller")).expect("parses")
}

fn names(m: &Module) -> Vec<String> {
    m.get_functions().map(|f| f.get_name().to_str().unwrap().to_string()).collect()
}

fn bitcode_of(m: &Module) -> Vec<u8> {
    m.write_bitcode_to_memory().as_slice().to_vec()
}

#[repr(C)]
#[derive(Debug, Clone, Copy)]
struct D2 {
    a: f64,
    b: f64,
}

/// Forward, combined and split derivatives in the caller's module, checked by JIT.
fn differentiate_in_place_and_check(bc: &[u8]) {
    let ctx = Context::create();
    let m = module_in(&ctx, bc);
    let f = CString::new("f").unwrap();
    let fwd = request_module(m.as_mut_ptr(), &req(&f, RADX_MODE_FORWARD, &[], RADX_ACTIVITY_DEFAULT, false), std::ptr::null()).unwrap();
    assert!(fwd.bitcode.is_empty(), "the in-process door returns no bitcode");
    let comb = request_module(m.as_mut_ptr(), &req(&f, RADX_MODE_REVERSE_COMBINED, &[], RADX_ACTIVITY_DEFAULT, false), std::ptr::null()).unwrap();
    let scale = CString::new("scale").unwrap();
    let acts = [RADX_ACTIVITY_DUP, RADX_ACTIVITY_CONST, RADX_ACTIVITY_ACTIVE];
    let split = request_module(m.as_mut_ptr(), &req(&scale, RADX_MODE_REVERSE_GRADIENT, &acts, RADX_ACTIVITY_DEFAULT, false), std::ptr::null()).unwrap();
    assert_eq!(split.function_name.as_deref(), Some("reverse_scale"));
    assert_eq!(split.tape_type.as_deref(), Some("opaque pointer"));
    let all = names(&m);
    for n in ["fwddiffef", "diffef", "augmented_scale", "reverse_scale"] {
        assert!(all.iter().any(|a| a == n), "{n} is in the caller's module: {all:?}");
    }
    m.verify().expect("the caller's module verifies");
    let bc = bitcode_of(&m);
    with_jit_many(&bc, &["fwddiffef", "diffef", "augmented_scale", "reverse_scale"], |a| {
        let fwd: extern "C" fn(f64, f64, f64, f64) -> f64 = unsafe { std::mem::transmute(a[0]) };
        let comb: extern "C" fn(f64, f64, f64) -> D2 = unsafe { std::mem::transmute(a[1]) };
        let aug: extern "C" fn(*mut f64, *mut f64, i32, f64) -> *mut c_void = unsafe { std::mem::transmute(a[2]) };
        let rev: extern "C" fn(*mut f64, *mut f64, i32, f64, *mut c_void) -> f64 = unsafe { std::mem::transmute(a[3]) };
        let (x, y) = (0.7, -1.3);
        let (gx, gy) = (2.0 * x * y + f64::cos(x), x * x);
        assert!(close(fwd(x, 1.0, y, 0.0), gx) && close(fwd(x, 0.0, y, 1.0), gy));
        let g = comb(x, y, 1.0);
        assert!(close(g.a, gx) && close(g.b, gy), "{g:?}");
        let (mut v, mut dv) = ([0.5, -2.0], [1.0, 1.0]);
        let tape = aug(v.as_mut_ptr(), dv.as_mut_ptr(), 2, 1.5);
        let da = rev(v.as_mut_ptr(), dv.as_mut_ptr(), 2, 1.5, tape);
        assert!(close(da, (0.5 - 2.0) * 2.0 * 1.5), "{da}");
    });
    let _ = (fwd, comb);
}

#[test]
fn derivatives_are_added_to_the_callers_module() {
    differentiate_in_place_and_check(&c_to_bitcode(MODEL, &["-O2"]));
}

/// Some function that is no libLLVM's.
unsafe extern "C" fn not_an_llvm_function(a: *mut c_uint, b: *mut c_uint, c: *mut c_uint) {
    (*a, *b, *c) = (15, 0, 7);
}

/// A shared object exporting `LLVMGetVersion` (reporting `version`) and `LLVMContextCreate`,
/// as another libLLVM does: what a caller with a second copy of LLVM, or another LLVM, hands
/// over. Returns the address of `symbol` in it.
fn fake_libllvm(tag: &str, version: (u32, u32, u32), symbol: &str) -> usize {
    let d = scratch(tag);
    let c = d.join("fake_llvm.c");
    std::fs::write(
        &c,
        format!(
            "void LLVMGetVersion(unsigned *a, unsigned *b, unsigned *c) {{ *a = {}; *b = {}; *c = {}; }}\nvoid *LLVMContextCreate(void) {{ return 0; }}\n",
            version.0, version.1, version.2
        ),
    )
    .unwrap();
    let so = d.join("libLLVM-fake.so");
    let out = std::process::Command::new(clang()).args(["-shared", "-fPIC", "-o"]).arg(&so).arg(&c).output().expect("run clang");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    dlsym_in(&so.to_string_lossy(), symbol).expect("the fake libLLVM loads")
}

/// `symbol` of the shared object at `path`, loaded privately (None when it cannot load).
fn dlsym_in(path: &str, symbol: &str) -> Option<usize> {
    let path = CString::new(path).unwrap();
    let symbol = CString::new(symbol).unwrap();
    unsafe {
        let h = libc::dlopen(path.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL);
        if h.is_null() {
            return None;
        }
        let p = libc::dlsym(h, symbol.as_ptr());
        (!p.is_null()).then_some(p as usize)
    }
}

fn as_get_version(addr: usize) -> RadxLlvmGetVersionFn {
    Some(unsafe { std::mem::transmute::<usize, unsafe extern "C" fn(*mut c_uint, *mut c_uint, *mut c_uint)>(addr) })
}

/// What a caller on LLVM `major` passes: its `LLVMGetVersion`, or on 15 `LLVMContextCreate`.
fn identity_of(major: u32) -> &'static str {
    if major >= 16 {
        "LLVMGetVersion"
    } else {
        "LLVMContextCreate"
    }
}

#[test]
fn another_llvm_is_refused_before_the_module_is_touched() {
    let bc = c_to_bitcode(MODEL, &["-O2"]);
    let ctx = Context::create();
    let m = module_in(&ctx, &bc);
    let before = names(&m);
    let f = CString::new("f").unwrap();
    let r = req(&f, RADX_MODE_FORWARD, &[], RADX_ACTIVITY_DEFAULT, false);
    let (mut a, mut b, mut c) = (0, 0, 0);
    unsafe { radx_llvm_version(&mut a, &mut b, &mut c) };
    let major = radx_core::ir::llvm::MAJOR;
    assert_eq!(a, major, "libradx reports the LLVM it is built for");
    let ours = format!("{a}.{b}.{c}");
    let refused = |get_version: RadxLlvmGetVersionFn| {
        let (s, e) = request_module_with(m.as_mut_ptr(), get_version, &r, std::ptr::null()).unwrap_err();
        assert_eq!(names(&m), before, "nothing of the module is touched");
        (s, e[0].message.clone(), e[0].hint.clone().unwrap_or_default())
    };

    // Another version's LLVMGetVersion: both versions named, and the way out.
    let other = if major == 15 { (16, 0, 6) } else { (15, 0, 7) };
    let (s, msg, hint) = refused(as_get_version(fake_libllvm("other-version", other, "LLVMGetVersion")));
    assert_eq!(s, RADX_ERR_LLVM_MISMATCH, "{msg}");
    assert!(msg.contains(&format!("LLVM {}.{}.{}", other.0, other.1, other.2)) && msg.contains(&ours) && msg.contains("libLLVM-fake.so"), "{msg}");
    assert!(hint.contains("radx_differentiate_ex") && hint.contains("RADX_LLVM="), "{hint}");
    // The same version from another file: a second copy of LLVM.
    let (s, msg, _) = refused(as_get_version(fake_libllvm("same-version", (a, b, c), identity_of(major))));
    assert_eq!(s, RADX_ERR_LLVM_MISMATCH, "{msg}");
    assert!(msg.contains("two copies"), "{msg}");
    if major >= 16 {
        // What an LLVM 15 caller passes.
        let (s, msg, _) = refused(as_get_version(fake_libllvm("llvm15-caller", (15, 0, 7), "LLVMContextCreate")));
        assert_eq!(s, RADX_ERR_LLVM_MISMATCH, "{msg}");
        assert!(msg.contains("LLVMContextCreate") && msg.contains("LLVM 15") && msg.contains(&ours), "{msg}");
    }
    // The real libLLVMs of the other versions, where they are installed (CI installs all).
    let mut real = 0;
    for &other in radx_core::ir::llvm::SUPPORTED_MAJORS.iter().filter(|&&v| v != major) {
        let path = format!("/usr/lib/llvm-{other}/lib/libLLVM.so");
        let Some(addr) = dlsym_in(&path, identity_of(other)) else {
            eprintln!("skipped the real LLVM {other}: {path} is not installed");
            continue;
        };
        real += 1;
        let (s, msg, _) = refused(as_get_version(addr));
        assert_eq!(s, RADX_ERR_LLVM_MISMATCH, "{msg}");
        assert!(msg.contains(&format!("LLVM {other}")) && msg.contains(&ours), "{msg}");
    }
    eprintln!("refused the real libLLVM of {real} other version(s)");

    let (s, msg, _) = refused(Some(not_an_llvm_function));
    assert_eq!(s, RADX_ERR_INVALID_ARGUMENT, "{msg}");
    assert!(msg.contains("not at") && msg.contains(identity_of(major)), "{msg}");
    let (s, _, hint) = refused(None);
    assert_eq!(s, RADX_ERR_INVALID_ARGUMENT);
    assert!(hint.contains(identity_of(major)), "{hint}");
    let (s, _) = request_module(std::ptr::null_mut(), &r, std::ptr::null()).unwrap_err();
    assert_eq!(s, RADX_ERR_INVALID_ARGUMENT);
    assert_eq!(radx_abi_version(), RADX_ABI_VERSION);
}

#[test]
fn a_failed_request_leaves_the_module_as_it_was() {
    let bc = c_to_bitcode(MODEL, &["-O0"]);
    let ctx = Context::create();
    let m = module_in(&ctx, &bc);
    let before = names(&m);
    let text_before = m.print_to_string().to_string();
    let name = CString::new("uses_mystery").unwrap();
    for mode in [RADX_MODE_FORWARD, RADX_MODE_REVERSE_COMBINED, RADX_MODE_REVERSE_PRIMAL] {
        let (s, e) = request_module(m.as_mut_ptr(), &req(&name, mode, &[], RADX_ACTIVITY_DEFAULT, false), std::ptr::null()).unwrap_err();
        assert_eq!(s, RADX_ERR_NO_RULE, "{e:?}");
        assert!(e[0].message.contains("mystery"), "{e:?}");
        assert_eq!(names(&m), before, "mode {mode}: the module keeps exactly its functions");
        assert_eq!(m.print_to_string().to_string(), text_before, "mode {mode}: and their bodies");
    }
    m.verify().unwrap();
    // A module that does not verify (a block without a terminator) is refused.
    let bad_m = ctx.create_module("bad");
    let f64t = ctx.f64_type();
    let func = bad_m.add_function("f", f64t.fn_type(&[f64t.into()], false), None);
    ctx.append_basic_block(func, "entry");
    let f = CString::new("f").unwrap();
    let (s, _) = request_module(bad_m.as_mut_ptr(), &req(&f, RADX_MODE_FORWARD, &[], 0, false), std::ptr::null()).unwrap_err();
    assert_eq!(s, RADX_ERR_MALFORMED_INPUT);
}

#[test]
fn concurrent_calls_on_distinct_contexts() {
    let bc = c_to_bitcode(MODEL, &["-O2"]);
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let bc = bc.clone();
            std::thread::spawn(move || {
                for i in 0..3 {
                    if (t + i) % 2 == 0 {
                        differentiate_in_place_and_check(&bc);
                    } else {
                        // The bitcode door at the same time.
                        let f = CString::new("f").unwrap();
                        let r = request(&bc, &req(&f, RADX_MODE_REVERSE_COMBINED, &[], 0, true)).unwrap();
                        assert_eq!(r.functions[0].results.len(), 3);
                        let (s, _) = request(&bc, &req(&f, RADX_MODE_REVERSE_COMBINED, &[RADX_ACTIVITY_DUP, 0], 0, false)).unwrap_err();
                        assert_eq!(s, RADX_ERR_BAD_REQUEST);
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("no thread panics");
    }
}
