//! The CPU references of the test kernels check out: every component of the hand-written
//! gradient against central differences of the f64 reference primal (no GPU needed).

mod common;
use common::*;

fn check(kernel: &str) {
    let s = spec(kernel);
    let mut rng = Rng::new(3);
    let seed = seeds(&s, &mut rng);
    let g = reference::vjp(kernel, &s.args, &s.dims, &seed);
    let l = |a: &[Val]| {
        let mut a = a.to_vec();
        reference::primal(kernel, &mut a, &s.dims);
        loss(&s, &a, &seed)
    };
    let h = 1e-6;
    let mut checked = 0;
    for (i, a) in s.args.iter().enumerate() {
        let n = match a {
            Val::F(_) => 1,
            Val::Floats(v) => v.len(),
            _ => continue,
        };
        for k in 0..n {
            let bump = |d: f64| {
                let mut b = s.args.clone();
                match &mut b[i] {
                    Val::F(v) => *v += d,
                    Val::Floats(v) => v[k] += d,
                    _ => unreachable!(),
                }
                l(&b)
            };
            let fd = (bump(h) - bump(-h)) / (2.0 * h);
            let want = match &g[i] {
                Val::F(v) => *v,
                Val::Floats(v) => v[k],
                _ => unreachable!(),
            };
            assert!((fd - want).abs() <= 1e-6 * (1.0 + want.abs()), "{kernel}: d/d(arg {i})[{k}]: reference gradient {want}, finite differences {fd}");
            checked += 1;
        }
    }
    assert!(checked > 0);
    eprintln!("{kernel}: {checked} gradient components agree with finite differences");
}

#[test]
fn saxpy_reference() {
    check("saxpy");
}

#[test]
fn reduce_reference() {
    check("reduce");
}

#[test]
fn stencil_reference() {
    check("stencil");
}

#[test]
fn histogram_reference() {
    check("histogram");
}

#[test]
fn rows_reference() {
    check("rows");
}
