use super::*;

#[test]
fn balanced_weights_are_scikit_learns() {
    // sklearn.utils.class_weight.compute_class_weight("balanced", classes=[0, 1, 2],
    // y=[0]*6 + [1]*3 + [2]*1) = [0.5556, 1.1111, 3.3333].
    let w = ClassWeights::Balanced.resolve(&[6, 3, 1]).unwrap();
    let expected = [10.0 / 18.0, 10.0 / 9.0, 10.0 / 3.0];
    for (a, e) in w.iter().zip(expected) {
        assert!((f64::from(*a) - e).abs() < 1e-6, "{w:?}");
    }
    let err = ClassWeights::Balanced.resolve(&[6, 0, 1]).unwrap_err();
    assert!(
        err.to_string().contains("class 1 has no training images"),
        "{err}"
    );
}

#[test]
fn weight_files_are_read_and_checked() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("w.txt");
    std::fs::write(&path, "# rare class 2 counts triple\n1, 1\n3\n").unwrap();
    let w = ClassWeights::from_file(&path).unwrap();
    assert_eq!(w, ClassWeights::Values(vec![1.0, 1.0, 3.0]));
    assert_eq!(w.resolve(&[5, 5, 5]).unwrap(), [1.0, 1.0, 3.0]);
    let err = w.resolve(&[5, 5]).unwrap_err().to_string();
    assert!(err.contains("3 class weights for 2 classes"), "{err}");
    let zero = ClassWeights::Values(vec![1.0, 0.0])
        .resolve(&[1, 1])
        .unwrap_err();
    assert!(zero.to_string().contains("class 1 is 0"), "{zero}");
    std::fs::write(&path, "1, x\n").unwrap();
    let err = ClassWeights::from_file(&path).unwrap_err().to_string();
    assert!(
        err.contains("`x` is not a number") && err.contains("w.txt"),
        "{err}"
    );
}
