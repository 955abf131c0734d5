use super::*;

#[test]
fn reference_values() {
    // First outputs of SplitMix64 seeded with 1234567, from the reference C implementation.
    let mut r = SplitMix64::new(1234567);
    assert_eq!(r.next_u64(), 6457827717110365317);
    assert_eq!(r.next_u64(), 3203168211198807973);
}

#[test]
fn permutation_is_a_permutation_and_seeded() {
    let p = SplitMix64::new(7).permutation(1000);
    let mut sorted = p.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (0..1000).collect::<Vec<_>>());
    assert_eq!(p, SplitMix64::new(7).permutation(1000));
    assert_ne!(p, SplitMix64::new(8).permutation(1000));
}
