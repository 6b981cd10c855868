//! `radx check` on correct programs (every request passes), on deliberately wrong custom
//! rules (it must catch them, and point at the line of the call of the wrong rule), on a
//! request the program never reaches and on one it cannot perturb.

use std::path::PathBuf;
use std::process::{Command, Output};

const RADX: &str = env!("CARGO_BIN_EXE_radx");

fn program(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/c/check").join(name)
}

fn check(name: &str, extra: &[&str]) -> (Output, Vec<serde_json::Value>) {
    let out = Command::new(RADX).arg("check").arg(program(name)).arg("--json").args(extra).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    let rows = String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}\n{stderr}"))).collect();
    (out, rows)
}

fn line_of_here(name: &str) -> usize {
    std::fs::read_to_string(program(name)).unwrap().lines().position(|l| l.contains("/* HERE */")).unwrap() + 1
}

#[test]
fn a_correct_program_passes_every_check() {
    let (out, reqs) = check("correct.c", &[]);
    assert_eq!(out.status.code(), Some(0), "{reqs:?}");
    assert_eq!(reqs.len(), 3);
    for r in &reqs {
        assert_eq!(r["status"], "ok", "{r}");
        let rows = r["rows"].as_array().unwrap();
        assert!(!rows.is_empty());
        for row in rows {
            assert!(row["max_rel_error"].as_f64().unwrap() < 1e-9, "{row}");
        }
    }
    // Reverse requests get the dot-product test against forward mode.
    assert!(reqs[0]["rows"].as_array().unwrap().iter().any(|r| r["check"] == "dot product"));
    assert_eq!(reqs[0]["kind"], "reverse");
    assert_eq!(reqs[1]["kind"], "forward");
    // The in-place `scale`: three inputs that are also its outputs.
    assert_eq!((reqs[2]["inputs"].as_u64(), reqs[2]["outputs"].as_u64()), (Some(3), Some(3)));
}

#[test]
fn a_wrong_forward_rule_is_caught_and_located() {
    let (out, reqs) = check("wrong_forward_rule.c", &[]);
    assert_eq!(out.status.code(), Some(1));
    let here = format!("wrong_forward_rule.c:{}:", line_of_here("wrong_forward_rule.c"));
    let fwd = &reqs[0];
    assert_eq!(fwd["status"], "mismatch", "{fwd}");
    assert!(fwd["rows"].as_array().unwrap().iter().all(|r| r["verdict"] == "MISMATCH"));
    assert!(fwd["first_wrong_tangent"].as_str().unwrap().contains(&here), "{fwd}");
    assert!(fwd["first_wrong_tangent"].as_str().unwrap().contains("@cube"), "{fwd}");
    // The reverse derivative uses the (right) gradient rule: finite differences agree, the
    // dot-product test against the wrong forward rule does not.
    let rev = &reqs[1];
    assert_eq!(rev["status"], "mismatch");
    for row in rev["rows"].as_array().unwrap() {
        let expect = if row["check"] == "dot product" { "MISMATCH" } else { "ok" };
        assert_eq!(row["verdict"], expect, "{row}");
    }
}

#[test]
fn a_wrong_reverse_rule_is_caught() {
    let (out, reqs) = check("wrong_reverse_rule.c", &[]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(reqs[0]["status"], "ok", "the forward rule is right: {}", reqs[0]);
    let rev = &reqs[1];
    assert_eq!(rev["status"], "mismatch");
    assert!(rev["rows"].as_array().unwrap().iter().filter(|r| r["check"] != "dot product").all(|r| r["verdict"] == "MISMATCH"), "{rev}");
    assert!(rev["bisect_note"].as_str().unwrap().contains("reverse sweep"), "{rev}");
}

#[test]
fn unreached_and_unperturbable_requests_are_reported_not_failed() {
    let (out, reqs) = check("unreached.c", &[]);
    assert_eq!(out.status.code(), Some(0), "{reqs:?}");
    let status: Vec<&str> = reqs.iter().map(|r| r["status"].as_str().unwrap()).collect();
    assert_eq!(status, ["ok", "not reached", "skipped"], "{reqs:?}");
    assert!(reqs[2]["reason"].as_str().unwrap().contains("reads pointers"), "{}", reqs[2]);
}

#[test]
fn a_program_that_crashes_is_not_a_pass() {
    let (out, reqs) = check("crashes.c", &[]);
    assert_eq!(out.status.code(), Some(2), "{reqs:?}");
    assert_eq!(reqs[0]["status"], "ok", "{}", reqs[0]);
    assert!(reqs[1]["reason"].as_str().unwrap().contains("crashed (signal 11)"), "{}", reqs[1]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("the program crashed"));
}

#[test]
fn the_table_names_every_request_and_the_verdicts() {
    let out = Command::new(RADX).arg("check").arg(program("wrong_forward_rule.c")).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1));
    for want in ["forward derivative of `f`", "MISMATCH", "max rel error", "worst index", "first value whose tangent disagrees", "2 request(s): 0 ok, 2 mismatch"] {
        assert!(text.contains(want), "`{want}` missing:\n{text}");
    }
}
