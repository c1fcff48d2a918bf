// SPDX-License-Identifier: GPL-2.0

//! Safe wrappers over the C functions the security chip uses to read
//! firmware and hash it. Every one only reads: there is no function here, or
//! anywhere in nitro-rs, that writes firmware.

use kernel::{bindings, prelude::*, str::CStr};
pub(crate) use nitro_ctrl::bus::SHA384_LEN;

/// SHA-384 of `data` (the kernel's crypto library).
pub(crate) fn sha384(data: &[u8]) -> [u8; SHA384_LEN] {
    let mut out = [0u8; SHA384_LEN];
    // SAFETY: `data` is valid for reads of `data.len()` bytes and `out` for
    // writes of SHA384_LEN bytes, the size `sha384` writes.
    unsafe { bindings::sha384(data.as_ptr(), data.len(), out.as_mut_ptr()) };
    out
}

/// Runs `f` on `len` bytes of physical memory at `phys` (firmware ROM),
/// mapped read-only for the call. `None` if it cannot be mapped.
pub(crate) fn with_phys<R>(phys: u64, len: usize, f: impl FnOnce(&[u8]) -> R) -> Option<R> {
    // SAFETY: `memremap` has no preconditions; it returns NULL on failure.
    let p = unsafe { bindings::memremap(phys, len, bindings::MEMREMAP_WB as usize) };
    if p.is_null() {
        return None;
    }
    // SAFETY: `memremap` succeeded, so `p` maps `len` readable bytes until the
    // `memunmap` below; the slice does not outlive this block.
    let r = f(unsafe { core::slice::from_raw_parts(p.cast::<u8>(), len) });
    // SAFETY: `p` came from `memremap` and is unmapped once.
    unsafe { bindings::memunmap(p) };
    Some(r)
}

/// Runs `f` on ACPI table number `index` of the kernel's table list (its
/// signature and bytes). `None` past the last table.
pub(crate) fn with_acpi_table<R>(index: u32, f: impl FnOnce([u8; 4], &[u8]) -> R) -> Option<R> {
    let mut hdr: *mut bindings::acpi_table_header = core::ptr::null_mut();
    // SAFETY: `hdr` is a valid out pointer; ACPICA fills it on success.
    let status = unsafe { bindings::acpi_get_table_by_index(index, &mut hdr) };
    if status != 0 || hdr.is_null() {
        return None;
    }
    // SAFETY: on success `hdr` points to a mapped table whose header says
    // how long it is; it stays mapped until `acpi_put_table`.
    let (sig, len) = unsafe { ((*hdr).signature, (*hdr).length as usize) };
    // SAFETY: as above, `len` bytes from `hdr` are mapped.
    let bytes = unsafe { core::slice::from_raw_parts(hdr.cast::<u8>(), len) };
    let r = f(sig, bytes);
    // SAFETY: balances the successful `acpi_get_table_by_index`.
    unsafe { bindings::acpi_put_table(hdr) };
    Some(r)
}

/// Runs `f` on the contents of a (sysfs) file, read by the kernel, at most
/// `max` bytes. Errors as `kernel_read_file_from_path`.
pub(crate) fn with_file<R>(path: &CStr, max: usize, f: impl FnOnce(&[u8]) -> R) -> Result<R> {
    let mut buf: *mut core::ffi::c_void = core::ptr::null_mut();
    let mut size = 0usize;
    // SAFETY: `path` is NUL-terminated; `buf` (NULL: the kernel allocates)
    // and `size` are valid out pointers.
    let n = unsafe {
        bindings::kernel_read_file_from_path(
            path.as_char_ptr(),
            0,
            &mut buf,
            max,
            &mut size,
            bindings::kernel_read_file_id_READING_UNKNOWN,
        )
    };
    if n < 0 {
        return Err(Error::from_errno(n as i32));
    }
    // SAFETY: on success `buf` holds `n` bytes read from the file.
    let r = f(unsafe { core::slice::from_raw_parts(buf.cast::<u8>(), n as usize) });
    // SAFETY: `buf` was allocated by `kernel_read_file` (vmalloc) and is freed once.
    unsafe { bindings::kvfree(buf) };
    Ok(r)
}
