//! Generates the Rust view of the ioctl ABI from its single definition,
//! `include/uapi/linux/nitro.h`, with the same bindgen options the kernel
//! modules use (see the top-level Kbuild). `BINDGEN` overrides the command.

use std::{env, path::PathBuf, process::Command};

fn main() {
    let header = PathBuf::from("../../include/uapi/linux/nitro.h");
    println!("cargo:rerun-if-changed={}", header.display());
    println!("cargo:rerun-if-env-changed=BINDGEN");
    let out = PathBuf::from(env::var("OUT_DIR").unwrap()).join("uapi_generated.rs");
    let bindgen = env::var("BINDGEN").unwrap_or_else(|_| "bindgen".into());
    let status = Command::new(&bindgen)
        .arg(&header)
        .args([
            "--no-layout-tests",
            "--allowlist-file",
            ".*/nitro\\.h",
            "--no-prepend-enum-name",
            "--default-enum-style",
            "consts",
            "--with-derive-default",
            "--clang-macro-fallback",
            "-o",
        ])
        .arg(&out)
        .status()
        .unwrap_or_else(|e| panic!("cannot run {bindgen} (install bindgen >= 0.71): {e}"));
    assert!(status.success(), "{bindgen} failed on {}", header.display());
}
