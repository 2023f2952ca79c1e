//! Whatever the bytes, the schedule reader answers with diagnostics and
//! never panics. A deterministic mutation loop over the example file stands
//! in for a fuzzer in the normal test run.

use chrono::{DateTime, Utc};

/// xorshift64*: deterministic, so a failure reproduces.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).unwrap_or(0)
    }
}

#[test]
fn mutated_schedules_never_panic() {
    let base = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/debates.yaml")).unwrap();
    let now: DateTime<Utc> = "2026-11-27T12:00:00Z".parse().unwrap();
    let alphabet = b" \n\t:-[]{}&*!|>'\"#%@`,?0123456789abcxyz\xff\xc3";
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut rejected = 0;
    for _ in 0..1500 {
        let mut bytes = base.clone();
        for _ in 0..=rng.below(4) {
            let at = rng.below(bytes.len());
            match rng.below(3) {
                0 => bytes[at] = alphabet[rng.below(alphabet.len())],
                1 => bytes.insert(at, alphabet[rng.below(alphabet.len())]),
                _ => {
                    bytes.remove(at);
                }
            }
        }
        if let Err(diags) = podium::schedule::parse_bytes(&bytes, now) {
            rejected += 1;
            assert!(diags.has_errors());
            for d in diags.errors() {
                assert!(d.pos.line >= 1 && d.pos.column >= 1);
                assert!(!d.message.is_empty());
            }
        }
    }
    // The loop must actually exercise the error paths.
    assert!(rejected > 300, "only {rejected} mutations were rejected");
}

#[test]
fn random_bytes_never_panic() {
    let now: DateTime<Utc> = "2026-11-27T12:00:00Z".parse().unwrap();
    let mut rng = Rng(42);
    for len in 0..400 {
        let bytes: Vec<u8> = (0..len).map(|_| (rng.next() & 0xff) as u8).collect();
        let _ = podium::schedule::parse_bytes(&bytes, now);
    }
}
