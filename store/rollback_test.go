package store

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestRollbackInBatch: batches submitted together (SubmitAll: one
// transaction, a savepoint each) where some submissions fail after their
// writes. A failed submission's writes reach nodes that earlier
// submissions of the same transaction made or changed (a small key space,
// values that split leaves), so its rollback must both drop the nodes it
// made and undo its changes to the others; the contents are compared with
// a model after every batch, and the whole file checked now and then.
func TestRollbackInBatch(t *testing.T) {
	seeds, batches := 8, 60
	if long() {
		seeds, batches = 60, 200
	}
	for seed := range uint64(seeds) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { rollbackInBatch(t, seed, batches) })
	}
}

func rollbackInBatch(t *testing.T, seed uint64, batches int) {
	r := rand.New(rand.NewPCG(seed, 11))
	db, err := Open(t.TempDir(), &Options{Durability: Everysec, NoWarmCache: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	space := 200 + r.IntN(3000)
	m := model{}
	errFail := errors.New("fail")
	for b := range batches {
		var ps []*Pending
		next := m.clone()
		for range 1 + r.IntN(40) {
			type op struct {
				key, val string
				del      bool
			}
			ops := make([]op, 1+r.IntN(6))
			for i := range ops {
				ops[i] = op{key: fmt.Sprintf("k%05d", r.IntN(space)), val: string(make([]byte, r.IntN(300))) + fmt.Sprint(b), del: r.IntN(4) == 0}
			}
			fail := r.IntN(3) == 0
			if !fail {
				for _, o := range ops {
					if o.del {
						delete(next.table(0), o.key)
					} else {
						next.table(0)[o.key] = modelVal{val: []byte(o.val)}
					}
				}
			}
			ps = append(ps, NewPending(func(tx *Tx) error {
				tb := tx.Table(0)
				for _, o := range ops {
					var err error
					if o.del {
						_, err = tb.Delete([]byte(o.key))
					} else {
						_, err = tb.Put([]byte(o.key), []byte(o.val), TypeString, 0)
					}
					if err != nil {
						return err
					}
				}
				if fail {
					return errFail
				}
				return nil
			}))
		}
		db.SubmitAll(ps...)
		for _, p := range ps {
			if err := p.Wait(); err != nil && !errors.Is(err, errFail) {
				t.Fatal(err)
			}
		}
		m = next
		verify(t, db, m)
		if b%10 == 9 {
			mustCheck(t, db)
		}
	}
}
