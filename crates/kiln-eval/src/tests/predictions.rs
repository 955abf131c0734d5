use super::*;

#[test]
fn csv_layout() {
    let mut p = Predictions::new(2);
    p.extend(&[1, 0], &[0.25, 0.75, 0.5, 0.5]).unwrap();
    assert!(p.extend(&[1], &[1.0]).is_err());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.csv");
    p.write_csv(&path).unwrap();
    let text = std::fs::read_to_string(path).unwrap();
    assert_eq!(
        text,
        "index,label,prediction,score_0,score_1\n0,1,1,0.25,0.75\n1,0,0,0.5,0.5\n"
    );
}
