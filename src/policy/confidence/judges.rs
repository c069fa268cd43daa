//! Simulated judges for the confidence tests and the trials benchmark: a small deterministic
//! generator (splitmix64) and score distributions on [0, 1] with a chosen mean. Compiled into the
//! unit tests (`simulation.rs`) and into `examples/trials.rs` (by path), never into the product.

/// splitmix64: tiny, fast, and good enough to drive a simulation; the same seed gives the same
/// figures on every run.
#[derive(Debug)]
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1): never exactly 0, so logarithms are safe.
    pub fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }

    /// Gamma(shape, 1) by Marsaglia & Tsang, with the usual boost for shape < 1.
    fn gamma(&mut self, shape: f64) -> f64 {
        if shape < 1.0 {
            return self.gamma(shape + 1.0) * self.uniform().powf(1.0 / shape);
        }
        let d = shape - 1.0 / 3.0;
        let c = 1.0 / (9.0 * d).sqrt();
        loop {
            let z = self.normal();
            let v = (1.0 + c * z).powi(3);
            if v > 0.0 && self.uniform().ln() < 0.5 * z * z + d - d * v + d * v.ln() {
                return d * v;
            }
        }
    }

    fn beta(&mut self, a: f64, b: f64) -> f64 {
        let x = self.gamma(a);
        x / (x + self.gamma(b))
    }
}

/// Score distributions on [0, 1], each with a chosen mean.
#[derive(Debug, Clone, Copy)]
pub enum Judge {
    /// Beta with this concentration (a + b): 10 is a steady judge, 2 a scattered one.
    Beta(f64),
    /// 0 or 1 (a bimodal judge): the most variable judge a mean allows.
    TwoPoint,
    /// Uniform on the widest interval around the mean that fits in [0, 1].
    Uniform,
    /// Always the mean.
    PointMass,
}

impl Judge {
    pub fn name(self) -> String {
        match self {
            Judge::Beta(k) => format!("beta (a+b={k})"),
            Judge::TwoPoint => "bimodal 0/1".to_owned(),
            Judge::Uniform => "uniform".to_owned(),
            Judge::PointMass => "point mass".to_owned(),
        }
    }

    /// One score of a case whose true mean score is `mean`.
    pub fn sample(self, mean: f64, rng: &mut Rng) -> f64 {
        match self {
            // A Beta with a zero shape parameter is a point mass at the end.
            Judge::Beta(_) if mean >= 1.0 || mean <= 0.0 => mean.clamp(0.0, 1.0),
            Judge::Beta(k) => rng.beta(mean * k, (1.0 - mean) * k),
            Judge::TwoPoint => f64::from(u8::from(rng.uniform() < mean)),
            Judge::Uniform => {
                let half = mean.min(1.0 - mean);
                mean - half + 2.0 * half * rng.uniform()
            }
            Judge::PointMass => mean,
        }
    }
}
