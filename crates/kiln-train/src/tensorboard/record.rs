//! TensorFlow's record format, as TensorBoard reads it: each record is its length (u64,
//! little-endian), the masked CRC-32C of those 8 bytes, the data, and the masked CRC-32C of
//! the data.

use std::io::Write;
use std::path::Path;

use prost::Message;

use super::event::Event;
use crate::error::TrainError;

/// TensorFlow's `MaskedCrc`: the CRC-32C rotated right by 15 bits plus a constant, so that a
/// CRC of data that holds CRCs stays well distributed.
pub fn masked_crc32c(data: &[u8]) -> u32 {
    let crc = crc32c::crc32c(data);
    crc.rotate_right(15).wrapping_add(0xa282_ead8)
}

/// Writes `event` as one record.
pub fn write_record(out: &mut impl Write, event: &Event) -> std::io::Result<()> {
    let data = event.encode_to_vec();
    let len = (data.len() as u64).to_le_bytes();
    out.write_all(&len)?;
    out.write_all(&masked_crc32c(&len).to_le_bytes())?;
    out.write_all(&data)?;
    out.write_all(&masked_crc32c(&data).to_le_bytes())
}

/// The events of an event file, every checksum verified. A record cut short at the end of
/// the file (a process killed while writing it) ends the list; a checksum that does not match,
/// or a record that is not an `Event`, is an error naming the file and the record's offset.
pub fn read_events(path: &Path) -> Result<Vec<Event>, TrainError> {
    match read_records(path)? {
        (events, None) => Ok(events),
        (_, Some(damage)) => Err(damage),
    }
}

/// The events of an event file up to the first damaged record, and the damage if any (a
/// file that cannot be read is an error).
pub fn read_records(path: &Path) -> Result<(Vec<Event>, Option<TrainError>), TrainError> {
    let bytes = std::fs::read(path).map_err(|e| TrainError::artifact(path, e))?;
    let mut events = Vec::new();
    let mut rest = bytes.as_slice();
    while !rest.is_empty() {
        let offset = bytes.len() - rest.len();
        let bad =
            |what: String| TrainError::artifact(path, format!("record at byte {offset}: {what}"));
        let data = match next_record(&mut rest) {
            Ok(Some(data)) => data,
            Ok(None) => break,
            Err(what) => return Ok((events, Some(bad(what)))),
        };
        match Event::decode(data) {
            Ok(event) => events.push(event),
            Err(e) => return Ok((events, Some(bad(format!("not an Event: {e}"))))),
        }
    }
    Ok((events, None))
}

/// The data of the record at the start of `rest`, advancing past it; `None` for a record
/// cut short.
fn next_record<'a>(rest: &mut &'a [u8]) -> Result<Option<&'a [u8]>, String> {
    let Some((header, _)) = rest.split_first_chunk::<12>() else {
        return Ok(None);
    };
    let (len, len_crc) = header.split_at(8);
    let crc = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    if masked_crc32c(len) != crc(len_crc) {
        return Err("the length's checksum does not match".into());
    }
    let len = u64::from_le_bytes(std::array::from_fn(|i| len[i]));
    let Some(end) = usize::try_from(len).ok().and_then(|l| l.checked_add(16)) else {
        return Err(format!("a length of {len} bytes"));
    };
    if rest.len() < end {
        return Ok(None);
    }
    let data = &rest[12..end - 4];
    if masked_crc32c(data) != crc(&rest[end - 4..end]) {
        return Err("the data's checksum does not match".into());
    }
    *rest = &rest[end..];
    Ok(Some(data))
}
