// Package btree is digby's copy-on-write B+ tree.
//
// A tree is a root reference plus a Pager that reads committed pages and
// hands out writable copies. Updates descend recording the path on an
// explicit stack, change the leaf, then shadow and split bottom-up: every
// node on the path is replaced by a writable copy (once per transaction; a
// node already copied in this transaction changes in place), so a committed
// page is never modified. Deletion does not rebalance: an entry is removed,
// a node that becomes empty is unlinked from its parent, nothing is merged.
//
// Invariants:
//   - keys within a node are strictly ascending, bytewise;
//   - in a branch, Keys[i] (i > 0) is <= every key under Kids[i] and > every
//     key under Kids[i-1]; Keys[0] is a lower bound treated as -infinity;
//   - a dirty (writable) node's ancestors are all dirty in the same txn;
//   - every child and overflow reference carries the txn id of its target;
//   - an encoded node never exceeds the page size; splits choose the point
//     by bytes.
//
// Search within a node compares each entry's first 8 key bytes (kept as a
// number beside the entry) before the whole key. Where those prefixes
// spread (the server's keys begin with a hash), it guesses the position by
// interpolation and walks from there, reading neighbouring entries instead
// of the far-apart ones a binary search starts with; otherwise, and when
// the walk does not settle in a few steps, it binary-searches, so answers
// and worst-case cost are a binary search's.
package btree
