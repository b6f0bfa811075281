package probecheck

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// demo is a response like the one the checks below are written for.
var demo = Response{
	Status:  200,
	Headers: map[string]string{"content-type": "application/json", "x-pod": "web-1"},
	Body:    `{"pod":"web-1","ready":true,"queue_depth":12,"load":0.25,"workers":[{"name":"a","busy":true},{"name":"b","busy":false}]}`,
}

func TestEval(t *testing.T) {
	notJSON := Response{Status: 503, Body: "overloaded"}
	tests := []struct {
		name, expr string
		resp       Response
		want       bool
		err        string // a substring of Eval's error; "" for none
	}{
		{"passes", "response.status == 200 && response.json.queue_depth < 1000", demo, true, ""},
		{"fails", "response.json.queue_depth < 10", demo, false, ""},
		{"a bool of the JSON", "response.json.ready == true", demo, true, ""},
		{"a double against an int", "response.json.load < 1 && response.json.load > 0.1", demo, true, ""},
		{"an int against a double", "response.json.queue_depth == 12.0", demo, true, ""},
		{"a header", "response.headers['content-type'].startsWith('application/json')", demo, true, ""},
		{"a header not sent", "'x-missing' in response.headers", demo, false, ""},
		{"a list of the JSON", "response.json.workers.exists(w, w.busy == false)", demo, true, ""},
		{"the body", "response.body.contains('\"ready\":true')", demo, true, ""},
		{"has() guards an optional key", "!has(response.json.draining) || response.json.draining == false", demo, true, ""},
		{"has() of the JSON when the body is none", "has(response.json) && response.json.ready == true", notJSON, false, ""},
		{"the status of a failure", "response.status == 503 && response.body == 'overloaded'", notJSON, true, ""},
		{"a missing key is an error", "response.json.draining == false", demo, false, "no such key: draining (test for a key before reading it"},
		{"the JSON of a body that is none", "response.json.ready == true", notJSON, false, "no such key: ready"},
		{"no headers at all", "size(response.headers) == 0", Response{Status: 200}, true, ""},
		{"a string where a number was meant", "response.json.pod > 3", demo, false, "probe check: no such overload"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Compile(tt.expr)
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			if c.String() != tt.expr || c.Cost() > MaxCost {
				t.Errorf("String() = %q, Cost() = %d", c.String(), c.Cost())
			}
			got, err := c.Eval(tt.resp)
			if got != tt.want || (err == nil) != (tt.err == "") || (err != nil && !strings.Contains(err.Error(), tt.err)) {
				t.Errorf("Eval = %v, %v; want %v, error containing %q", got, err, tt.want, tt.err)
			}
		})
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct{ name, expr, want string }{
		{"syntax error with its position", "response.status ==", "1:19: Syntax error: "},
		{"syntax error on a later line", "response.status == 200 &&\n  response.json[", "2:17: Syntax error: "},
		{"not a bool", "response.status + 1", "probe check must return a bool, not int"},
		{"a JSON value is not known to be a bool", "response.json.ready",
			"probe check must return a bool, not dyn (compare a JSON value: response.json.ready == true)"},
		{"a string is not a bool", "response.body", "probe check must return a bool, not string"},
		{"unknown field", "response.stauts == 200", "1:9: undefined field 'stauts'"},
		{"unknown variable", "status == 200", "1:1: undeclared reference to 'status'"},
		{"wrong type", "response.status == '200'", "1:17: found no matching overload for '_==_'"},
		{"too expensive by estimate", "response.json.items.all(a, response.json.items.all(b, a != b))",
			"probe check too expensive: estimated cost "},
		{"the body searched once per pair of headers", "response.headers.all(a, response.headers.all(b, response.body.contains(a + b)))",
			"probe check too expensive: estimated cost "},
		{"empty", "  ", "probe check is empty"},
		{"too long", strings.Repeat("true && ", 600) + "true", "probe check is 4804 bytes, more than 4096"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Compile(tt.expr)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("Compile = %v, %v; want an error starting %q", c, err, tt.want)
			}
		})
	}
}

// A check within its estimate on the responses it assumes is stopped at run
// time on a larger one, and the probe fails.
func TestRunawayStopped(t *testing.T) {
	c, err := Compile("response.json.items.all(i, i >= 0 && i < 10 && i != 5)")
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	small := Response{Status: 200, Body: `{"items":[1,2,3]}`}
	if ok, err := c.Eval(small); !ok || err != nil {
		t.Fatalf("small: Eval = %v, %v", ok, err)
	}
	items := strings.TrimSuffix(strings.Repeat("1,", 30000), ",")
	big := Response{Status: 200, Body: `{"items":[` + items + `]}`}
	ok, err := c.Eval(big)
	if ok || err == nil || !strings.Contains(err.Error(), "cost limit exceeded") {
		t.Fatalf("big: Eval = %v, %v; want false and a cost limit error", ok, err)
	}
}

// The body is read up to MaxBodyBytes: a longer one is cut, and JSON cut
// short is no JSON.
func TestBodyCapped(t *testing.T) {
	c, err := Compile("size(response.body) == 65536 && !has(response.json)")
	if err != nil {
		t.Fatal(err)
	}
	long := `{"pad":"` + strings.Repeat("x", MaxBodyBytes) + `"}`
	if ok, err := c.Eval(Response{Status: 200, Body: long}); !ok || err != nil {
		t.Errorf("Eval = %v, %v", ok, err)
	}
}

func TestParseJSON(t *testing.T) {
	tests := []struct {
		body string
		want string // fmt's %#v of the value
	}{
		{`{"a":1,"b":1.5,"c":[2,"x",null,true],"d":1e3,"e":99999999999999999999}`,
			`map[string]interface {}{"a":1, "b":1.5, "c":[]interface {}{2, "x", interface {}(nil), true}, "d":1000, "e":1e+20}`},
		{`7`, `7`},
		{`"ok"`, `"ok"`},
		{`ok`, `<nil>`},
		{`{"a":1} {"b":2}`, `<nil>`},
		{``, `<nil>`},
		{`{"a":`, `<nil>`},
	}
	for _, tt := range tests {
		if got := fmt.Sprintf("%#v", parseJSON(tt.body)); got != tt.want && fmt.Sprint(parseJSON(tt.body)) != tt.want {
			t.Errorf("parseJSON(%q) = %s, want %s", tt.body, got, tt.want)
		}
	}
}

func TestNewResponse(t *testing.T) {
	h := http.Header{"Content-Type": {"text/plain", "ignored"}, "X-Long": {strings.Repeat("v", MaxHeaderBytes+1)}, "X-None": {}}
	r := NewResponse(204, h, []byte(strings.Repeat("b", MaxBodyBytes+1)))
	if r.Status != 204 || r.Headers["content-type"] != "text/plain" || len(r.Headers["x-long"]) != MaxHeaderBytes ||
		len(r.Body) != MaxBodyBytes || len(r.Headers) != 2 {
		t.Errorf("NewResponse = status %d, headers %d %v, body %d", r.Status, len(r.Headers), r.Headers["content-type"], len(r.Body))
	}
	many := http.Header{}
	for i := range MaxHeaders + 10 {
		many.Set(fmt.Sprintf("X-H%d", i), "v")
	}
	if r := NewResponse(200, many, nil); len(r.Headers) != MaxHeaders {
		t.Errorf("%d headers kept, want %d", len(r.Headers), MaxHeaders)
	}
}

// Only a check that reads response.json parses the body.
func TestReadsJSON(t *testing.T) {
	for expr, want := range map[string]bool{
		"response.status == 200":              false,
		"response.body.contains('json')":      false,
		"has(response.json)":                  true,
		"[1].exists(x, response.json.n == x)": true,
		"response.headers['json'] == 'x'":     false,
	} {
		c, err := Compile(expr)
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		if c.readJSON != want {
			t.Errorf("%s: readJSON = %v, want %v", expr, c.readJSON, want)
		}
	}
}

func TestCache(t *testing.T) {
	c := NewCache(2)
	a1, err := c.Get("response.status == 200")
	if err != nil {
		t.Fatal(err)
	}
	a2, _ := c.Get("response.status == 200")
	if a1 != a2 {
		t.Error("the same text compiled twice")
	}
	_, err1 := c.Get("response.status +")
	_, err2 := c.Get("response.status +")
	if err1 == nil || err2 == nil || err1.Error() != err2.Error() {
		t.Errorf("a failure is not kept: %v, %v", err1, err2)
	}
	c.Get("response.status == 201")
	if c.Len() != 2 {
		t.Errorf("Len = %d, want 2", c.Len())
	}
	if _, err := c.Get(strings.Repeat("x", MaxLength+1)); err == nil || c.Len() != 2 {
		t.Errorf("a text too long: %v, Len %d", err, c.Len())
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			ch, err := c.Get(fmt.Sprintf("response.status == %d", 200+i%3))
			if err != nil {
				t.Error(err)
				return
			}
			if ok, err := ch.Eval(demo); err != nil || ok != (i%3 == 0) {
				t.Errorf("Eval = %v, %v", ok, err)
			}
		})
	}
	wg.Wait()
}

func BenchmarkEval(b *testing.B) {
	c, err := Compile("response.status == 200 && response.json.queue_depth < 1000")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if ok, err := c.Eval(demo); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}
