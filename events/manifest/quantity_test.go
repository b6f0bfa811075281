package manifest

import (
	"encoding/json"
	"testing"
)

// quantityCases seed FuzzParseQuantity too.
var quantityCases = []struct {
	in    string
	milli int64
	value int64
	err   string
}{
	{in: "100m", milli: 100, value: 1},
	{in: "0.5", milli: 500, value: 1},
	{in: "1", milli: 1000, value: 1},
	{in: "2500m", milli: 2500, value: 3},
	{in: "128Mi", milli: 128 << 20 * 1000, value: 128 << 20},
	{in: "1Gi", milli: 1 << 30 * 1000, value: 1 << 30},
	{in: "1.5Gi", milli: 3 << 29 * 1000, value: 3 << 29},
	{in: "1e3", milli: 1e6, value: 1000},
	{in: "1E3", milli: 1e6, value: 1000},
	{in: "1.5e-3", milli: 2, value: 1},
	{in: "64k", milli: 64e6, value: 64e3},
	{in: "1M", milli: 1e9, value: 1e6},
	{in: "1n", milli: 1, value: 1}, // rounded up, as Kubernetes does
	{in: "+2", milli: 2000, value: 2},
	{in: "0", milli: 0, value: 0},
	{in: "-1", milli: -1000, value: -1}, // parsed; Validate rejects it
	{in: "1x", err: `quantity "1x": unknown suffix "x" (use Ki, Mi, Gi, Ti, Pi, Ei, n, u, m, k, M, G, T, P, E or an exponent)`},
	{in: "abc", err: `quantity "abc" must start with a number`},
	{in: "1Gix", err: `quantity "1Gix": unknown suffix "Gix" (use Ki, Mi, Gi, Ti, Pi, Ei, n, u, m, k, M, G, T, P, E or an exponent)`},
	{in: "", err: "quantity is empty"},
	{in: ".", err: `quantity "." must start with a number`},
	{in: "1.2.3", err: `quantity "1.2.3": unknown suffix ".3" (use Ki, Mi, Gi, Ti, Pi, Ei, n, u, m, k, M, G, T, P, E or an exponent)`},
	{in: "1e", err: `quantity "1e": bad exponent "e"`},
	{in: "1e99", err: `quantity "1e99": bad exponent "e99"`},
	{in: " 1", err: `quantity " 1" must start with a number`},
	{in: "9Ei", err: `quantity "9Ei" is too large`},
}

func TestParseQuantity(t *testing.T) {
	for _, tt := range quantityCases {
		q, err := ParseQuantity(tt.in)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("%q: got %v, want error %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tt.in, err)
			continue
		}
		if q.MilliValue() != tt.milli || q.Value() != tt.value || q.String() != tt.in {
			t.Errorf("%q: got milli %d value %d string %q, want %d %d", tt.in, q.MilliValue(), q.Value(), q, tt.milli, tt.value)
		}
	}
}

func TestQuantityJSON(t *testing.T) {
	var l ResourceList
	if err := json.Unmarshal([]byte(`{"cpu":0.5,"memory":"1Gi","x":2}`), &l); err != nil {
		t.Fatal(err)
	}
	if l["cpu"].MilliValue() != 500 || l["memory"].Value() != 1<<30 || l["x"].String() != "2" {
		t.Errorf("got %+v", l)
	}
	b, _ := json.Marshal(l)
	if string(b) != `{"cpu":"0.5","memory":"1Gi","x":"2"}` {
		t.Errorf("got %s", b)
	}
	if err := json.Unmarshal([]byte(`{"cpu":true}`), &l); err == nil {
		t.Error("boolean quantity accepted")
	}
	// A string JSON escapes takes the slow path and means the same.
	if err := json.Unmarshal([]byte(`{"cpu":"\u0035\u0030\u0030m"}`), &l); err != nil || l["cpu"].MilliValue() != 500 {
		t.Errorf("escaped quantity: %+v, %v", l, err)
	}
	for _, bad := range []string{`{"cpu":"5\"00m"}`, `{"cpu":"1 Gi"}`, `{"cpu":""}`} {
		if err := json.Unmarshal([]byte(bad), &l); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	for _, c := range quantityCases {
		if c.err != "" {
			continue
		}
		q, _ := ParseQuantity(c.in)
		b, err := json.Marshal(q)
		want, _ := json.Marshal(c.in)
		if err != nil || string(b) != string(want) {
			t.Errorf("Marshal(%q) = %s, %v; want %s", c.in, b, err, want)
		}
		var back Quantity
		if err := json.Unmarshal(b, &back); err != nil || back != q {
			t.Errorf("round trip of %q: %+v, %v", c.in, back, err)
		}
	}
}
