package store

import (
	"testing"
	"time"
)

// TestIdleCountsFromBatchEnd: a batch that runs longer than relocateIdle
// does not leave the writer looking idle right after it (background
// relocation and the idle flush wait for a real pause in writes).
func TestIdleCountsFromBatchEnd(t *testing.T) {
	db, err := Open(t.TempDir(), &Options{NoWarmCache: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(func(tx *Tx) error {
		time.Sleep(relocateIdle + 100*time.Millisecond)
		return putString(tx, 0, []byte("k"), []byte("v"))
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.control(func() error {
		if idle := time.Since(db.lastApply); idle >= relocateIdle {
			t.Errorf("right after a long batch the writer has been idle %v", idle)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
