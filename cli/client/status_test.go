package client

import "testing"

func TestHumanBytes(t *testing.T) {
	for b, want := range map[uint64]string{0: "0B", 980: "980B", 1024: "1.0Ki", 12800: "12.5Ki",
		78164070400: "72.8Gi", 1 << 60: "1.0Ei"} {
		if got := humanBytes(b); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", b, got, want)
		}
	}
}
