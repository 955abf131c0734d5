use super::*;

fn idx_bytes(type_code: u8, dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut b = vec![0, 0, type_code, dims.len() as u8];
    for d in dims {
        b.extend_from_slice(&d.to_be_bytes());
    }
    b.extend_from_slice(data);
    b
}

#[test]
fn parses_a_well_formed_file() {
    let idx = parse_idx(&idx_bytes(8, &[2, 1, 3], &[1, 2, 3, 4, 5, 6])).unwrap();
    assert_eq!(idx.dims, vec![2, 1, 3]);
    assert_eq!(idx.data, vec![1, 2, 3, 4, 5, 6]);
}

#[test]
fn rejects_each_kind_of_malformed_header() {
    assert!(matches!(
        parse_idx(&[0, 0]),
        Err(IdxProblem::Truncated { what: "header", .. })
    ));
    assert!(matches!(
        parse_idx(&[1, 2, 8, 1, 0, 0, 0, 1, 7]),
        Err(IdxProblem::BadMagic { magic: 0x0102_0801 })
    ));
    assert_eq!(
        parse_idx(&idx_bytes(0x0d, &[1], &[0, 0, 0, 0])),
        Err(IdxProblem::UnsupportedType { code: 0x0d })
    );
    assert!(matches!(
        parse_idx(&[0, 0, 8, 2, 0, 0, 0, 1]),
        Err(IdxProblem::Truncated {
            what: "dimensions",
            ..
        })
    ));
    assert_eq!(
        parse_idx(&idx_bytes(8, &[2, 0], &[])),
        Err(IdxProblem::BadDimensions { dims: vec![2, 0] })
    );
    assert_eq!(
        parse_idx(&idx_bytes(8, &[4], &[1, 2])),
        Err(IdxProblem::Truncated {
            what: "data",
            expected: 4,
            found: 2
        })
    );
    assert_eq!(
        parse_idx(&idx_bytes(8, &[1], &[1, 2])),
        Err(IdxProblem::TrailingBytes { extra: 1 })
    );
}

#[test]
fn huge_dimensions_do_not_overflow() {
    let b = idx_bytes(8, &[u32::MAX, u32::MAX, u32::MAX], &[]);
    assert!(matches!(
        parse_idx(&b),
        Err(IdxProblem::BadDimensions { .. })
    ));
}

#[test]
fn decode_reads_raw_and_gzip_bytes_alike() {
    let bytes = idx_bytes(0x08, &[2, 3], &[1, 2, 3, 4, 5, 6]);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&bytes).unwrap();
    let gz = gz.finish().unwrap();
    let raw = decode_idx(&bytes).unwrap();
    assert_eq!(raw.dims, [2, 3]);
    assert_eq!(decode_idx(&gz).unwrap(), raw);
    // A gzip stream cut short is a gzip problem, not a panic.
    assert!(matches!(
        decode_idx(&gz[..gz.len() - 6]),
        Err(IdxProblem::Gzip(_))
    ));
}
