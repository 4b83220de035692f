//! `MmapOptions::sigbus_handler = false` leaves the process's SIGBUS
//! disposition alone. Alone in its test binary (its own process), so no
//! other test has installed the handler first.

use piece_core::layout::{Layout, LayoutFile};
use piece_core::storage::{MmapOptions, MmapStorage, OpenMode, Storage};
use piece_core::Lengths;

fn sigbus_action() -> usize {
    // SAFETY: queries the current action only.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        assert_eq!(libc::sigaction(libc::SIGBUS, std::ptr::null(), &mut old), 0);
        old.sa_sigaction
    }
}

#[test]
fn opting_out_installs_no_handler_and_the_default_does() {
    let dir = tempfile::tempdir().unwrap();
    let file = LayoutFile {
        path: "a".into(),
        length: 100,
        offset: 0,
        pad: false,
    };
    let layout = Layout::new(Lengths::new(100, 16384).unwrap(), vec![file]).unwrap();
    let first = layout.lengths().piece(0).unwrap();
    // The Rust runtime may have a handler of its own (stack overflows).
    let before = sigbus_action();
    let opts = MmapOptions {
        sigbus_handler: false,
        ..Default::default()
    };
    let s = MmapStorage::with_options(dir.path(), layout.clone(), OpenMode::Create, opts).unwrap();
    s.write(first, 0, &[7u8; 100]).unwrap();
    assert_eq!(sigbus_action(), before, "a handler was installed");
    drop(s);
    let _s = MmapStorage::open(dir.path(), layout, OpenMode::Existing).unwrap();
    assert_ne!(sigbus_action(), before, "the default installs the handler");
}
