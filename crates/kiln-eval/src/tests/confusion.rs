use super::*;

#[test]
fn counts_merge_and_present_labels() {
    let mut a = ConfusionMatrix::from_labels(&[0, 1, 1], &[0, 1, 0], 4).unwrap();
    let b = ConfusionMatrix::from_labels(&[3], &[1], 4).unwrap();
    a.merge(&b).unwrap();
    assert_eq!(
        a.rows_for(&[0, 1, 3]),
        vec![vec![1, 0, 0], vec![1, 1, 0], vec![0, 1, 0]]
    );
    assert_eq!((a.total(), a.correct()), (4, 2));
    assert_eq!(a.present_labels(), vec![0, 1, 3]);
    assert!(a.add(4, 0, 1).is_err());
    assert!(a.merge(&ConfusionMatrix::new(3)).is_err());
}
