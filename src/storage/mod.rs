//! The only folder that touches the file system: the [`vfs::Vfs`] seam and its
//! real implementation, read-only maps ([`mmap`], the crate's one `unsafe`
//! module), and the files of a store: log segments, sealed segments, the
//! dictionary and the manifest.

pub mod files;
pub mod mmap;
pub mod vfs;
