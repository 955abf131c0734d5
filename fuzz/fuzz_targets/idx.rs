//! Any bytes through kiln's IDX decoder (gzip detection, header, dimensions, length): an error
//! or an array whose data matches its dimensions, never a panic, hang or overflow.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(array) = kiln_data::idx::decode_idx(data) {
        assert_eq!(array.data.len(), array.dims.iter().product::<usize>());
    }
});
