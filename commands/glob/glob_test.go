package glob

import "testing"

func TestMatch(t *testing.T) {
	cases := []struct {
		p, s   string
		nocase bool
		want   bool
	}{
		{"*", "", false, false}, // callers special-case a lone "*"
		{"*", "abc", false, true},
		{"a*", "abc", false, true},
		{"a*c", "abc", false, true},
		{"a*d", "abc", false, false},
		{"h?llo", "hello", false, true},
		{"h?llo", "hllo", false, false},
		{"h[ae]llo", "hallo", false, true},
		{"h[ae]llo", "hillo", false, false},
		{"h[^e]llo", "hallo", false, true},
		{"h[^e]llo", "hello", false, false},
		{"h[a-b]llo", "hbllo", false, true},
		{"h[b-a]llo", "hallo", false, true},
		{"h\\*llo", "h*llo", false, true},
		{"h\\*llo", "hello", false, false},
		{"HELLO", "hello", true, true},
		{"HELLO", "hello", false, false},
		{"[abc", "a", false, true},
		{"[abc", "ab", false, false},
		{"", "", false, true},
		{"", "a", false, false},
		{"a**", "a", false, true},
		{"*a*b*c*", "xaybzc", false, true},
		{"*[", "a", false, false},
		{"\\", "\\", false, true},
	}
	for _, c := range cases {
		if got := MatchString(c.p, c.s, c.nocase); got != c.want {
			t.Errorf("Match(%q, %q, %v) = %v, want %v", c.p, c.s, c.nocase, got, c.want)
		}
	}
}

func TestMatchDeepStarsTerminates(t *testing.T) {
	p := []byte("a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b")
	s := make([]byte, 200)
	for i := range s {
		s[i] = 'a'
	}
	if Match(p, s, false) {
		t.Fatal("matched")
	}
}

func FuzzMatch(f *testing.F) {
	f.Add("h[a-", "hb")
	f.Add("*?\\", "x")
	f.Fuzz(func(t *testing.T, p, s string) {
		MatchString(p, s, false)
		MatchString(p, s, true)
	})
}
