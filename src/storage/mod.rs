//! The only folder that touches the file system: the [`vfs::Vfs`] seam and its
//! real implementation, read-only maps ([`mmap`], the crate's one `unsafe`
//! module), and the files of a store: the active log ([`log`]), sealed
//! segments ([`segment`]), the manifest ([`manifest`]), and file names and
//! atomic writes ([`files`]).

pub(crate) mod files;
pub(crate) mod log;
pub(crate) mod manifest;
pub(crate) mod mmap;
pub(crate) mod segment;
pub(crate) mod vfs;
