//! The filesystem: report files replaced atomically, appends that can be taken back, and opens
//! that cannot block on a FIFO or a device (`file_write`). A leaf: std and libc only.

pub mod file_write;
