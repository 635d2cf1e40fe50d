package store

import "testing"

// TestFileSlackByDurability: FileSlack 0 stands for AlwaysFileSlack under
// Always and DefaultFileSlack otherwise, and follows SetDurability, both
// in the allocator and in Stats; a share given, or none, stays whatever
// the mode.
func TestFileSlackByDurability(t *testing.T) {
	for _, tc := range []struct {
		name          string
		slack         int
		start         Durability
		want, wantAlw int // at start, then after SetDurability(Always)
		wantEvery     int // then after SetDurability(Everysec)
	}{
		{"auto-everysec", 0, Everysec, DefaultFileSlack, AlwaysFileSlack, DefaultFileSlack},
		{"auto-always", 0, Always, AlwaysFileSlack, AlwaysFileSlack, DefaultFileSlack},
		{"given", 20, Everysec, 20, 20, 20},
		{"none", -1, Always, 0, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := openTemp(t, &Options{FileSlack: tc.slack, Durability: tc.start, NoWarmCache: true})
			check := func(when string, want int) {
				t.Helper()
				var alloc int
				if err := db.control(func() error { alloc = db.alloc.Slack(); return nil }); err != nil {
					t.Fatal(err)
				}
				if got := db.Stats().FileSlack; got != want || alloc != want {
					t.Fatalf("%s: Stats says %d, the allocator %d, want %d", when, got, alloc, want)
				}
			}
			check("at open", tc.want)
			if err := db.SetDurability(Always); err != nil {
				t.Fatal(err)
			}
			check("under Always", tc.wantAlw)
			if err := db.SetDurability(Everysec); err != nil {
				t.Fatal(err)
			}
			check("back under Everysec", tc.wantEvery)
		})
	}
}
