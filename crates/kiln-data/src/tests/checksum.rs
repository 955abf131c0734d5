use super::*;

#[test]
fn known_digest() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("abc");
    std::fs::write(&p, b"abc").unwrap();
    let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    assert_eq!(sha256_file(&p).unwrap(), abc);
    verify_sha256(&p, abc).unwrap();
    assert!(matches!(
        verify_sha256(&p, &"0".repeat(64)),
        Err(DataError::Checksum { .. })
    ));
}
