//! `radx_check_program`: libradx's door to `radx check`, on a correct program and on one
//! with a wrong custom rule, and its refusals.

mod common;
use common::*;
use radx::*;
use std::ffi::CStr;

fn check(modules: &[Vec<u8>]) -> (RadxStatus, Option<serde_json::Value>, i32) {
    let ptrs: Vec<*const u8> = modules.iter().map(|m| m.as_ptr()).collect();
    let lens: Vec<usize> = modules.iter().map(|m| m.len()).collect();
    let mut report = std::ptr::null_mut();
    let mut failed = -1;
    let mut err = std::ptr::null_mut();
    unsafe {
        let st = radx_check_program(ptrs.as_ptr(), lens.as_ptr(), modules.len(), std::ptr::null(), 7, &mut report, &mut failed, &mut err);
        let json = (!report.is_null()).then(|| serde_json::from_str(CStr::from_ptr(report).to_str().unwrap()).unwrap());
        radx_string_free(report);
        radx_error_free(err);
        (st, json, failed)
    }
}

fn program(name: &str) -> Vec<u8> {
    let src = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../radx-cli/tests/c/check").join(name)).unwrap();
    c_to_bitcode(&src, &["-O2", "-g"])
}

#[test]
fn a_correct_program_passes_and_a_wrong_rule_fails() {
    let (st, json, failed) = check(&[program("correct.c")]);
    assert_eq!(st, RADX_OK);
    assert_eq!(failed, 0);
    let reqs = json.unwrap()["requests"].as_array().unwrap().clone();
    assert_eq!(reqs.len(), 3);
    assert!(reqs.iter().all(|r| r["status"] == "ok"), "{reqs:?}");

    let (st, json, failed) = check(&[program("wrong_forward_rule.c")]);
    assert_eq!(st, RADX_OK);
    assert_eq!(failed, 1);
    let j = json.unwrap();
    assert_eq!(j["failed"], true);
    assert!(j["requests"][0]["first_wrong_tangent"].as_str().unwrap().contains("@cube"), "{j}");
}

#[test]
fn misuse_is_refused() {
    let (st, json, _) = check(&[b"not a module".to_vec()]);
    assert_eq!(st, RADX_ERR_MALFORMED_INPUT);
    assert!(json.is_none());
    let mut report = std::ptr::null_mut();
    let st = unsafe { radx_check_program(std::ptr::null(), std::ptr::null(), 0, std::ptr::null(), 0, &mut report, std::ptr::null_mut(), std::ptr::null_mut()) };
    assert_eq!(st, RADX_ERR_INVALID_ARGUMENT);
    assert!(report.is_null());
}
