//! Unit tests of the store helpers.

use super::chunk_sizes;

#[test]
fn chunk_sizes_are_full_chunks_and_a_remainder() {
    assert_eq!(chunk_sizes(0, 256), Vec::<usize>::new());
    assert_eq!(chunk_sizes(1, 256), vec![1]);
    assert_eq!(chunk_sizes(256, 256), vec![256]);
    assert_eq!(chunk_sizes(600, 256), vec![256, 256, 88]);
    for n in 0..2000 {
        assert_eq!(chunk_sizes(n, 256).iter().sum::<usize>(), n, "n = {n}");
    }
}

#[test]
fn lookups_pad_to_powers_of_two() {
    use super::padded_rows;
    assert_eq!(padded_rows(1), 1);
    assert_eq!(padded_rows(3), 4);
    assert_eq!(padded_rows(200), 256);
    assert_eq!(padded_rows(256), 256);
}
