//! The one place the kernels (and the model's CPU decoders built on them) fan work out
//! to threads.

/// Runs `f` on each part, the parts on scoped threads of their own when `threads > 1`
/// and there is more than one part. WebAssembly has no threads to spawn (std panics
/// there), so on it the parts always run one after another.
pub fn in_parallel<T: Send>(threads: usize, parts: Vec<T>, f: impl Fn(T) + Sync) {
    if threads <= 1 || parts.len() <= 1 || cfg!(target_family = "wasm") {
        parts.into_iter().for_each(f);
        return;
    }
    std::thread::scope(|scope| {
        for part in parts {
            let f = &f;
            scope.spawn(move || f(part));
        }
    });
}

#[cfg(test)]
mod tests {
    use super::in_parallel;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn every_part_runs_once_with_and_without_threads() {
        for threads in [1, 2, 5] {
            let sum = AtomicUsize::new(0);
            let runs = AtomicUsize::new(0);
            in_parallel(threads, (1..=10).collect(), |k: usize| {
                sum.fetch_add(k, Ordering::SeqCst);
                runs.fetch_add(1, Ordering::SeqCst);
            });
            assert_eq!(sum.into_inner(), 55, "threads {threads}");
            assert_eq!(runs.into_inner(), 10, "threads {threads}");
        }
    }
}
