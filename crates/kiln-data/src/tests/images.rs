use super::*;

fn toy(n: usize) -> ImageDataset {
    let shape = ImageShape {
        channels: 1,
        height: 2,
        width: 2,
    };
    let pixels = (0..n * 4).map(|i| (i / 4) as u8).collect();
    let labels = (0..n).map(|i| (i % 3) as u8).collect();
    ImageDataset::new(shape, 3, pixels, labels).unwrap()
}

#[test]
fn split_is_disjoint_complete_and_seeded() {
    let d = toy(50);
    let (t, v) = d.split_validation(10, 3).unwrap();
    assert_eq!((t.len(), v.len()), (40, 10));
    let mut ids: Vec<u8> = (0..t.len()).map(|i| t.image(i)[0]).collect();
    ids.extend((0..v.len()).map(|i| v.image(i)[0]));
    ids.sort_unstable();
    assert_eq!(ids, (0..50).collect::<Vec<u8>>());
    assert_eq!(d.split_validation(10, 3).unwrap().1, v);
    assert_ne!(d.split_validation(10, 4).unwrap().1, v);
    assert!(d.split_validation(50, 0).is_err());
}

#[test]
fn rejects_inconsistent_parts() {
    let shape = ImageShape {
        channels: 1,
        height: 2,
        width: 2,
    };
    assert!(ImageDataset::new(shape, 3, vec![0; 7], vec![0, 1]).is_err());
    assert!(ImageDataset::new(shape, 3, vec![0; 8], vec![0, 3]).is_err());
}

#[test]
fn class_counts_and_truncate() {
    let d = toy(7);
    assert_eq!(d.class_counts(), vec![3, 2, 2]);
    assert_eq!(d.truncate(4).class_counts(), vec![2, 1, 1]);
}
