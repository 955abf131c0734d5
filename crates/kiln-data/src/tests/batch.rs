use super::*;

#[test]
fn batches_cover_every_index_once() {
    let b = epoch_batches(10, 4, Some((1, 0)));
    assert_eq!(b.iter().map(Vec::len).collect::<Vec<_>>(), vec![4, 4, 2]);
    let mut all: Vec<usize> = b.concat();
    all.sort_unstable();
    assert_eq!(all, (0..10).collect::<Vec<_>>());
    assert_ne!(
        epoch_batches(10, 4, Some((1, 1))),
        b,
        "each epoch reshuffles"
    );
    assert_eq!(
        epoch_batches(5, 2, None),
        vec![vec![0, 1], vec![2, 3], vec![4]]
    );
}

#[test]
fn normalization_table() {
    let t = Normalization {
        mean: 0.5,
        std: 0.5,
    }
    .table();
    assert_eq!(t[0], -1.0);
    assert_eq!(t[255], 1.0);
}
