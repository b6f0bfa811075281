package events_test

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/manifest"
)

// TestCodecMatchesEncodingJSON fills every registered event type with random
// values, many times, and checks that events.Marshal writes encoding/json's
// bytes and that events.Unmarshal reads them back to what encoding/json
// reads: the log's format did not change with the codec (but for one
// spelling, see asCodecWrites).
func TestCodecMatchesEncodingJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, typ := range events.Types() {
		for i := range 200 {
			ev, err := events.Decode(typ, []byte("{}"))
			if err != nil {
				t.Fatalf("%s: %v", typ, err)
			}
			fill(rng, reflect.ValueOf(ev).Elem(), 0)
			want, err := json.Marshal(ev)
			if err != nil {
				t.Fatalf("%s #%d: encoding/json: %v", typ, i, err)
			}
			got, err := events.Marshal(ev)
			if err != nil {
				t.Fatalf("%s #%d: events.Marshal: %v", typ, i, err)
			}
			if !bytes.Equal(got, asCodecWrites(want)) {
				t.Fatalf("%s #%d: events.Marshal wrote\n%s\nencoding/json writes\n%s", typ, i, got, want)
			}
			v1, _ := events.Decode(typ, []byte("{}"))
			if err := json.Unmarshal(want, v1); err != nil {
				t.Fatalf("%s #%d: encoding/json reads: %v", typ, i, err)
			}
			v2, err := events.Decode(typ, want)
			if err != nil {
				t.Fatalf("%s #%d: events.Decode reads: %v", typ, i, err)
			}
			if !reflect.DeepEqual(v1, v2) {
				t.Fatalf("%s #%d: events.Decode read\n%#v\nencoding/json reads\n%#v", typ, i, v2, v1)
			}
		}
	}
}

// TestEnvelopeCodecMatchesEncodingJSON does the same for the envelope.
func TestEnvelopeCodecMatchesEncodingJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 500 {
		ev := &events.PodDeleted{}
		fill(rng, reflect.ValueOf(ev).Elem(), 0)
		env, err := events.Seal(ev, events.Meta{ID: randString(rng) + "x", Source: randString(rng), Subject: randString(rng),
			Time:  time.Unix(rng.Int64N(1<<33), rng.Int64N(1e9)).In(time.FixedZone("z", 3600*rng.IntN(12))),
			Actor: randString(rng), CausationID: randString(rng), CorrelationID: randString(rng)})
		if err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(env)
		got, err := env.Marshal()
		if err != nil || !bytes.Equal(got, asCodecWrites(want)) {
			t.Fatalf("#%d: Marshal wrote %s (%v), encoding/json writes %s", i, got, err, want)
		}
		var v1 events.Envelope
		if err := json.Unmarshal(want, &v1); err != nil {
			t.Fatal(err)
		}
		v2, err := events.Parse(want)
		if err != nil || !reflect.DeepEqual(v1, v2) {
			t.Fatalf("#%d: Parse read %#v (%v), encoding/json reads %#v", i, v2, err, v1)
		}
	}
}

// asCodecWrites is encoding/json's output b as events.Marshal writes it: the
// one difference is that a byte of invalid UTF-8, which both replace with
// U+FFFD, is written as that character rather than as the escape \ufffd.
func asCodecWrites(b []byte) []byte {
	return bytes.ReplaceAll(b, []byte(`\ufffd`), []byte("\ufffd"))
}

var quantityType = reflect.TypeFor[manifest.Quantity]()

// fill sets v to random values: strings with characters JSON escapes (and
// HTML-escapes) and invalid UTF-8, nil and empty slices and maps, nil and
// set pointers, zero values for omitempty.
func fill(rng *rand.Rand, v reflect.Value, depth int) {
	if rng.IntN(5) == 0 {
		v.SetZero()
		return
	}
	if v.Type() == quantityType {
		q, err := manifest.ParseQuantity([]string{"100m", "1", "64Mi", "1.5Gi", "0", "2k"}[rng.IntN(6)])
		if err != nil {
			panic(err)
		}
		v.Set(reflect.ValueOf(q))
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(randString(rng))
	case reflect.Bool:
		v.SetBool(rng.IntN(2) == 0)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if v.Type() == reflect.TypeFor[time.Duration]() {
			v.SetInt(rng.Int64N(1e12))
			return
		}
		v.SetInt(rng.Int64N(1<<20) - 1<<19)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(rng.Uint64N(1 << 16))
	case reflect.Float32, reflect.Float64:
		v.SetFloat(float64(rng.Int64N(1<<20)) / 1024)
	case reflect.Pointer:
		if depth > 4 {
			return
		}
		p := reflect.New(v.Type().Elem())
		fill(rng, p.Elem(), depth+1)
		v.Set(p)
	case reflect.Slice:
		if depth > 4 {
			return
		}
		if v.Type().Elem().Kind() == reflect.Uint8 { // []byte, json.RawMessage
			if v.Type() == reflect.TypeFor[json.RawMessage]() {
				v.SetBytes([]byte(`{"a":[1,"b",null]}`))
				return
			}
			v.SetBytes([]byte(randString(rng)))
			return
		}
		n := rng.IntN(4)
		s := reflect.MakeSlice(v.Type(), n, n)
		for i := range n {
			fill(rng, s.Index(i), depth+1)
		}
		v.Set(s)
	case reflect.Map:
		if depth > 4 {
			return
		}
		m := reflect.MakeMap(v.Type())
		for range rng.IntN(4) {
			k := reflect.New(v.Type().Key()).Elem()
			fill(rng, k, depth+1)
			e := reflect.New(v.Type().Elem()).Elem()
			fill(rng, e, depth+1)
			m.SetMapIndex(k, e)
		}
		v.Set(m)
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(time.Unix(rng.Int64N(1<<33), rng.Int64N(1e9)).UTC()))
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(rng, v.Field(i), depth+1)
			}
		}
	case reflect.Interface:
		// left nil: no event holds an interface today
	}
}

func randString(rng *rand.Rand) string {
	const alphabet = "abcXYZ09-._/ \"\\<>&\u2028é\t\n"
	var b []byte
	for range rng.IntN(12) {
		if rng.IntN(30) == 0 {
			b = append(b, 0xff) // invalid UTF-8
			continue
		}
		r := []rune(alphabet)[rng.IntN(len([]rune(alphabet)))]
		b = append(b, string(r)...)
	}
	return string(b)
}
