//! The ends of an interval from a rejection test that is monotone in the candidate mean, by
//! bisection. Both tests in this module reject an interval of small means (the "pass" side)
//! or of large means (the "fail" side), so each end is the boundary between rejected and not.

/// Bisection steps: 2^-40 is far below any score's precision, and each step costs one pass
/// over the scores.
const STEPS: u32 = 40;

/// The smallest mean in [0, 1] that `rejected` does not reject, when `rejected` holds below
/// some point and fails above it. `pivot`, when given and inside (0, 1), is tested first and
/// kept as a bracket end, so the result is above `pivot` exactly when `rejected(pivot)`.
pub(super) fn lower_end(rejected: impl Fn(f64) -> bool, pivot: Option<f64>) -> f64 {
    if !rejected(0.0) {
        return 0.0;
    }
    // `rejected(1.0)` is false for both tests (a mean of at most 1 cannot be ruled out by
    // scores of at most 1), so [0, 1] brackets the boundary.
    let (mut low, mut high) = (0.0, 1.0);
    if let Some(pivot) = pivot.filter(|p| *p > 0.0 && *p < 1.0) {
        if rejected(pivot) {
            low = pivot;
        } else {
            high = pivot;
        }
    }
    bisect(&rejected, low, high).1
}

/// The largest mean in [0, 1] that `rejected` does not reject, when `rejected` fails below
/// some point and holds above it. `pivot` as in [`lower_end`]: the result is below `pivot`
/// exactly when `rejected(pivot)`.
pub(super) fn upper_end(rejected: impl Fn(f64) -> bool, pivot: Option<f64>) -> f64 {
    if !rejected(1.0) {
        return 1.0;
    }
    let (mut low, mut high) = (0.0, 1.0);
    if let Some(pivot) = pivot.filter(|p| *p > 0.0 && *p < 1.0) {
        if rejected(pivot) {
            high = pivot;
        } else {
            low = pivot;
        }
    }
    // For the upper end the rejected side is the high one: flip the test.
    bisect(&|m| !rejected(m), low, high).0
}

/// Narrows `[low, high]`, where `rejected(low)` holds and `rejected(high)` does not, and
/// returns the final pair. Each end keeps its property, whatever the test does in between.
fn bisect(rejected: &dyn Fn(f64) -> bool, mut low: f64, mut high: f64) -> (f64, f64) {
    for _ in 0..STEPS {
        let mid = low + (high - low) / 2.0;
        if mid <= low || mid >= high {
            break;
        }
        if rejected(mid) {
            low = mid;
        } else {
            high = mid;
        }
    }
    (low, high)
}
