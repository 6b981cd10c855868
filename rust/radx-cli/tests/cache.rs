//! `radx opt --cache`: the second run of the same input is read from the cache and writes
//! the same output; concurrent processes filling one entry never see a partial one; a
//! damaged entry is rebuilt; `RADX_CACHE=0` turns the cache off.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const RADX: &str = env!("CARGO_BIN_EXE_radx");

const PROGRAM: &str = r#"
#include <math.h>
double __enzyme_autodiff(void *, ...);
double f(double *x, int n) { double s = 0; for (int i = 0; i < n; i++) s += sin(x[i]) * x[i]; return s; }
void grad(double *x, double *dx, int n) { __enzyme_autodiff((void *)f, x, dx, n); }
"#;

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("radx-cli-cache-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn bitcode(dir: &Path) -> PathBuf {
    std::fs::write(dir.join("p.c"), PROGRAM).unwrap();
    let clang = radx_core::ir::llvm::tool("clang");
    let bc = dir.join("p.bc");
    let st = Command::new(&clang).args(["-O2", "-c", "-emit-llvm", "-o"]).arg(&bc).arg(dir.join("p.c")).status().expect("clang runs");
    assert!(st.success());
    bc
}

fn opt(dir: &Path, bc: &Path, out: &str, cache: &Path, env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(RADX);
    c.arg("opt").arg(bc).arg("-o").arg(dir.join(out)).arg("--cache-dir").arg(cache).arg("--stats").arg("--stats-json").arg(dir.join(format!("{out}.json")));
    for (k, v) in env {
        c.env(k, v);
    }
    let o = c.output().unwrap();
    assert!(o.status.success(), "radx opt failed: {}", String::from_utf8_lossy(&o.stderr));
    o
}

fn was_hit(o: &Output) -> bool {
    String::from_utf8_lossy(&o.stderr).contains("cache: hit")
}

fn entries(cache: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(cache).map(|d| d.flatten().map(|e| e.path()).filter(|p| p.extension().map(|x| x == "radx").unwrap_or(false)).collect()).unwrap_or_default()
}

#[test]
fn a_second_run_comes_from_the_cache_with_the_same_output() {
    let dir = scratch("repeat");
    let bc = bitcode(&dir);
    let cache = dir.join("cache");
    let cold = opt(&dir, &bc, "cold.ll", &cache, &[]);
    assert!(!was_hit(&cold));
    let warm = opt(&dir, &bc, "warm.ll", &cache, &[]);
    assert!(was_hit(&warm), "{}", String::from_utf8_lossy(&warm.stderr));
    assert_eq!(std::fs::read(dir.join("cold.ll")).unwrap(), std::fs::read(dir.join("warm.ll")).unwrap());
    let j: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("warm.ll.json")).unwrap()).unwrap();
    assert_eq!(j["cache"]["hit"], true);
    assert!(j["generated"].as_array().map(|g| !g.is_empty()).unwrap_or(false), "the stats of the run that made the entry");
    // The output form is part of the key: bitcode is another entry.
    assert!(!was_hit(&opt(&dir, &bc, "cold.bc", &cache, &[])));
    assert_eq!(entries(&cache).len(), 2);
    // RADX_CACHE=0 wins over --cache-dir.
    assert!(!was_hit(&opt(&dir, &bc, "off.ll", &cache, &[("RADX_CACHE", "0")])));
}

#[test]
fn a_damaged_entry_is_rebuilt() {
    let dir = scratch("damaged");
    let bc = bitcode(&dir);
    let cache = dir.join("cache");
    opt(&dir, &bc, "a.ll", &cache, &[]);
    let e = entries(&cache).pop().unwrap();
    let whole = std::fs::read(&e).unwrap();
    std::fs::write(&e, &whole[..whole.len() - 100]).unwrap();
    let again = opt(&dir, &bc, "b.ll", &cache, &[]);
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(!was_hit(&again) && stderr.contains("was damaged"), "{stderr}");
    assert_eq!(std::fs::read(dir.join("a.ll")).unwrap(), std::fs::read(dir.join("b.ll")).unwrap());
    assert!(was_hit(&opt(&dir, &bc, "c.ll", &cache, &[])));
}

#[test]
fn concurrent_processes_share_one_cache() {
    let dir = scratch("concurrent");
    let bc = bitcode(&dir);
    let cache = dir.join("cache");
    let reference = {
        let d = dir.join("ref");
        std::fs::create_dir_all(&d).unwrap();
        let o = Command::new(RADX).arg("opt").arg(&bc).arg("-o").arg(d.join("r.ll")).output().unwrap();
        assert!(o.status.success());
        std::fs::read(d.join("r.ll")).unwrap()
    };
    for round in 0..3 {
        let children: Vec<_> = (0..6)
            .map(|i| {
                Command::new(RADX)
                    .arg("opt")
                    .arg(&bc)
                    .arg("-o")
                    .arg(dir.join(format!("out{round}_{i}.ll")))
                    .arg("--cache-dir")
                    .arg(&cache)
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for c in children {
            let o = c.wait_with_output().unwrap();
            let stderr = String::from_utf8_lossy(&o.stderr);
            assert!(o.status.success() && !stderr.contains("damaged"), "{stderr}");
        }
        for i in 0..6 {
            assert_eq!(std::fs::read(dir.join(format!("out{round}_{i}.ll"))).unwrap(), reference, "round {round}, process {i}");
        }
    }
    assert_eq!(entries(&cache).len(), 1);
    let leftovers = std::fs::read_dir(&cache).unwrap().flatten().filter(|e| e.file_name().to_string_lossy().ends_with(".tmp")).count();
    assert_eq!(leftovers, 0);
}

/// A cache entry one process wrote must be what any other process would write: the
/// transform may not depend on where the allocator put things. LSTM's gradient pushed two
/// values of one iteration in an order sorted by address until the needs were ordered by
/// their place in the function.
#[test]
fn the_derivative_does_not_depend_on_where_values_live() {
    let dir = scratch("determinism");
    let benches = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../benches");
    let bc = dir.join("lstm.bc");
    let clang = radx_core::ir::llvm::tool("clang");
    let st = Command::new(&clang)
        .args(["-O2", "-fno-math-errno", "-c", "-emit-llvm", "-I"])
        .arg(benches.join("common"))
        .arg(benches.join("lstm/lstm.c"))
        .arg("-o")
        .arg(&bc)
        .status()
        .expect("clang runs");
    assert!(st.success());
    // `--repeat 3` writes the third transform of one process, made with the first two's
    // memory freed: the same values at other addresses, in another order.
    let outputs: Vec<Vec<u8>> = (0..6)
        .map(|k| {
            let out = dir.join(format!("run{k}.ll"));
            let repeat = if k % 2 == 0 { "1" } else { "3" };
            let o = Command::new(RADX).arg("opt").arg(&bc).arg("-o").arg(&out).arg("--repeat").arg(repeat).output().unwrap();
            assert!(o.status.success(), "radx opt failed: {}", String::from_utf8_lossy(&o.stderr));
            std::fs::read(&out).unwrap()
        })
        .collect();
    for (k, o) in outputs.iter().enumerate().skip(1) {
        assert!(o == &outputs[0], "run {k} wrote a different module from run 0");
    }
}
