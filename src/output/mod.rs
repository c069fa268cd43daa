//! Output: the report files and GitHub file commands (`destinations`) and the pull-request
//! comment (`comment`).

pub mod comment;
pub mod destinations;
