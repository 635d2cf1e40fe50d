// Package page is digby's page layer: the fixed-size page format with its
// checksummed header, the two alternating meta pages, the data file with its
// lock, the free-space allocator and the bounded cache of decoded pages.
//
// Invariants kept by this package:
//   - every page (or contiguous run of pages) starts with a Header; the
//     file's Codec seals the run: an xxhash64 checksum covering the rest of
//     it, or AES-GCM with the header as additional data and a trailer
//     (tag, nonce); a page read at the wrong offset, torn or altered fails
//     with an error naming the page id;
//   - page ids 0 and 1 are the meta slots; data pages start at 2;
//   - the page size is a power of two between MinPageSize and MaxPageSize,
//     fixed at creation and read back from the meta on open.
package page
