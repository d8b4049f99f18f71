//! `Store` is `Clone + Send + Sync`, `Snapshot` is `Clone + Send + Sync`, and a
//! `Batch` can be moved to another thread (`Send`): checked at compile time.

use trendlog::{Batch, Error, Snapshot, Store};

fn clone_send_sync<T: Clone + Send + Sync + 'static>() {}
fn send<T: Send + 'static>() {}
fn sync<T: Sync>() {}

#[test]
fn store_is_send_sync_clone() {
    clone_send_sync::<Store>();
    clone_send_sync::<Snapshot>();
    send::<Batch>();
    sync::<Batch>();
    // Errors cross threads too (a worker can hand one back through a channel).
    send::<Error>();
    sync::<Error>();
    send::<Box<dyn std::error::Error + Send + Sync>>();
    let _: Box<dyn std::error::Error + Send + Sync> = Box::new(Error::ReadOnly);
}
