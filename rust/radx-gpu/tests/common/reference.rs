//! CPU references of the test kernels (kernels/*.cu), in f64: the primal, with the GPU's
//! grid semantics, and the gradient (vector-Jacobian product), written by hand.
//!
//! `vjp(kernel, args, dims, seed)`: `seed[o]` holds the adjoint of output buffer `o` (the
//! weights of the loss `L = sum_o <seed[o], out[o]>`); the result holds, for every float
//! parameter (scalar or buffer), dL/d(its value before the kernel). Buffers the kernel
//! overwrites get zero, buffers it updates in place (`y += ...`) get their seed back.

use super::Val;
use radx_gpu::Dims;

pub fn primal(kernel: &str, a: &mut [Val], d: &Dims) {
    match kernel {
        "saxpy" => {
            let (n, al) = (a[0].i(), a[1].f());
            let x = a[2].fl().clone();
            let y = a[3].fl_mut();
            for i in 0..n {
                y[i] += al * x[i];
            }
        }
        "reduce" => {
            let n = a[0].i();
            let x = a[1].fl().clone();
            let bs = d.block[0] as usize;
            let p = a[2].fl_mut();
            for b in 0..d.grid[0] as usize {
                p[b] = (b * bs..((b + 1) * bs).min(n)).map(|i| x[i] * x[i]).sum();
            }
        }
        "stencil" => {
            let (nx, ny) = (a[0].i(), a[1].i());
            let u = a[2].fl().clone();
            let v = a[3].fl_mut();
            for y in 0..ny {
                for x in 0..nx {
                    let [c, n, s, w, e] = neighbours(&u, nx, ny, x, y);
                    v[y * nx + x] = 0.5 * c + 0.125 * (n + s + w + e) + 0.25 * c * c - 0.1 * w * e;
                }
            }
        }
        "histogram" => {
            let n = a[0].i();
            let bin = a[1].ints().clone();
            let (w, x) = (a[2].fl().clone(), a[3].fl().clone());
            let h = a[4].fl_mut();
            for i in 0..n {
                h[bin[i] as usize] += w[i] * x[i] * x[i];
            }
        }
        "rows" => {
            let (n, m, deg) = (a[0].i(), a[1].i(), a[2].i());
            let (am, c) = (a[3].fl().clone(), a[4].fl().clone());
            let out = a[5].fl_mut();
            for i in 0..n {
                let r = am[i * m..(i + 1) * m].iter().map(|v| v * v).sum::<f64>().sqrt();
                out[i] = (0..=deg).rev().fold(0.0, |p, k| p * r + c[k]);
            }
        }
        _ => panic!("no reference for `{kernel}`"),
    }
}

/// Center, north (y-1), south (y+1), west (x-1), east (x+1); zero outside the grid.
fn neighbours(u: &[f64], nx: usize, ny: usize, x: usize, y: usize) -> [f64; 5] {
    let at = |dx: i64, dy: i64| {
        let (xx, yy) = (x as i64 + dx, y as i64 + dy);
        if xx >= 0 && yy >= 0 && (xx as usize) < nx && (yy as usize) < ny {
            u[yy as usize * nx + xx as usize]
        } else {
            0.0
        }
    };
    [at(0, 0), at(0, -1), at(0, 1), at(-1, 0), at(1, 0)]
}

/// Adds `g` to u[(x+dx, y+dy)] when that is inside the grid.
fn add_at(gu: &mut [f64], nx: usize, ny: usize, x: usize, y: usize, dx: i64, dy: i64, g: f64) {
    let (xx, yy) = (x as i64 + dx, y as i64 + dy);
    if xx >= 0 && yy >= 0 && (xx as usize) < nx && (yy as usize) < ny {
        gu[yy as usize * nx + xx as usize] += g;
    }
}

pub fn vjp(kernel: &str, a: &[Val], d: &Dims, seed: &[Val]) -> Vec<Val> {
    let mut g: Vec<Val> = a.iter().map(Val::zeros_like).collect();
    match kernel {
        "saxpy" => {
            let (n, al, x) = (a[0].i(), a[1].f(), a[2].fl());
            let w = seed[3].fl();
            let mut ga = 0.0;
            for i in 0..n {
                g[2].fl_mut()[i] = al * w[i];
                ga += x[i] * w[i];
            }
            g[1] = Val::F(ga);
            *g[3].fl_mut() = w.clone();
        }
        "reduce" => {
            let (n, x) = (a[0].i(), a[1].fl());
            let w = seed[2].fl();
            let bs = d.block[0] as usize;
            for i in 0..n {
                g[1].fl_mut()[i] = 2.0 * x[i] * w[i / bs];
            }
        }
        "stencil" => {
            let (nx, ny, u) = (a[0].i(), a[1].i(), a[2].fl());
            let w = seed[3].fl();
            let gu = g[2].fl_mut();
            for y in 0..ny {
                for x in 0..nx {
                    let wt = w[y * nx + x];
                    let [c, _, _, we, e] = neighbours(u, nx, ny, x, y);
                    add_at(gu, nx, ny, x, y, 0, 0, wt * (0.5 + 0.5 * c));
                    add_at(gu, nx, ny, x, y, 0, -1, wt * 0.125);
                    add_at(gu, nx, ny, x, y, 0, 1, wt * 0.125);
                    add_at(gu, nx, ny, x, y, -1, 0, wt * (0.125 - 0.1 * e));
                    add_at(gu, nx, ny, x, y, 1, 0, wt * (0.125 - 0.1 * we));
                }
            }
        }
        "histogram" => {
            let (n, bin, w, x) = (a[0].i(), a[1].ints(), a[2].fl(), a[3].fl());
            let s = seed[4].fl();
            for i in 0..n {
                let sb = s[bin[i] as usize];
                g[2].fl_mut()[i] = sb * x[i] * x[i];
                g[3].fl_mut()[i] = sb * 2.0 * w[i] * x[i];
            }
            *g[4].fl_mut() = s.clone();
        }
        "rows" => {
            let (n, m, deg) = (a[0].i(), a[1].i(), a[2].i());
            let (am, c) = (a[3].fl(), a[4].fl());
            let w = seed[5].fl();
            for i in 0..n {
                let row = &am[i * m..(i + 1) * m];
                let r = row.iter().map(|v| v * v).sum::<f64>().sqrt();
                let dp: f64 = (1..=deg).map(|k| k as f64 * c[k] * r.powi(k as i32 - 1)).sum();
                for j in 0..m {
                    g[3].fl_mut()[i * m + j] = w[i] * dp * row[j] / r;
                }
                for k in 0..=deg {
                    g[4].fl_mut()[k] += w[i] * r.powi(k as i32);
                }
            }
        }
        _ => panic!("no reference for `{kernel}`"),
    }
    g
}
