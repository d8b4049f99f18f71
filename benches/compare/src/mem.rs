//! Process memory from `/proc/self/status` (Linux).

use crate::systems::Res;

/// A `/proc/self/status` field given in kB (`VmRSS`, `VmHWM`), in bytes.
pub fn status_bytes(field: &str) -> Res<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    for line in status.lines() {
        if let Some(rest) = line.strip_prefix(field).and_then(|r| r.strip_prefix(':')) {
            let kb: u64 = rest
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()
                .map_err(|_| format!("cannot parse {field} in /proc/self/status: {rest:?}"))?;
            return Ok(kb * 1024);
        }
    }
    Err(format!("{field} not found in /proc/self/status").into())
}
