//! The committed header (include/turbojwt.h) is what cbindgen makes of src/lib.rs: this test
//! fails when it is stale. `TURBOJWT_BLESS=1` rewrites it instead.

use std::path::Path;

#[test]
fn committed_header_is_current() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).unwrap();
    let mut generated = Vec::new();
    cbindgen::Builder::new()
        .with_crate(crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen reads src/lib.rs")
        .write(&mut generated);
    let path = crate_dir.join("include/turbojwt.h");
    if std::env::var_os("TURBOJWT_BLESS").is_some() {
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let committed = std::fs::read(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "include/turbojwt.h is stale: regenerate it with \
         TURBOJWT_BLESS=1 cargo test --manifest-path native/Cargo.toml -p turbojwt-capi --test header"
    );
}
