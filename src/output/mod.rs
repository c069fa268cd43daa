//! Output: the report files and GitHub file commands (`destinations`), atomic file writes
//! (`file_write`), and the pull-request comment (`comment`).

pub mod comment;
pub mod destinations;
pub mod file_write;
