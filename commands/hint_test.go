package commands

import (
	"fmt"
	"testing"

	"github.com/digby-db/digby/resp"
	"github.com/digby-db/digby/store"
	"github.com/tidwall/redcon"
)

// newServing returns a test engine and a function serving one command on
// one client of it.
func newServing(t *testing.T) (*Engine, func(args ...string)) {
	e := newTestEngine(t)
	c := resp.NewClient(&fakeConn{}, 1)
	return e, func(args ...string) {
		cmd := redcon.Command{}
		for _, a := range args {
			cmd.Args = append(cmd.Args, []byte(a))
		}
		e.Serve(c, cmd)
	}
}

// TestWritesHintTheWriter: writes served by the command layer carry their
// key to the writer (store.Pending.Hint), which prefetches their leaves:
// the store's count of prefetched leaves grows with SETs (and MSETs) on a
// table deep enough to have leaves below a branch, and not with reads.
func TestWritesHintTheWriter(t *testing.T) {
	e, serve := newServing(t)
	serve("SELECT", "3")
	for i := range 3000 {
		serve("SET", fmt.Sprintf("hint:%06d", i), "v")
	}
	before := e.db.Stats().PrefetchedLeaves
	if before == 0 {
		t.Fatal("3,000 SETs: no leaf prefetched")
	}
	for i := range 200 {
		serve("GET", fmt.Sprintf("hint:%06d", i))
	}
	if got := e.db.Stats().PrefetchedLeaves; got != before {
		t.Fatalf("GETs prefetched %d leaves for the writer", got-before)
	}
	for i := range 200 {
		serve("MSET", fmt.Sprintf("hint:%06d", i), "w", fmt.Sprintf("hint:%06d", i+1), "w")
	}
	if got := e.db.Stats().PrefetchedLeaves; got < before+200 {
		t.Fatalf("200 MSETs prefetched %d leaves, want at least 200", got-before)
	}
}

// TestMultiKeyWritesHintEveryKey: a write of several keys (MSET, DEL)
// hints every key to the writer, not only its first (slot.hintMore), up
// to maxHintMore after the first: the count of prefetched leaves grows by
// about ten an MSET of ten keys, and by at most 1+maxHintMore for a DEL of
// more keys than that.
func TestMultiKeyWritesHintEveryKey(t *testing.T) {
	e, serve := newServing(t)
	for i := range 3000 {
		serve("SET", fmt.Sprintf("hint:%06d", i), "v")
	}
	before := e.db.Stats().PrefetchedLeaves
	const msets = 100
	for i := range msets {
		args := []string{"MSET"}
		for j := range 10 {
			args = append(args, fmt.Sprintf("hint:%06d", (i*37+j*211)%3000), "w")
		}
		serve(args...)
	}
	// Each MSET's own keys are prefetched with it: 10 leaves an MSET
	// (the keys' leaves are in memory), 1 with its first key alone.
	if got := e.db.Stats().PrefetchedLeaves - before; got < msets*9 {
		t.Fatalf("%d MSETs of 10 keys prefetched %d leaves, want at least %d", msets, got, msets*9)
	}
	before = e.db.Stats().PrefetchedLeaves
	args := []string{"DEL"}
	for i := range 3 * maxHintMore {
		args = append(args, fmt.Sprintf("hint:%06d", i))
	}
	serve(args...)
	if got := e.db.Stats().PrefetchedLeaves - before; got == 0 || got > 1+maxHintMore {
		t.Fatalf("a DEL of %d keys prefetched %d leaves, want 1 to %d", len(args)-1, got, 1+maxHintMore)
	}
}

// TestStoredReusesSubmitKey: Ctx.stored gives the table key submit made
// for the command's first key (the same bytes, not a copy) when asked for
// that key, and a new, equal-to-storedKey one for any other key, a key
// that only shares a prefix or a suffix, or when submit made none; and
// the table keys submit made for the keys after the first, when asked for
// in their order.
func TestStoredReusesSubmitKey(t *testing.T) {
	sk := storedKey([]byte("user:1"))
	x := &Ctx{sk: sk}
	if got := x.stored([]byte("user:1")); &got[0] != &sk[0] {
		t.Fatal("stored made a new key for the key submit had made")
	}
	for _, k := range []string{"user:2", "user:10", "user:", "ser:1", ""} {
		got := x.stored([]byte(k))
		if string(got) != string(storedKey([]byte(k))) || (len(got) > 0 && &got[0] == &sk[0]) {
			t.Fatalf("stored(%q) = %x, want a new %x", k, got, storedKey([]byte(k)))
		}
	}
	if got := (&Ctx{}).stored([]byte("user:1")); string(got) != string(sk) || &got[0] == &sk[0] {
		t.Fatal("stored without submit's key")
	}
	// The keys after the first that submit hinted, asked for in order,
	// are given as made; a key out of that order gets a new one.
	more := [][]byte{storedKey([]byte("user:2")), storedKey([]byte("user:3"))}
	x = &Ctx{sk: sk, more: more}
	for i, k := range []string{"user:1", "user:2", "user:9", "user:3", "user:2"} {
		got := x.stored([]byte(k))
		reused := &got[0] == &sk[0] || &got[0] == &more[0][0] || &got[0] == &more[1][0]
		if string(got) != string(storedKey([]byte(k))) || reused != (i != 2 && i != 4) {
			t.Fatalf("ask %d, stored(%q) = %x reused %v", i, k, got, reused)
		}
	}
}

// TestHintMoreKeys: the keys a multi-key write hints after its first are
// the table keys of its later keys, in order, leaving out keys too long
// to hint, at most maxHintMore of them, each capped so that it cannot
// grow into the next; a write of one key (or one hintable key) hints none.
func TestHintMoreKeys(t *testing.T) {
	e := newTestEngine(t)
	mset, rejected := e.resolve([][]byte{[]byte("MSET"), []byte("k"), []byte("v")})
	if rejected != "" {
		t.Fatalf("MSET: %s", rejected)
	}
	long := string(make([]byte, maxHintKey+1))
	args := [][]byte{[]byte("MSET")}
	var want []string // the keys hinted after the first
	for i := range maxHintMore + 10 {
		k := fmt.Sprintf("k%d", i)
		if i == 3 {
			k = long
		}
		args = append(args, []byte(k), []byte("v"))
		if i > 0 && k != long && len(want) < maxHintMore {
			want = append(want, k)
		}
	}
	s := &slot{wait: store.NewPending(nil)}
	s.hintMore(mset, args)
	if len(s.more) != len(want) {
		t.Fatalf("%d keys hinted after the first, want %d", len(s.more), len(want))
	}
	for i, k := range want {
		if string(s.more[i]) != string(storedKey([]byte(k))) || cap(s.more[i]) != len(s.more[i]) {
			t.Fatalf("hinted key %d: %x (cap %d), want the table key of %q, capped", i, s.more[i], cap(s.more[i]), k)
		}
	}
	if len(s.x.more) != len(want) {
		t.Fatalf("the command's Ctx has %d of the keys", len(s.x.more))
	}
	one := &slot{wait: store.NewPending(nil)}
	one.hintMore(mset, [][]byte{[]byte("MSET"), []byte("a"), []byte("v"), []byte(long), []byte("v")})
	if len(one.more) != 0 || one.x.more != nil {
		t.Fatalf("a write with one hintable key hinted %d more", len(one.more))
	}
}
