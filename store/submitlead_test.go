package store

import (
	"testing"
	"time"
)

// TestSubmitLeadAppliesInline: with the writer's role free, SubmitLead
// applies the submissions before it returns, in the caller's goroutine
// (an event loop's small batch, spared the handoff), each under its own
// savepoint, in order.
func TestSubmitLeadAppliesInline(t *testing.T) {
	forSubmitModes(t, func(t *testing.T, db *DB) {
		var ran []int
		var prs []*probe
		for i := 0; i < 5; i++ {
			prs = append(prs, newProbe(func(tx *Tx) error {
				ran = append(ran, i)
				return putString(tx, 0, []byte{'k', byte('0' + i)}, []byte("v"))
			}))
		}
		db.SubmitLead(pendings(prs)...)
		if len(ran) != 5 {
			t.Fatalf("%d of 5 writes ran before SubmitLead returned", len(ran))
		}
		for i, r := range ran {
			if r != i {
				t.Fatalf("writes ran in order %v", ran)
			}
		}
		if err := settleProbes(t, prs); err != nil {
			t.Fatal(err)
		}
		checkTable(t, db, map[string]string{"k0": "v", "k1": "v", "k2": "v", "k3": "v", "k4": "v"})
	})
}

// TestSubmitLeadNeverWaits: while the writer's role is held (here by a
// control function, as a SAVE or a flush's end holds it), SubmitLead
// returns at once, and the writer goroutine applies the submission once
// the role is free.
func TestSubmitLeadNeverWaits(t *testing.T) {
	db, err := Open(t.TempDir(), &Options{Durability: Everysec, NoWarmCache: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	held, release := make(chan struct{}), make(chan struct{})
	go db.control(func() error {
		close(held)
		<-release
		return nil
	})
	<-held
	pr := newProbe(func(tx *Tx) error { return putString(tx, 0, []byte("k"), []byte("v")) })
	returned := make(chan struct{})
	go func() {
		db.SubmitLead(pr.Pending)
		close(returned)
	}()
	select {
	case <-returned:
	case <-time.After(asyncTimeout):
		close(release)
		t.Fatal("SubmitLead waited for the writer's role")
	}
	select {
	case <-pr.Done():
		t.Fatal("the submission was answered while the writer's role was held")
	default:
	}
	close(release)
	if err := settleProbes(t, []*probe{pr}); err != nil {
		t.Fatal(err)
	}
	checkTable(t, db, map[string]string{"k": "v"})
}
