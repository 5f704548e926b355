//! The little dense linear algebra distillation needs: a second-moment matrix
//! and the eigenvectors of a symmetric matrix.
//!
//! Written here rather than pulling in a BLAS/LAPACK stack for one 384×384
//! decomposition that runs once per machine.

/// Row-major square matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct Square {
    pub n: usize,
    pub data: Vec<f64>,
}

impl Square {
    pub fn zeros(n: usize) -> Square {
        Square {
            n,
            data: vec![0.0; n * n],
        }
    }

    pub fn at(&self, i: usize, j: usize) -> f64 {
        self.data[i * self.n + j]
    }

    fn set(&mut self, i: usize, j: usize, v: f64) {
        self.data[i * self.n + j] = v;
    }
}

/// The second-moment matrix `XᵀX / n` of `rows` (each of length `dim`):
/// the covariance without centring.
pub fn second_moment(rows: &[Vec<f32>], dim: usize) -> Square {
    let n = rows.len().max(1) as f64;
    let mut cov = Square::zeros(dim);
    let mut centred = vec![0.0f64; dim];
    for r in rows {
        for (c, x) in centred.iter_mut().zip(r) {
            *c = f64::from(*x);
        }
        // Upper triangle only; mirrored below.
        for i in 0..dim {
            let ci = centred[i];
            let row = &mut cov.data[i * dim..(i + 1) * dim];
            for j in i..dim {
                row[j] += ci * centred[j];
            }
        }
    }
    for i in 0..dim {
        for j in i..dim {
            let v = cov.at(i, j) / n;
            cov.set(i, j, v);
            cov.set(j, i, v);
        }
    }
    cov
}

/// Eigenvalues and unit eigenvectors of a symmetric matrix by cyclic Jacobi
/// rotations, sorted by decreasing eigenvalue. Each eigenvector's sign is
/// fixed (largest component positive) so two machines that compute nearly
/// the same matrix get nearly the same basis, not a flipped one.
pub fn symmetric_eigen(matrix: &Square) -> Vec<(f64, Vec<f64>)> {
    let n = matrix.n;
    let mut a = matrix.clone();
    let mut v = Square::zeros(n);
    for i in 0..n {
        v.set(i, i, 1.0);
    }
    for _sweep in 0..64 {
        let off: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a.at(i, j).powi(2))
            .sum();
        let scale: f64 = a
            .data
            .iter()
            .map(|x| x * x)
            .sum::<f64>()
            .max(f64::MIN_POSITIVE);
        if off <= 1e-22 * scale {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = a.at(p, q);
                if apq.abs() < 1e-300 {
                    continue;
                }
                let theta = (a.at(q, q) - a.at(p, p)) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                rotate(&mut a, &mut v, p, q, c, s);
            }
        }
    }
    let mut pairs: Vec<(f64, Vec<f64>)> = (0..n)
        .map(|k| {
            let mut vec: Vec<f64> = (0..n).map(|i| v.at(i, k)).collect();
            let largest = vec
                .iter()
                .copied()
                .fold(0.0f64, |m, x| if x.abs() > m.abs() { x } else { m });
            if largest < 0.0 {
                vec.iter_mut().for_each(|x| *x = -*x);
            }
            (a.at(k, k), vec)
        })
        .collect();
    pairs.sort_by(|x, y| y.0.total_cmp(&x.0));
    pairs
}

/// Applies the Jacobi rotation zeroing `a[p][q]` to `a` (both sides) and
/// accumulates it into the eigenvector matrix `v`.
fn rotate(a: &mut Square, v: &mut Square, p: usize, q: usize, c: f64, s: f64) {
    let n = a.n;
    for k in 0..n {
        let (akp, akq) = (a.at(k, p), a.at(k, q));
        a.set(k, p, c * akp - s * akq);
        a.set(k, q, s * akp + c * akq);
    }
    for k in 0..n {
        let (apk, aqk) = (a.at(p, k), a.at(q, k));
        a.set(p, k, c * apk - s * aqk);
        a.set(q, k, s * apk + c * aqk);
    }
    for k in 0..n {
        let (vkp, vkq) = (v.at(k, p), v.at(k, q));
        v.set(k, p, c * vkp - s * vkq);
        v.set(k, q, s * vkp + c * vkq);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_a_known_decomposition() {
        // [[2,1],[1,2]] has eigenvalues 3 (along [1,1]) and 1 (along [1,-1]).
        let m = Square {
            n: 2,
            data: vec![2.0, 1.0, 1.0, 2.0],
        };
        let e = symmetric_eigen(&m);
        assert!((e[0].0 - 3.0).abs() < 1e-9 && (e[1].0 - 1.0).abs() < 1e-9);
        let r = std::f64::consts::FRAC_1_SQRT_2;
        assert!((e[0].1[0] - r).abs() < 1e-9 && (e[0].1[1] - r).abs() < 1e-9);
    }

    #[test]
    fn eigenvectors_reconstruct_the_matrix() {
        let m = Square {
            n: 3,
            data: vec![4.0, 1.0, 0.5, 1.0, 3.0, 0.2, 0.5, 0.2, 1.0],
        };
        let e = symmetric_eigen(&m);
        for i in 0..3 {
            for j in 0..3 {
                let sum: f64 = e.iter().map(|(l, v)| l * v[i] * v[j]).sum();
                assert!((sum - m.at(i, j)).abs() < 1e-9, "({i},{j}) {sum}");
            }
        }
    }

    #[test]
    fn points_on_a_line_have_one_direction() {
        let rows: Vec<Vec<f32>> = (0..10).map(|i| vec![i as f32, 2.0 * i as f32]).collect();
        let m = second_moment(&rows, 2);
        assert!((m.at(0, 1) - 2.0 * 28.5).abs() < 1e-9);
        let e = symmetric_eigen(&m);
        assert!(e[1].0.abs() < 1e-9);
        let r = 1.0 / 5f64.sqrt();
        assert!((e[0].1[0] - r).abs() < 1e-9 && (e[0].1[1] - 2.0 * r).abs() < 1e-9);
    }
}
