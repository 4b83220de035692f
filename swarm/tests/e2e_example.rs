//! Runs examples/seed_and_leech.rs as a test.

#[allow(dead_code)]
#[path = "../../examples/seed_and_leech.rs"]
mod example;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_and_leech_example_passes() {
    let d = tempfile::tempdir().unwrap();
    example::seed_and_leech(d.path()).await.unwrap();
}
