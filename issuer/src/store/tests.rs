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
