//! Unit tests of the store helpers.

use super::chunk_sizes;

#[test]
fn chunk_sizes_are_max_or_powers_of_two() {
    assert_eq!(chunk_sizes(0, 256), Vec::<usize>::new());
    assert_eq!(chunk_sizes(1, 256), vec![1]);
    assert_eq!(chunk_sizes(7, 256), vec![4, 2, 1]);
    assert_eq!(chunk_sizes(600, 256), vec![256, 256, 64, 16, 8]);
    for n in 0..2000 {
        assert_eq!(chunk_sizes(n, 256).iter().sum::<usize>(), n, "n = {n}");
    }
}
