//! Shared by the codec-core integration tests.

/// Burn's backend RNG is global and tests run in parallel threads: every test that seeds
/// and then draws weights or inputs holds this lock, so each sees its own seeded stream.
static RNG_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Takes the RNG lock and seeds the Flex backend with `seed`; hold the guard while
/// drawing.
pub fn seeded(seed: u64) -> std::sync::MutexGuard<'static, ()> {
    let guard = RNG_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    <burn::backend::Flex as burn::tensor::backend::Backend>::seed(&Default::default(), seed);
    guard
}
